"""Speed candidates for the CPU stages, each measured A/B against the package's path, with its parity.

    python benchmarks/candidates.py [--only fir,nonfused,...] [--rounds 3] [--out PATH] [--profile]

Every candidate runs its two variants alternately in this one process (A, B, A, B, ... for
``--rounds`` rounds; each round times ``--repeats`` calls after one warm-up call) and keeps the best
time of each: the machine's 2 cores are shared, so the best of several alternated tries is the
least disturbed one, and ``os.getloadavg()`` is recorded before and after. Parity is measured on
the quantity the metric reports:

- PPL: per-pair distances of the demo generator (32 px) with LPIPS-VGG16 at random init, w space,
  end sampling, epsilon 1e-2, 16 pairs; largest relative difference (bar: 1e-5).
- FID statistics: mu and sigma (float64) of 64 images' pytorch-fid Inception features at random
  init; largest absolute difference (bar: 1e-6).
- Classifier probabilities (softmax([l, -l])) of the CelebA-HQ classifier at random init, and
  image outputs of the generators: largest absolute difference, as measured.

``--profile`` writes the ``torch.profiler`` tables (top operators by self CPU time, grouped by
input shape) of the stages below half the measured conv rate to ``benchmarks/profiles/``, for the
package's former path (``before``) and its present one (``after``).

Networks run at random initialisation (speed does not depend on the weights), the 32 px
generator is the demo's. Tests never assert timings: this script only prints and writes what it
measured.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

import roofline  # noqa: E402

from stylegan_eval.networks import ops  # noqa: E402

PPL_BAR = 1e-5
FID_BAR = 1e-6


# ---------------------------------------------------------------------------------------------
# The package's former FIR filter (one single-channel conv over N * C maps), for the A side
# ---------------------------------------------------------------------------------------------


def legacy_upfirdn2d(
    x: torch.Tensor, kernel: torch.Tensor, up: Any = 1, down: Any = 1, pad: Any = (0, 0)
) -> torch.Tensor:
    """``ops.upfirdn2d`` as it was: x reshaped to [N * C, 1, H, W] and one 1-channel conv."""
    up_x, up_y = ops._pair(up)
    down_x, down_y = ops._pair(down)
    px0, px1, py0, py1 = (pad[0], pad[1], pad[0], pad[1]) if len(pad) == 2 else pad
    n, c, h, w = x.shape
    kh, kw = kernel.shape
    out = x.reshape(n * c, 1, h, w)
    if up_x > 1 or up_y > 1:
        out = out.reshape(n * c, 1, h, 1, w, 1)
        out = F.pad(out, [0, up_x - 1, 0, 0, 0, up_y - 1]).reshape(n * c, 1, h * up_y, w * up_x)
    out = F.pad(out, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    out = out[:, :, max(-py0, 0) : out.shape[2] - max(-py1, 0), max(-px0, 0) : out.shape[3] - max(-px1, 0)]
    out = F.conv2d(out, torch.flip(kernel, [0, 1]).to(out.dtype).reshape(1, 1, kh, kw))
    if down_x > 1 or down_y > 1:
        out = out[:, :, ::down_y, ::down_x]
    return out.reshape(n, c, out.shape[2], out.shape[3])


@contextlib.contextmanager
def fir(kind: str) -> Iterator[None]:
    """Run the StyleGAN2 FIR filter as 'legacy' (the former path) or 'package' (the present one)."""
    saved = ops.upfirdn2d
    if kind == "legacy":
        ops.upfirdn2d = legacy_upfirdn2d
    try:
        yield
    finally:
        ops.upfirdn2d = saved


# ---------------------------------------------------------------------------------------------
# Timing
# ---------------------------------------------------------------------------------------------


def load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def ab(fa: Callable[[], Any], fb: Callable[[], Any], rounds: int, repeats: int) -> tuple[float, float]:
    """Best seconds per call of ``fa`` and ``fb``, timed alternately for ``rounds`` rounds."""
    fa(), fb()  # warm-up: oneDNN primitive creation, allocator
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for i, f in enumerate((fa, fb)):
            for _ in range(repeats):
                t = time.perf_counter()
                f()
                best[i] = min(best[i], time.perf_counter() - t)
    return best[0], best[1]


@dataclass
class Row:
    candidate: str
    stage: str
    a: str
    b: str
    items: int
    t_a: float = 0.0
    t_b: float = 0.0
    parity: str = ""
    parity_ok: bool | None = None
    load: str = ""
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def speedup(self) -> float:
        return self.t_a / self.t_b if self.t_b else float("nan")


def timed(row: Row, fa: Callable[[], Any], fb: Callable[[], Any], args: argparse.Namespace) -> Row:
    before = load()
    row.t_a, row.t_b = ab(fa, fb, args.rounds, args.repeats)
    row.load = f"{before} -> {load()}"
    print(
        f"{row.candidate} {row.stage}: A {row.items / row.t_a:.3g}/s B {row.items / row.t_b:.3g}/s "
        f"x{row.speedup:.2f} parity {row.parity} load {row.load}",
        file=sys.stderr,
        flush=True,
    )
    return row


# ---------------------------------------------------------------------------------------------
# Parity probes
# ---------------------------------------------------------------------------------------------

_LPIPS: Any = None


def ppl_distances(G: Any, n: int = 16) -> torch.Tensor:
    """Per-pair PPL distances (w space, end, eps 1e-2) of ``G`` with LPIPS-VGG16 at random init."""
    global _LPIPS
    from stylegan_eval.metrics.distances import make_distance
    from stylegan_eval.metrics.ppl import make_batch_fn, resolve_settings

    if _LPIPS is None:
        _LPIPS = make_distance("lpips-vgg", allow_random=True, download=False).eval()
    settings = resolve_settings(None, epsilon=1e-2, num_samples=n)
    with torch.inference_mode():
        return make_batch_fn(G, _LPIPS, settings, seed=0)(torch.arange(n))["distance"].double()


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a.double() - b.double()).abs() / b.double().abs().clamp_min(1e-30)).max())


def fid_stats(features: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    f = features.double().numpy()
    return f.mean(0), np.cov(f, rowvar=False)


def stats_diff(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    return float(max(np.abs(a[0] - b[0]).max(), np.abs(a[1] - b[1]).max()))


def probs(logits: torch.Tensor) -> torch.Tensor:
    """The classifier's label probability softmax([l, -l])[0] = sigmoid(2 l)."""
    return torch.sigmoid(2 * logits.double().reshape(-1))


