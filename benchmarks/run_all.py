"""Run every benchmark side by side and write benchmarks/RESULTS.md with the machine's description.

    python benchmarks/run_all.py            # small sizes: minutes on a CPU
    python benchmarks/run_all.py --full     # GPU-sized runs (--device cuda by default)

Runs, each as a subprocess with the same interpreter (so one crash or timeout costs only its
own section):

- ``bench_ppl.py``: PPL pairs/s, stylegan-eval vs torchmetrics vs torch-fidelity;
- ``bench_fid.py``: FID feature throughput, stylegan-eval vs pytorch-fid vs torch-fidelity;
- ``bench_separability.py``: classifier forward, SVM solvers, generation pass;
- ``bench_tf_formats.py``: load time and images/s of the TensorFlow-pickle families;
- ``bench_sg3.py``: StyleGAN3-T/R pickle and safetensors load time, images/s;
- ``bench_new_metrics.py``: precision/recall vs torch-fidelity and prdc, Inception Score;
- ``bench_batch_size.py``: PPL pairs/s of the demo generator by batch size (sets the CPU default);

and, in this process, a straight re-statement of the reference implementations' loops (small
batches of 4, a host synchronisation per batch: ``.cpu().numpy()`` of every batch's result, as
NVIDIA's TensorFlow metrics do with ``sess.run`` per minibatch) next to stylegan-eval's batched
loops on the same generator and detector networks, for PPL and for FID generator features.

The benchmark scripts print Markdown; their output is copied into RESULTS.md under one heading
each, with the exact command and its wall time. A missing script or a failing run is recorded
as such, not hidden.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: name -> (script, small-size args, --full args). "{device}" is replaced by --device.
BENCHMARKS = {
    "ppl": (
        "bench_ppl.py",
        ["--num-samples", "32", "--batch-size", "8", "--resolution", "32", "--config", "small", "--repeats", "1"],
        ["--num-samples", "2048", "--batch-size", "64", "--resolution", "256", "--config", "medium", "--repeats", "3"],
    ),
    "fid": (
        "bench_fid.py",
        ["--num-real", "32", "--num-gen", "16", "--batch-size", "8", "--size", "64", "--device", "{device}"],
        ["--num-real", "5000", "--num-gen", "5000", "--batch-size", "64", "--size", "256", "--device", "{device}"],
    ),
    "separability": (
        "bench_separability.py",
        ["--num-samples", "6000", "--svm-rows", "5000", "--classifier-images", "8", "--device", "{device}"],
        [
            "--num-samples",
            "50000",
            "--batch-size",
            "500",
            "--svm-rows",
            "100000",
            "--classifier-images",
            "256",
            "--device",
            "{device}",
        ],
    ),
    "tf_formats": (
        "bench_tf_formats.py",
        ["--device", "{device}"],
        ["--resolution", "512", "--batches", "8", "--device", "{device}"],
    ),
    "sg3": (
        "bench_sg3.py",
        ["--device", "{device}"],
        ["--resolution", "256", "--channel-max", "256", "--batches", "8", "--device", "{device}"],
    ),
    "batch_size": (
        "bench_batch_size.py",
        ["--distance", "lpips-vgg", "--device", "{device}"],
        ["--distance", "lpips-vgg", "--pairs", "1024", "--batch-sizes", "4,16,64,256", "--device", "{device}"],
    ),
    "new_metrics": (
        "bench_new_metrics.py",
        ["--device", "{device}"],
        ["--num-real", "50000", "--num-gen", "50000", "--is-samples", "1024", "--device", "{device}"],
    ),
}


# ------------------------------------------------------------------------------ machine
def machine_info(device: str) -> list[str]:
    import numpy as np
    import torch

    from stylegan_eval.report import cpu_model

    cpu = cpu_model()
    mem = ""
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024**2:.1f} GiB RAM"
                break
    except OSError:
        pass
    lines = [
        f"- OS: {platform.platform()}",
        f"- CPU: {cpu}, {os.cpu_count()} logical cores; {mem}",
        f"- load average at start (1/5/15 min): {', '.join(f'{x:.2f}' for x in os.getloadavg())}"
        + (" (other jobs were running: CPU timings are pessimistic and noisy)" if os.getloadavg()[0] > 1.0 else ""),
        f"- python {platform.python_version()}, torch {torch.__version__} (threads {torch.get_num_threads()}), numpy {np.__version__}",
    ]
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        lines.append(f"- GPU: {names}; CUDA {torch.version.cuda}")
    else:
        lines.append("- GPU: none")
    lines.append(f"- device used: {device}")
    return lines


# ------------------------------------------------------------------------------ subprocess runs
def _demote(text: str) -> str:
    """Headings of a script's output one level down, under this file's section heading."""
    return "\n".join(("#" + ln) if ln.startswith("#") else ln for ln in text.splitlines())


def _section_body(stdout: str) -> str:
    """The Markdown part of a script's stdout: from its first heading, else from 'Machine:', else all."""
    lines = stdout.splitlines()
    for marker in ("## ", "Machine:"):
        for i, ln in enumerate(lines):
            if ln.startswith(marker):
                return "\n".join(lines[i:]).strip()
    return stdout.strip()


