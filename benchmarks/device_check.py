"""One prepared device check: CUDA tests, PPL / FID / separability throughput, FLOP/s and candidate optimisations.

    bash benchmarks/device_check.sh                       # on a GPU machine: results under $OUT (or --out)
    python benchmarks/device_check.py --smoke --device cpu --out /tmp/dc   # tiny CPU run (tests/test_device_check.py)

Stages (each under its own time budget; results are rewritten after every measurement, so a
run stopped at any point leaves valid partial files):

- ``env``: device, torch, TF32 flags, measured fp32 matmul rate (TF32 off) and copy bandwidth.
- ``tests``: ``pytest -m cuda tests/test_cuda.py`` in a subprocess (JUnit XML beside the results).
- ``ppl_sg2`` / ``ppl_sg1``: PPL (W space, 'end', eps 1e-4, fp32, full image box-downsampled to
  256, LPIPS-VGG16) on a random-init StyleGAN2 config-f 1024 / StyleGAN1 1024 generator:
  stylegan-eval's metric at its auto batch; NVIDIA's reference loop (batch 2, host sync per
  batch); torchmetrics and torch-fidelity beside stylegan-eval at their settings (Z, lerp,
  resize 256); candidates: batch sweep, channels_last, torch.compile, CUDA-graph replay. The
  projected ppl2_wend time is 50k pairs over the measured rate.
- ``fid``: generator-feature throughput at 1024 (generate, uint8, Inception-v3): the metric at
  its auto batch, a reference-style loop, and candidates (batch sweep, channels_last, pinned
  non-blocking copies, torch.compile); projected fid50k_full (generated side).
- ``separability``: the CelebA-HQ classifier port at 256: fp32 over batch sizes, bf16 autocast
  and channels_last with label / kept-half agreement against fp32, the 40 classifiers run
  together on each generated batch; projected 200k x 40.
- FLOPs: counted with ``torch.utils.flop_counter.FlopCounterMode`` on one batch of every
  stage; achieved FLOP/s is reported against the measured fp32 matmul rate and the datasheet.

Parity (the candidate optimisations): per-pair PPL distances of a fixed set of pairs within
1e-5 relative of the eager path at a parity step eps = 1e-2 (at the protocol's 1e-4 the float32
rounding of any kernel change is amplified by 1/eps^2 to ~1e-3; that deviation is reported too,
beside the eager path's own batch-size floor); FID feature statistics (mu, sigma) within 1e-6
(relative to their largest magnitude); classifier labels and kept half >= 99.9% agreement.

All networks run at random initialisation (no published weights here or there): the numbers are
throughput and parity, never metric values. Only :func:`run_ppl_metric` and
:func:`run_fid_metric` call the toolkit's public metric entry points: fix them there if that
API changes.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable
from copy import deepcopy
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("STYLEGAN_EVAL_OFFLINE", "1")

import numpy as np  # noqa: E402 - after the sys.path setup above
import torch  # noqa: E402 - after the sys.path setup above

from stylegan_eval import sampling  # noqa: E402 - after the sys.path setup above
from stylegan_eval.imageops import box_downsample, to_uint8  # noqa: E402 - after the sys.path setup above

#: Datasheet fp32 (non-tensor) peak of an H100/H200 SXM, FLOP/s; a lead, the measured rate is beside it.
H200_FP32_PEAK = 67e12
PPL_EPS = 1e-4
PARITY_EPS = 1e-2
PPL_RTOL = 1e-5
#: Batch-size invariance of per-pair distances at PARITY_EPS (other kernels per batch shape; README "Determinism").
BATCH_RTOL = 1e-4
FID_TOL = 1e-6
LABEL_AGREEMENT = 0.999
PPL2_WEND_PAIRS = 50_000
FID50K = 50_000
SEP_IMAGES, SEP_CLASSIFIERS = 200_000, 40


# ------------------------------------------------------------------------------ sizes
def sizes(smoke: bool) -> dict[str, Any]:
    """Every size of the run. ``smoke``: tiny networks and counts, a CPU run of a few seconds."""
    if smoke:
        return {
            "resolution": 32,
            "sg2": {"style_dim": 32, "n_mlp": 2, "channels": {4: 16, 8: 16, 16: 8, 32: 8}},
            "sg1": {"code_dim": 32, "n_mlp": 2, "channels": (16, 16, 8, 8)},
            "clf": {"resolution": 16, "fmap_base": 128, "fmap_max": 16},
            "lpips_size": 32,
            "ppl_pairs": 4,
            "parity_pairs": 2,
            "ppl_batches": [1, 2],
            "peer_batch": 2,
            "ref_batch": 2,
            "fid_images": 2,
            "fid_batches": [2],
            "parity_images": 2,
            "sep_bank": 32,
            "sep_batches": [8, 32],
            "sep_gen_batch": 4,
            "sep_together_batches": 1,
            "sep_classifiers": 3,
            "seconds": 0.2,
            "matmul": 256,
        }
    return {
        "resolution": 1024,
        "sg2": {"style_dim": 512, "n_mlp": 8, "channel_multiplier": 2},
        "sg1": {"code_dim": 512, "n_mlp": 8, "channels": None},
        "clf": {"resolution": 256},
        "lpips_size": 256,
        "ppl_pairs": 64,
        "parity_pairs": 8,
        "ppl_batches": [2, 4, 8, 16, 32],
        "peer_batch": 8,
        "ref_batch": 2,
        "fid_images": 128,
        "fid_batches": [4, 8, 16, 32],
        "parity_images": 32,
        "sep_bank": 1024,
        "sep_batches": [32, 128, 512],
        "sep_gen_batch": 16,
        "sep_together_batches": 2,
        "sep_classifiers": 40,
        "seconds": 4.0,
        "matmul": 8192,
    }


#: Seconds of each stage in a full run (the total stays under 8 minutes with start-up).
STAGE_BUDGET = {"env": 10, "tests": 75, "ppl_sg2": 90, "ppl_sg1": 40, "fid": 60, "separability": 45, "compile": 100}


# ------------------------------------------------------------------------------ networks (stable pieces)
def make_sg2(cfg: dict[str, Any], device: torch.device):
    """Random-init StyleGAN2 (config-f at 1024 in a full run) as a :class:`Generator`."""
    from stylegan_eval.networks.stylegan2 import StyleGAN2, StyleGAN2Generator

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = StyleGAN2(cfg["resolution"], **cfg["sg2"])
    return StyleGAN2Generator(net.eval().requires_grad_(False), "stylegan2-random").eval().to(device)


def make_sg1(cfg: dict[str, Any], device: torch.device):
    """Random-init StyleGAN1 (rosinality's published channel table up to 1024 in a full run)."""
    from stylegan_eval.networks.stylegan1 import PUBLISHED_CHANNELS, StyledGenerator, StyleGAN1Generator

    kw = dict(cfg["sg1"])
    kw["channels"] = kw["channels"] or PUBLISHED_CHANNELS
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = StyledGenerator(**kw)
    return StyleGAN1Generator(net.eval().requires_grad_(False), cfg["resolution"]).eval().to(device)


def make_lpips(device: torch.device):
    from stylegan_eval.metrics.distances import make_distance

    return make_distance("lpips-vgg", allow_random=True, download=False).to(device)


# ------------------------------------------------------------------------------ the metric adapter
def run_ppl_metric(
    G,
    distance,
    num_pairs: int,
    batch_size: int | None,
    *,
    space: str = "w",
    sampling_mode: str = "end",
    epsilon: float = PPL_EPS,
    z_interpolation: str = "slerp",
    resize: int | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, int]:
    """The one call of the public PPL entry point: (per-pair distances / eps^2 float64 [num_pairs], batch used).

    ``batch_size`` None = the metric's automatic batch. Fix this function, and only this one, if
    the metrics API changes.
    """
    from stylegan_eval.metrics.ppl import ppl

    res = ppl(
        G,
        space,
        sampling_mode,
        num_pairs,
        epsilon,
        False,
        distance=distance,
        batch_size=batch_size,
        seed=seed,
        z_interpolation=z_interpolation,
        resize=resize,
        bootstrap_resamples=0,
    )
    return np.asarray(res.distances, dtype=np.float64), int(res.settings.get("batch_size") or 0)


def run_fid_metric(G, detector, num_images: int, batch_size: int | None) -> tuple[np.ndarray, int]:
    """The one call of the public FID generator-feature entry point: (features float64 [N, 2048], batch used)."""
    from stylegan_eval.metrics.features import generator_features
    from stylegan_eval.runtime import generator_batch_size

    bs = batch_size or generator_batch_size(G, G.device, "fid_generated")
    f = generator_features(G, detector, num_images, batch_size=bs, show_progress=False)
    return f.double().numpy(), bs


# ------------------------------------------------------------------------------ timing helpers
def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_mib(device: torch.device) -> float:
    """Peak device memory since :func:`reset_peak` (CUDA), else the process's peak RSS, MiB."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: Untimed calls before each measurement (0 in smoke mode, where only the code paths matter).
WARMUP = 1


def measure(
    fn: Callable[[], Any],
    items: int,
    device: torch.device,
    max_seconds: float,
    max_calls: int = 10**6,
    warmup: int | None = None,
) -> dict[str, float]:
    """Warm up ``fn``, then call it until ``max_seconds`` or ``max_calls`` (at least once): items/s and peak memory."""
    warmup = WARMUP if warmup is None else warmup
    t0 = time.perf_counter()
    for _ in range(warmup):
        fn()
    sync(device)
    warm = time.perf_counter() - t0
    reset_peak(device)
    calls = 0
    t0 = time.perf_counter()
    while calls < 1 or (calls < max_calls and time.perf_counter() - t0 < max_seconds):
        fn()
        calls += 1
        if device.type == "cuda" and calls == 1:
            sync(device)  # the first timed call decides whether more fit the budget
    sync(device)
    sec = time.perf_counter() - t0
    return {
        "items": calls * items,
        "seconds": sec,
        "per_s": calls * items / sec,
        "peak_mib": peak_mib(device),
        "warmup_s": warm,
    }


def count_flops(fn: Callable[[], Any]) -> float:
    """FLOPs of one call of ``fn`` (matmuls and convolutions, 2 per multiply-add) by FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def set_memory_format(module: torch.nn.Module, fmt: torch.memory_format) -> None:
    """Put every 4-D parameter and buffer of ``module`` in ``fmt`` (Module.to refuses the 5-D modulated weights)."""
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            if t.dim() == 4:
                t.data = t.data.contiguous(memory_format=fmt)


def rel_dev(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / |b| elementwise (b the reference)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-30)))