# ---------------------------------------------------------------------------------------------
# Generators
# ---------------------------------------------------------------------------------------------


def generator(size: int) -> Any:
    return roofline._generator(size, "cpu")


def gen_call(G: Any, batch: int) -> Callable[[], torch.Tensor]:
    z = torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(1))

    @torch.inference_mode()
    def run() -> torch.Tensor:
        return G.generate(z, noise_mode="const")

    return run


def cand_fir(args: argparse.Namespace) -> list[Row]:
    """The StyleGAN2 FIR blur as one depthwise conv (package) against the 1-channel conv over N*C maps."""
    rows = []
    for size, batch in ((32, 8), (32, 64), (256, 1), (1024, 1)):
        G = generator(size)
        run = gen_call(G, batch)
        with fir("legacy"):
            ref = run()
            d_ref = ppl_distances(G) if size == 32 else None
        img = run()
        row = Row("FIR blur: depthwise conv", f"gen{size}", "1-ch conv over N*C maps", "depthwise (groups=C)", batch)
        row.parity = f"images max |diff| {float((img - ref).abs().max()):.2g}"
        if d_ref is not None:
            r = rel(ppl_distances(G), d_ref)
            row.parity += f"; PPL rel {r:.2g}"
            row.parity_ok = r <= PPL_BAR
        else:
            row.parity_ok = bool((img - ref).abs().max() <= 1e-5)

        def fa() -> Any:
            with fir("legacy"):
                return run()

        rows.append(timed(row, fa, run, args))
    return rows


def cand_nonfused(args: argparse.Namespace) -> list[Row]:
    """Modulated conv as activation scaling + one shared-weight conv instead of a per-sample grouped conv."""
    rows = []
    for size, batch in ((32, 8), (32, 64), (256, 1), (1024, 1)):
        G = generator(size)
        run = gen_call(G, batch)
        ref = run()
        d_ref = ppl_distances(G) if size == 32 else None
        G.net.set_fused_modconv(False)
        img = run()
        row = Row("modconv not fused", f"gen{size}", "grouped conv (fused)", "shared-weight conv", batch)
        row.parity = f"images max |diff| {float((img - ref).abs().max()):.2g}"
        if d_ref is not None:
            r = rel(ppl_distances(G), d_ref)
            row.parity += f"; PPL rel {r:.2g}"
            row.parity_ok = r <= PPL_BAR
        G.net.set_fused_modconv(True)

        def fb(G: Any = G, run: Callable[[], Any] = run) -> Any:
            G.net.set_fused_modconv(False)
            try:
                return run()
            finally:
                G.net.set_fused_modconv(True)

        rows.append(timed(row, run, fb, args))
    return rows


