"""The device check (benchmarks/device_check.py) in smoke mode on the CPU, so that it cannot rot.

One run at tiny sizes (32 px networks, a few samples) feeds every test below: the files exist,
every stage finished with finite, positive numbers, and the parity checks that must hold on any
device hold (the eager loop equals the metric; channels_last and the compiled path equal the
eager loop; a host-copy policy never changes a feature).
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("env", "tests", "ppl_sg2", "ppl_sg1", "fid", "separability", "compile")


def _load():
    spec = importlib.util.spec_from_file_location("device_check", ROOT / "benchmarks" / "device_check.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("device_check", mod)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("device_check")
    dc = _load()
    with pytest.MonkeyPatch.context() as mp:  # offline, empty caches (the autouse fixture is per test)
        mp.setenv("STYLEGAN_EVAL_OFFLINE", "1")
        mp.setenv("TORCH_HOME", str(tmp_path_factory.mktemp("torch_home")))
        mp.setenv("STYLEGAN_EVAL_CACHE", str(tmp_path_factory.mktemp("cache")))
        for var in ("STYLEGAN_EVAL_WEIGHTS", "STYLEGAN_EVAL_VGG16", "STYLEGAN_EVAL_FID_INCEPTION", "OUT"):
            mp.delenv(var, raising=False)
        code = dc.main(["--smoke", "--device", "cpu", "--out", str(out)])
    data = json.loads((out / "device_check.json").read_text())
    return code, out, data


def _parity(data, stage: str, prefix: str) -> list[dict]:
    rows = [p for p in data["stages"][stage]["parity"] if p["what"].startswith(prefix)]
    assert rows, f"no parity check {prefix!r} in stage {stage}"
    return rows


@pytest.mark.slow
def test_files_and_every_stage_done(smoke):
    code, out, data = smoke
    for name in ("device_check.json", "device_check.md", "cuda_tests.xml"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    assert code == 0
    assert set(data["stages"]) == set(STAGES)
    for name, st in data["stages"].items():
        assert st["status"] == "done", (name, st.get("error"))
    md = (out / "device_check.md").read_text()
    for name in STAGES:
        assert f"## {name} (done" in md
    assert data["meta"]["mode"] == "smoke" and data["meta"]["device"] == "cpu"


@pytest.mark.slow
def test_every_measurement_is_finite_and_positive(smoke):
    _, _, data = smoke
    for name in ("env", "ppl_sg2", "ppl_sg1", "fid", "separability", "compile"):
        rows = data["stages"][name]["rows"]
        assert rows, name
        for r in rows:
            for key in ("per_s", "seconds", "peak_mib"):
                assert math.isfinite(r[key]) and r[key] > 0, (name, r["what"], key, r[key])
            if name != "env":
                assert math.isfinite(r["projected_min"]) and r["projected_min"] > 0, (name, r["what"])
    for name in ("ppl_sg2", "ppl_sg1", "fid", "compile"):
        assert all(math.isfinite(r["tflops"]) and r["tflops"] > 0 for r in data["stages"][name]["rows"]), name
    s = data["stages"]
    assert s["env"]["summary"]["fp32_matmul_tflops"] > 0 and s["env"]["summary"]["tf32_matmul"] is False
    assert s["env"]["summary"]["fp32_matmul_rel_err"] < 1e-5
    assert s["ppl_sg2"]["summary"]["gflop_per_pair"] > 0 and s["separability"]["summary"]["gflop_per_image"] > 0
    whats = " | ".join(r["what"] for r in s["ppl_sg2"]["rows"])
    for expected in ("auto batch", "reference loop, batch 2", "torchmetrics", "torch-fidelity", "channels_last"):
        assert expected in whats, expected
    compiled = " | ".join(r["what"] for r in s["compile"]["rows"])
    assert "PPL stylegan2-random: torch.compile" in compiled and "FID: torch.compile" in compiled
    assert "classifiers together" in " | ".join(r["what"] for r in s["separability"]["rows"])


@pytest.mark.slow
def test_cuda_tests_ran_and_skip_on_cpu(smoke):
    _, _, data = smoke
    t = data["stages"]["tests"]["summary"]
    assert t["exit_code"] == 0 and t["tests"] >= 10
    assert t["failures"] == 0 and t["errors"] == 0
    assert t["skipped"] == (t["tests"] if not torch.cuda.is_available() else t["skipped"])


@pytest.mark.slow
def test_parity_checks_that_must_hold_on_any_device(smoke):
    _, _, data = smoke
    for stage in ("ppl_sg2", "ppl_sg1"):
        (p,) = _parity(data, stage, "eager PPLLoop vs the metric")
        assert p["pass"] and p["deviation"] <= 1e-5  # the written-out loop computes the metric's function
    (p,) = _parity(data, "ppl_sg2", "channels_last generator vs eager")
    assert p["pass"] and p["tolerance"] == 1e-5, p
    (p,) = _parity(data, "compile", "PPL stylegan2-random: torch.compile")
    assert p["pass"] and p["tolerance"] == 1e-5, p
    (p,) = _parity(data, "ppl_sg2", "eager batch")
    assert p["pass"], p  # batch-size invariance within the documented tolerance
    for copy in ("sync copy", "pinned copy"):
        for p in _parity(data, "fid", copy):
            assert p["deviation"] == 0.0, p  # a copy policy never changes a feature
    for p in _parity(data, "compile", "FID: torch.compile"):
        assert p["pass"], p
    agreement = _parity(data, "separability", "channels_last fp32")
    assert all(0.5 <= p["deviation"] <= 1.0 for p in agreement)


def test_helpers_against_closed_forms():
    dc = _load()
    lin = torch.nn.Linear(64, 32, bias=False)
    x = torch.randn(5, 64)
    assert dc.count_flops(lambda: lin(x)) == 2 * 5 * 64 * 32
    conv = torch.nn.Conv2d(3, 8, 3, padding=1, bias=False)
    img = torch.randn(2, 3, 16, 16)
    assert dc.count_flops(lambda: conv(img)) == 2 * 2 * 8 * 16 * 16 * 3 * 3 * 3
    import numpy as np

    assert dc.rel_dev(np.array([1.0, 2.2]), np.array([1.0, 2.0])) == pytest.approx(0.1)
    f = np.random.default_rng(0).normal(size=(50, 4))
    d = dc.stats_dev(f + 1e-3, f)
    assert d["sigma"] == pytest.approx(0.0, abs=1e-12) and d["mu"] == pytest.approx(1e-3 / np.abs(f.mean(0)).max())
    m = torch.nn.Conv2d(4, 4, 3)
    dc.set_memory_format(m, torch.channels_last)
    assert m.weight.is_contiguous(memory_format=torch.channels_last) and m.bias.is_contiguous()
