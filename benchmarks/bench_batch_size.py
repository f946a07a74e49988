"""PPL throughput of the embedded demo generator (32 px) by batch size, on this machine's CPU (or --device).

    python benchmarks/bench_batch_size.py [--pairs 256] [--batch-sizes 4,16,64] [--device cpu]

Prints pairs/s per batch size (best of --repeats runs, after one warm-up batch); the CPU rule of
``stylegan_eval.runtime.default_batch_size`` is set from these numbers. Uses the L2 distance on
the images so the measurement is the generator's and the pair renderer's cost plus a cheap
distance; the LPIPS network scales the same way with batch size (also batched convolutions).
"""

from __future__ import annotations

import argparse
import time

import torch


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=256)
    ap.add_argument("--batch-sizes", default="4,16,64")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--distance", default="l2", help="l2 (default) or lpips-vgg (random weights if offline)")
    args = ap.parse_args(argv)

    from stylegan_eval.formats import load_generator
    from stylegan_eval.metrics.distances import make_distance
    from stylegan_eval.metrics.ppl import ppl

    G = load_generator("demo", device=args.device)
    dist = make_distance(args.distance, allow_random=True)
    print(
        f"device {args.device}, torch threads {torch.get_num_threads()}, {args.pairs} pairs, distance {args.distance}"
    )
    for bs in [int(b) for b in args.batch_sizes.split(",")]:
        ppl(G, num_samples=bs, distance=dist, batch_size=bs)  # warm-up
        best = float("inf")
        for _ in range(args.repeats):
            t = time.perf_counter()
            ppl(G, num_samples=args.pairs, distance=dist, batch_size=bs)
            best = min(best, time.perf_counter() - t)
        print(f"batch {bs:4d}: {args.pairs / best:8.1f} pairs/s ({best:.2f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