def _channels_last(G: Any) -> None:
    """4-D parameters and buffers (constant input, noise maps, 1x1 weights) to channels_last."""
    for t in list(G.net.parameters()) + list(G.net.buffers()):
        if t.ndim == 4:
            t.data = t.data.contiguous(memory_format=torch.channels_last)


def cand_gen_channels_last(args: argparse.Namespace) -> list[Row]:
    """channels_last activations for the generator (constant input and 4-D weights converted)."""
    rows = []
    for size, batch in ((32, 8), (256, 1)):
        A, B = generator(size), generator(size)
        _channels_last(B)
        ra, rb = gen_call(A, batch), gen_call(B, batch)
        row = Row("channels_last", f"gen{size}", "NCHW", "channels_last", batch)
        row.parity = f"images max |diff| {float((ra() - rb()).abs().max()):.2g}"
        if size == 32:
            r = rel(ppl_distances(B), ppl_distances(A))
            row.parity += f"; PPL rel {r:.2g}"
            row.parity_ok = r <= PPL_BAR
        rows.append(timed(row, ra, rb, args))
    return rows


class _Synthesis(torch.nn.Module):
    """StyleGAN2 synthesis with the noise maps as separate arguments (what tracing needs)."""

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, ws: torch.Tensor, *noise: torch.Tensor) -> torch.Tensor:
        return self.net(ws, list(noise))


def cand_gen_jit(args: argparse.Namespace) -> list[Row]:
    """trace + torch.jit.freeze (oneDNN fusion) of the 32 px synthesis network."""
    G = generator(32)
    batch = 8
    z = torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        ws = G.mapping(z)
    noise = tuple(G.net.const_noise())
    eager = _Synthesis(G.net).eval()
    with torch.no_grad():
        frozen = torch.jit.freeze(torch.jit.trace(eager, (ws, *noise)).eval())

    def fa() -> Any:
        with torch.inference_mode():
            return eager(ws, *noise)

    def fb() -> Any:
        with torch.no_grad():
            return frozen(ws, *noise)

    row = Row("jit trace + freeze", "gen32 synthesis", "eager", "frozen TorchScript", batch)
    row.parity = f"images max |diff| {float((fa() - fb()).abs().max()):.2g}"
    return [timed(row, fa, fb, args)]


def cand_gen_compile(args: argparse.Namespace) -> list[Row]:
    """torch.compile (inductor, C++ codegen) of the 32 px synthesis network."""
    G = generator(32)
    batch = 8
    z = torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        ws = G.mapping(z)
    noise = tuple(G.net.const_noise())
    eager = _Synthesis(G.net).eval()
    compiled = torch.compile(eager)
    row = Row("torch.compile", "gen32 synthesis", "eager", "inductor", batch)
    try:
        t = time.perf_counter()
        with torch.inference_mode():
            out = compiled(ws, *noise)
        row.extra["compile_s"] = time.perf_counter() - t
    except Exception as exc:  # noqa: BLE001 - recorded as the result
        row.note = f"compile failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
        print(row.note, file=sys.stderr)
        return [row]

    def fa() -> Any:
        with torch.inference_mode():
            return eager(ws, *noise)

    def fb() -> Any:
        with torch.inference_mode():
            return compiled(ws, *noise)

    row.parity = f"images max |diff| {float((fa() - out).abs().max()):.2g}"
    row.note = f"first call (compilation) {row.extra['compile_s']:.0f} s"
    return [timed(row, fa, fb, args)]


# ---------------------------------------------------------------------------------------------
# Detectors: FID Inception (pytorch-fid layout) and the CelebA-HQ classifier
# ---------------------------------------------------------------------------------------------


def detectors() -> dict[str, tuple[torch.nn.Module, int, int]]:
    """{stage: (network at random init, input size, batch)}; inputs in [-1, 1]."""
    from stylegan_eval.classifiers.celebahq import random_classifier
    from stylegan_eval.metrics.inception import FIDInceptionV3

    inc = FIDInceptionV3()
    inc.randomize(0)
    return {"inception299": (inc.eval(), 299, 8), "classifier256": (random_classifier().eval(), 256, 8)}


def _images(batch: int, size: int, seed: int = 2) -> torch.Tensor:
    x = torch.rand(batch, 3, size // 8, size // 8, generator=torch.Generator().manual_seed(seed))
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False) * 2 - 1  # smooth images


