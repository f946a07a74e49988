"""Perceptual path length (Karras et al., "A Style-Based Generator Architecture for GANs", 2019).

For a pair of latents (z0, z1) and a position t on the path between them, PPL is the expected
perceptual distance between the images at t and t + eps, divided by eps^2:

    PPL = E[ d(G(interp(z0, z1, t)), G(interp(z0, z1, t + eps))) / eps^2 ]

computed as NVIDIA's reference code does (StyleGAN ``metrics/perceptual_path_length.py``):

- z0, z1 ~ N(0, I) from the sampling streams Z and Z_END; t ~ U[0, 1) from stream T for
  'full' sampling, t = 0 exactly for 'end' (the reference only uses the path start).
- Z space: slerp on the unit sphere (both endpoints normalised, rotated by t times their
  angle, renormalised), then the mapping network. W space: both z are mapped, then w is lerped
  (all layers). Optional truncation (psi) applies to the mapped w.
- The two images of a pair share their noise maps (drawn from (seed, pair index)) and are
  generated in one batch.
- Optional face crop (rows [3c, 7c), columns [2c, 6c), c = H // 8), then a box downsample by
  H // 256 computed after the crop; images stay float (never quantised).
- Distance (LPIPS-VGG16 by default) / eps^2; the values between the 1st percentile (numpy
  'lower') and the 99th percentile ('higher') are kept and averaged.

Compatibility knobs reproduce the peers' variants: ``z_interpolation='lerp'``,
``resize=64`` (area when shrinking, bilinear when enlarging) and ``quantize=True`` (uint8 as
NVIDIA converts) give torch-fidelity's defaults; torchmetrics' are the same without quantising.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Literal, Mapping

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from .. import sampling
from ..engine import DistInfo, collect
from ..errors import ArgumentError
from ..generator import Generator, labels, latents
from ..imageops import box_downsample, face_crop, to_rgb, to_uint8
from ..pairs import PairRenderer
from ..runtime import generator_batch_size
from .common import StateArg, file_digest, generator_digest, resolve_state
from .context import Raw, RunContext
from .distances import Distance, make_distance
from .intervals import bootstrap_ci, filter_outliers, percentile_bounds  # noqa: F401 - re-exported

Space = Literal["z", "w"]
SamplingMode = Literal["full", "end"]
Precision = Literal["fp32", "bf16", "fp16"]
ZInterpolation = Literal["slerp", "lerp"]

SPACES = ("z", "w")
SAMPLINGS = ("full", "end")
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
Z_INTERPOLATIONS = ("slerp", "lerp")


#: Smallest interpolation step: float32 has ~6e-8 between neighbours just below 1, so t + epsilon
#: must differ from t by a few units for the image difference to mean anything.
MIN_EPSILON = 1e-7


@dataclass(frozen=True)
class PPLSettings:
    """The protocol of one PPL variant (see :data:`PRESETS`)."""

    space: Space = "w"
    sampling: SamplingMode = "end"
    num_samples: int = 50_000
    epsilon: float = 1e-4
    crop: bool = False


#: NVIDIA's published variants. StyleGAN (2019): 100k samples with the face crop; StyleGAN2's
#: headline ppl2_wend: 50k samples on the full image.
PRESETS: dict[str, PPLSettings] = {
    "ppl_zfull": PPLSettings("z", "full", 100_000, 1e-4, True),
    "ppl_wfull": PPLSettings("w", "full", 100_000, 1e-4, True),
    "ppl_zend": PPLSettings("z", "end", 100_000, 1e-4, True),
    "ppl_wend": PPLSettings("w", "end", 100_000, 1e-4, True),
    "ppl2_wend": PPLSettings("w", "end", 50_000, 1e-4, False),
}


def protocol_name(settings: PPLSettings, psi: float = 1.0) -> str:
    """The registry name whose protocol equals ``settings`` (untruncated), else one spelling them.

    ``ppl2_wend`` for (w, end, 50k, 1e-4, no crop); ``ppl_wend`` for (w, end, 100k, 1e-4, crop);
    otherwise e.g. ``ppl_w_end_nocrop_n256`` (plus ``_eps2e-04`` / ``_psi0.7`` where they differ).
    """
    if psi == 1.0:
        for name in ("ppl2_wend", *[n for n in PRESETS if n != "ppl2_wend"]):
            if PRESETS[name] == settings:
                return name
    name = f"ppl_{settings.space}_{settings.sampling}_{'crop' if settings.crop else 'nocrop'}_n{settings.num_samples}"
    if settings.epsilon != 1e-4:
        name += f"_eps{settings.epsilon:.0e}"
    if psi != 1.0:
        name += f"_psi{psi:g}"
    return name


#: Resolutions of the face datasets NVIDIA's crop was made for (FFHQ / CelebA-HQ).
FACE_CROP_RESOLUTIONS = (256, 512, 1024)


def crop_note(generator: Generator) -> str | None:
    """A one-line note when the face crop is applied to a generator it was not made for, else None."""
    family = str(getattr(generator, "family", ""))
    demo = bool(getattr(generator, "is_demo", False))
    if generator.resolution in FACE_CROP_RESOLUTIONS and not demo:
        return None
    why = "the embedded demo generator" if demo else f"{family} at {generator.resolution}x{generator.resolution}"
    return (
        f"crop: NVIDIA's face crop (made for 256/512/1024 px face models) is applied to {why}; "
        "the value is not comparable with published face-model numbers"
    )


def resolve_settings(preset: str | None = None, **explicit: Any) -> PPLSettings:
    """The preset's protocol (default: :class:`PPLSettings`, i.e. ppl2_wend) with explicit values (not None) on top."""
    if preset is not None and preset not in PRESETS:
        raise ArgumentError("preset", f"preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    base = PRESETS[preset] if preset is not None else PPLSettings()
    values = {**asdict(base), **{k: v for k, v in explicit.items() if v is not None}}
    s = PPLSettings(**values)
    _check_protocol(s)
    return s


def _check_protocol(s: PPLSettings) -> None:
    """ArgumentError naming the first field of ``s`` out of its range."""
    if s.space not in SPACES:
        raise ArgumentError("space", f"space must be 'z' or 'w', got {s.space!r}")
    if s.sampling not in SAMPLINGS:
        raise ArgumentError("sampling", f"sampling must be 'full' or 'end', got {s.sampling!r}")
    if not (isinstance(s.num_samples, int) and s.num_samples > 0):
        raise ArgumentError("num_samples", f"num_samples must be a positive integer, got {s.num_samples!r}")
    if not (isinstance(s.epsilon, (int, float)) and math.isfinite(s.epsilon) and 0 < s.epsilon < 1):
        raise ArgumentError("epsilon", f"epsilon must be a number in (0, 1), got {s.epsilon!r}")
    if s.epsilon < MIN_EPSILON:
        raise ArgumentError(
            "epsilon",
            f"epsilon {s.epsilon!r} is below {MIN_EPSILON:g}: so small a step vanishes in float32 "
            "(t + epsilon == t), and the distance / epsilon^2 would be 0/0",
        )


# ------------------------------------------------------------------------------ interpolation
def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation on the unit sphere, as NVIDIA's PPL does.

    Args:
        a, b: [N, D] endpoints (any length; both are normalised first).
        t: [N] positions; t = 0 gives a/|a|, t = 1 gives b/|b|.

    Returns:
        [N, D] unit vectors: a/|a| rotated towards b/|b| by t times their angle.
    """
    a = a / a.norm(dim=-1, keepdim=True)
    b = b / b.norm(dim=-1, keepdim=True)
    d = (a * b).sum(dim=-1, keepdim=True)
    angle = torch.acos(d.clamp(-1, 1)) * t[:, None]
    c = b - d * a
    c = c / c.norm(dim=-1, keepdim=True)
    out = a * torch.cos(angle) + c * torch.sin(angle)
    return out / out.norm(dim=-1, keepdim=True)


def lerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """a + (b - a) * t with t [N] broadcast over the trailing dimensions of a, b [N, ...]."""
    return a + (b - a) * t.reshape(-1, *([1] * (a.ndim - 1)))


# ------------------------------------------------------------------------------ images
def preprocess(images: torch.Tensor, crop: bool, resize: int | None = None, quantize: bool = False) -> torch.Tensor:
    """Generated images -> what the distance sees; float NCHW [-1, 1] in and out.

    Gray images become RGB; optional face crop; box downsample by H // 256 after the crop (the
    reference's rule). The compatibility knobs reproduce the peers: ``quantize`` first rounds
    the generator output to uint8 levels as NVIDIA's converter does (torch-fidelity's uint8
    path) and maps them back to [-1, 1]; ``resize`` then resizes to ``resize`` x ``resize``
    with area interpolation when shrinking, bilinear otherwise. Without them nothing is
    quantised or resized.
    """
    if quantize:
        images = to_uint8(images).to(images.dtype) / 127.5 - 1
    images = to_rgb(images)
    if crop:
        images = face_crop(images)
    images = box_downsample(images, 256)
    if resize is not None:
        h, w = images.shape[-2:]
        if h > resize and w > resize:
            images = F.interpolate(images, (resize, resize), mode="area")
        elif (h, w) != (resize, resize):
            images = F.interpolate(images, (resize, resize), mode="bilinear", align_corners=False)
    return images


# ------------------------------------------------------------------------------ result
@dataclass
class PPLResult:
    """Outcome of :func:`ppl`. Statistics are over the kept (percentile-filtered) distances.

    Attributes:
        distances: every per-sample distance / eps^2, float64 [num_samples], by sample index.
        mean: the PPL (mean of the kept distances).
        std, median: of the kept distances.
        lo, hi: the cut points (1st percentile 'lower', 99th 'higher').
        num_kept: how many distances lie in [lo, hi].
        ci_low, ci_high: 95% bootstrap interval of the mean (1000 resamples, seed 0).
        samples_per_second: pairs per second of the sampling loop.
        settings: the resolved options.
        random_weights: networks that ran at random initialisation.
        seconds: wall-clock seconds per phase.
    """

    distances: np.ndarray
    mean: float
    std: float
    median: float
    lo: float
    hi: float
    num_kept: int
    ci_low: float
    ci_high: float
    samples_per_second: float
    settings: dict[str, Any] = field(default_factory=dict)
    random_weights: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    fingerprint_: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        """The registry name when the settings equal that entry's protocol, else a spelled name (:func:`protocol_name`)."""
        s = self.settings
        if "num_samples" not in s:
            return s.get("preset") or f"ppl_{s.get('space')}{s.get('sampling')}"
        return protocol_name(
            PPLSettings(s["space"], s["sampling"], int(s["num_samples"]), float(s["epsilon"]), bool(s["crop"])),
            float(s.get("psi", 1.0)),
        )

    @property
    def value(self) -> float:
        """The headline number: the PPL (:attr:`mean`)."""
        return self.mean

    def __float__(self) -> float:
        """``float(result)``: the headline :attr:`value`."""
        return float(self.value)

    def values(self) -> dict[str, float]:
        return {self.name: self.mean}

    def __repr__(self) -> str:
        from .intervals import nice, result_repr

        value = f"{nice(self.mean)} [{nice(self.ci_low)}, {nice(self.ci_high)}]"
        return result_repr(
            "PPLResult",
            {self.name: value},
            pairs=int(np.asarray(self.distances).size),
            random_weights=list(self.random_weights),
        )

    def fingerprint(self) -> dict[str, Any]:
        """Every input the result depends on (see :func:`ppl_fingerprint`)."""
        return dict(self.fingerprint_)

    def to_frame(self) -> pd.DataFrame:
        """One row: metric, space, sampling, crop, num_samples, ppl, std, median, lo, hi, kept, ci95, samples/s."""
        s = self.settings
        return pd.DataFrame(
            [
                {
                    "metric": self.name,
                    "space": s.get("space"),
                    "sampling": s.get("sampling"),
                    "crop": s.get("crop"),
                    "num_samples": int(self.distances.size),
                    "ppl": self.mean,
                    "std": self.std,
                    "median": self.median,
                    "lo": self.lo,
                    "hi": self.hi,
                    "kept": self.num_kept,
                    "ci95_low": self.ci_low,
                    "ci95_high": self.ci_high,
                    "samples_per_s": self.samples_per_second,
                }
            ]
        )


