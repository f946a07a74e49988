"""How cost grows with the number of items: time and peak memory per size, and the fitted exponents.

    python benchmarks/scaling.py [--quick] [--only pr,svm,svm-fast,stats,inception] [--sizes N,N,...]
                                 [--budget S] [--out FILE.md] [--json FILE.json]
    python benchmarks/scaling.py --merge A.json B.json [--out FILE.md]   (one table from several runs)

Every point runs in a fresh subprocess, so its peak resident memory (``ru_maxrss``) is its own.
Each point records the wall time of the measured call only (inputs are made before the clock
starts), the process's peak RSS, its RSS after the imports and before the inputs are made (the
*base*, so that "peak - base" is what the work and its inputs add) and ``os.getloadavg()`` at its start. The exponent of each
sweep is the least-squares slope of log(cost) against log(N) (time, and peak - base memory).

Sweeps, all through the package's own code:

- ``pr``: :func:`stylegan_eval.metrics.precision_recall.prdc`, the distance stage of precision,
  recall, density and coverage as ``precision_recall()`` calls it (float16 features, float64
  tiles of 1024, row and column batches of 10,000, k = 3) on N real and N generated 4096-d
  feature vectors (VGG16 fc2 width; ReLU'd Gaussian stand-ins, the arithmetic does not depend
  on the values). The VGG16 feature extraction that precedes it costs the same per image at
  every N (linear), and is not timed here.
- ``svm`` / ``svm-fast``: :func:`stylegan_eval.metrics.separability.fit_separability` on N
  synthetic 512-d latents with one attribute whose logit is a noisy linear function of z, keep
  0.5 (N/2 samples fitted), z space, ``svm='reference'`` (LinearSVC dual, max_iter 1000, the
  default) or ``'fast'`` (primal). The full metric fits 40 attributes x 2 spaces = 80 such SVMs.
- ``stats``: the ``stylegan-eval stats`` command (its own defaults: batch, decoding workers,
  statistics cache in a fresh folder) over N generated 64x64 PNGs, with the Inception network
  replaced by a stand-in of the same interface (the detector's bilinear resize to 299, an 8x8
  average pool and a fixed projection to 2048 features): decoding, hashing, resizing, the
  float64 mean/covariance accumulation and the file writes, without the network.
- ``inception``: the same command with the real pytorch-fid Inception-v3 (the published weights
  when installed, else its seeded random initialisation; the same arithmetic), to give the
  per-image cost of the network that the ``stats`` sweep leaves out.

``--budget`` bounds the whole run: a point whose time, projected from the sweep's earlier points,
would not fit in what is left is recorded as skipped with the projection. Tests never assert
timings: this script only prints and writes what it measured.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

SWEEPS: dict[str, list[int]] = {
    "pr": [1000, 2000, 4000, 8000, 16000],
    "svm": [2000, 5000, 10000, 20000, 50000, 100000, 200000],
    "svm-fast": [2000, 5000, 10000, 20000, 50000, 100000, 200000],
    "stats": [1000, 2000, 5000, 10000, 20000, 50000],
    "inception": [1000, 2000],
}
QUICK: dict[str, list[int]] = {
    "pr": [64, 128],
    "svm": [400, 800],
    "svm-fast": [400, 800],
    "stats": [16, 32],
    "inception": [4, 8],
}
WHAT = {
    "pr": "precision/recall distances (N real + N generated, 4096-d)",
    "svm": "separability SVM, reference (one fit on N/2 kept)",
    "svm-fast": "separability SVM, fast (one fit on N/2 kept)",
    "stats": "`stats` pipeline, stand-in detector (N 64x64 PNGs)",
    "inception": "`stats` with Inception-v3 (N 64x64 PNGs)",
}
PNG_SIZE = 64
PR_DIM = 4096
SVM_DIM = 512


# ---------------------------------------------------------------------------------------------
# Measurements (run inside the child process)
# ---------------------------------------------------------------------------------------------


def _rss_mib() -> float:
    """Current resident set size of this process in MiB (Linux ``/proc``; 0 where unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _pr_point(n: int, scratch: Path) -> dict[str, Any]:
    """prdc() on n real and n generated float16 4096-d features, as precision_recall() calls it."""
    import torch

    from stylegan_eval.metrics.precision_recall import prdc

    base = _rss_mib()
    gen = torch.Generator().manual_seed(n)

    def feats(shift: float) -> torch.Tensor:
        out = torch.empty(n, PR_DIM, dtype=torch.float16)
        for s in range(0, n, 1024):  # in chunks: no float32 copy of the whole matrix
            rows = min(1024, n - s)
            out[s : s + rows] = (torch.randn(rows, PR_DIM, generator=gen) + shift).relu()
        return out

    real, fake = feats(0.0), feats(0.05)
    t0 = time.perf_counter()
    res = prdc(real, fake)
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "base_rss_mib": base,
        "note": f"precision {res['precision']:.3f}, recall {res['recall']:.3f}",
    }