def _parity_detector(
    stage: str, fa: Callable[[torch.Tensor], torch.Tensor], fb: Callable[[torch.Tensor], torch.Tensor], size: int
) -> tuple[str, bool]:
    """FID statistics over 64 images (Inception), probabilities over 16 (classifier)."""
    if stage == "inception299":
        xs = [_images(8, size, seed) for seed in range(8)]
        sa = fid_stats(torch.cat([fa(x).float() for x in xs]))
        sb = fid_stats(torch.cat([fb(x).float() for x in xs]))
        d = stats_diff(sa, sb)
        return f"FID mu/sigma max |diff| {d:.2g}", d <= FID_BAR
    xs = [_images(8, size, seed) for seed in range(2)]
    pa = torch.cat([probs(fa(x).float()) for x in xs])
    pb = torch.cat([probs(fb(x).float()) for x in xs])
    d = float((pa - pb).abs().max())
    return f"probabilities max |diff| {d:.2g}", d <= 1e-6


def _detector_row(
    name: str,
    stage: str,
    a: str,
    b: str,
    fa: Callable,
    fb: Callable,
    *,
    size: int,
    batch: int,
    args: argparse.Namespace,
) -> Row:
    row = Row(name, stage, a, b, batch)
    row.parity, row.parity_ok = _parity_detector(stage, fa, fb, size)
    x = _images(batch, size)
    return timed(row, lambda: fa(x), lambda: fb(x), args)


