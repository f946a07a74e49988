"""Precision/recall (+ density/coverage) and Inception Score: stylegan-eval beside torch-fidelity and prdc.

Measured on the device given (CPU by default), on the same inputs for every implementation:
1. precision/recall from the same random features [N, D] (real) and [M, D] (generated, shifted):
   stylegan-eval's tiled exact k-NN (float64, also computing density and coverage), torch-fidelity's
   ``calculate_precision_recall_part`` (float32 cdist in batches) and, when installed and small
   enough, ``prdc.compute_prdc`` (NumPy / scikit-learn, full matrices); seconds, pair distances
   per second, and the largest difference of the values from stylegan-eval's;
2. Inception Score: per-sample unbiased logits of a generator through the FID Inception
   (seeded random weights; the published file cannot be downloaded here), images/second, then the
   score from the same logits with stylegan-eval and torch-fidelity's ``isc_features_to_metric``.

Usage: python benchmarks/bench_new_metrics.py [--num-real 2000] [--num-gen 2000] [--dim 4096] [--is-samples 32]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import torch

os.environ.setdefault("STYLEGAN_EVAL_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from stylegan_eval.metrics.inception_score import inception_score, inception_score_from_logits
from stylegan_eval.metrics.precision_recall import prdc


def timed(fn, repeats: int = 1):
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_pr(n: int, m: int, d: int, device: str, batch: int, tile: int) -> list[str]:
    g = torch.Generator().manual_seed(0)
    real = torch.randn(n, d, generator=g).to(device)
    fake = (torch.randn(m, d, generator=g) * 1.02).to(device)  # close to real: precision and recall away from 0 and 1
    pairs = n * n + m * m + 2 * n * m  # the two k-NN passes and the cross pass (torch-fidelity: the same count)
    rows = [
        "| implementation | seconds | pair distances/s | precision | recall | max abs diff vs ours |",
        "|---|---|---|---|---|---|",
    ]
    t, ours = timed(lambda: prdc(real, fake, 3, row_batch_size=batch, col_batch_size=batch, tile=tile))
    rows.append(
        f"| stylegan-eval (tiled float64, + density/coverage) | {t:.3f} | {pairs / t:.3g} | {ours['precision']:.6f} | {ours['recall']:.6f} | 0 |"
    )
    t32, o32 = timed(
        lambda: prdc(real, fake, 3, row_batch_size=batch, col_batch_size=batch, tile=tile, dtype=torch.float32)
    )
    diff = max(abs(o32[k] - ours[k]) for k in ("precision", "recall"))
    rows.append(
        f"| stylegan-eval (tiled float32) | {t32:.3f} | {pairs / t32:.3g} | {o32['precision']:.6f} | {o32['recall']:.6f} | {diff:.2e} |"
    )
    from torch_fidelity.metric_prc import calculate_precision_recall_part

    tf, (p, r) = timed(lambda: calculate_precision_recall_part(fake, real, 3, batch))
    diff = max(abs(p - ours["precision"]), abs(r - ours["recall"]))
    rows.append(
        f"| torch-fidelity 0.4 PRC (float32 cdist) | {tf:.3f} | {pairs / tf:.3g} | {p:.6f} | {r:.6f} | {diff:.2e} |"
    )
    try:
        import prdc as prdc_pkg
    except ImportError:
        prdc_pkg = None
    if prdc_pkg is not None and n * m <= 25_000_000:
        tp, ref = timed(lambda: prdc_pkg.compute_prdc(real.cpu().numpy(), fake.cpu().numpy(), 3))
        diff = max(abs(float(ref[k]) - ours[k]) for k in ("precision", "recall", "density", "coverage"))
        rows.append(
            f"| prdc 0.2 (NumPy, full matrices) | {tp:.3f} | {pairs / tp:.3g} | {float(ref['precision']):.6f} | "
            f"{float(ref['recall']):.6f} | {diff:.2e} |"
        )
    return rows


def bench_is(num: int, batch: int, device: str) -> list[str]:
    from eq_toys import BandLimitedGenerator
    from torch_fidelity.metric_isc import isc_features_to_metric

    from stylegan_eval.metrics.inception import make_detector

    g = BandLimitedGenerator(64).to(device)
    det = make_detector("pytorch-fid", allow_random=True, device=device)
    _ = det.net
    t, res = timed(lambda: inception_score(g, num_samples=num, num_splits=min(10, num), batch_size=batch, detector=det))
    logits = torch.randn(50_000, 1008, generator=torch.Generator().manual_seed(1)) * 2
    ts, ours = timed(lambda: inception_score_from_logits(logits, 10), 3)
    tt, ref = timed(lambda: isc_features_to_metric(logits, splits=10, shuffle=False), 3)
    return [
        "| step | stylegan-eval | torch-fidelity 0.4 | abs diff |",
        "|---|---|---|---|",
        (
            f"| generator -> Inception logits -> IS, {num} images (64 px -> 299) | {num / t:.2f} img/s (IS {res.value:.4f}) | "
            "n/a (same network: the cost is the Inception forward) | |"
        ),
        (
            f"| score from 50k x 1008 logits, 10 splits | {ts:.3f} s | {tt:.3f} s | "
            f"{abs(ours[0] - ref['inception_score_mean']):.1e} (mean), {abs(ours[1] - ref['inception_score_std']):.1e} (std) |"
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--num-real", type=int, default=2000)
    ap.add_argument("--num-gen", type=int, default=2000)
    ap.add_argument("--dim", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=1024)
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--is-samples", type=int, default=16)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    print(
        f"Machine: {platform.processor() or platform.machine()}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"device {args.device}\n"
    )
    print(
        f"## precision/recall: {args.num_real} real x {args.num_gen} generated, D = {args.dim}, k = 3, "
        f"batches {args.batch}, tile {args.tile}\n"
    )
    print("\n".join(bench_pr(args.num_real, args.num_gen, args.dim, args.device, args.batch, args.tile)))
    print(f"\n## Inception Score ({args.is_samples} generated images, random-init FID Inception)\n")
    print("\n".join(bench_is(args.is_samples, 8, args.device)))


if __name__ == "__main__":
    main()
