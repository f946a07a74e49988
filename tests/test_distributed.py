"""Multi-process runs (gloo on CPU) give exactly the single-process numbers.

- engine level: torch.multiprocessing.spawn, 2 ranks, engine.collect on a toy per-sample fn;
- command level: ``torchrun --nproc-per-node 2 -m stylegan_eval ...`` on 127.0.0.1 with a free
  port, compared with one process: per-pair PPL distances and separability logits/labels are
  identical (bit for bit), and only rank 0 writes the report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from dist_utils import free_port

from stylegan_eval import sampling
from stylegan_eval.engine import collect, init_distributed

TESTS = Path(__file__).parent


def toy_fn(idx: torch.Tensor) -> dict[str, torch.Tensor]:
    """A per-sample function of (seed, index) only, with a nonlinear reduction."""
    x = sampling.normal(7, sampling.Z, idx, (5,))
    return {"x": x, "score": torch.tanh(x @ torch.linspace(-1, 1, 5)) ** 3}


def _worker(rank: int, world: int, port: int, out: str, n: int, batch: int) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank)
    )
    torch.set_num_threads(1)
    dist = init_distributed(torch.device("cpu"))
    assert dist.world_size == world and dist.rank == rank
    res = collect(toy_fn, n, batch, show_progress=False, dist=dist)
    torch.save(res, Path(out) / f"rank{rank}.pt")
    torch.distributed.destroy_process_group()


def test_engine_collect_two_ranks_equals_one(tmp_path):
    import torch.multiprocessing as mp

    n, batch = 23, 4  # uneven: 6 batches, the last one short
    mp.spawn(_worker, args=(2, free_port(), str(tmp_path), n, batch), nprocs=2, join=True)
    single = collect(toy_fn, n, batch, show_progress=False)
    for rank in (0, 1):  # every rank ends with every sample, in index order
        got = torch.load(tmp_path / f"rank{rank}.pt")
        assert set(got) == {"x", "score"}
        for k in single:
            assert torch.equal(got[k], single[k]), k


# ------------------------------------------------------------------------------ torchrun
def _env() -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    }
    env.update(
        PYTHONPATH=os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")]),
        OMP_NUM_THREADS="1",
        STYLEGAN_EVAL_OFFLINE="1",
        CUDA_VISIBLE_DEVICES="",
    )
    return env


def _torchrun(args: list[str], nproc: int, torch_home: Path) -> subprocess.CompletedProcess:
    env = _env()
    env["TORCH_HOME"] = str(torch_home)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes",
        "1",
        f"--nproc-per-node={nproc}",
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(free_port()),
        "-m",
        "stylegan_eval",
        *args,
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def classifier(classifier_factory):
    return classifier_factory(1)


def test_torchrun_ppl_and_separability_equal_single_process(cli, tmp_path, classifier, monkeypatch, one_thread):
    home = tmp_path / "torch_home"
    monkeypatch.setenv("STYLEGAN_EVAL_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(home))
    ppl = [
        "--no-config",
        "ppl",
        "--generator",
        "compare_utils:gen_b",
        "--num-samples",
        "13",
        "--batch-size",
        "3",
        "--save-distances",
        "--allow-random-weights",
        "--device",
        "cpu",
        "--quiet",
        "--seed",
        "5",
    ]
    sep = [
        "--no-config",
        "separability",
        "--generator",
        "compare_utils:gen_b",
        "--classifier",
        str(classifier),
        "--num-samples",
        "22",
        "--batch-size",
        "4",
        "--svm",
        "fast",
        "--device",
        "cpu",
        "--quiet",
        "--seed",
        "5",
    ]
    one, two = tmp_path / "np1", tmp_path / "np2"
    for args, sub in ((ppl, "ppl"), (sep, "sep")):
        code, _, err = cli(*args, "--out", one / sub)
        assert code == 0, err
        r = _torchrun([*args, "--out", str(two / sub)], 2, home)
        assert r.returncode == 0, r.stderr[-3000:]

    a, b = (np.load(d / "ppl" / "ppl_distances.npy") for d in (one, two))
    assert a.shape == (13,) and np.array_equal(a, b)  # bit for bit
    ra, rb = (json.loads((d / "ppl" / "ppl.json").read_text()) for d in (one, two))
    assert ra["results"][0]["ppl"] == rb["results"][0]["ppl"]
    sa, sb = (np.load(d / "sep" / "separability-samples.npz") for d in (one, two))
    for key in ("z", "w", "logits"):
        assert np.array_equal(sa[key], sb[key]), key
    labels = sa["logits"] < 0
    assert 0 < labels.mean() < 1  # both classes occur
    assert np.array_equal(labels, sb["logits"] < 0)
    ja, jb = (json.loads((d / "sep" / "separability.json").read_text()) for d in (one, two))
    strip = lambda rows: [{k: v for k, v in r.items() if k != "svm_seconds"} for r in rows]  # noqa: E731
    assert strip(ja["results"]) == strip(jb["results"])
    # rank 0 alone writes: one report, one log line per result, no partial or temporary files left
    for d in (one, two):
        assert len((d / "ppl" / "metrics.jsonl").read_text().splitlines()) == 1
        assert not list((d / "ppl").glob(".*"))
