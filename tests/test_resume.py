"""Ctrl-C and --resume: an interrupted run resumed equals an uninterrupted one, bit for bit.

A ``stylegan-eval ppl`` subprocess on a deliberately slow generator gets SIGINT after a few
batches (the generator appends one line per batch to a marker file); it must exit 130 and leave
only its partial state (no report, no temporary file). ``--resume`` then finishes it, computing
only the missing batches, and its per-pair distances equal an uninterrupted run's exactly.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from compare_utils import Toy32
from resume_utils import BATCH, N, resume_env, separability_samples, synthesis_calls

TESTS = Path(__file__).parent


def _cmd(out: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "stylegan_eval",
        "--no-config",
        "ppl",
        "--generator",
        "resume_utils:slow_gen",
        "--num-samples",
        str(N),
        "--batch-size",
        str(BATCH),
        "--save-distances",
        "--allow-random-weights",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        str(out),
        *extra,
    ]


def test_sigint_then_resume_equals_uninterrupted(cli, tmp_path, monkeypatch, one_thread_test):
    monkeypatch.setenv("STYLEGAN_EVAL_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    out = tmp_path / "out"
    marker = tmp_path / "calls.txt"
    proc = subprocess.Popen(
        _cmd(out), env=resume_env(tmp_path, marker, 0.25), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 120
        while synthesis_calls(marker) < 3 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err
    assert 3 <= synthesis_calls(marker) < N // BATCH
    left = sorted(p.name for p in out.iterdir())
    assert (
        len(left) == 1 and left[0].startswith(".partial-ppl-") and left[0].endswith(".rank0.pt")
    )  # nothing half-written
    saved = torch.load(out / left[0])["indices"]
    assert len(saved) >= 2 * BATCH and torch.equal(saved, torch.arange(len(saved)))  # the completed batches

    marker.unlink()
    r = subprocess.run(
        _cmd(out, "--resume", "--json"),
        env=resume_env(tmp_path, marker, 0),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    resumed_calls = synthesis_calls(marker)
    assert resumed_calls == (N - len(saved)) // BATCH  # only the missing batches were computed
    assert not list(out.glob(".partial-*"))  # the partial state is removed once the report is written

    # an uninterrupted run (in this process, one thread like the subprocess)
    fresh = tmp_path / "fresh"
    code, stdout, err = cli("--no-config", *_cmd(fresh, "--json")[4:])
    assert code == 0, err
    a, b = np.load(out / "ppl_distances.npy"), np.load(fresh / "ppl_distances.npy")
    assert a.shape == (N,) and np.array_equal(a, b)
    assert json.loads(r.stdout)["results"][0]["ppl"] == json.loads(stdout)["results"][0]["ppl"]


def test_resume_needs_out(cli):
    code, _, err = cli(
        "--no-config",
        "ppl",
        "--generator",
        "resume_utils:slow_gen",
        "--num-samples",
        "4",
        "--resume",
        "--allow-random-weights",
        "--quiet",
    )
    assert code == 2 and "--out" in err


# ------------------------------------------------------------------------------ every metric command, in process
_CALLS = {"n": 0, "interrupt_at": None}


class InterruptingToy(Toy32):
    """Toy32 whose synthesis raises KeyboardInterrupt (as Ctrl-C does) at call ``interrupt_at``."""

    def _synthesize(self, ws, noise):
        if ws.shape[0] != 4:  # validation at load, the report's figures: not a batch of the run (--batch-size 4)
            return super()._synthesize(ws, noise)
        _CALLS["n"] += 1
        if _CALLS["interrupt_at"] is not None and _CALLS["n"] >= _CALLS["interrupt_at"]:
            _CALLS["interrupt_at"] = None
            raise KeyboardInterrupt
        return super()._synthesize(ws, noise)


def interrupting_gen():
    return InterruptingToy(2.0)


def _json_values(out: Path, name: str):
    rows = json.loads((out / f"{name}.json").read_text())["results"]
    return [{k: v for k, v in r.items() if k not in ("svm_seconds", "samples_per_s")} for r in rows]


@pytest.mark.parametrize("command", ["separability", "fid", "compare"])
def test_interrupted_command_resumes_to_the_same_result(cli, tmp_path, monkeypatch, command):
    from compare_utils import TinyDetector, make_classifier

    monkeypatch.setenv("STYLEGAN_EVAL_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("STYLEGAN_EVAL_CACHE", str(tmp_path / "cache"))
    gen = ["--generator", "test_resume:interrupting_gen"] if command != "compare" else ["test_resume:interrupting_gen"]
    common = ["--device", "cpu", "--quiet", "--batch-size", "4", "--allow-random-weights"]
    if command == "separability":
        extra = ["--classifier", str(make_classifier(tmp_path / "clf.pt")), "--num-samples", "24", "--svm", "fast"]
    elif command == "fid":
        from PIL import Image

        from stylegan_eval.metrics import inception

        monkeypatch.setattr(inception, "make_detector", TinyDetector.make)
        (tmp_path / "real").mkdir()
        rng = np.random.default_rng(0)
        for i in range(8):
            Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(tmp_path / "real" / f"{i}.png")
        extra = [
            "--data",
            str(tmp_path / "real"),
            "--num-gen",
            "24",
            "--fid-method",
            "eigen",
            "--kid",
            "--kid-subset-size",
            "4",
        ]
    else:
        extra = [
            "--metrics",
            "ls_w",
            "--classifier",
            str(make_classifier(tmp_path / "clf.pt")),
            "--num-samples",
            "24",
            "--svm",
            "fast",
        ]
    args = ["--no-config", command, *gen, *common, *extra]

    _CALLS.update(n=0, interrupt_at=4)
    code, _, err = cli(*args, "--out", tmp_path / "a")
    assert code == 130 and "interrupted" in err
    left = [p.name for p in (tmp_path / "a").iterdir()]
    assert left and all(n.startswith(".partial-") and n.endswith(".rank0.pt") for n in left), (
        left
    )  # nothing half-written
    _CALLS.update(n=0)
    code, _, err = cli(*args, "--out", tmp_path / "a", "--resume")
    assert code == 0, err
    assert _CALLS["n"] == 24 // 4 - 3  # three batches were saved at the interrupt; only the rest ran
    assert not list((tmp_path / "a").glob(".partial-*"))
    code, _, err = cli(*args, "--out", tmp_path / "b")
    assert code == 0, err
    if command == "separability":
        a, b = separability_samples(tmp_path / "a"), separability_samples(tmp_path / "b")
        assert all(np.array_equal(a[k], b[k]) for k in a)
    assert _json_values(tmp_path / "a", command) == _json_values(tmp_path / "b", command)