def ppl_fingerprint(
    generator: Generator, settings: PPLSettings, distance: Distance, *, seed: int, **options: Any
) -> dict[str, Any]:
    """Every input a PPL result depends on: the protocol, the distance network (name, weights file
    digest, random-weights flag), the generator's weights digest, seed, pair count and ``options``
    (psi, precision, class, compatibility knobs, statistics)."""
    return {
        "metric": "ppl",
        "generator": generator_digest(generator),
        "seed": seed,
        "num_samples": settings.num_samples,
        "space": settings.space,
        "sampling": settings.sampling,
        "epsilon": settings.epsilon,
        "crop": settings.crop,
        "distance": distance.name,
        "distance_weights": file_digest(distance.weights_file),
        "random_weights": bool(distance.random_weights),
        **options,
    }


def summarize(
    distances: np.ndarray, lower: float = 1.0, upper: float = 99.0, num_resamples: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Filtered mean (the PPL), std, median, cut points, kept count and bootstrap CI of ``distances``."""
    kept, lo, hi = filter_outliers(distances, lower, upper)
    ci = bootstrap_ci(kept, num_resamples, seed=seed)
    return {
        "mean": float(kept.mean()),
        "std": float(kept.std()),
        "median": float(np.median(kept)),
        "lo": lo,
        "hi": hi,
        "num_kept": int(kept.size),
        "ci_low": ci[0],
        "ci_high": ci[1],
    }


# ------------------------------------------------------------------------------ sampler
def _generator_dtype(generator: Generator) -> torch.dtype:
    for p in list(generator.parameters()) + list(generator.buffers()):
        if p.is_floating_point():
            return p.dtype
    return torch.float32


def make_batch_fn(
    generator: Generator,
    distance: Distance,
    settings: PPLSettings,
    *,
    seed: int = 0,
    psi: float = 1.0,
    z_interpolation: ZInterpolation = "slerp",
    resize: int | None = None,
    quantize: bool = False,
    precision: Precision = "fp32",
    class_idx: int | None = None,
) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
    """indices [N] (int64) -> {'distance': [N]}: the per-pair PPL sample for :func:`engine.collect`.

    Latents, t, labels and noise of pair i are functions of (seed, i) only. Computation runs in
    the generator's parameter dtype (float32 for real checkpoints), under autocast when
    ``precision`` is bf16/fp16.
    """
    G = generator
    device = G.device
    dtype = _generator_dtype(G)
    eps = float(settings.epsilon)
    amp = PRECISIONS[precision]
    autocast = (lambda: torch.autocast(device.type, dtype=amp)) if amp is not None else contextlib.nullcontext
    interp = slerp if z_interpolation == "slerp" else lerp
    render_pairs = PairRenderer(G, seed, dtype)  # both images of a pair get the same noise

    def fn(idx: torch.Tensor) -> dict[str, torch.Tensor]:
        n = idx.shape[0]
        z0 = latents(G, seed, idx, sampling.Z).to(dtype)
        z1 = latents(G, seed, idx, sampling.Z_END).to(dtype)
        if settings.sampling == "full":
            t = sampling.uniform(seed, sampling.T, idx, (), device).to(dtype)
        else:
            t = torch.zeros(n, dtype=dtype, device=device)
        c = labels(G, seed, idx, class_idx)
        c2 = None if c is None else torch.cat([c, c]).to(dtype)
        with autocast():
            if not G.supports_w:  # black box: z -> images, noise shared through a forked RNG
                zz = torch.cat([interp(z0, z1, t), interp(z0, z1, t + eps)])
                images = render_pairs(idx, z=zz, c=c2, psi=psi)
            else:
                if settings.space == "w":
                    w0, w1 = G.truncate(G.mapping(torch.cat([z0, z1]), c2), psi).chunk(2)
                    ws = torch.cat([lerp(w0, w1, t), lerp(w0, w1, t + eps)])
                else:
                    zz = torch.cat([interp(z0, z1, t), interp(z0, z1, t + eps)])
                    ws = G.truncate(G.mapping(zz, c2), psi)
                images = render_pairs(idx, ws=ws)
            d = distance.paired(preprocess(images, settings.crop, resize, quantize))
        return {"distance": d.to(dtype) / (eps * eps)}

    fn.renderer = render_pairs  # type: ignore[attr-defined]  # its mode (explicit / forked) goes into the settings
    return fn


def _protocol(preset: str | None, settings: PPLSettings | None, **explicit: Any) -> PPLSettings:
    """``settings`` when given (then no explicit value may be), else :func:`resolve_settings`."""
    if settings is None:
        return resolve_settings(preset, **explicit)
    given = [k for k, v in explicit.items() if v is not None]
    if given:
        raise ArgumentError("settings", f"settings is the whole protocol; do not also pass {', '.join(given)}")
    return settings


def validate(
    generator: Generator,
    settings: PPLSettings,
    *,
    psi: float = 1.0,
    precision: str = "fp32",
    z_interpolation: str = "slerp",
    resize: int | None = None,
    quantize: bool = False,
    lower_percentile: float = 1.0,
    upper_percentile: float = 99.0,
    bootstrap_resamples: int = 1000,
    batch_size: int | None = None,
) -> None:
    """Every check of :func:`ppl`'s arguments (same names; ``settings`` as :func:`resolve_settings`
    checks it), before anything is built or sampled: ArgumentError naming the first one out of
    range or one ``generator`` cannot serve. The registered runner calls it too."""
    from .image_samples import require_generator

    require_generator(generator, "ppl")
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be a stylegan_eval Generator, got {type(generator).__name__}")
    _check_protocol(settings)
    _check_image_options(psi, precision, z_interpolation, resize, quantize)
    _check_statistics(lower_percentile, upper_percentile, bootstrap_resamples)
    if batch_size is not None and batch_size <= 0:
        raise ArgumentError("batch_size", f"batch_size must be positive, got {batch_size}")
    _check_generator(generator, settings, psi)


def _check_image_options(psi: float, precision: str, z_interpolation: str, resize: int | None, quantize: bool) -> None:
    """The sampling and image options of :func:`ppl` (same names)."""
    if precision not in PRECISIONS:
        raise ArgumentError("precision", f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if z_interpolation not in Z_INTERPOLATIONS:
        raise ArgumentError(
            "z_interpolation", f"z_interpolation must be one of {Z_INTERPOLATIONS}, got {z_interpolation!r}"
        )
    if not (isinstance(psi, (int, float)) and math.isfinite(psi)):
        raise ArgumentError("psi", f"psi must be a finite number, got {psi!r}")
    if resize is not None and not (isinstance(resize, int) and resize > 0):
        raise ArgumentError("resize", f"resize must be a positive integer or None, got {resize!r}")
    if not isinstance(quantize, (bool, np.bool_)):
        raise ArgumentError("quantize", f"quantize must be True or False, got {quantize!r}")


def _check_statistics(lower_percentile: float, upper_percentile: float, bootstrap_resamples: int) -> None:
    """The outlier cut and the bootstrap of :func:`ppl` (same names)."""
    if not 0 <= lower_percentile < upper_percentile <= 100:
        raise ArgumentError(
            "lower_percentile",
            f"lower_percentile and upper_percentile must satisfy 0 <= lower < upper <= 100, got {lower_percentile}, {upper_percentile}",
        )
    if not (isinstance(bootstrap_resamples, (int, np.integer)) and bootstrap_resamples >= 0):
        raise ArgumentError(
            "bootstrap_resamples",
            f"bootstrap_resamples must be a non-negative integer (0: no interval), got {bootstrap_resamples!r}",
        )


def _check_generator(generator: Generator, settings: PPLSettings, psi: float) -> None:
    """What the protocol needs of the generator: W space and truncation need a mapping network;
    the face crop a resolution divisible by 8."""
    if not generator.supports_w:
        if settings.space == "w":
            raise ArgumentError(
                "space",
                f"{generator.family}: W-space PPL needs a mapping network, but this is a black-box generator "
                "(z -> images only)",
                hint="use space='z'",
                cli_hint="use --space z",
            )
        if psi != 1.0:
            raise ArgumentError(
                "psi",
                f"{generator.family}: truncation (psi) needs W space, which a black-box generator does not expose",
            )
    if settings.crop and generator.resolution % 8:
        raise ArgumentError("crop", f"crop needs a resolution divisible by 8, got {generator.resolution}")


def ppl(
    generator: Generator,
    space: Space | None = None,
    sampling: SamplingMode | None = None,
    num_samples: int | None = None,
    epsilon: float | None = None,
    crop: bool | None = None,
    *,
    preset: str | None = None,
    settings: PPLSettings | None = None,
    psi: float = 1.0,
    distance: str | Distance = "lpips-vgg",
    weights_path: str | os.PathLike | None = None,
    allow_random_weights: bool = False,
    precision: Precision = "fp32",
    batch_size: int | None = None,
    seed: int = 0,
    class_idx: int | None = None,
    z_interpolation: ZInterpolation = "slerp",
    resize: int | None = None,
    quantize: bool = False,
    lower_percentile: float = 1.0,
    upper_percentile: float = 99.0,
    bootstrap_resamples: int = 1000,
    show_progress: bool = False,
    state: StateArg = None,
    dist: DistInfo | None = None,
) -> PPLResult:
    """Perceptual path length of ``generator`` (see the module docstring for the protocol).

    Args:
        generator: a :class:`~stylegan_eval.generator.Generator` (eval mode, on its device);
            black-box ones (``supports_w`` False) support Z space only.
        space, sampling, num_samples, epsilon, crop: the protocol (:class:`PPLSettings`: 'z' or
            'w'; 'full' or 'end'; pairs; step in t, in (0, 1); NVIDIA's face crop) over ``preset``
            (one of :data:`PRESETS`; without one, ppl2_wend's w, end, 50k, 1e-4, no crop).
        settings: the protocol already resolved by :func:`resolve_settings`; then space ... crop
            must be None and ``preset`` only names it in the report.
        psi: truncation psi of the mapped w (1.0 = none).
        distance, weights_path: 'lpips-vgg' (default), 'nvidia-vgg16', 'l2' or a :class:`Distance`;
            the named network's weights file. ``allow_random_weights``: run LPIPS at random
            initialisation when its weights are unavailable (``result.random_weights`` says so).
        precision: 'fp32' (the reference), or 'bf16'/'fp16' autocast, which cannot resolve the
            eps = 1e-4 differences (speed checks only).
        batch_size: pairs per batch (2x images per generator call); changes the result only by
            floating-point rounding, never the samples.
        seed, class_idx: sampling-engine seed; fixed class of a conditional generator (None:
            random per pair).
        z_interpolation, resize, quantize: the peers' variants ('lerp', 64, True for
            torch-fidelity); the defaults are the reference's.
        lower_percentile, upper_percentile, bootstrap_resamples: the outlier cut (1, 99) and
            the interval's resamples (0: none).
        show_progress: tqdm bar on stderr.
        state: resume storage for :func:`engine.collect`: a ResumeState, or ``(name, fingerprint)
            -> ResumeState | None`` asked with ("ppl", the fingerprint), cleared once complete.
        dist: process sharding, passed to :func:`engine.collect`.
    """
    s = _protocol(preset, settings, space=space, sampling=sampling, num_samples=num_samples, epsilon=epsilon, crop=crop)
    knobs = _Knobs(psi, precision, class_idx, z_interpolation, resize, quantize)
    cut = _Cut(lower_percentile, upper_percentile, bootstrap_resamples)
    validate(generator, s, batch_size=batch_size, **knobs.checked(), **asdict(cut))
    if isinstance(distance, str):
        distance = make_distance(distance, weights_path, allow_random=allow_random_weights)
    distance = distance.to(generator.device)
    if batch_size is None:
        batch_size = generator_batch_size(generator, generator.device, "ppl")
    run = _Run(s, distance, preset, seed, batch_size, knobs, cut)
    return _measure(generator, run, show_progress=show_progress, state=state, dist=dist)


@dataclass(frozen=True)
class _Knobs:
    """The sampling and image options of one :func:`ppl` run (same names)."""

    psi: float
    precision: Precision
    class_idx: int | None
    z_interpolation: ZInterpolation
    resize: int | None
    quantize: bool

    def checked(self) -> dict[str, Any]:
        """The options :func:`validate` checks."""
        return {k: v for k, v in asdict(self).items() if k != "class_idx"}

    def recorded(self, space: Space) -> dict[str, Any]:
        """As fingerprinted and reported: the interpolation of z only in Z space."""
        return {**asdict(self), "z_interpolation": self.z_interpolation if space == "z" else None}


@dataclass(frozen=True)
class _Cut:
    """The statistics of one :func:`ppl` run: the outlier cut and the bootstrap resamples."""

    lower_percentile: float
    upper_percentile: float
    bootstrap_resamples: int


@dataclass(frozen=True)
class _Run:
    """One resolved and validated :func:`ppl` run."""

    settings: PPLSettings
    distance: Distance
    preset: str | None
    seed: int
    batch_size: int
    knobs: _Knobs
    cut: _Cut


def _measure(
    generator: Generator, run: _Run, *, show_progress: bool, state: StateArg, dist: DistInfo | None
) -> PPLResult:
    """Sample the pairs of ``run`` (resumable) and summarise their distances."""
    s, knobs, cut = run.settings, run.knobs, run.cut
    options = {**knobs.recorded(s.space), **asdict(cut)}
    fingerprint = ppl_fingerprint(generator, s, run.distance, seed=run.seed, **options)
    fn = make_batch_fn(generator, run.distance, s, seed=run.seed, **asdict(knobs))
    resume = resolve_state(state, "ppl", fingerprint)
    start = time.perf_counter()
    with torch.inference_mode():
        out = collect(
            fn, s.num_samples, run.batch_size, desc="ppl", show_progress=show_progress, state=resume, dist=dist
        )
    if generator.device.type == "cuda":
        torch.cuda.synchronize(generator.device)
    sampling_s = time.perf_counter() - start
    distances = out["distance"].double().numpy()
    start = time.perf_counter()
    stats = summarize(distances, cut.lower_percentile, cut.upper_percentile, cut.bootstrap_resamples)
    stats_s = time.perf_counter() - start
    noise = getattr(getattr(fn, "renderer", None), "mode", None)
    result = PPLResult(
        distances=distances,
        samples_per_second=s.num_samples / sampling_s if sampling_s > 0 else float("nan"),
        settings=_recorded(generator, run, noise),
        random_weights=list(run.distance.random_weights),
        seconds={"sampling": sampling_s, "statistics": stats_s},
        fingerprint_=fingerprint,
        **stats,
    )
    if resume is not None and resume is not state:
        resume.clear()
    return result


def _recorded(generator: Generator, run: _Run, noise: str | None) -> dict[str, Any]:
    """The settings a :class:`PPLResult` reports: the protocol, every option, the noise mode and
    the face-crop note where the crop does not suit the generator."""
    s, knobs = run.settings, run.knobs.recorded(run.settings.space)
    recorded = {
        "preset": run.preset,
        **asdict(s),
        "psi": knobs.pop("psi"),
        "distance": run.distance.name,
        "weights_file": run.distance.weights_file,
        "precision": knobs.pop("precision"),
        "batch_size": run.batch_size,
        "seed": run.seed,
        **knobs,
        **asdict(run.cut),
        "noise": noise,
    }
    note = crop_note(generator) if s.crop else None
    if note:
        recorded["crop_note"] = note
    return recorded


# ------------------------------------------------------------------------------ registered runner
def registered_protocol(
    name: str, num_samples: int, protocol: Mapping[str, Any]
) -> tuple[str | None, PPLSettings, dict[str, Any]]:
    """(preset, settings, other :func:`ppl` options) of one registered run, the settings resolved once.

    Args:
        name: the registry name run (a :data:`PRESETS` name is the preset).
        num_samples: the run's pair count.
        protocol: the registry entry's :class:`PPLSettings` fields (space, sampling, epsilon,
            crop) and the options :func:`validate` checks (psi, precision, ...); or ``settings``, a
            protocol a caller already resolved with :func:`resolve_settings` (then ``num_samples``
            is its own), and ``preset`` naming it.
    """
    options = dict(protocol)
    given = options.pop("settings", None)
    preset = options.pop("preset", name if name in PRESETS else None)
    explicit = {f.name: options.pop(f.name, None) for f in fields(PPLSettings)}
    if given is None:
        explicit["num_samples"] = num_samples
    return preset, _protocol(preset, given, **explicit), options


def run_registered(ctx: RunContext, outputs: tuple[str, ...], **protocol: Any) -> dict[str, Raw]:
    """The registry's runner (:mod:`stylegan_eval.metrics.context`): one PPL run with the
    distance network of ``ctx.options`` (built once per comparison, after the arguments are
    checked); its interval is the bootstrap's. ``protocol``: see :func:`registered_protocol`."""
    preset, settings, options = registered_protocol(ctx.name, ctx.num_samples, protocol)
    validate(ctx.generator, settings, batch_size=ctx.batch_size, **options)
    opts = ctx.options
    distance = ctx.cached(
        f"distance:{opts.distance}",
        lambda: make_distance(
            opts.distance, opts.lpips_weights, allow_random=opts.allow_random_weights, download=opts.download
        ),
    )
    res = ppl(
        ctx.generator,
        preset=preset,
        settings=settings,
        distance=distance,
        batch_size=ctx.batch_size,
        seed=ctx.seed,
        class_idx=ctx.class_idx,
        show_progress=ctx.show_progress,
        state=ctx.state(),
        dist=ctx.dist,
        **options,
    )
    note = res.settings.get("crop_note")
    details = {"distances": res.distances, "name": res.name, "warnings": [note] if note else []}
    raw = Raw(
        res.value,
        (res.ci_low, res.ci_high),
        int(res.distances.size),
        list(res.random_weights),
        details,
        res.fingerprint(),
        result=res,
    )
    return {output: raw for output in outputs}


def report_figures(report: Any, runs: Mapping[str, Mapping[str, Any]]) -> tuple[list[Any], list[str]]:
    """The registry's ``report_figures`` hook: the histogram of a ``ppl`` report's per-pair
    distances (``runs``: {output: the run's ``details``}), drawn by
    :func:`stylegan_eval.figures.reports.ppl_report_figures`."""
    from ..figures.reports import ppl_report_figures

    return ppl_report_figures(report, runs)