def _svm_samples(n: int) -> Any:
    """n synthetic samples: z ~ N(0, I) 512-d, one logit = z.u + N(0, 1) noise (a noisy linear attribute)."""
    from stylegan_eval.metrics.separability import SeparabilitySamples

    rng = np.random.default_rng(n)
    z = rng.standard_normal((n, SVM_DIM), dtype=np.float32)
    u = rng.standard_normal(SVM_DIM)
    u /= np.linalg.norm(u)
    logits = (z @ u + rng.standard_normal(n)).astype(np.float32)[:, None]
    return SeparabilitySamples(z, None, logits, ["attribute"])


def _svm_point(n: int, scratch: Path, mode: str) -> dict[str, Any]:
    """fit_separability() on n samples, one attribute, z space, keep 0.5."""
    import sklearn.svm  # noqa: F401 - imported lazily by fit_svm: its ~100 MiB are no cost of N

    from stylegan_eval.metrics.separability import fit_separability

    base = _rss_mib()
    samples = _svm_samples(n)
    t0 = time.perf_counter()
    res = fit_separability(samples, keep=0.5, spaces=("z",), svm=mode)
    seconds = time.perf_counter() - t0
    row = res.per_attribute.iloc[0]
    return {
        "seconds": seconds,
        "base_rss_mib": base,
        "note": (
            f"H {row['conditional_entropy_bits']:.3f} bits, acc {row['svm_accuracy']:.3f}, "
            f"{int(row['svm_iterations'])} iters, {'converged' if row['converged'] else 'unconverged'}"
        ),
    }


def _standin_detector() -> Any:
    """The Inception stand-in: the detector's own resize to 299, 8x8 average pool, fixed projection to 2048."""
    import torch
    import torch.nn.functional as F

    from stylegan_eval.metrics.feature_detector import FeatureDetector

    class PoolStandIn(FeatureDetector):
        name = "pool-standin"
        feature_dim = 2048

        def __init__(self) -> None:
            super().__init__("detector")
            self.proj = torch.randn(192, 2048, generator=torch.Generator().manual_seed(0)) / 14

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            self._check(images)
            x = F.interpolate(images.float() / 255, size=(299, 299), mode="bilinear", align_corners=False)
            return torch.tanh(F.adaptive_avg_pool2d(2 * x - 1, 8).flatten(1) @ self.proj)

    return PoolStandIn()


def _stats_point(n: int, scratch: Path, real_network: bool) -> dict[str, Any]:
    """The ``stats`` command on the folder of n PNGs (fresh cache folder), optionally with the stand-in detector."""
    import torch  # noqa: F401 - imported before the base RSS, as the command imports it

    import stylegan_eval.metrics.inception as inception
    from stylegan_eval.cli import main

    if not real_network:
        inception.make_detector = lambda *a, **k: _standin_detector()  # type: ignore[assignment]
    folder = scratch / f"png{n}"
    out = scratch / f"stats{n}.npz"
    args = ["stats", str(folder), "--out-file", str(out), "--cache-dir", str(scratch / f"cache{n}")]
    base = _rss_mib()
    printed = io.StringIO()
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(printed):
        rc = main([*args, "--quiet", "--allow-random-weights", "--json"])
    seconds = time.perf_counter() - t0
    if rc != 0:
        raise RuntimeError(f"stats exited {rc}")
    report = json.loads(printed.getvalue().strip().splitlines()[-1])
    det = report["meta"]["detector"]
    weights = (
        "no network weights"
        if det.get("weights_sha256") is None
        else "random init"
        if report["meta"]["random_weights"]
        else f"weights {det['weights_sha256'][:8]}"
    )
    # forked decoding workers count the pages they share with this process in their own RSS
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "seconds": seconds,
        "base_rss_mib": base,
        "note": f"{det['detector']} ({weights}); decoding worker peak RSS {workers:.0f} MiB",
    }