def _eager(net: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    @torch.inference_mode()
    def f(x: torch.Tensor) -> torch.Tensor:
        return net(x)

    return f


def cand_det_channels_last(args: argparse.Namespace) -> list[Row]:
    rows = []
    for stage, (net, size, batch) in detectors().items():
        import copy

        cl = copy.deepcopy(net).to(memory_format=torch.channels_last)

        @torch.inference_mode()
        def fb(x: torch.Tensor, cl: torch.nn.Module = cl) -> torch.Tensor:
            return cl(x.contiguous(memory_format=torch.channels_last))

        rows.append(
            _detector_row(
                "channels_last", stage, "NCHW", "channels_last", _eager(net), fb, size=size, batch=batch, args=args
            )
        )
    return rows


def cand_det_jit(args: argparse.Namespace) -> list[Row]:
    rows = []
    for stage, (net, size, batch) in detectors().items():
        with torch.no_grad():
            frozen = torch.jit.freeze(torch.jit.trace(net, _images(batch, size)).eval())

        def fb(x: torch.Tensor, frozen: Any = frozen) -> torch.Tensor:
            with torch.no_grad():
                return frozen(x)

        rows.append(
            _detector_row(
                "jit trace + freeze",
                stage,
                "eager",
                "frozen TorchScript",
                _eager(net),
                fb,
                size=size,
                batch=batch,
                args=args,
            )
        )
    return rows


def cand_det_jit_vs_channels_last(args: argparse.Namespace) -> list[Row]:
    """trace + freeze against the package's present path (channels_last on a CPU)."""
    from stylegan_eval.networks.memory_format import channels_last_on_cpu, input_for

    rows = []
    for stage, (net, size, batch) in detectors().items():
        net = channels_last_on_cpu(net, "cpu")
        with torch.no_grad():
            frozen = torch.jit.freeze(torch.jit.trace(net, input_for(net, _images(batch, size))).eval())

        @torch.inference_mode()
        def fa(x: torch.Tensor, net: torch.nn.Module = net) -> torch.Tensor:
            return net(input_for(net, x))

        def fb(x: torch.Tensor, frozen: Any = frozen, net: torch.nn.Module = net) -> torch.Tensor:
            with torch.no_grad():
                return frozen(input_for(net, x))

        rows.append(
            _detector_row(
                "jit trace + freeze",
                stage,
                "channels_last",
                "frozen TorchScript",
                fa,
                fb,
                size=size,
                batch=batch,
                args=args,
            )
        )
    return rows


def cand_det_compile(args: argparse.Namespace) -> list[Row]:
    rows = []
    for stage, (net, size, batch) in detectors().items():
        compiled = torch.compile(net)
        t = time.perf_counter()
        try:
            with torch.inference_mode():
                compiled(_images(batch, size))
        except Exception as exc:  # noqa: BLE001 - recorded as the result
            rows.append(
                Row("torch.compile", stage, "eager", "inductor", batch, note=f"compile failed: {type(exc).__name__}")
            )
            continue
        spent = time.perf_counter() - t
        row = _detector_row(
            "torch.compile",
            stage,
            "eager",
            "inductor",
            _eager(net),
            _eager(compiled),
            size=size,
            batch=batch,
            args=args,
        )
        row.note = f"first call (compilation) {spent:.0f} s"
        rows.append(row)
    return rows


def cand_det_bf16(args: argparse.Namespace) -> list[Row]:
    rows = []
    for stage, (net, size, batch) in detectors().items():

        @torch.inference_mode()
        def fb(x: torch.Tensor, net: torch.nn.Module = net) -> torch.Tensor:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return net(x).float()

        rows.append(
            _detector_row(
                "bf16 autocast", stage, "fp32", "bf16 (AMX)", _eager(net), fb, size=size, batch=batch, args=args
            )
        )
    return rows


# ---------------------------------------------------------------------------------------------
# stats: image decoding in DataLoader workers; separability: per-batch overhead
# ---------------------------------------------------------------------------------------------


def _image_folder(root: Path, n: int, size: int) -> Path:
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(n):
        small = rng.integers(0, 256, (size // 8, size // 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((size, size), Image.BILINEAR).save(root / f"{i:05d}.png")
    return root


def cand_stats_workers(args: argparse.Namespace) -> list[Row]:
    """``stats``: PNG decoding in the main process (0 workers) against 1 and 2 DataLoader workers."""
    from stylegan_eval.metrics.features import dataset_stats
    from stylegan_eval.metrics.inception import make_detector

    det = make_detector("pytorch-fid", allow_random=True, download=False)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = _image_folder(Path(tmp), 16, 256)

        def run(workers: int) -> Callable[[], Any]:
            def f() -> Any:
                return dataset_stats(
                    folder, det, batch_size=8, num_workers=workers, use_cache=False, show_progress=False
                )[0]

            return f

        ref = run(0)()
        for workers in (1, 2):
            s = run(workers)()
            d = stats_diff((ref.mu, ref.sigma), (s.mu, s.sigma))
            row = Row("decode in DataLoader workers", "stats (16 PNG 256 px)", "0 workers", f"{workers} worker(s)", 16)
            row.parity, row.parity_ok = f"FID mu/sigma max |diff| {d:.2g}", d <= FID_BAR
            rows.append(timed(row, run(0), run(workers), args))
    return rows


def cand_separability(args: argparse.Namespace) -> list[Row]:
    """40 classifiers on one generated batch (what collect_samples does): its time against the sum
    of its parts (mapping + synthesis, then each classifier alone on the same images)."""
    from stylegan_eval.classifiers.celebahq import random_classifier
    from stylegan_eval.metrics.separability import collect_samples

    G = generator(32)
    clfs = {f"attr{i}": random_classifier(seed=i, resolution=32, fmap_base=512, fmap_max=32).eval() for i in range(40)}
    batch, n = 16, 32
    z = torch.randn(batch, G.z_dim)

    @torch.inference_mode()
    def parts() -> Any:
        for _ in range(n // batch):
            images = G.synthesis(G.mapping(z), noise_mode="const").float()
            for m in clfs.values():
                m(images)

    def whole() -> Any:
        return collect_samples(G, clfs, n, batch_size=batch, noise_mode="const")

    row = Row(
        "40 classifiers, one batch (per-batch overhead)",
        "separability (gen32 + 40 small clf at 32 px)",
        "parts only",
        "collect_samples",
        n,
    )
    row.parity = "same code path (overhead only)"
    row = timed(row, parts, whole, args)
    row.note = f"overhead {(row.t_b - row.t_a) / (n // batch) * 1e3:.1f} ms per batch of {batch} ({row.t_b / row.t_a - 1:+.1%})"
    return [row]


CANDIDATES: dict[str, Callable[[argparse.Namespace], list[Row]]] = {
    "fir": cand_fir,
    "nonfused": cand_nonfused,
    "gen_channels_last": cand_gen_channels_last,
    "gen_jit": cand_gen_jit,
    "gen_compile": cand_gen_compile,
    "det_channels_last": cand_det_channels_last,
    "det_jit": cand_det_jit,
    "det_jit_vs_channels_last": cand_det_jit_vs_channels_last,
    "det_compile": cand_det_compile,
    "det_bf16": cand_det_bf16,
    "stats_workers": cand_stats_workers,
    "separability": cand_separability,
}


# ---------------------------------------------------------------------------------------------
# Profiles and the stage fractions before / after
# ---------------------------------------------------------------------------------------------


def profile_table(f: Callable[[], Any], rows: int = 20) -> str:
    from torch.profiler import ProfilerActivity, profile

    f()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as p:
        f()
    return p.key_averages(group_by_input_shape=True).table(
        sort_by="self_cpu_time_total", row_limit=rows, max_name_column_width=32, max_shapes_column_width=80
    )


def write_profiles(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for size, batch in ((32, 8), (32, 64), (1024, 1)):
        G = generator(size)
        run = gen_call(G, batch)
        for when, kind in (("before", "legacy"), ("after", "package")):
            with fir(kind):
                table = profile_table(run)
            path = out_dir / f"gen{size}_b{batch}_{when}.md"
            text = (
                f"# gen{size}, batch {batch}, {when} ({'1-channel FIR conv' if kind == 'legacy' else 'depthwise FIR conv'})\n\n"
                f"`python benchmarks/candidates.py --profile`; torch {torch.__version__}, "
                f"{torch.get_num_threads()} threads; load average {load()}\n\n```\n{table}\n```\n"
            )
            path.write_text(text)
            print(f"wrote {path}", file=sys.stderr)


def fractions(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Each generator stage's fraction of the measured conv rate on the former and present paths."""
    from torch.utils.flop_counter import FlopCounterMode

    rate = roofline.machine_rates("cpu", repeats=3)["conv_fp32"]
    out = []
    for size, batch in ((32, 8), (256, 1), (1024, 1)):
        G = generator(size)
        run = gen_call(G, batch)
        with FlopCounterMode(display=False) as counter:
            run()
        flops = counter.get_total_flops() / batch

        def fa(run: Callable[[], Any] = run) -> Any:
            with fir("legacy"):
                return run()

        ta, tb = ab(fa, run, args.rounds, args.repeats)
        out.append(
            {
                "stage": f"gen{size}",
                "batch": batch,
                "gflop": flops / 1e9,
                "before": flops * batch / ta / rate,
                "after": flops * batch / tb / rate,
                "rate": rate / 1e9,
                "load": load(),
            }
        )
        print(out[-1], file=sys.stderr, flush=True)
    return out


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def markdown(rows: list[Row], fracs: list[dict[str, Any]]) -> str:
    lines = [
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU capability "
        f"{torch.backends.cpu.get_cpu_capability()}; A/B alternated in one process, best of "
        "rounds x repeats; load average (1/5/15 min) before -> after each candidate.",
        "",
        "| candidate | stage | A | B | items/call | A items/s | B items/s | B speed-up | parity | parity kept | load | note |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if not r.t_b:
            lines.append(
                f"| {r.candidate} | {r.stage} | {r.a} | {r.b} | {r.items} | - | - | - | - | - | - | {r.note} |"
            )
            continue
        ok = "-" if r.parity_ok is None else ("yes" if r.parity_ok else "no")
        lines.append(
            f"| {r.candidate} | {r.stage} | {r.a} | {r.b} | {r.items} | {r.items / r.t_a:.3g} | {r.items / r.t_b:.3g} | "
            f"{r.speedup:.2f}x | {r.parity} | {ok} | {r.load} | {r.note} |"
        )
    if fracs:
        lines += [
            "",
            "Generator stages against the measured conv rate (measured in this run, same process):",
            "",
            "| stage | batch | GFLOP/image | conv rate GFLOP/s | fraction before | fraction after | load |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {f['stage']} | {f['batch']} | {f['gflop']:.3g} | {f['rate']:.0f} | {f['before']:.0%} | {f['after']:.0%} | {f['load']} |"
            for f in fracs
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(CANDIDATES), help=f"comma-separated: {', '.join(CANDIDATES)}")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path, help="write the markdown table here (default: stdout only)")
    ap.add_argument("--profile", action="store_true", help="write the profiler tables to benchmarks/profiles/")
    ap.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    ap.add_argument("--no-fractions", action="store_true", help="skip the before/after fractions of the generators")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.profile:
        write_profiles(ROOT / "benchmarks" / "profiles")
    rows: list[Row] = []
    for name in [s.strip() for s in args.only.split(",") if s.strip()]:
        if name not in CANDIDATES:
            ap.error(f"--only: unknown candidate {name!r} (choose from {', '.join(CANDIDATES)})")
        rows += CANDIDATES[name](args)
    fracs = [] if args.no_fractions else fractions(args)
    text = markdown(rows, fracs)
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
