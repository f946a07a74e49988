"""Load time and generation throughput of the TensorFlow-pickle families (stylegan1-tf, stylegan2-tf).

Writes random-valued pickles in the official on-disk layout (``(G, D, Gs)`` of
``dnnlib.tflib.network.Network``, built by ``tests/tf_utils.py``) at a small configuration, then
times ``load_generator`` (restricted unpickling + key mapping + strict load, median of
``--repeats``) and ``generate`` (z -> image, psi 0.7, const noise, float32, inference mode).

Usage: python benchmarks/bench_tf_formats.py [--resolution 128] [--batch-size 16] [--batches 4]
Prints a Markdown table (paste into benchmarks/RESULTS.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

os.environ.setdefault("STYLEGAN_EVAL_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import tf_utils as tu

from stylegan_eval.formats import load_generator


def bench(family: str, path: Path, repeats: int, batch: int, batches: int, device: str) -> dict:
    loads = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        G = load_generator(path, device=device)
        loads.append(time.perf_counter() - t0)
    z = torch.randn(batch, G.z_dim, device=device)
    with torch.inference_mode():
        G.generate(z, psi=0.7, noise_mode="const")  # warm-up
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(batches):
            img = G.generate(z, psi=0.7, noise_mode="const")
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
    assert torch.isfinite(img).all()
    return {
        "family": family,
        "file_mb": path.stat().st_size / 2**20,
        "params": sum(p.numel() for p in G.parameters()),
        "load_s": statistics.median(loads),
        "img_s": batch * batches / dt,
        "res": G.resolution,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--batches", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    cfg = {"resolution": args.resolution, "fmap_base": 2048, "fmap_max": 128, "w": 128, "mapping_layers": 8}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        p1 = tu.write_sg1_pickle(Path(tmp) / "sg1.pkl", **cfg)
        rows.append(bench("stylegan1-tf (G_style)", p1, args.repeats, args.batch_size, args.batches, args.device))
        for arch in ("skip", "resnet"):
            p2 = tu.write_sg2_pickle(Path(tmp) / f"sg2-{arch}.pkl", architecture=arch, **cfg)
            rows.append(
                bench(f"stylegan2-tf (G_main, {arch})", p2, args.repeats, args.batch_size, args.batches, args.device)
            )
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, threads {torch.get_num_threads()}, "
        f"device {args.device}, {args.resolution} px, fmap_base 2048 / fmap_max 128, w 128, batch {args.batch_size}"
    )
    print("| family | params | file MiB | load s | images/s |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['family']} | {r['params']:,} | {r['file_mb']:.1f} | {r['load_s']:.3f} | {r['img_s']:.1f} |")


if __name__ == "__main__":
    main()