def stats_dev(fa: np.ndarray, fb: np.ndarray) -> dict[str, float]:
    """Deviation of the FID statistics of features ``fa`` from those of ``fb``, relative to their largest magnitude."""
    mua, mub = fa.mean(0), fb.mean(0)
    sa, sb = np.cov(fa, rowvar=False), np.cov(fb, rowvar=False)
    return {
        "mu": float(np.abs(mua - mub).max() / max(np.abs(mub).max(), 1e-30)),
        "sigma": float(np.abs(sa - sb).max() / max(np.abs(sb).max(), 1e-30)),
    }


# ------------------------------------------------------------------------------ results
class Results:
    """The run's results, rewritten as JSON and Markdown after every record (partial runs stay readable)."""

    def __init__(self, out: Path, meta: dict[str, Any]) -> None:
        self.out = out
        self.data: dict[str, Any] = {"meta": meta, "stages": {}}
        out.mkdir(parents=True, exist_ok=True)

    def stage(self, name: str) -> dict[str, Any]:
        return self.data["stages"].setdefault(name, {"status": "running", "rows": [], "parity": [], "summary": {}})

    def write(self) -> None:
        text = json.dumps(self.data, indent=1, default=_json_default, allow_nan=True)
        tmp = self.out / ".device_check.json.tmp"
        tmp.write_text(text)
        tmp.replace(self.out / "device_check.json")
        (self.out / "device_check.md").write_text(markdown(self.data))


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    return str(o)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.3g}" if abs(v) < 1e-2 or abs(v) >= 1e5 else f"{v:.4g}"
    return str(v)


def markdown(data: dict[str, Any]) -> str:
    m = data["meta"]
    lines = ["# Device check", "", f"`{m.get('command')}` at {m.get('started')} UTC, {m.get('mode')} mode.", ""]
    lines += [f"- {k}: {v}" for k, v in m.items() if k not in ("command", "started", "mode")]
    for name, st in data["stages"].items():
        lines += [
            "",
            f"## {name} ({st['status']}, {st.get('wall_s', float('nan')):.0f} s of {st.get('budget_s', float('nan')):.0f} s)",
            "",
        ]
        if st.get("summary"):
            long = {k: v for k, v in st["summary"].items() if isinstance(v, str) and "\n" in v}
            lines += [f"- {k}: {_fmt(v)}" for k, v in st["summary"].items() if k not in long]
            for k, v in long.items():
                lines += [f"- {k}:", "", "```", v.strip(), "```"]
            lines.append("")
        if st["rows"]:
            lines += [
                "| what | per s | unit | peak MiB | seconds | projected | achieved TFLOP/s (of fp32 rate) | note |",
                "|---|---|---|---|---|---|---|---|",
            ]
            for r in st["rows"]:
                frac = r.get("frac_of_fp32", float("nan"))
                lines.append(
                    f"| {r['what']} | {_fmt(r.get('per_s', float('nan')))} | {r.get('unit', '')} | {_fmt(r.get('peak_mib', float('nan')))} "
                    f"| {_fmt(r.get('seconds', float('nan')))} | {_fmt(r.get('projected_min', float('nan')))} min "
                    f"| {_fmt(r.get('tflops', float('nan')))} ({_fmt(100 * frac)}%) | {r.get('note', '')} |"
                )
        if st["parity"]:
            lines += [
                "",
                "| parity check | deviation | tolerance | pass | eager batch floor | within floor | note |",
                "|---|---|---|---|---|---|---|",
            ]
            for p in st["parity"]:
                lines.append(
                    f"| {p['what']} | {_fmt(p['deviation'])} | {_fmt(p['tolerance'])} | {p['pass']} "
                    f"| {_fmt(p.get('floor', ''))} | {p.get('pass_within_floor', '')} | {p.get('note', '')} |"
                )
        if st.get("skipped"):
            lines.append("")
        for sk in st.get("skipped", []):
            lines.append(f"- skipped {sk['what']}: {sk['reason']}")
        if st.get("error"):
            lines += ["", "```", st["error"], "```"]
    return "\n".join(lines) + "\n"


class Stage:
    """Context of one stage: its budget, its rows, and failure capture (a failing stage never stops the run)."""

    def __init__(self, results: Results, name: str, budget: float) -> None:
        self.results, self.name = results, name
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        self.deadline = self.t0 + budget
        self.st = results.stage(name)
        self.st["budget_s"] = budget

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def row(self, what: str, m: dict[str, float] | None = None, **extra: Any) -> dict[str, Any]:
        r = {"what": what, **(m or {}), **extra}
        self.st["rows"].append(r)
        self.results.write()
        print(f"[{self.name}] {what}: " + ", ".join(f"{k}={_fmt(v)}" for k, v in r.items() if k != "what"), flush=True)
        return r

    def parity(
        self,
        what: str,
        deviation: float,
        tolerance: float,
        higher_is_better: bool = False,
        note: str = "",
        floor: float | None = None,
    ) -> bool:
        """Record a parity check; ``pass`` is against ``tolerance``. ``floor`` (the eager path's own deviation
        between two batch sizes) adds ``pass_within_floor``: no worse than what batch-size changes already do."""
        ok = bool(deviation >= tolerance) if higher_is_better else bool(deviation <= tolerance)
        rec = {"what": what, "deviation": float(deviation), "tolerance": tolerance, "pass": ok, "note": note}
        if floor is not None:
            rec["floor"] = float(floor)
            rec["pass_within_floor"] = bool(deviation <= max(tolerance, floor))
        self.st["parity"].append(rec)
        self.results.write()
        print(
            f"[{self.name}] parity {what}: {_fmt(deviation)} vs {tolerance} -> {'pass' if ok else 'FAIL'}", flush=True
        )
        return ok

    def skip(self, what: str, reason: str) -> None:
        self.st.setdefault("skipped", []).append({"what": what, "reason": reason})
        self.results.write()
        print(f"[{self.name}] skipped {what}: {reason}", flush=True)

    def __enter__(self) -> Stage:  # noqa: PYI034
        return self

    def __exit__(self, typ, exc, tb) -> bool:
        self.st["wall_s"] = time.perf_counter() - self.t0
        self.st["cpu_s"] = (
            time.process_time() - self.c0
        )  # this process's CPU time (the tests stage's subprocess not included)
        if exc is not None:
            self.st["status"] = "failed"
            self.st["error"] = "".join(traceback.format_exception(typ, exc, tb))[-3000:]
            print(f"[{self.name}] FAILED: {typ.__name__}: {exc}", flush=True)
        else:
            self.st["status"] = "done"
        self.results.write()
        return True  # recorded; the next stage runs


