"""Benchmark linear separability: classifier throughput, the whole pipeline at reduced N, SVM solvers.

Usage::

    python benchmarks/bench_separability.py [--num-samples 10000] [--svm-rows 20000] [--device cpu]
        [--append benchmarks/RESULTS.md]

What runs (no published weights are available offline, so every classifier here is at random
initialisation; the numbers are timings and solver agreement, not separability results):

1. The full-size CelebA-HQ classifier port (256x256, 23.0M parameters): images/s.
2. The whole pipeline (generation pass with every classifier on each batch, then the SVM stage
   for z and w with both solvers) at ``--num-samples`` on a tiny random StyleGAN2 (32x32,
   512-d z/w, 8 mapping layers) with four reduced-size CelebA-HQ-architecture classifiers
   (32x32 input).
3. SVM stage alone on synthetic ``--svm-rows`` x 512 data with a noisy linear label:
   ``--svm reference`` (LinearSVC dual, max_iter 1000) vs ``--svm fast`` (primal), time,
   convergence, and H(Y|X) of both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # sg2_utils: tiny random StyleGAN2 networks


def machine_info(device: torch.device) -> str:
    import sklearn

    from stylegan_eval.report import cpu_model

    cpu = cpu_model()
    dev = str(device)
    if device.type == "cuda":
        dev += f" ({torch.cuda.get_device_name(device)})"
    return (
        f"{platform.platform()}; CPU {cpu}, {os.cpu_count()} logical cores, torch threads {torch.get_num_threads()}; "
        f"device {dev}; python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
        f"scikit-learn {sklearn.__version__}"
    )


def bench_classifier(device: torch.device, n: int = 16, batch: int = 8) -> dict:
    from stylegan_eval.classifiers import random_classifier

    model = random_classifier(seed=0).to(device).eval()
    x = torch.randn(batch, 3, 256, 256, device=device).clamp(-1, 1)
    with torch.inference_mode():
        model(x)  # warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(max(1, n // batch)):
            model(x)
        if device.type == "cuda":
            torch.cuda.synchronize()
    sec = time.perf_counter() - t0
    return {"images": max(1, n // batch) * batch, "seconds": sec, "img_per_s": max(1, n // batch) * batch / sec}


def bench_pipeline(device: torch.device, num_samples: int, batch_size: int) -> dict:
    from sg2_utils import make_sg2_net

    from stylegan_eval.classifiers import AttributeClassifier, random_classifier
    from stylegan_eval.metrics import separability as sep
    from stylegan_eval.networks.stylegan2 import StyleGAN2Generator

    net = make_sg2_net(32, style_dim=512, n_mlp=8, channels={4: 32, 8: 32, 16: 16, 32: 16})
    gen = StyleGAN2Generator(net, "bench-tiny-stylegan2").eval().to(device)
    clfs = [
        AttributeClassifier(
            f"random-{k}",
            random_classifier(seed=k, resolution=32, fmap_base=256, fmap_max=64),
            32,
            True,
            "random init",
            f"random:{k}",
        )
        for k in range(4)
    ]
    # At random initialisation every logit has the same sign (a constant offset dominates), which
    # would make every label set single-class; shift each classifier's output bias by its median
    # logit on 256 calibration samples (seed 1) so both classes occur.
    with torch.inference_mode():
        idx = torch.arange(256)
        from stylegan_eval.generator import latents

        ws = gen.mapping(latents(gen, 1, idx))
        images = gen.synthesis(ws, noise_mode="random", noise_seed=1, indices=idx)
        for c in clfs:
            c.module.to(device)
            c.module.dense1.bias -= c.module(images).median()
    t0 = time.perf_counter()
    samples = sep.collect_samples(gen, clfs, num_samples, seed=0, batch_size=batch_size)
    gen_s = time.perf_counter() - t0
    out = {
        "num_samples": num_samples,
        "attributes": len(clfs),
        "generate_s": gen_s,
        "generate_img_per_s": num_samples / gen_s,
    }
    for mode in ("reference", "fast"):
        t0 = time.perf_counter()
        res = sep.fit_separability(samples, svm=mode, jobs=1)
        out[f"svm_{mode}_s"] = time.perf_counter() - t0
        out[f"scores_{mode}"] = res.scores
        out[f"converged_{mode}"] = int(res.per_attribute.converged.sum())
        out[f"H_{mode}"] = res.per_attribute.conditional_entropy_bits.round(4).tolist()
    out["fits"] = len(res.per_attribute)
    t0 = time.perf_counter()
    sep.fit_separability(samples, svm="fast", jobs=2)
    out["svm_fast_jobs2_s"] = time.perf_counter() - t0
    return out


def bench_svm(rows: int, dim: int = 512, seed: int = 0) -> dict:
    from stylegan_eval.metrics import separability as sep

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, dim)).astype(np.float32)
    v = rng.standard_normal(dim)
    y = ((x @ v) / np.sqrt(dim) + 0.3 * rng.standard_normal(rows) > 0).astype(np.int64)
    out = {"rows": rows, "dim": dim}
    for mode in ("reference", "fast"):
        t0 = time.perf_counter()
        pred, converged, iters = sep.fit_svm(x, y, mode)
        out[mode] = {
            "seconds": time.perf_counter() - t0,
            "converged": converged,
            "iterations": iters,
            "H_bits": sep.conditional_entropy(sep.joint_distribution(pred, y)),
            "accuracy": float((pred == y).mean()),
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--num-samples", type=int, default=6_000)
    ap.add_argument("--batch-size", type=int, default=250)
    ap.add_argument("--svm-rows", type=int, default=20_000)
    ap.add_argument("--classifier-images", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--append", type=Path, default=None, help="append the Markdown section to this file")
    args = ap.parse_args()
    device = torch.device(args.device)
    info = machine_info(device)
    print(info, flush=True)
    clf = bench_classifier(device, args.classifier_images)
    print("classifier", clf, flush=True)
    svm = bench_svm(args.svm_rows)
    print("svm", svm, flush=True)
    pipe = bench_pipeline(device, args.num_samples, args.batch_size)
    print("pipeline", pipe, flush=True)

    r, f = svm["reference"], svm["fast"]
    lines = [
        f"## Linear separability (`benchmarks/bench_separability.py`, {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC)",
        "",
        f"Machine: {info}",
        "",
        "All classifiers at **random initialisation** (the published CelebA-HQ pickles cannot be downloaded here): "
        "timings and solver agreement only, not separability results; in the pipeline each random classifier's output bias is "
        "shifted by its median logit so that both classes occur. With N/2 kept samples not much larger than the 512 latent "
        "dimensions any labelling is linearly separable (H = 0): the pipeline's scores mean something only from N of a few "
        "thousand up. The CPU was shared with other jobs.",
        "",
        "| what | setting | result |",
        "|---|---|---|",
        f"| CelebA-HQ classifier port, forward | 256x256, 23.0M params, batch 8, {clf['images']} images | "
        f"{clf['img_per_s']:.2f} img/s per classifier ({clf['seconds'] / clf['images'] * 1000:.0f} ms/img) |",
        f"| SVM reference (LinearSVC dual, max_iter 1000) | {svm['rows']} x {svm['dim']} synthetic, noisy linear label | "
        f"{r['seconds']:.2f} s, converged={r['converged']}, iters={r['iterations']}, H={r['H_bits']:.4f} bits, acc={r['accuracy']:.4f} |",
        f"| SVM fast (LinearSVC primal) | same data | {f['seconds']:.2f} s, converged={f['converged']}, iters={f['iterations']}, "
        f"H={f['H_bits']:.4f} bits, acc={f['accuracy']:.4f} (speed-up {r['seconds'] / f['seconds']:.1f}x) |",
        f"| pipeline: generation pass | tiny StyleGAN2 32x32 (z, w 512-d), {pipe['attributes']} reduced classifiers (32x32), "
        f"N={pipe['num_samples']}, batch {args.batch_size} | {pipe['generate_s']:.1f} s ({pipe['generate_img_per_s']:.0f} img/s, all classifiers) |",
        f"| pipeline: SVM stage reference | keep 0.5, {pipe['fits']} fits (z, w) | {pipe['svm_reference_s']:.1f} s, "
        f"{pipe['converged_reference']}/{pipe['fits']} converged, scores {_fmt(pipe['scores_reference'])} |",
        f"| pipeline: SVM stage fast | same samples | {pipe['svm_fast_s']:.1f} s ({pipe['svm_fast_jobs2_s']:.1f} s with --jobs 2), "
        f"{pipe['converged_fast']}/{pipe['fits']} converged, scores {_fmt(pipe['scores_fast'])} |",
        "",
        f"Per-fit H(Y|X) bits, reference: {pipe['H_reference']}; fast: {pipe['H_fast']}.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.append is not None:
        if not args.append.exists():
            args.append.write_text(
                "# Benchmark results\n\nEach section names the script, the machine and the settings.\n\n"
            )
        with open(args.append, "a") as fh:
            fh.write("\n" + text)


def _fmt(scores: dict) -> str:
    return ", ".join(f"{k}={v:.3f}" for k, v in scores.items())


if __name__ == "__main__":
    main()