def run_script(name: str, script: str, args: list[str], timeout: int) -> str:
    path = HERE / script
    cmd = [sys.executable, str(path), *args]
    shown = " ".join(["python", f"benchmarks/{script}", *args])
    head = f"## {name}: `{shown}`\n"
    if not path.is_file():
        return head + f"\nNot run: benchmarks/{script} does not exist in this checkout.\n"
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "STYLEGAN_EVAL_OFFLINE": os.environ.get("STYLEGAN_EVAL_OFFLINE", "1")},
        )
    except subprocess.TimeoutExpired:
        return head + f"\n**Timed out** after {timeout} s (raise --timeout).\n"
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        return head + f"\n**Failed** (exit code {proc.returncode}, {wall:.0f} s). Last lines:\n\n```\n{tail}\n```\n"
    return head + f"\nWall time {wall:.0f} s.\n\n" + _demote(_section_body(proc.stdout)) + "\n"


# ------------------------------------------------------------------------------ reference loops
def _bench_generator(resolution: int, device):
    import torch

    from stylegan_eval.networks.stylegan2 import StyleGAN2, StyleGAN2Generator

    torch.manual_seed(0)
    table = {4: 256, 8: 256, 16: 128, 32: 128, 64: 64, 128: 32, 256: 16}
    net = StyleGAN2(resolution, style_dim=256, n_mlp=4, channels={r: c for r, c in table.items() if r <= resolution})
    return StyleGAN2Generator(net.eval().requires_grad_(False), "stylegan2-bench").eval().to(device)


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reference_loops(device_name: str, full: bool) -> str:
    """Reference-style loops (batch 4, per-batch host sync) vs stylegan-eval's batched loops."""
    import numpy as np
    import torch

    from stylegan_eval.imageops import to_uint8
    from stylegan_eval.metrics.distances import make_distance
    from stylegan_eval.metrics.features import FeatureStats, generator_features
    from stylegan_eval.metrics.inception import make_detector
    from stylegan_eval.metrics.ppl import ppl, slerp
    from stylegan_eval.runtime import resolve_device

    device = resolve_device(device_name)
    res = 256 if full else 64
    n_ppl, n_fid, big = (2048, 2048, 64) if full else (32, 16, 16)
    G = _bench_generator(res, device)
    dist = make_distance("lpips-vgg", allow_random=True, download=False).to(device)
    det = make_detector("pytorch-fid", allow_random=True, download=False, device=device)
    eps = 1e-4
    rows = []

    # --- PPL, Z space, full sampling (slerp of z, t ~ U[0, 1)), as NVIDIA's reference loop
    def ref_ppl(n_ppl: int = n_ppl, bs: int = 4) -> np.ndarray:
        rng = np.random.RandomState(0)
        out = []
        with torch.inference_mode():
            for start in range(0, n_ppl, bs):
                m = min(bs, n_ppl - start)
                z0 = torch.from_numpy(rng.randn(m, G.z_dim).astype(np.float32)).to(device)
                z1 = torch.from_numpy(rng.randn(m, G.z_dim).astype(np.float32)).to(device)
                t = torch.from_numpy(rng.uniform(size=m).astype(np.float32)).to(device)
                zz = torch.cat([slerp(z0, z1, t), slerp(z0, z1, t + eps)])
                noise = [torch.cat([x, x]) for x in G.make_noise(m, "random", device=device)]
                img = G.synthesis(G.mapping(zz), noise=noise)
                out.append(dist.paired(img).cpu().numpy() / eps**2)  # host sync every batch
        d = np.concatenate(out)
        lo, hi = np.percentile(d, 1, method="lower"), np.percentile(d, 99, method="higher")
        return d[(d >= lo) & (d <= hi)].mean()

    def ours_ppl(n_ppl: int = n_ppl, bs: int = big) -> float:
        return ppl(
            G, "z", "full", n_ppl, eps, False, distance=dist, batch_size=bs, bootstrap_resamples=0, show_progress=False
        ).mean

    # --- FID generator features: generate -> uint8 -> Inception, as a user loop around pytorch-fid
    def ref_fid(n_fid: int = n_fid, bs: int = 4) -> np.ndarray:
        rng = np.random.RandomState(0)
        feats = []
        with torch.inference_mode():
            for start in range(0, n_fid, bs):
                m = min(bs, n_fid - start)
                z = torch.from_numpy(rng.randn(m, G.z_dim).astype(np.float32)).to(device)
                feats.append(det(to_uint8(G.generate(z))).cpu().numpy())  # host sync every batch
        f = np.concatenate(feats).astype(np.float64)
        return f.mean(0), np.cov(f, rowvar=False)

    def ours_fid(n_fid: int = n_fid, bs: int = big):
        f = generator_features(G, det, n_fid, batch_size=bs, show_progress=False)
        s = FeatureStats.from_features(f)
        return s.mu, s.sigma

    for label, unit, n, fns in (
        (
            "PPL (Z, full, LPIPS-VGG16)",
            "pairs/s",
            n_ppl,
            (
                ("reference-style loop, batch 4, host sync per batch", ref_ppl, 4),
                ("stylegan-eval metrics.ppl, batch 4", ours_ppl, 4),
                (f"stylegan-eval metrics.ppl, batch {big}", ours_ppl, big),
            ),
        ),
        (
            "FID generator features (Inception-v3)",
            "img/s",
            n_fid,
            (
                ("reference-style loop, batch 4, host sync per batch", ref_fid, 4),
                ("stylegan-eval generator_features, batch 4", ours_fid, 4),
                (f"stylegan-eval generator_features, batch {big}", ours_fid, big),
            ),
        ),
    ):
        for name, fn, bs in fns:
            fn(bs, bs)  # untimed warm-up at the timed batch shape (network construction, allocator, oneDNN/cuDNN plans)
            _sync(device)
            t0 = time.perf_counter()
            fn(n, bs)
            _sync(device)
            sec = time.perf_counter() - t0
            rows.append(f"| {label} | {name} | {n} | {sec:.2f} | {n / sec:.2f} {unit} |")
    rw = sorted(set(dist.random_weights) | set(det.random_weights))
    lines = [
        "## Reference-style loops vs stylegan-eval (`benchmarks/run_all.py`, in-process)",
        "",
        f"Generator: project StyleGAN2 {res}px, random init (mapping 4x256). Device {device}. "
        + (f"Detectors at random initialisation ({', '.join(rw)}): timings only. " if rw else "")
        + "The reference-style loops draw latents with numpy and copy every batch's result to the host "
        "(`.cpu().numpy()`), as NVIDIA's TensorFlow metrics do per `sess.run`; stylegan-eval keeps results on the device "
        "until the end, at the reference's batch size and at a larger one. Latents differ between the loops, so only speed "
        "is compared here (value agreement is tested in tests/). On a CPU a host copy costs nothing and larger batches "
        "are not faster (they leave the caches), so the loops are expected to tie there; the comparison means something "
        "on a GPU, where a sync per small batch leaves the device idle.",
        "",
        "| metric | loop | samples | seconds | throughput |",
        "|---|---|---|---|---|",
        *rows,
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="GPU-sized runs (default: small CPU sizes)")
    ap.add_argument(
        "--device", default=None, help="device for the benchmarks that take one [default: cuda with --full, else cpu]"
    )
    ap.add_argument("--only", default=None, help="comma list of: " + ", ".join([*BENCHMARKS, "reference"]))
    ap.add_argument("--timeout", type=int, default=3600, help="seconds per benchmark script")
    ap.add_argument("--out", type=Path, default=HERE / "RESULTS.md")
    args = ap.parse_args(argv)
    device = args.device or ("cuda" if args.full else "cpu")
    only = None if args.only is None else {s.strip() for s in args.only.split(",") if s.strip()}
    started = dt.datetime.now(dt.timezone.utc)
    header = [
        "# Benchmark results",
        "",
        f"Written by `python benchmarks/run_all.py{' --full' if args.full else ''}` on {started:%Y-%m-%d %H:%M} UTC "
        f"({'GPU-sized' if args.full else 'small CPU-sized'} runs). Every section below comes from this one run, on this machine:",
        "",
        *machine_info(device),
        "",
    ]
    sections = []
    for name, (script, small, full) in BENCHMARKS.items():
        if only is not None and name not in only:
            continue
        a = [x.replace("{device}", device) for x in (full if args.full else small)]
        print(f"running {name} ...", file=sys.stderr, flush=True)
        sections.append(run_script(name, script, a, args.timeout))
    if only is None or "reference" in only:
        print("running reference loops ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            sections.append(reference_loops(device, args.full) + f"\nWall time {time.perf_counter() - t0:.0f} s.\n")
        except Exception as exc:  # noqa: BLE001 - record, don't hide
            sections.append(f"## Reference-style loops\n\n**Failed**: {type(exc).__name__}: {exc}\n")
    text = "\n".join(header) + "\n" + "\n".join(sections)
    args.out.write_text(text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
