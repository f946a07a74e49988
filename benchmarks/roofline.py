"""Each evaluation stage against this machine's own measured arithmetic rate (a roofline table).

    python benchmarks/roofline.py [--stages gen32,lpips256,...] [--quick] [--json PATH] [--device cpu]

First measures the machine's rate for the operations the stages are made of, with torch at the
same thread count: fp32 matrix multiply (2048^3), fp32 3x3 convolution (256 -> 256 channels,
64x64) and fp64 matrix multiply (the precision/recall distance tiles and the FID square root run
in float64). Then, for every stage, in a fresh subprocess each (so that its peak memory is its
own), a sweep over batch sizes: items/s at every batch (best of ``--repeats`` timed calls after
one warm-up call), FLOPs per item counted by ``torch.utils.flop_counter.FlopCounterMode``, the
achieved fraction of the measured rate of the stage's dominant operation, and the peak resident
memory of the process. The batch the package chooses by default (``stylegan_eval.runtime``) is
measured too and reported against the best batch.

Networks run at random initialisation (the published weights are not needed for speed): the
project's StyleGAN2 at 32 (the demo generator), 256 and 1024 px (config-f channels), LPIPS
VGG16, the FID Inception-v3 and the CelebA-HQ attribute classifier. Non-torch stages (the
separability SVM, the FID square root) report items/s and peak memory; the FID square root's
FLOPs are the eigendecompositions' textbook count (about 9 n^3 each, 2 of them), stated as such.

Tests never assert timings: this script only prints and writes what it measured.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------------------------
# Machine rates
# ---------------------------------------------------------------------------------------------


def _best_time(fn: Callable[[], Any], repeats: int) -> float:
    fn()  # warm-up: allocator, oneDNN primitive creation
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


@torch.inference_mode()
def machine_rates(device: str, repeats: int = 5) -> dict[str, float]:
    """Measured FLOP/s of fp32 matmul, fp32 3x3 conv and fp64 matmul on ``device``."""
    n = 2048
    a32, b32 = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a64, b64 = a32.double(), b32.double()
    x = torch.randn(8, 256, 64, 64, device=device)
    conv = torch.nn.Conv2d(256, 256, 3, padding=1).to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def run(f: Callable[[], Any]) -> Callable[[], None]:
        return lambda: (f(), sync())

    conv_flops = 2 * 8 * 256 * 256 * 9 * 64 * 64
    return {
        "matmul_fp32": 2 * n**3 / _best_time(run(lambda: a32 @ b32), repeats),
        "conv_fp32": conv_flops / _best_time(run(lambda: conv(x)), repeats),
        "matmul_fp64": 2 * n**3 / _best_time(run(lambda: a64 @ b64), max(2, repeats // 2)),
    }


# ---------------------------------------------------------------------------------------------
# Stages: each builds a callable f(batch) and says what an item is and what dominates it
# ---------------------------------------------------------------------------------------------


@dataclass
class Stage:
    name: str
    item: str
    dominant: str  # key of machine_rates()
    batches: tuple[int, ...]
    quick_batches: tuple[int, ...]
    counts_flops: bool = True


STAGES = {
    "gen32": Stage("gen32", "image", "conv_fp32", (4, 8, 16, 32, 64, 128), (8, 32, 128)),
    "gen256": Stage("gen256", "image", "conv_fp32", (1, 2, 4, 8), (1, 4)),
    "gen1024": Stage("gen1024", "image", "conv_fp32", (1, 2), (1,)),
    "lpips256": Stage("lpips256", "pair", "conv_fp32", (2, 4, 8, 16, 32), (4, 16)),
    "inception299": Stage("inception299", "image", "conv_fp32", (4, 8, 16, 32, 64), (8, 32)),
    "classifier256": Stage("classifier256", "image", "conv_fp32", (4, 8, 16, 32, 64), (8, 32)),
    "svm": Stage("svm", "sample", "matmul_fp64", (2000,), (2000,), counts_flops=False),
    "pr_tiles": Stage("pr_tiles", "distance", "matmul_fp64", (1024, 2048, 4096), (2048,)),
    "fid_sqrt": Stage("fid_sqrt", "covariance pair", "matmul_fp64", (1,), (1,), counts_flops=False),
}


def _generator(size: int, device: str):
    from stylegan_eval.formats import load_generator
    from stylegan_eval.networks.stylegan2 import StyleGAN2, StyleGAN2Generator

    if size == 32:
        return load_generator("demo", device=device)
    torch.manual_seed(0)
    return StyleGAN2Generator(StyleGAN2(size, channel_multiplier=2), "stylegan2").to(device).eval()


def _default_batch(name: str, device: torch.device) -> int | None:
    """The batch the package picks on its own for this stage (None where it has no such choice):
    generators by their size (:func:`stylegan_eval.runtime.generator_batch_size`), detectors by
    the image resolution, LPIPS by the PPL pair rule."""
    from stylegan_eval import runtime

    if name.startswith("gen"):
        return runtime.generator_batch_size(_generator(int(name[3:]), str(device)), device)
    res = {"lpips256": 256, "inception299": 299, "classifier256": 256}
    if name not in res:
        return None
    if name == "lpips256":
        return runtime.ppl_batch_size(device, 256)
    return runtime.default_batch_size(device, res[name])


def build(name: str, device: str) -> Callable[[int], Any]:
    """``f(batch)`` running one batch of stage ``name`` (inputs made once per batch size)."""
    gen = torch.Generator().manual_seed(0)
    if name.startswith("gen"):
        G = _generator(int(name[3:]), device)

        def run_gen(b: int) -> Any:
            z = torch.randn(b, G.z_dim, generator=gen).to(device)
            return G.generate(z, noise_mode="const")

        return run_gen
    if name == "lpips256":
        from stylegan_eval.metrics.distances import make_distance

        dist = make_distance("lpips-vgg", allow_random=True, download=False).to(device).eval()
        return lambda b: dist(
            torch.rand(b, 3, 256, 256, device=device) * 2 - 1, torch.rand(b, 3, 256, 256, device=device) * 2 - 1
        )
    if name == "inception299":
        from stylegan_eval.metrics.inception import FIDInceptionV3

        net = FIDInceptionV3().to(device).eval()
        return lambda b: net(torch.rand(b, 3, 299, 299, device=device) * 2 - 1)
    if name == "classifier256":
        from stylegan_eval.classifiers.celebahq import random_classifier

        clf = random_classifier().to(device).eval()
        return lambda b: clf(torch.rand(b, 3, 256, 256, device=device) * 2 - 1)
    return _build_numeric(name, device)


def _build_numeric(name: str, device: str) -> Callable[[int], Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    if name == "svm":
        from stylegan_eval.metrics.separability import fit_svm

        x = rng.standard_normal((2000, 512)).astype(np.float32)
        y = (x[:, 0] + 0.5 * rng.standard_normal(2000) > 0).astype(np.int64)
        return lambda b: fit_svm(x[:b], y[:b], mode="reference")
    if name == "pr_tiles":
        from stylegan_eval.metrics.precision_recall import knn_radii

        feats = torch.from_numpy(rng.standard_normal((4096, 4096)).astype(np.float32))
        return lambda b: knn_radii(feats[:b], 3, device=device)
    if name == "fid_sqrt":
        from stylegan_eval.metrics.frechet import trace_sqrt_product_eigen

        a = rng.standard_normal((2048, 4096))
        s1, s2 = np.cov(a[:, :2048]), np.cov(a[:, 2048:])
        return lambda b: trace_sqrt_product_eigen(s1, s2, device=device)
    raise SystemExit(f"unknown stage {name!r} (choose from {', '.join(STAGES)})")


def _items(name: str, batch: int) -> int:
    """Items one call of batch ``batch`` handles (PR tiles: all pairwise distances)."""
    return batch * batch if name == "pr_tiles" else batch


def _flops_per_item(name: str, f: Callable[[int], Any], batch: int) -> float | None:
    if name == "fid_sqrt":
        return 2 * 9 * 2048.0**3  # two symmetric eigendecompositions, textbook count
    if not STAGES[name].counts_flops:
        return None
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        f(batch)
    return counter.get_total_flops() / _items(name, batch)


@torch.inference_mode()
def child(name: str, batch: int, device: str, repeats: int) -> dict[str, Any]:
    """Measure one (stage, batch) in this process: items/s, FLOPs per item, peak RSS."""
    f = build(name, device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    seconds = _best_time(lambda: (f(batch), sync()), repeats)
    flops = _flops_per_item(name, f, batch)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    if device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated()
    return {
        "stage": name,
        "batch": batch,
        "items_per_s": _items(name, batch) / seconds,
        "flops_per_item": flops,
        "peak_bytes": peak,
    }


def run_child(name: str, batch: int, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", name, "--batch", str(batch), "--device", args.device]
    cmd += ["--repeats", str(args.repeats)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=3600)
    if proc.returncode != 0:
        return {"stage": name, "batch": batch, "error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def summarise(stage: Stage, rows: list[dict[str, Any]], rates: dict[str, float], default: int | None) -> dict[str, Any]:
    ok = [r for r in rows if "error" not in r]
    if not ok:
        return {"stage": stage.name, "error": rows[0].get("error")}
    best = max(ok, key=lambda r: r["items_per_s"])
    at_default = next((r for r in ok if r["batch"] == default), None)
    flops = best["flops_per_item"]
    achieved = flops * best["items_per_s"] if flops else None
    return {
        "stage": stage.name,
        "item": stage.item,
        "best_batch": best["batch"],
        "items_per_s": best["items_per_s"],
        "gflop_per_item": flops / 1e9 if flops else None,
        "achieved_gflops": achieved / 1e9 if achieved else None,
        "dominant": stage.dominant,
        "fraction_of_rate": achieved / rates[stage.dominant] if achieved else None,
        "peak_mib": max(r["peak_bytes"] for r in ok) / 2**20,
        "default_batch": default,
        "default_vs_best": (at_default["items_per_s"] / best["items_per_s"]) if at_default else None,
        "sweep": {r["batch"]: round(r["items_per_s"], 3) for r in ok},
    }


def _fmt(v: Any, spec: str = ".3g") -> str:
    return "-" if v is None else format(v, spec) if isinstance(v, float) else str(v)


def markdown(summary: list[dict[str, Any]], rates: dict[str, float], machine: dict[str, Any]) -> str:
    lines = [
        f"Machine: {machine['cpu']}, {machine['cores']} logical cores, torch {machine['torch']} "
        f"({machine['threads']} threads), device {machine['device']}; load average at start {machine['load']}",
        "",
        "Measured rates: "
        + ", ".join(f"{k} {v / 1e9:.1f} GFLOP/s" for k, v in rates.items())
        + " (2048^3 matmul; 3x3 conv 256->256 ch at 64x64, batch 8)",
        "",
        "| stage | item | best batch | items/s | GFLOP/item | achieved GFLOP/s | vs rate of | fraction | peak MiB | default batch | default vs best | sweep (batch: items/s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in summary:
        if "error" in s:
            lines.append(f"| {s['stage']} | error: {s['error']} |" + " |" * 10)
            continue
        sweep = ", ".join(f"{b}: {v:g}" for b, v in s["sweep"].items())
        lines.append(
            f"| {s['stage']} | {s['item']} | {s['best_batch']} | {_fmt(s['items_per_s'])} | "
            f"{_fmt(s['gflop_per_item'])} | {_fmt(s['achieved_gflops'])} | {s['dominant']} | "
            f"{_fmt(s['fraction_of_rate'], '.0%')} | {s['peak_mib']:.0f} | {_fmt(s['default_batch'])} | "
            f"{_fmt(s['default_vs_best'], '.0%')} | {sweep} |"
        )
    return "\n".join(lines)


def machine_info(device: str) -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": device,
        "load": ", ".join(f"{x:.2f}" for x in os.getloadavg()),
        "capability": torch.backends.cpu.get_cpu_capability(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stages", default=",".join(STAGES))
    ap.add_argument("--quick", action="store_true", help="fewer batch sizes per stage")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", type=Path, help="also write the results as JSON")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.batch, args.device, args.repeats)))
        return 0
    machine = machine_info(args.device)
    rates = machine_rates(args.device)
    summary = []
    for name in [s.strip() for s in args.stages.split(",") if s.strip()]:
        stage = STAGES[name]
        default = _default_batch(name, torch.device(args.device))
        batches = sorted(set(stage.quick_batches if args.quick else stage.batches) | ({default} if default else set()))
        rows = [run_child(name, b, args) for b in batches]
        summary.append(summarise(stage, rows, rates, default))
        print(f"{name}: {summary[-1]}", file=sys.stderr, flush=True)
    print(markdown(summary, rates, machine))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "rates": rates, "stages": summary}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
