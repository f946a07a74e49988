"""StyleGAN3 (T and R): pickle load time, safetensors load time and images/s of the pure-PyTorch network.

The generator is a reduced configuration written in NVIDIA's exact persistence-pickle format by
``tests/nvidia_utils.py`` (random weights, NVIDIA-designed filters): ``--resolution`` px,
``--channel-max`` channels, the published 14 layers. Timed: ``load_generator(pkl)`` (restricted
unpickling + strict key checks), the same for the converted ``.safetensors`` file, and
``generate`` in batches (float32, ``torch.inference_mode``), after one warm-up batch.

Usage: python benchmarks/bench_sg3.py [--resolution 64] [--channel-max 64] [--batch-size 8]
       [--batches 3] [--device cpu]
Prints a Markdown table; images per CPU-second (process time) is the number to compare on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

os.environ.setdefault("STYLEGAN_EVAL_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import nvidia_utils as nu

from stylegan_eval.formats import load_generator
from stylegan_eval.formats.safetensors_file import write


def bench(config: str, args: argparse.Namespace, tmp: Path) -> dict:
    kw = {
        "channel_base": args.channel_max * 64,
        "channel_max": args.channel_max,
        "num_layers": 14,
        "num_critical": 2,
        "margin_size": 10,
    }
    if config == "r":
        kw.update(channel_base=2 * kw["channel_base"], channel_max=2 * args.channel_max)
    pkl = nu.write_sg3_snapshot(
        tmp / f"sg3{config}.pkl", config=config, z_dim=512, w_dim=512, img_resolution=args.resolution, **kw
    )
    t0 = time.perf_counter()
    G = load_generator(pkl)
    t_pkl = time.perf_counter() - t0
    st = write(G, tmp / f"sg3{config}.safetensors")
    t0 = time.perf_counter()
    load_generator(st)
    t_st = time.perf_counter() - t0
    G = G.to(args.device)
    z = torch.randn(args.batch_size, G.z_dim, device=args.device)
    with torch.inference_mode():
        G.generate(z)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(args.batches):
            img = G.generate(z)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert torch.isfinite(img).all()
    return {
        "config": G.family,
        "params": sum(p.numel() for p in G.parameters()),
        "pkl_mb": pkl.stat().st_size / 2**20,
        "t_pkl": t_pkl,
        "t_st": t_st,
        "ips": args.batches * args.batch_size / dt,
        "ipcs": args.batches * args.batch_size / cpu,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--channel-max", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--batches", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    print(
        f"StyleGAN3 {args.resolution} px, channel_max {args.channel_max} (R: x2), batch {args.batch_size}, "
        f"device {args.device}, torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}\n"
    )
    print(
        "| config | parameters | pickle MiB | load .pkl (s) | load .safetensors (s) | images/s (wall) | images/CPU-s |"
    )
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for config in ("t", "r"):
            r = bench(config, args, Path(tmp))
            print(
                f"| {r['config']} | {r['params']:,} | {r['pkl_mb']:.1f} | {r['t_pkl']:.3f} | {r['t_st']:.3f} | {r['ips']:.2f} | {r['ipcs']:.2f} |"
            )


if __name__ == "__main__":
    main()