POINTS: dict[str, Callable[[int, Path], dict[str, Any]]] = {
    "pr": _pr_point,
    "svm": lambda n, s: _svm_point(n, s, "reference"),
    "svm-fast": lambda n, s: _svm_point(n, s, "fast"),
    "stats": lambda n, s: _stats_point(n, s, real_network=False),
    "inception": lambda n, s: _stats_point(n, s, real_network=True),
}


def child(kind: str, n: int, scratch: Path) -> None:
    """Measure one point and print it as one JSON line (the parent reads the last line)."""
    load = os.getloadavg()[0]
    out = POINTS[kind](n, scratch)
    out.update(
        kind=kind,
        n=n,
        load=load,
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    )
    print(json.dumps(out), flush=True)


# ---------------------------------------------------------------------------------------------
# Orchestration (parent process)
# ---------------------------------------------------------------------------------------------


def write_pngs(folder: Path, n: int, size: int = PNG_SIZE, seed: int = 0) -> None:
    """n smooth random RGB PNGs (upsampled noise) of size x size, named img<i>.png."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for start in range(0, n, 1000):
        rows = min(1000, n - start)
        small = rng.integers(0, 256, (rows, size // 8, size // 8, 3), dtype=np.uint8)
        big = small.repeat(8, axis=1).repeat(8, axis=2)
        for i, a in enumerate(big):
            Image.fromarray(a).save(folder / f"img{start + i:06d}.png", compress_level=1)


def link_folder(source: Path, target: Path, n: int) -> None:
    """target/ holding hard links to the first n files of source/ (no extra disk, same bytes)."""
    target.mkdir()
    for name in sorted(os.listdir(source))[:n]:
        os.link(source / name, target / name)


def run_point(kind: str, n: int, scratch: Path, timeout: float) -> dict[str, Any]:
    """One point in a fresh ``python benchmarks/scaling.py --child`` process."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STYLEGAN_EVAL_OFFLINE": "1", "MPLBACKEND": "Agg"}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, str(n), str(scratch)]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"kind": kind, "n": n, "skipped": f"stopped after {timeout:.0f} s (timeout)"}
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return {"kind": kind, "n": n, "skipped": f"failed (exit {proc.returncode}): {tail}"}
    out = json.loads(lines[-1])
    out["process_seconds"] = time.perf_counter() - t0
    return out


def fit_exponent(ns: list[int] | np.ndarray, values: list[float] | np.ndarray) -> float:
    """Least-squares slope b of log(value) = a + b log(n): the exponent of value ~ n^b (nan with < 2 points)."""
    x, y = np.log(np.asarray(ns, dtype=float)), np.asarray(values, dtype=float)
    ok = y > 0
    if ok.sum() < 2:
        return math.nan
    return float(np.polyfit(x[ok], np.log(y[ok]), 1)[0])


def _projected(done: list[dict[str, Any]], n: int) -> float:
    """Seconds projected for size n from the sweep's measured points (linear below 2 points)."""
    pts = [p for p in done if "seconds" in p]
    if not pts:
        return 0.0
    b = fit_exponent([p["n"] for p in pts], [p["seconds"] for p in pts]) if len(pts) > 1 else 1.0
    last = pts[-1]
    return float(last["seconds"] * (n / last["n"]) ** max(b, 1.0))


def sweep(kind: str, sizes: list[int], scratch: Path, deadline: float) -> list[dict[str, Any]]:
    """Run the points of one sweep in order; stop where the projected time passes the deadline."""
    done: list[dict[str, Any]] = []
    for n in sizes:
        left = deadline - time.time()
        need = _projected(done, n)
        if need > left:
            done.append({"kind": kind, "n": n, "skipped": f"not run: projected {need:.0f} s > {left:.0f} s left"})
            continue
        if kind in ("stats", "inception") and not (scratch / f"png{n}").exists():
            link_folder(scratch / "all", scratch / f"png{n}", n)
        point = run_point(kind, n, scratch, timeout=max(left, 10.0))
        shutil.rmtree(scratch / f"png{n}", ignore_errors=True)
        done.append(point)
        print(json.dumps(point), flush=True)
    return done


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def _work_mib(p: dict[str, Any]) -> float:
    return float(p["peak_rss_mib"] - p["base_rss_mib"])


