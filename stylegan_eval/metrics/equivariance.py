"""Equivariance metrics EQ-T, EQ-T_frac and EQ-R (Karras et al. 2021, "Alias-Free GANs", Appendix E).

The generator renders w twice: with the identity input transform (``orig``) and with a
translated or rotated one (``img``, via :meth:`Generator.synthesis_transformed`); the metric is
the PSNR in dB, for the [-1, 1] range (peak-to-peak 2), between ``img`` and ``orig`` moved by the
same transform in image space, inside the mask of pixels both images define:

    PSNR = 20 log10(2) - 10 log10(sum (ref - img)^2 mask / sum mask)

with the sums over every pixel, channel and sample (NVIDIA's ``metrics/equivariance.py``). The
image-space operators, re-implemented from that reference (same constants):

- ``eqt50k_int``: t uniform in [-1/8, 1/8]^2 of the image size, rounded to whole pixels; the
  input transform's translation is -t; ``orig`` is shifted by t pixels with zero fill, the mask
  marks the pixels that came from inside the image.
- ``eqt50k_frac``: t as above, not rounded; ``orig`` is shifted by a separable 6-tap
  Lanczos-windowed sinc (a = 3) with taps normalised to sum 1; the mask drops a = 3 pixels
  before and b = 2 pixels after the shifted content.
- ``eqr50k``: angle uniform in [-pi, pi] (``rotate_max`` = 1 half turn); the input transform is
  the rotation by -angle; ``orig`` is rotated by an oriented band-limit filter (the convolution
  of two oriented 2-D sinc filters windowed by the convolution of two Lanczos windows, built on
  a 4x upsampled grid, a = 3, amax = 6, aflt = 64), 4x upsampling through that filter, and
  bilinear ``grid_sample``; ``img`` goes through the same band-limit filter without rotation
  (the pseudo-rotation R*), and the PSNR compares the two inside both masks.

Differences from the reference, on purpose: the translation / angle is drawn per *sample* from
the counter-based streams of :mod:`stylegan_eval.sampling` (NVIDIA draws one per batch of 4
from the global RNG), so the value does not depend on the batch size or the process count; the
squared errors and mask sums are accumulated per sample in float64. Everything runs in fp32
(the metric forces it).
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from .. import sampling
from ..engine import collect
from ..errors import ArgumentError, UserError
from ..generator import labels, latents
from .common import generator_fingerprint, resolve_state
from .context import Raw, RunContext
from .result_simple import SimpleResult, raws, run_options

TRANSLATE_MAX = 0.125
ROTATE_MAX = 1.0
#: sampling streams of the random transforms (distinct from the latent streams).
STREAM_EQT_INT = 40
STREAM_EQT_FRAC = 41
STREAM_EQR = 42
KINDS = ("int", "frac", "rot")
_NAMES = {"int": "eqt50k_int", "frac": "eqt50k_frac", "rot": "eqr50k"}


# ------------------------------------------------------------------------------ filters
def sinc(x: torch.Tensor) -> torch.Tensor:
    """Normalised sinc, sin(pi x) / (pi x), 1 at 0."""
    y = (x * math.pi).abs()
    z = torch.sin(y) / y.clamp(1e-30, float("inf"))
    return torch.where(y < 1e-30, torch.ones_like(x), z)


def lanczos_window(x: torch.Tensor, a: float) -> torch.Tensor:
    x = x.abs() / a
    return torch.where(x < 1, sinc(x), torch.zeros_like(x))


def rotation_matrix(angle: torch.Tensor) -> torch.Tensor:
    """[N] angles -> [N, 3, 3]: [[cos, sin, 0], [-sin, cos, 0], [0, 0, 1]] (NVIDIA's convention)."""
    angle = torch.as_tensor(angle, dtype=torch.float32).reshape(-1)
    mat = torch.eye(3, device=angle.device).repeat(angle.shape[0], 1, 1)
    c, s = angle.cos(), angle.sin()
    mat[:, 0, 0], mat[:, 0, 1], mat[:, 1, 0], mat[:, 1, 1] = c, s, -s, c
    return mat


def _depthwise(x: torch.Tensor, f: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor:
    """True convolution (the filter flipped, as upfirdn2d's default) of x [N, C, H, W] with per-sample f [N, kh, kw] after zero padding (x0, x1, y0, y1)."""
    n, c = x.shape[:2]
    x = F.pad(x, list(pad))
    w = f.flip([-2, -1]).to(x.dtype)[:, None].repeat_interleave(c, 0)  # [N*C, 1, kh, kw]
    out = F.conv2d(x.reshape(1, n * c, *x.shape[2:]), w, groups=n * c)
    return out.reshape(n, c, *out.shape[2:])


def bandlimit_filter(
    mat: torch.Tensor,
    a: int = 3,
    amax: int = 16,
    aflt: int = 64,
    up: int = 4,
    cutoff_in: float = 1.0,
    cutoff_out: float = 1.0,
) -> torch.Tensor:
    """Oriented low-pass filters for affine maps ``mat`` [N, 3, 3]: [N, 2 amax up - 1, 2 amax up - 1] (odd side)."""
    if not a <= amax < aflt:
        raise ValueError("need a <= amax < aflt")
    mat = mat.to(torch.float32)
    taps = ((torch.arange(aflt * up * 2 - 1, device=mat.device) + 1) / up - aflt).roll(1 - aflt * up)
    yi, xi = torch.meshgrid(taps, taps, indexing="ij")
    m = mat[:, :2, :2]
    xo = xi[None] * m[:, 0, 0, None, None] + yi[None] * m[:, 0, 1, None, None]
    yo = xi[None] * m[:, 1, 0, None, None] + yi[None] * m[:, 1, 1, None, None]
    fi = (sinc(xi * cutoff_in) * sinc(yi * cutoff_in))[None]
    fo = sinc(xo * cutoff_out) * sinc(yo * cutoff_out)
    f = torch.fft.ifftn(torch.fft.fftn(fi, dim=(-2, -1)) * torch.fft.fftn(fo, dim=(-2, -1)), dim=(-2, -1)).real
    wi = (lanczos_window(xi, a) * lanczos_window(yi, a))[None]
    wo = lanczos_window(xo, a) * lanczos_window(yo, a)
    w = torch.fft.ifftn(torch.fft.fftn(wi, dim=(-2, -1)) * torch.fft.fftn(wo, dim=(-2, -1)), dim=(-2, -1)).real
    f = f * w
    c = (aflt - amax) * up
    f = f.roll([aflt * up - 1] * 2, dims=[-2, -1])[:, c:-c, c:-c]
    n = f.shape[0]
    f = F.pad(f, [0, 1, 0, 1]).reshape(n, amax * 2, up, amax * 2, up)
    f = f / f.sum([1, 3], keepdim=True) / (up**2)
    return f.reshape(n, amax * 2 * up, amax * 2 * up)[:, :-1, :-1]


# ------------------------------------------------------------------------------ image-space operators
def _shift(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """out[n, :, Y, X] = x[n, :, Y - dy_n, X - dx_n], zero outside (per-sample integer shifts)."""
    n, _, h, w = x.shape
    ys = torch.arange(h, device=x.device)[None] - dy[:, None]
    xs = torch.arange(w, device=x.device)[None] - dx[:, None]
    valid = ((ys >= 0) & (ys < h))[:, :, None] & ((xs >= 0) & (xs < w))[:, None, :]
    g = x[
        torch.arange(n, device=x.device)[:, None, None],
        :,
        ys.clamp(0, h - 1)[:, :, None],
        xs.clamp(0, w - 1)[:, None, :],
    ]
    return g.permute(0, 3, 1, 2) * valid[:, None].to(x.dtype)


def _range_mask(h: int, w: int, y0, y1, x0, x1, device) -> torch.Tensor:
    """[N, 1, H, W] float mask of rows [y0, y1) and columns [x0, x1) per sample."""
    ys, xs = torch.arange(h, device=device)[None], torch.arange(w, device=device)[None]
    my = (ys >= y0[:, None]) & (ys < y1[:, None])
    mx = (xs >= x0[:, None]) & (xs < x1[:, None])
    return (my[:, :, None] & mx[:, None, :])[:, None].float()


def integer_translation(x: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift x [N, C, H, W] by round(t * size) pixels (t [N] in image units); returns (shifted, mask), both [N, C, H, W]."""
    h, w = x.shape[-2:]
    ix, iy = (tx * w).round().long(), (ty * h).round().long()
    z = _shift(x, iy, ix)
    m = _range_mask(h, w, iy.clamp_min(0), h + iy.clamp_max(0), ix.clamp_min(0), w + ix.clamp_max(0), x.device)
    return z, m.expand_as(x).clone()


def fractional_translation(
    x: torch.Tensor, tx: torch.Tensor, ty: torch.Tensor, a: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift x [N, C, H, W] by t * size pixels with a separable Lanczos-sinc (2a taps); returns (shifted, mask)."""
    h, w = x.shape[-2:]
    tx, ty = (tx * w).float(), (ty * h).float()
    ix, iy = tx.floor().long(), ty.floor().long()
    fx, fy = tx - ix, ty - iy
    b = a - 1
    taps = torch.arange(a * 2, device=x.device) - b
    filt_x = sinc(taps[None] - fx[:, None]) * sinc((taps[None] - fx[:, None]) / a)  # [N, 2a]
    filt_y = sinc(taps[None] - fy[:, None]) * sinc((taps[None] - fy[:, None]) / a)
    filt_x = filt_x / filt_x.sum(1, keepdim=True)
    filt_y = filt_y / filt_y.sum(1, keepdim=True)
    # z[X] = sum_j f[j] x[X - ix + b - j]: the reference's padded filter and crop, with zero fill.
    zx = torch.zeros_like(x)
    for j in range(2 * a):
        zx = zx + filt_x[:, j, None, None, None] * _shift(x, torch.zeros_like(ix), ix - b + j)
    z = torch.zeros_like(x)
    for i in range(2 * a):
        z = z + filt_y[:, i, None, None, None] * _shift(zx, iy - b + i, torch.zeros_like(iy))
    m = _range_mask(
        h,
        w,
        (iy + a).clamp_min(0),
        h + (iy - b).clamp_max(0),
        (ix + a).clamp_min(0),
        w + (ix - b).clamp_max(0),
        x.device,
    )
    return z, m.expand_as(x).clone()


def affine_transformation(
    x: torch.Tensor, mat: torch.Tensor, up: int = 4, **filter_kwargs
) -> tuple[torch.Tensor, torch.Tensor]:
    """Resample x [N, C, H, W] under the affine maps ``mat`` [N, 3, 3] through the band-limit filter; (image, mask)."""
    n, c, h, w = x.shape
    mat = mat.to(x.device, torch.float32)
    f = bandlimit_filter(mat, up=up, **filter_kwargs)
    p = f.shape[-1] // 2
    theta = torch.linalg.inv(mat)
    theta[:, :2, 2] *= 2
    theta[:, 0, 2] += 1 / up / w
    theta[:, 1, 2] += 1 / up / h
    theta[:, 0, :] *= w / (w + p / up * 2)
    theta[:, 1, :] *= h / (h + p / up * 2)
    grid = F.affine_grid(theta[:, :2, :3], list(x.shape), align_corners=False)
    # upfirdn2d upsample: zero insertion, padding as its upsample2d computes it, gain up^2.
    k = f.shape[-1]
    xu = torch.zeros(n, c, h * up, w * up, dtype=x.dtype, device=x.device)
    xu[:, :, ::up, ::up] = x
    lo, hi = p + (k + up - 1) // 2, p + (k - up) // 2
    y = _depthwise(xu, f * up**2, (lo, hi, lo, hi))
    z = F.grid_sample(y, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    m = torch.zeros_like(y)
    cc = p * 2 + 1
    m[:, :, cc:-cc, cc:-cc] = 1
    m = F.grid_sample(m, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return z, m


def fractional_rotation(x: torch.Tensor, angle: torch.Tensor, a: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate x [N, C, H, W] by ``angle`` [N] radians (operator R_alpha); (image, mask)."""
    return affine_transformation(x, rotation_matrix(angle.to(x.device)), a=a, amax=a * 2)


def fractional_pseudo_rotation(x: torch.Tensor, angle: torch.Tensor, a: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Filter x as if rotated by ``angle`` without rotating it (operator R*_alpha); (image, mask)."""
    f = bandlimit_filter(rotation_matrix(-angle.to(x.device)), a=a, amax=a * 2, up=1)
    k = f.shape[-1]
    y = _depthwise(x, f, (k // 2, (k - 1) // 2, k // 2, (k - 1) // 2))
    m = torch.zeros_like(y)
    c = k // 2
    m[:, :, c:-c, c:-c] = 1
    return y, m


def psnr(sq_sum: float, mask_sum: float) -> float:
    """PSNR in dB of [-1, 1] images from a masked squared-error sum and the mask sum (inf when equal)."""
    if mask_sum <= 0:
        raise UserError("equivariance: the masks are empty (image too small for the filters?)")
    mse = sq_sum / mask_sum
    return float("inf") if mse == 0 else float(20 * np.log10(2) - 10 * np.log10(mse))


# ------------------------------------------------------------------------------ per-sample errors
def transforms_for(
    kind: str,
    seed: int,
    idx: torch.Tensor,
    resolution: int,
    translate_max: float = TRANSLATE_MAX,
    rotate_max: float = ROTATE_MAX,
    device: torch.device | str = "cpu",
) -> torch.Tensor:
    """The random parameters of samples ``idx``: [N, 2] translations (image units) or [N] angles (radians)."""
    if kind == "rot":
        u = sampling.uniform(seed, STREAM_EQR, idx, (), device)
        return (u * 2 - 1) * (rotate_max * math.pi)
    t = (
        sampling.uniform(seed, STREAM_EQT_INT if kind == "int" else STREAM_EQT_FRAC, idx, (2,), device) * 2 - 1
    ) * translate_max
    return (t * resolution).round() / resolution if kind == "int" else t


def equivariance_errors(
    generator, ws: torch.Tensor, kind: str, params: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample (sum of masked squared errors, sum of the mask) [N] float64 for ``kind`` in 'int', 'frac', 'rot'."""
    n = ws.shape[0]
    eye = torch.eye(3, device=ws.device).repeat(n, 1, 1)
    orig = generator.synthesis_transformed(ws, eye, noise_mode="const").float()
    if kind == "rot":
        img = generator.synthesis_transformed(ws, rotation_matrix(-params), noise_mode="const").float()
        ref, ref_mask = fractional_rotation(orig, params)
        pseudo, pseudo_mask = fractional_pseudo_rotation(img, params)
        mask = ref_mask * pseudo_mask
        diff = (ref - pseudo).square() * mask
    else:
        mat = eye.clone()
        mat[:, :2, 2] = -params
        img = generator.synthesis_transformed(ws, mat, noise_mode="const").float()
        op = integer_translation if kind == "int" else fractional_translation
        ref, mask = op(orig, params[:, 0], params[:, 1])
        diff = (ref - img).square() * mask
    return diff.double().sum((1, 2, 3)), mask.double().sum((1, 2, 3))


def validate(generator: Any, *, kinds: tuple[str, ...] | list[str] = ("int",)) -> None:
    """Every check of :func:`equivariance`'s arguments (same names), before anything is rendered:
    ArgumentError naming the first one the metric cannot use."""
    from .image_samples import require_generator

    require_generator(generator, "equivariance")
    if not getattr(generator, "supports_input_transform", False):
        raise ArgumentError(
            "generator",
            f"{getattr(generator, 'family', 'generator')}: equivariance metrics need a generator with an input "
            "transform (StyleGAN3)",
        )
    kinds = tuple(kinds)
    if not kinds or any(k not in KINDS for k in kinds):
        raise ArgumentError("kinds", f"kinds must be a non-empty subset of {KINDS}, got {kinds}")


def equivariance(
    generator: Any,
    *,
    num_samples: int = 50_000,
    seed: int = 0,
    batch_size: int | None = None,
    show_progress: bool = False,
    state: Any = None,
    kinds: tuple[str, ...] = ("int",),
    translate_max: float = TRANSLATE_MAX,
    rotate_max: float = ROTATE_MAX,
    psi: float = 1.0,
    class_idx: int | None = None,
) -> SimpleResult:
    """EQ-T (``kinds=('int',)``), EQ-T_frac (``('frac',)``) and EQ-R (``('rot',)``) PSNRs in dB (higher is better).

    Args:
        generator: a :class:`~stylegan_eval.generator.Generator` with ``supports_input_transform``.
        num_samples: samples (50k).
        seed: sample i uses z, labels and its transform from (seed, i).
        batch_size: samples per synthesis call (4, as NVIDIA).
        show_progress: tqdm bar on stderr.
        state: :class:`~stylegan_eval.engine.ResumeState` for the per-sample sums, or a callable
            ``(name, fingerprint) -> ResumeState | None`` (its state is cleared once complete).
        kinds: which of 'int', 'frac', 'rot' to compute (several share the reference render).
        translate_max: the largest translation, in image units (1/8).
        rotate_max: the largest rotation, in half turns (1).
        psi: truncation psi of the mapped w (1.0 = none).
        class_idx: fixed class of a conditional generator (None: random per sample).

    Raises:
        ArgumentError: the generator has no input transform, or ``kinds`` is not a subset of :data:`KINDS`.
    """
    validate(generator, kinds=kinds)
    kinds = tuple(kinds)
    options: dict[str, Any] = {
        "translate_max": translate_max,
        "rotate_max": rotate_max,
        "psi": psi,
        "class_idx": class_idx,
    }
    fn = _batch_fn(generator, seed, kinds, **options)
    fingerprint = {"metric": "eq", "kinds": list(kinds), "num_samples": num_samples, "seed": seed, **options}
    resume = resolve_state(state, "eq", {**fingerprint, **generator_fingerprint(generator)})
    sums = collect(fn, num_samples, batch_size or 4, desc="equivariance", show_progress=show_progress, state=resume)
    if resume is not None and resume is not state:  # made here from a factory: done, so its partial files go
        resume.clear()
    outputs = {_NAMES[kind]: psnr(float(sums[f"{kind}_sq"].sum()), float(sums[f"{kind}_mask"].sum())) for kind in kinds}
    return SimpleResult(
        name=result_name(kinds, num_samples, translate_max, rotate_max, psi),
        outputs=outputs,
        settings={"num_samples": num_samples, "kinds": list(kinds), **options},
        inputs={"seed": seed, **generator_fingerprint(generator)},
    )


def _batch_fn(
    generator: Any,
    seed: int,
    kinds: tuple[str, ...],
    *,
    translate_max: float,
    rotate_max: float,
    psi: float,
    class_idx: int | None,
) -> Callable[[torch.Tensor], dict[str, torch.Tensor]]:
    """indices [N] -> per-sample ``{kind}_sq`` and ``{kind}_mask`` sums [N] (float64) of every kind,
    for :func:`engine.collect`; one render of w serves every kind."""

    @torch.inference_mode()
    def fn(idx: torch.Tensor) -> dict[str, torch.Tensor]:
        dev_idx = idx.to(generator.device)
        z = latents(generator, seed, dev_idx)
        c = labels(generator, seed, dev_idx, class_idx)
        ws = generator.truncate(generator.mapping(z, c), psi).float()
        out = {}
        for kind in kinds:
            params = transforms_for(
                kind, seed, dev_idx, generator.resolution, translate_max, rotate_max, generator.device
            )
            out[f"{kind}_sq"], out[f"{kind}_mask"] = equivariance_errors(generator, ws, kind, params)
        return out

    return fn


def result_name(
    kinds: tuple[str, ...], num_samples: int, translate_max: float, rotate_max: float, psi: float = 1.0
) -> str:
    """The registry name of one kind at the published protocol (``eqt50k_int``), ``eq50k`` for
    several, else that name spelling the sample count (``eqt_int_1000``)."""
    standard = num_samples == 50_000 and translate_max == TRANSLATE_MAX and rotate_max == ROTATE_MAX and psi == 1.0
    name = _NAMES[kinds[0]] if len(kinds) == 1 else "eq50k"
    return name if standard else f"{name.replace('50k', '')}_{num_samples}"


# ------------------------------------------------------------------------------ registered runner
def run_registered(ctx: RunContext, outputs: tuple[str, ...], **protocol: Any) -> dict[str, Raw]:
    """The registry's runner (:mod:`stylegan_eval.metrics.context`): the equivariance PSNRs of the protocol's ``kinds``."""
    res = equivariance(ctx.generator, class_idx=ctx.class_idx, **run_options(ctx), **protocol)
    return raws(res, outputs, ctx.num_samples)