# ------------------------------------------------------------------------------ env
def stage_env(ctx: Stage, device: torch.device, cfg: dict[str, Any]) -> float:
    """Device facts and the two ceilings (fp32 matmul with TF32 off, device copy); returns the fp32 rate, FLOP/s."""
    from stylegan_eval.runtime import reference_precision

    reference_precision()
    s = ctx.st["summary"]
    s["torch"] = torch.__version__
    s["tf32_matmul"] = bool(torch.backends.cuda.matmul.allow_tf32)
    s["tf32_cudnn"] = bool(torch.backends.cudnn.allow_tf32)
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        s.update(
            gpu=p.name,
            sms=p.multi_processor_count,
            memory_gib=p.total_memory / 2**30,
            cuda=torch.version.cuda,
            cudnn=torch.backends.cudnn.version(),
        )
    n = cfg["matmul"]
    g = torch.Generator(device=device).manual_seed(0)
    a = torch.randn(n, n, device=device, generator=g)
    b = torch.randn(n, n, device=device, generator=g)
    m = measure(lambda: a @ b, 1, device, max_seconds=min(2.0, cfg["seconds"]), max_calls=20)
    rate = 2 * n**3 * m["per_s"]
    err = float(
        ((a[:64].double() @ b.double()) - (a[:64] @ b).double()).abs().max()
        / (a[:64].double() @ b.double()).abs().max()
    )
    ctx.row(
        f"fp32 matmul {n}^3 (TF32 off)", m, unit="products", tflops=rate / 1e12, note=f"max rel err vs fp64 {err:.1e}"
    )
    s["fp32_matmul_tflops"] = rate / 1e12
    s["fp32_matmul_rel_err"] = err
    x = torch.empty(max(2**20, (2**28 if device.type == "cuda" else 2**22)), device=device)
    y = torch.empty_like(x)
    m = measure(lambda: y.copy_(x), 1, device, max_seconds=1.0, max_calls=50)
    s["copy_gb_s"] = 2 * x.numel() * 4 * m["per_s"] / 1e9
    ctx.results.write()
    return rate


# ------------------------------------------------------------------------------ tests
def stage_tests(ctx: Stage, out: Path, timeout: float) -> None:
    """``pytest -m cuda tests/test_cuda.py`` in a subprocess; counts from its JUnit XML."""
    xml = out / "cuda_tests.xml"
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-m",
        "cuda",
        "-p",
        "no:cacheprovider",
        str(ROOT / "tests" / "test_cuda.py"),
        f"--junitxml={xml}",
    ]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, check=False, cwd=ROOT, capture_output=True, text=True, timeout=max(10.0, timeout))
        rc, tail = proc.returncode, (proc.stdout + proc.stderr)[-2000:]
    except subprocess.TimeoutExpired as exc:
        rc, tail = 124, f"timed out after {exc.timeout:.0f} s"
    s = ctx.st["summary"]
    s.update(exit_code=rc, seconds=time.perf_counter() - t0)
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if xml.is_file():
        root = ET.parse(xml).getroot()
        suite = root if root.tag == "testsuite" else root.find("testsuite")
        if suite is not None:
            counts = {k: int(suite.get(k, 0)) for k in counts}
        s["failed"] = [
            f"{c.get('name')}: {(c.find('failure') if c.find('failure') is not None else c.find('error')).get('message', '')[:200]}"
            for c in root.iter("testcase")
            if c.find("failure") is not None or c.find("error") is not None
        ]
    s.update(counts)
    s["passed"] = counts["tests"] - counts["failures"] - counts["errors"] - counts["skipped"]
    s["output_tail"] = tail[-600:]
    ctx.results.write()
    print(
        f"[tests] exit {rc}: {s['passed']} passed, {counts['failures']} failed, {counts['errors']} errors, {counts['skipped']} skipped",
        flush=True,
    )