def exponents(points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per sweep: N range and the fitted time and memory (peak - base) exponents."""
    rows = []
    for kind in dict.fromkeys(p["kind"] for p in points):
        pts = [p for p in points if p["kind"] == kind and "seconds" in p]
        if not pts:
            continue
        ns = [p["n"] for p in pts]
        last = pts[-2:]  # the per-item cost between the two largest sizes: fixed start-up costs cancel
        marginal = (
            (last[-1]["seconds"] - last[0]["seconds"]) / (last[-1]["n"] - last[0]["n"]) if len(last) == 2 else math.nan
        )
        rows.append(
            {
                "kind": kind,
                "range": f"{min(ns)}-{max(ns)}",
                "time": fit_exponent(ns, [p["seconds"] for p in pts]),
                "memory": fit_exponent(ns, [_work_mib(p) for p in pts]),
                # over the three largest sizes only: start-up costs and caches weigh less there
                "time_top": fit_exponent(ns[-3:], [p["seconds"] for p in pts[-3:]]) if len(pts) > 3 else math.nan,
                "memory_top": fit_exponent(ns[-3:], [_work_mib(p) for p in pts[-3:]]) if len(pts) > 3 else math.nan,
                "marginal_ms": 1000 * marginal,
                "largest_mib": _work_mib(pts[-1]),
            }
        )
    return rows


def markdown(points: list[dict[str, Any]], machine: str) -> str:
    """The points table and the exponents table."""
    lines = [
        machine,
        "",
        "| sweep | N | seconds | N/s | peak RSS MiB | peak - base MiB | load (1 min) | notes |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in points:
        if "seconds" not in p:
            lines.append(f"| {p['kind']} | {p['n']} | - | - | - | - | - | {p['skipped']} |")
            continue
        lines.append(
            f"| {p['kind']} | {p['n']} | {p['seconds']:.3g} | {p['n'] / p['seconds']:.3g} | "
            f"{p['peak_rss_mib']:.0f} | {_work_mib(p):.0f} | {p['load']:.2f} | {p.get('note', '')} |"
        )
    lines += [
        "",
        "| sweep | what | N | time exponent (3 largest N) | memory exponent, peak - base (3 largest N) "
        "| ms per added item (two largest N) | peak - base at largest N, MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in exponents(points):
        top_t = "" if math.isnan(r["time_top"]) else f" ({r['time_top']:.2f})"
        top_m = "" if math.isnan(r["memory_top"]) else f" ({r['memory_top']:.2f})"
        lines.append(
            f"| {r['kind']} | {WHAT[r['kind']]} | {r['range']} | {r['time']:.2f}{top_t} | {r['memory']:.2f}{top_m} | "
            f"{r['marginal_ms']:.3g} | {r['largest_mib']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def machine_line() -> str:
    import torch

    return (
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), python {platform.python_version()}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run of a few seconds per sweep)")
    ap.add_argument("--only", default=",".join(SWEEPS), help=f"comma list of {', '.join(SWEEPS)}")
    ap.add_argument("--budget", type=float, default=1200.0, help="seconds for the whole run [default: 1200]")
    ap.add_argument("--out", type=Path, default=None, help="write the markdown tables here")
    ap.add_argument("--json", type=Path, default=None, help="write the raw points here")
    ap.add_argument("--sizes", default=None, help="comma list of N replacing every chosen sweep's sizes")
    ap.add_argument("--merge", type=Path, nargs="+", default=None, help="only render the points of these --json files")
    ap.add_argument("--child", nargs=3, metavar=("KIND", "N", "SCRATCH"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child[0], int(args.child[1]), Path(args.child[2]))
        return 0
    if args.merge:
        merged = [p for f in args.merge for p in json.loads(f.read_text())]
        return _emit(markdown(merged, "Merged from " + ", ".join(f.name for f in args.merge)), merged, args)
    kinds = [k.strip() for k in args.only.split(",") if k.strip()]
    bad = [k for k in kinds if k not in SWEEPS]
    if bad:
        ap.error(f"--only: unknown sweep(s) {', '.join(bad)}; choose from {', '.join(SWEEPS)}")
    sizes = QUICK if args.quick else SWEEPS
    if args.sizes:
        sizes = {k: [int(v) for v in args.sizes.split(",")] for k in kinds}
    points: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="scaling-") as tmp:
        scratch = Path(tmp)
        images = max((sizes[k][-1] for k in kinds if k in ("stats", "inception")), default=0)
        if images:
            write_pngs(scratch / "all", images)
        deadline = time.time() + args.budget  # the images are written once, outside the budget
        for kind in kinds:
            points += sweep(kind, sizes[kind], scratch, deadline)
    return _emit(markdown(points, machine_line()), points, args)


def _emit(text: str, points: list[dict[str, Any]], args: argparse.Namespace) -> int:
    print(text)
    if args.out:
        args.out.write_text(text)
    if args.json:
        args.json.write_text(json.dumps(points, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