# ------------------------------------------------------------------------------ PPL
class PPLLoop:
    """W-space 'end' PPL on fixed-shape batches, written out so that its core can be compiled or graph-captured.

    :meth:`inputs` draws pair i's latents and noise from the sampling engine exactly as the metric
    does (streams Z, Z_END, NOISE + layer, seeded by (seed, i)); :meth:`core` maps ws + noise to
    distances / eps^2 with no host synchronisation.
    """

    def __init__(self, G, dist, eps: float, seed: int = 0, core: Callable[..., torch.Tensor] | None = None) -> None:
        self.G, self.dist, self.eps, self.seed = G, dist, eps, seed
        self.core = core or self.eager_core

    def inputs(self, idx: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        G, dev = self.G, self.G.device
        z0 = sampling.normal(self.seed, sampling.Z, idx, (G.z_dim,), dev)
        z1 = sampling.normal(self.seed, sampling.Z_END, idx, (G.z_dim,), dev)
        w0, w1 = G.mapping(torch.cat([z0, z1])).chunk(2)
        ws = torch.cat([w0, w0 + (w1 - w0) * self.eps])  # lerp at t = 0 and t = eps
        noise = G.make_noise(idx.shape[0], "random", noise_seed=self.seed, indices=idx, device=dev)
        return ws, [torch.cat([n, n]) for n in noise]

    def eager_core(self, ws: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        """Pair ws [2N, num_ws, w_dim] and noise -> LPIPS distances [N] (not yet divided by eps^2)."""
        img = self.G.synthesis(ws, noise=noise)
        return self.dist.paired(box_downsample(img, 256))

    def with_core(self, core: Callable[..., torch.Tensor]) -> PPLLoop:
        return PPLLoop(self.G, self.dist, self.eps, self.seed, core)

    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        ws, noise = self.inputs(idx)
        return self.core(ws, noise) / (self.eps * self.eps)


def _ppl_distances(step: Callable[[torch.Tensor], torch.Tensor], n: int, bs: int) -> np.ndarray:
    with torch.inference_mode():
        out = [step(idx) for idx in sampling.batch_indices(n, bs)]
    return torch.cat(out).double().cpu().numpy()


class GraphStep:
    """CUDA-graph replay of :meth:`PPLLoop.core` at one batch size (inputs copied into static buffers)."""

    def __init__(self, loop: PPLLoop, bs: int) -> None:
        self.loop, self.bs = loop, bs
        idx = torch.arange(bs)
        with torch.inference_mode():
            ws, noise = loop.inputs(idx)
            self.ws, self.noise = ws.clone(), [x.clone() for x in noise]
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(2):
                    loop.core(self.ws, self.noise)
            torch.cuda.current_stream().wait_stream(s)
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.out = loop.core(self.ws, self.noise)

    def __call__(self, idx: torch.Tensor) -> torch.Tensor:
        if idx.shape[0] != self.bs:  # a short last batch runs eagerly
            return self.loop(idx)
        ws, noise = self.loop.inputs(idx)
        self.ws.copy_(ws)
        for a, b in zip(self.noise, noise):
            a.copy_(b)
        self.graph.replay()
        return self.out.clone() / (self.loop.eps * self.loop.eps)


def reference_ppl_loop(G, dist, n: int, bs: int, eps: float) -> np.ndarray:
    """NVIDIA's loop shape: numpy latents, a small batch, every batch's distances copied to the host."""
    rng = np.random.RandomState(0)
    dev = G.device
    out = []
    with torch.inference_mode():
        for start in range(0, n, bs):
            m = min(bs, n - start)
            z = torch.from_numpy(rng.randn(2 * m, G.z_dim).astype(np.float32)).to(dev)
            w0, w1 = G.mapping(z).chunk(2)
            ws = torch.cat([w0, w0 + (w1 - w0) * eps])
            noise = [torch.cat([x, x]) for x in G.make_noise(m, "random", device=dev)]
            img = G.synthesis(ws, noise=noise)
            out.append(dist.paired(box_downsample(img, 256)).cpu().numpy() / eps**2)  # host sync per batch
    return np.concatenate(out)


def _peer_models(G, dist, n: int, lpips_size: int):
    """torchmetrics / torch-fidelity runners on our generator and our LPIPS weights (Z, end, lerp, resize)."""
    sys.path.insert(0, str(HERE))
    from bench_ppl import PeerGenerator, vgg_features

    z0 = sampling.normal(0, sampling.Z, torch.arange(n), (G.z_dim,))
    z1 = sampling.normal(0, sampling.Z_END, torch.arange(n), (G.z_dim,))
    dev = G.device
    runners: dict[str, Callable[[int], Any]] = {}

    def torchmetrics_runner(bs: int):
        from torchmetrics.functional.image.lpips import _LPIPS
        from torchmetrics.functional.image.perceptual_path_length import perceptual_path_length

        with torch.random.fork_rng(devices=[]):
            net = _LPIPS(pretrained=True, net="vgg", resize=lpips_size, pnet_rand=True)
        net.net.load_state_dict(dist.net.state_dict())
        gen = PeerGenerator(G, z0, z1)
        return lambda: perceptual_path_length(
            gen,
            num_samples=n,
            batch_size=bs,
            epsilon=PPL_EPS,
            interpolation_method="lerp",
            resize=lpips_size,
            lower_discard=None,
            upper_discard=None,
            sim_net=net,
            device=dev,
        )

    def fidelity_runner(bs: int):
        import types

        import lpips
        import torch_fidelity.metric_ppl as tf_ppl
        import torch_fidelity.sample_similarity_lpips as tf_lpips
        from torch_fidelity import GenerativeModelModuleWrapper

        heads = torch.load(os.path.join(lpips.__path__[0], "weights/v0.1/vgg.pth"), map_location="cpu")
        gen = PeerGenerator(G, z0, z1)
        # torch-fidelity is fed our VGG weights and latents by patching its module functions; the
        # patches are undone after each use so that nothing leaks into other users of the package
        # (the CPU smoke run shares its process with the test suite).
        patches = {
            (tf_lpips, "load_state_dict_from_url"): lambda *a, **k: heads,
            (tf_lpips, "torchvision_load_pretrained_vgg16"): lambda **k: types.SimpleNamespace(
                features=vgg_features(dist).cpu()
            ),
            (tf_ppl, "sample_random"): lambda rng, shape, z_type: gen.sample(shape[0]),
        }

        @contextlib.contextmanager
        def patched(extra: dict[tuple[Any, str], Any]):
            items = {**patches, **extra}
            saved = {key: getattr(*key) for key in items}
            for (mod, name), value in items.items():
                setattr(mod, name, value)
            try:
                yield
            finally:
                for (mod, name), value in saved.items():
                    setattr(mod, name, value)

        with patched({}):
            sim = tf_lpips.SampleSimilarityLPIPS(
                "lpips-vgg16", sample_similarity_resize=lpips_size, sample_similarity_dtype="float32"
            ).eval()
        sim = sim.to(dev)
        model = GenerativeModelModuleWrapper(gen, G.z_dim, "normal", 0)
        kw = {
            "input1_model_num_samples": n,
            "batch_size": bs,
            "cuda": dev.type == "cuda",
            "verbose": False,
            "ppl_epsilon": PPL_EPS,
            "ppl_z_interp_mode": "lerp",
            "ppl_sample_similarity_resize": lpips_size,
            "ppl_sample_similarity_dtype": "float32",
            "ppl_reduction": "none",
            "ppl_discard_percentile_lower": None,
            "ppl_discard_percentile_higher": None,
            "save_cpu_ram": True,
        }

        def run():
            with patched({(tf_ppl, "create_sample_similarity"): lambda *a, **k: sim}):
                return tf_ppl.calculate_ppl(1, input1=model, **kw)

        return run

    runners["torchmetrics"] = torchmetrics_runner
    runners["torch-fidelity"] = fidelity_runner
    return runners


def throughput_row(
    c: Stage, what: str, m: dict[str, float], *, unit: str, total: int, flops: float, fp32_rate: float, note: str = ""
) -> None:
    """A measured row with the projected minutes for ``total`` units and the achieved FLOP/s
    (``flops`` per unit), absolute and as a fraction of the measured fp32 rate."""
    c.row(
        what,
        m,
        unit=unit,
        projected_min=total / m["per_s"] / 60,
        tflops=flops * m["per_s"] / 1e12,
        frac_of_fp32=flops * m["per_s"] / fp32_rate,
        note=note,
    )


def eager_sweep(
    ctx: Stage,
    batches: list[int],
    run: Callable[[int, int], Any],
    *,
    samples: Callable[[int], int],
    device: torch.device,
    sec: float,
    add: Callable[[str, dict[str, float]], None],
) -> dict[str, Any]:
    """Measure ``run(samples(bs), bs)`` at every batch size that fits the stage budget and the
    device memory; the fastest measurement with its batch as ``bs`` (``per_s`` 0 if none ran)."""
    best: dict[str, Any] = {"per_s": 0.0, "bs": batches[0]}
    for bs in batches:
        if ctx.left() < sec + 2:
            ctx.skip(f"eager batch {bs}", "stage budget spent")
            continue
        nb = samples(bs)
        try:
            m = measure(lambda nb=nb, bs=bs: run(nb, bs), nb, device, sec)
        except torch.cuda.OutOfMemoryError:
            ctx.skip(f"eager batch {bs}", "out of memory")
            torch.cuda.empty_cache()
            continue
        add(f"eager loop, batch {bs}", m)
        if m["per_s"] > best["per_s"]:
            best = {**m, "bs": bs}
    return best


def _failure(exc: Exception) -> str:
    """A candidate's exception as one short line (a candidate that cannot run is a result)."""
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"


class _PPLStage:
    """The phases of :func:`stage_ppl`, sharing the stage, the networks, the sizes and the FLOPs of one pair."""

    def __init__(self, ctx: Stage, G, dist, cfg: dict[str, Any], device: torch.device, fp32_rate: float) -> None:
        self.ctx, self.G, self.dist, self.cfg, self.device, self.fp32_rate = ctx, G, dist, cfg, device, fp32_rate
        self.n, self.sec = cfg["ppl_pairs"], cfg["seconds"]
        self.loop = PPLLoop(G, dist, PPL_EPS)
        self.s = ctx.st["summary"]
        # FLOPs of one pair: generator (2 images) and LPIPS (2 images at <= 256)
        with torch.inference_mode():
            ws, noise = self.loop.inputs(torch.arange(1))
            img = G.synthesis(ws, noise=noise)
            g_flops = count_flops(lambda: G.synthesis(ws, noise=noise))
            d_flops = count_flops(lambda: dist.paired(box_downsample(img, 256)))
        self.pair_flops = g_flops + d_flops
        self.s.update(
            generator_gflop_per_image=g_flops / 2e9,
            lpips_gflop_per_image=d_flops / 2e9,
            gflop_per_pair=self.pair_flops / 1e9,
            resolution=G.resolution,
            family=G.family,
        )

    def add(self, what: str, m: dict[str, float], note: str = "", c: Stage | None = None) -> None:
        throughput_row(
            c or self.ctx,
            what,
            m,
            unit="pairs",
            total=PPL2_WEND_PAIRS,
            flops=self.pair_flops,
            fp32_rate=self.fp32_rate,
            note=note,
        )

    def metric(self) -> None:
        """1. The metric at its automatic batch, and the eager loop against it at the same batch."""
        G, dist, n, s = self.G, self.dist, self.n, self.s
        holder: dict[str, Any] = {}

        def metric_auto() -> None:
            holder["d"], holder["bs"] = run_ppl_metric(G, dist, n, None)

        m = measure(metric_auto, n, self.device, self.sec, max_calls=1)
        self.add(f"stylegan-eval metric, auto batch ({holder['bs']})", m, note="ppl(), W end fp32")
        s["auto_batch"] = holder["bs"]
        s["projected_ppl2_wend_min_auto"] = PPL2_WEND_PAIRS / m["per_s"] / 60
        s["reference_v100_ppl2_wend_min"] = 36.0  # NVIDIA's StyleGAN2-ADA README, one V100, batch 2
        if not np.isfinite(holder["d"]).all():
            raise RuntimeError("non-finite PPL distances from the metric")
        # eager loop == the metric at the same batch (the adapter and the loop compute one function)
        d_loop = _ppl_distances(self.loop, n, holder["bs"])
        self.ctx.parity(
            "eager PPLLoop vs the metric (same batch, eps 1e-4)",
            rel_dev(d_loop, holder["d"]),
            PPL_RTOL,
            note="same samples and arithmetic; fails if the metric's sampling protocol changes",
        )

    def reference(self) -> None:
        """2. NVIDIA's reference loop: batch 2, host sync per batch."""
        rb = self.cfg["ref_batch"]
        m = measure(
            lambda: reference_ppl_loop(self.G, self.dist, self.n, rb, PPL_EPS),
            self.n,
            self.device,
            self.sec,
            max_calls=1,
        )
        self.add(f"reference loop, batch {rb}, host sync per batch", m, note="NVIDIA's ppl2_wend batch")

    def peers(self) -> None:
        """3. The peers at their settings (Z, end, lerp, resize) beside stylegan-eval at the same settings."""
        ctx, G, dist, n, cfg = self.ctx, self.G, self.dist, self.n, self.cfg
        pb, size = cfg["peer_batch"], cfg["lpips_size"]
        m = measure(
            lambda: run_ppl_metric(G, dist, n, pb, space="z", z_interpolation="lerp", resize=size),
            n,
            self.device,
            self.sec,
            max_calls=1,
        )
        self.add(f"stylegan-eval metric, peer settings, batch {pb}", m, note=f"Z end lerp resize {size}")
        for name, make in _peer_models(G, dist, n, size).items():
            if ctx.left() < 10:
                ctx.skip(name, "stage budget spent")
                continue
            try:
                fn = make(pb)
            except ImportError as exc:
                ctx.skip(name, f"not installed ({exc}); carry its wheel (see notes)")
                continue
            m = measure(fn, n, self.device, self.sec, max_calls=1)
            self.add(f"{name}, peer settings, batch {pb}", m, note=f"Z end lerp resize {size}")

    def sweep(self) -> None:
        """4a. The eager loop over batch sizes; the best batch's parity references at both eps.

        Parity compares each candidate with the eager loop at the SAME batch (one shape, so a
        compiled core compiles once), on pairs at eps = 1e-2.
        """
        ctx, cfg, s, n = self.ctx, self.cfg, self.s, self.n
        self.ploop = PPLLoop(self.G, self.dist, PARITY_EPS)
        base = cfg["ppl_batches"][0]
        self.best = eager_sweep(
            ctx,
            cfg["ppl_batches"],
            lambda nb, bs: _ppl_distances(self.loop, nb, bs),
            samples=lambda bs: bs * max(1, n // bs // 4),
            device=self.device,
            sec=self.sec,
            add=self.add,
        )
        bs = self.bs = self.best["bs"]
        self.P = bs * max(1, math.ceil(cfg["parity_pairs"] / bs))
        s["best_eager_batch"] = bs
        s["best_eager_pairs_per_s"] = self.best["per_s"]
        s["projected_ppl2_wend_min_best_eager"] = (
            PPL2_WEND_PAIRS / self.best["per_s"] / 60 if self.best["per_s"] else float("nan")
        )
        self.ref_parity = _ppl_distances(self.ploop, self.P, bs)
        self.ref_proto = _ppl_distances(self.loop, self.P, bs)
        other = base if base != bs else max(1, bs // 2)
        self.floor = rel_dev(_ppl_distances(self.loop, self.P, other), self.ref_proto)
        s["eager_batch_floor_eps1e-4"] = self.floor
        self.floor_p = rel_dev(_ppl_distances(self.ploop, self.P, other), self.ref_parity)
        ctx.parity(
            f"eager batch {other} vs batch {bs} (eps 1e-2)",
            self.floor_p,
            BATCH_RTOL,
            note=f"batch-size invariance; at eps 1e-4: {self.floor:.1e}",
        )

    def candidate(
        self,
        name: str,
        make: Callable[[PPLLoop], Callable[[torch.Tensor], torch.Tensor]],
        cleanup: Callable[[], Any] | None = None,
        c: Stage | None = None,
    ) -> None:
        """4b. One candidate step: parity against the eager loop at both eps, then its throughput."""
        c = c or self.ctx
        if c.left() < self.sec + 5:
            c.skip(name, "stage budget spent")
            return
        bs, P, best = self.bs, self.P, self.best
        try:
            step_p, step = make(self.ploop), make(self.loop)
            dev_p = rel_dev(_ppl_distances(step_p, P, bs), self.ref_parity)
            dev_1e4 = rel_dev(_ppl_distances(step, P, bs), self.ref_proto)
            nb = bs * max(1, self.n // bs // 4)
            m = measure(lambda: _ppl_distances(step, nb, bs), nb, self.device, self.sec)
        except Exception as exc:  # noqa: BLE001 - a candidate that cannot run is a result
            c.skip(name, _failure(exc))
            return
        finally:
            if cleanup is not None:
                cleanup()
        self.add(
            f"{name}, batch {bs}", m, note=f"vs eager {m['per_s'] / best['per_s']:.2f}x" if best["per_s"] else "", c=c
        )
        c.parity(
            f"{name} vs eager (eps 1e-2)",
            dev_p,
            PPL_RTOL,
            floor=self.floor_p,
            note=f"at eps 1e-4: {dev_1e4:.1e} (eager batch floor {self.floor:.1e})",
        )

    def candidates(self, compile_backend: str | None, deferred: list[Callable[[Stage], None]] | None) -> None:
        """4c. channels_last, the non-fused modulated conv, torch.compile (deferred) and CUDA-graph replay."""
        G, loop = self.G, self.loop

        def channels_last(lp: PPLLoop):
            set_memory_format(G, torch.channels_last)
            return lp

        self.candidate(
            "channels_last generator", channels_last, cleanup=lambda: set_memory_format(G, torch.contiguous_format)
        )
        if _set_fused(G, True):

            def unfused(lp: PPLLoop):
                _set_fused(G, False)
                return lp

            self.candidate(
                "non-fused modulated conv (one shared conv, activations modulated)",
                unfused,
                cleanup=lambda: _set_fused(G, True),
            )
        if compile_backend and deferred is not None:
            # compilation cannot be interrupted: it runs in the last stage, on whatever time is left
            def compiled(c: Stage) -> None:
                # eps-free: one graph for both loops
                core = torch.compile(loop.eager_core, backend=compile_backend, dynamic=False)
                self.candidate(
                    f"PPL {G.family}: torch.compile ({compile_backend}) of synthesis + LPIPS",
                    lambda lp: lp.with_core(core),
                    c=c,
                )

            deferred.append(compiled)
        if self.device.type == "cuda":
            self.candidate("CUDA graph replay of synthesis + LPIPS", lambda lp: GraphStep(lp, self.bs))
        else:
            self.ctx.skip("CUDA graph replay", "needs CUDA")


def stage_ppl(
    ctx: Stage,
    G,
    dist,
    cfg: dict[str, Any],
    device: torch.device,
    fp32_rate: float,
    *,
    candidates: bool,
    peers: bool,
    compile_backend: str | None,
    deferred: list[Callable[[Stage], None]] | None = None,
) -> None:
    """PPL throughput of stylegan-eval, the reference loop, the peers and the candidate optimisations."""
    stage = _PPLStage(ctx, G, dist, cfg, device, fp32_rate)
    stage.metric()
    stage.reference()
    if peers:
        stage.peers()
    if not candidates:
        return
    stage.sweep()
    stage.candidates(compile_backend, deferred)


def _set_fused(G, fused: bool) -> bool:
    """Switch a StyleGAN2's modulated convolutions between the grouped (fused) and the shared-weight path; False if G has none."""
    net = getattr(G, "net", None)
    if not hasattr(net, "set_fused_modconv"):
        return False
    net.set_fused_modconv(fused)
    return True


# ------------------------------------------------------------------------------ FID
def _gen_features(G, det, n: int, bs: int, copy: str = "device", seed: int = 0) -> np.ndarray:
    """Features of samples [0, n) (z and noise from the sampling engine), with one of three host-copy policies.

    copy: 'device' keeps features on the device until the end; 'sync' copies every batch with
    ``.cpu()`` (a host sync per batch); 'pinned' copies every batch into pinned host memory
    with ``non_blocking=True`` (no sync until the end).
    """
    dev = G.device
    out: list[torch.Tensor] = []
    pinned = torch.empty((n, 2048), dtype=torch.float32, pin_memory=dev.type == "cuda") if copy == "pinned" else None
    with torch.inference_mode():
        for idx in sampling.batch_indices(n, bs):
            d_idx = idx.to(dev)
            z = sampling.normal(seed, sampling.Z, d_idx, (G.z_dim,), dev)
            img = G.generate(z, noise_mode="random", noise_seed=seed, indices=d_idx)
            f = det(to_uint8(img))
            if copy == "sync":
                out.append(f.cpu())
            elif copy == "pinned":
                pinned[int(idx[0]) : int(idx[-1]) + 1].copy_(f, non_blocking=True)
            else:
                out.append(f)
    sync(dev)
    feats = pinned if pinned is not None else torch.cat(out).cpu()
    return feats.double().numpy()


class _FIDStage:
    """The phases of :func:`stage_fid`, sharing the stage, the networks, the sizes and the FLOPs of one image."""

    def __init__(self, ctx: Stage, G, det, cfg: dict[str, Any], device: torch.device, fp32_rate: float) -> None:
        self.ctx, self.G, self.det, self.cfg, self.device, self.fp32_rate = ctx, G, det, cfg, device, fp32_rate
        self.n, self.sec = cfg["fid_images"], cfg["seconds"]
        self.s = ctx.st["summary"]
        with torch.inference_mode():
            z = torch.randn(1, G.z_dim, device=device)
            img = G.generate(z, noise_mode="const")
            self.g_flops = count_flops(lambda: G.generate(z, noise_mode="const"))
            i_flops = count_flops(lambda: det(to_uint8(img)))
        self.flops = self.g_flops + i_flops
        self.s.update(generator_gflop_per_image=self.g_flops / 1e9, inception_gflop_per_image=i_flops / 1e9)

    def add(
        self, what: str, m: dict[str, float], note: str = "", f: float | None = None, c: Stage | None = None
    ) -> None:
        throughput_row(
            c or self.ctx,
            what,
            m,
            unit="images",
            total=FID50K,
            flops=self.flops if f is None else f,
            fp32_rate=self.fp32_rate,
            note=note,
        )

    def metric(self) -> float:
        """The metric at its automatic batch, a reference-style loop, and the generator alone at the
        largest batch (its images/s, returned, feed the separability projection; NaN if out of memory)."""
        G, det, n, s, device, sec = self.G, self.det, self.n, self.s, self.device, self.sec
        holder: dict[str, Any] = {}

        def metric() -> None:
            holder["f"], holder["bs"] = run_fid_metric(G, det, n, None)

        m = measure(metric, n, device, sec, max_calls=1)
        self.add(f"stylegan-eval generator_features, auto batch ({holder['bs']})", m)
        s["auto_batch"] = holder["bs"]
        s["projected_fid50k_full_min_auto"] = FID50K / m["per_s"] / 60
        s["reference_v100_fid50k_full_min"] = 13.0  # NVIDIA's StyleGAN2-ADA README, one V100
        if not np.isfinite(holder["f"]).all():
            raise RuntimeError("non-finite features from the metric")
        m = measure(lambda: _gen_features(G, det, n, 4, "sync"), n, device, sec, max_calls=1)
        self.add("reference-style loop, batch 4, .cpu() per batch", m)

        gb = self.cfg["fid_batches"][-1]
        with torch.inference_mode():
            zg = torch.randn(gb, G.z_dim, device=device)
            try:
                m = measure(lambda: G.generate(zg, noise_mode="const"), gb, device, sec)
                self.add(f"generator only, batch {gb}", m, f=self.g_flops)
                return m["per_s"]
            except torch.cuda.OutOfMemoryError:
                self.ctx.skip(f"generator only, batch {gb}", "out of memory")
                return float("nan")

    def sweep(self) -> None:
        """The eager loop over batch sizes; at the best batch, the parity reference features and the
        batch-size floor (parity at one shape: a compiled synthesis compiles once)."""
        G, det, n, s, cfg = self.G, self.det, self.n, self.s, self.cfg
        base = cfg["fid_batches"][0]
        self.best = eager_sweep(
            self.ctx,
            cfg["fid_batches"],
            lambda nb, bs: _gen_features(G, det, nb, bs),
            samples=lambda bs: bs * max(1, n // bs // 2),
            device=self.device,
            sec=self.sec,
            add=self.add,
        )
        bs = self.bs = self.best["bs"]
        s["best_eager_batch"] = bs
        s["projected_fid50k_full_min_best_eager"] = (
            FID50K / self.best["per_s"] / 60 if self.best["per_s"] else float("nan")
        )
        self.P = bs * max(1, math.ceil(cfg["parity_images"] / bs))
        self.ref = _gen_features(G, det, self.P, bs)
        other = base if base != bs else max(1, bs // 2)
        self.floor = stats_dev(_gen_features(G, det, self.P, other), self.ref)
        s["eager_batch_floor_mu"], s["eager_batch_floor_sigma"] = self.floor["mu"], self.floor["sigma"]
        s["parity_images"] = self.P
        self.nb = bs * max(1, n // bs // 2)

    def check(self, name: str, feats: np.ndarray, c: Stage | None = None) -> None:
        """Parity of the FID statistics of ``feats`` with the eager loop's at the best batch."""
        c = c or self.ctx
        d = stats_dev(feats, self.ref)
        c.parity(f"{name}: mu", d["mu"], FID_TOL, floor=self.floor["mu"])
        c.parity(f"{name}: sigma", d["sigma"], FID_TOL, floor=self.floor["sigma"])

    def vs_eager(self, m: dict[str, float], what: str = "eager") -> str:
        """The speed-up over the best eager batch ("" when no eager batch fit the stage budget)."""
        return f"vs {what} {m['per_s'] / self.best['per_s']:.2f}x" if self.best["per_s"] else ""

    def copies(self) -> None:
        """Per-batch host copies: ``.cpu()`` (a sync per batch) and pinned non-blocking copies."""
        G, det, nb, bs = self.G, self.det, self.nb, self.bs
        for copy in ("sync", "pinned"):
            if self.ctx.left() < self.sec + 2:
                self.ctx.skip(f"copy {copy}", "stage budget spent")
                continue
            m = measure(lambda copy=copy: _gen_features(G, det, nb, bs, copy), nb, self.device, self.sec)
            self.add(f"{copy} per-batch host copy, batch {bs}", m, note=self.vs_eager(m, "keep-on-device"))
            self.check(f"{copy} copy", _gen_features(G, det, self.P, bs, copy))

    def channels_last(self) -> None:
        G, det, nb, bs = self.G, self.det, self.nb, self.bs
        if self.ctx.left() <= self.sec + 5:
            self.ctx.skip("channels_last", "stage budget spent")
            return
        try:
            set_memory_format(G, torch.channels_last)
            set_memory_format(det, torch.channels_last)
            feats = _gen_features(G, det, self.P, bs)
            m = measure(lambda: _gen_features(G, det, nb, bs), nb, self.device, self.sec)
            self.add(f"channels_last generator + Inception, batch {bs}", m, note=self.vs_eager(m))
            self.check("channels_last", feats)
        finally:
            set_memory_format(G, torch.contiguous_format)
            set_memory_format(det, torch.contiguous_format)

    def unfused(self) -> None:
        G, det, nb, bs = self.G, self.det, self.nb, self.bs
        if not (self.ctx.left() > self.sec + 5 and _set_fused(G, False)):
            return
        try:
            feats = _gen_features(G, det, self.P, bs)
            m = measure(lambda: _gen_features(G, det, nb, bs), nb, self.device, self.sec)
            self.add(f"non-fused modulated conv, batch {bs}", m, note=self.vs_eager(m))
            self.check("non-fused modulated conv", feats)
        finally:
            _set_fused(G, True)

    def compiled(self, c: Stage, backend: str | None) -> None:
        """torch.compile of the synthesis network (run deferred, in the last stage)."""
        det, nb, bs = self.det, self.nb, self.bs
        if c.left() < self.sec + 5:
            c.skip("FID: torch.compile", "stage budget spent")
            return
        try:
            Gc = _CompiledSynthesis(self.G, backend)
            feats = _gen_features(Gc, det, self.P, bs)
            m = measure(lambda: _gen_features(Gc, det, nb, bs), nb, self.device, self.sec)
        except Exception as exc:  # noqa: BLE001 - a candidate that cannot run is a result
            c.skip("FID: torch.compile", _failure(exc))
            return
        self.add(f"FID: torch.compile ({backend}) synthesis, batch {bs}", m, note=self.vs_eager(m), c=c)
        self.check("FID: torch.compile", feats, c=c)


def stage_fid(
    ctx: Stage,
    G,
    det,
    cfg: dict[str, Any],
    device: torch.device,
    fp32_rate: float,
    *,
    candidates: bool,
    compile_backend: str | None,
    deferred: list[Callable[[Stage], None]] | None = None,
) -> float:
    """Generator-feature throughput and candidates; returns the generator-only images/s at the best batch."""
    stage = _FIDStage(ctx, G, det, cfg, device, fp32_rate)
    gen_rate = stage.metric()
    if not candidates:
        return gen_rate
    stage.sweep()
    stage.copies()
    stage.channels_last()
    stage.unfused()
    if compile_backend and deferred is not None:
        deferred.append(lambda c: stage.compiled(c, compile_backend))
    return gen_rate


class _CompiledSynthesis:
    """A view of a Generator whose ``generate`` runs a torch.compile'd synthesis network (same weights)."""

    def __init__(self, G, backend: str) -> None:
        self.G, self.z_dim, self.device = G, G.z_dim, G.device
        self._synth = torch.compile(G._synthesize, backend=backend, dynamic=False)

    def generate(self, z, noise_mode="random", noise_seed=None, indices=None):
        ws = self.G.mapping(z)
        noise = self.G.make_noise(z.shape[0], noise_mode, noise_seed, indices, z.device)
        return self._synth(ws, noise)


# ------------------------------------------------------------------------------ separability
def stage_separability(
    ctx: Stage, G, cfg: dict[str, Any], device: torch.device, fp32_rate: float, gen_rate: float
) -> None:
    """The classifier port's throughput (fp32, bf16, channels_last with agreement checks) and the 40-together loop."""
    from stylegan_eval.classifiers import random_classifier

    sec, r = cfg["seconds"], cfg["clf"]["resolution"]
    s = ctx.st["summary"]
    clf = random_classifier(0, **cfg["clf"]).eval().requires_grad_(False).to(device)
    # a bank of generated images at the classifier's size (up to sep_bank images, at most ~1/4 of the stage budget)
    bank = []
    gbs = cfg["sep_gen_batch"]
    stop = time.perf_counter() + max(2.0, ctx.left() / 4)
    with torch.inference_mode():
        for idx in sampling.batch_indices(cfg["sep_bank"], gbs):
            z = sampling.normal(0, sampling.Z, idx, (G.z_dim,), device)
            bank.append(box_downsample(G.generate(z, noise_mode="random", noise_seed=0, indices=idx.to(device)), r))
            if len(bank) >= 2 and time.perf_counter() > stop:
                sync(device)
                if time.perf_counter() > stop:
                    break
        bank_t = torch.cat(bank)
        flops = count_flops(lambda: clf(bank_t[:1]))
        raw = torch.cat([clf(x) for x in bank_t.split(cfg["sep_batches"][0])])[:, 0].double().cpu().numpy()
    median = float(np.median(raw))  # the mean of the two middle logits: no image sits exactly on the boundary
    # random classifiers put every image on one side; centre on the median logit so both labels occur
    with torch.no_grad():
        clf.dense1.bias.sub_(median)
    with torch.inference_mode():
        logits32 = torch.cat([clf(x) for x in bank_t.split(cfg["sep_batches"][0])])[:, 0].double().cpu().numpy()
    s.update(gflop_per_image=flops / 1e9, bank_images=int(bank_t.shape[0]), resolution=r)

    def add(what: str, m: dict[str, float], note: str = "") -> None:
        total = SEP_IMAGES * SEP_CLASSIFIERS / m["per_s"] + (SEP_IMAGES / gen_rate if math.isfinite(gen_rate) else 0.0)
        ctx.row(
            what,
            m,
            unit="classifier-images",
            projected_min=total / 60,
            tflops=flops * m["per_s"] / 1e12,
            frac_of_fp32=flops * m["per_s"] / fp32_rate,
            note=note,
        )

    best = {"per_s": 0.0, "bs": cfg["sep_batches"][0]}
    with torch.inference_mode():
        for bs in cfg["sep_batches"]:
            x = bank_t[:bs] if bank_t.shape[0] >= bs else bank_t.repeat(math.ceil(bs / bank_t.shape[0]), 1, 1, 1)[:bs]
            m = measure(lambda x=x: clf(x), bs, device, sec / 2)
            add(f"fp32, batch {bs}", m, note="projection = 200k x 40 classifier passes + 200k generated images")
            if m["per_s"] > best["per_s"]:
                best = {**m, "bs": bs}
    bs = best["bs"]
    s["best_fp32_batch"] = bs
    s["reference_v100_separability_min"] = 600.0  # StyleGAN paper: ~10 h on one V100 for 200k images x 40 classifiers
    s["projected_separability_min_fp32_best"] = (
        SEP_IMAGES * SEP_CLASSIFIERS / best["per_s"] + (SEP_IMAGES / gen_rate if math.isfinite(gen_rate) else 0.0)
    ) / 60

    def agreement(name: str, logits: np.ndarray) -> None:
        lab = (logits32 < 0) == (logits < 0)
        keep = bank_t.shape[0] // 2
        k32 = set(np.argsort(-np.abs(logits32), kind="stable")[:keep].tolist())
        k = set(np.argsort(-np.abs(logits), kind="stable")[:keep].tolist())
        ctx.parity(f"{name}: label agreement", float(lab.mean()), LABEL_AGREEMENT, higher_is_better=True)
        ctx.parity(f"{name}: kept-half agreement", len(k32 & k) / keep, LABEL_AGREEMENT, higher_is_better=True)

    variants = {
        "bf16 autocast": (torch.bfloat16, False),
        "channels_last fp32": (None, True),
        "bf16 autocast + channels_last": (torch.bfloat16, True),
    }
    x = bank_t[:bs] if bank_t.shape[0] >= bs else bank_t.repeat(math.ceil(bs / bank_t.shape[0]), 1, 1, 1)[:bs]
    for name, (dtype, cl) in variants.items():
        if ctx.left() < sec + 2:
            ctx.skip(name, "stage budget spent")
            continue
        fmt = torch.channels_last if cl else torch.contiguous_format
        set_memory_format(clf, fmt)
        amp = torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()
        try:
            with torch.inference_mode(), amp:
                xin = x.contiguous(memory_format=fmt)
                lg = (
                    torch.cat([clf(b.contiguous(memory_format=fmt)) for b in bank_t.split(bs)])[:, 0]
                    .double()
                    .cpu()
                    .numpy()
                )
                m = measure(lambda xin=xin: clf(xin), bs, device, sec / 2)
            add(f"{name}, batch {bs}", m, note=f"vs fp32 {m['per_s'] / best['per_s']:.2f}x")
            agreement(name, lg)
        finally:
            set_memory_format(clf, torch.contiguous_format)

    # all classifiers on each generated batch (images never leave the device)
    k = cfg["sep_classifiers"]
    if ctx.left() < sec:
        ctx.skip("classifiers together", "stage budget spent")
        return
    # k copies in their own memory (the same values: building 40 random networks on the host costs more than the check)
    clfs = [deepcopy(clf) for _ in range(k)]

    def together() -> None:
        with torch.inference_mode():
            for idx in sampling.batch_indices(gbs * cfg["sep_together_batches"], gbs):
                z = sampling.normal(0, sampling.Z, idx, (G.z_dim,), device)
                img = box_downsample(G.generate(z, noise_mode="random", noise_seed=0, indices=idx.to(device)), r)
                torch.cat([c(img) for c in clfs], dim=1)

    m = measure(together, gbs * cfg["sep_together_batches"], device, sec, max_calls=2)
    per_img = 1 / m["per_s"]
    ctx.row(
        f"generate + {k} classifiers together, batch {gbs}",
        m,
        unit="images",
        projected_min=SEP_IMAGES * per_img * (SEP_CLASSIFIERS / k) / 60,
        note=f"{k} classifiers; projection scales the whole per-image time by {SEP_CLASSIFIERS}/{k} (an upper bound)"
        if k != SEP_CLASSIFIERS
        else "200k images, 40 classifiers each, nothing leaves the device",
    )
    s["projected_separability_min_together"] = SEP_IMAGES * per_img * (SEP_CLASSIFIERS / k) / 60


# ------------------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="auto", help="auto (cuda if available), cuda, cuda:N or cpu")
    ap.add_argument("--smoke", action="store_true", help="tiny networks and counts (the CPU test of this script)")
    ap.add_argument(
        "--out", type=Path, default=None, help="output folder [default: $OUT, else benchmarks/device_check_out]"
    )
    ap.add_argument(
        "--stages",
        default=",".join(STAGE_BUDGET),
        help="comma list of stages to run (compile: the torch.compile "
        "candidates of ppl_sg2 and fid, run last since compilation cannot be interrupted)",
    )
    ap.add_argument("--budget", type=float, default=420.0, help="seconds for the whole run; stage budgets scale to it")
    ap.add_argument(
        "--compile-backend",
        default=None,
        help="torch.compile backend for the compile candidates: inductor on CUDA, 'eager' on CPU by default; 'none' = skip",
    )
    ap.add_argument("--no-peers", action="store_true", help="skip torchmetrics / torch-fidelity")
    args = ap.parse_args(argv)
    t_start = time.perf_counter()

    from stylegan_eval.runtime import reference_precision, resolve_device

    device = resolve_device(args.device)
    reference_precision()  # TF32 off: PPL's eps = 1e-4 differences need full fp32, as NVIDIA's calc_metrics.py sets
    cfg = sizes(args.smoke)
    global WARMUP
    WARMUP = 0 if args.smoke else 1
    out = args.out or Path(os.environ.get("OUT") or HERE / "device_check_out")
    backend = args.compile_backend or ("inductor" if device.type == "cuda" else "eager")
    backend = None if backend == "none" else backend
    stages = [x.strip() for x in args.stages.split(",") if x.strip()]
    unknown = set(stages) - set(STAGE_BUDGET)
    if unknown:
        ap.error(f"--stages: unknown {sorted(unknown)}; choose from {', '.join(STAGE_BUDGET)}")
    scale = args.budget / sum(STAGE_BUDGET.values())
    meta = {
        "command": " ".join(["python", "benchmarks/device_check.py", *(argv if argv is not None else sys.argv[1:])]),
        "started": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "mode": "smoke" if args.smoke else "full",
        "device": str(device),
        "host": f"{platform.node()}, {os.cpu_count()} CPUs, python {platform.python_version()}, torch {torch.__version__}",
        "weights": "all networks at random initialisation: throughput and parity only, no metric values",
        "compile_backend": backend,
        "budget_s": args.budget,
    }
    results = Results(out, meta)
    fp32_rate = H200_FP32_PEAK if device.type == "cuda" else float("nan")
    gen_rate = float("nan")
    deferred: list[Callable[[Stage], None]] = []

    def stage(name: str) -> Stage:
        return Stage(results, name, STAGE_BUDGET[name] * scale)

    if "env" in stages:
        with stage("env") as ctx:
            fp32_rate = stage_env(ctx, device, cfg)
    if "tests" in stages:
        with stage("tests") as ctx:
            stage_tests(ctx, out, STAGE_BUDGET["tests"] * scale)
    dist = make_lpips(device) if {"ppl_sg2", "ppl_sg1"} & set(stages) else None
    G2 = make_sg2(cfg, device) if {"ppl_sg2", "fid", "separability"} & set(stages) else None
    if "ppl_sg2" in stages:
        with stage("ppl_sg2") as ctx:
            stage_ppl(
                ctx,
                G2,
                dist,
                cfg,
                device,
                fp32_rate,
                candidates=True,
                peers=not args.no_peers,
                compile_backend=backend,
                deferred=deferred,
            )
    if "ppl_sg1" in stages:
        with stage("ppl_sg1") as ctx:
            G1 = make_sg1(cfg, device)
            stage_ppl(ctx, G1, dist, cfg, device, fp32_rate, candidates=False, peers=False, compile_backend=None)
            del G1
    if "fid" in stages:
        with stage("fid") as ctx:
            from stylegan_eval.metrics.inception import make_detector

            det = make_detector("pytorch-fid", allow_random=True, download=False, device=device)
            gen_rate = stage_fid(
                ctx, G2, det, cfg, device, fp32_rate, candidates=True, compile_backend=backend, deferred=deferred
            )
    if "separability" in stages:
        with stage("separability") as ctx:
            stage_separability(ctx, G2, cfg, device, fp32_rate, gen_rate)
    if "compile" in stages:
        with stage("compile") as ctx:
            # the rest of the whole run's budget (at least this stage's share), minus a margin to write the files
            ctx.deadline = max(ctx.deadline, t_start + args.budget - 5)
            ctx.st["budget_s"] = ctx.deadline - ctx.t0
            ctx.st["summary"]["backend"] = backend
            if not deferred:
                ctx.skip("torch.compile", "no candidates (backend 'none', or ppl_sg2 / fid not run)")
            for job in deferred:
                job(ctx)
    results.data["meta"]["wall_s"] = time.perf_counter() - t_start
    results.data["meta"]["fp32_rate_used_tflops"] = fp32_rate / 1e12
    results.write()
    print(
        f"wrote {out / 'device_check.json'} and {out / 'device_check.md'} in {time.perf_counter() - t_start:.0f} s",
        flush=True,
    )
    failed = [k for k, v in results.data["stages"].items() if v["status"] != "done"]
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
