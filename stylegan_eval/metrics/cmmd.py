"""CMMD: the maximum mean discrepancy between CLIP embeddings of real and generated images.

Jayasumana et al., CVPR 2024, "Rethinking FID: Towards a Better Evaluation Metric for Image
Generation" (reference implementation: google-research ``cmmd/``).

Embeddings: OpenAI's CLIP ViT-L/14 image tower at 336x336 px (``open_clip_torch`` architecture
``ViT-L-14-336``, QuickGELU, 768-d), images scaled to [0, 1], resized to 336x336 with bicubic
interpolation (the whole image, no crop, as the reference's ``jax.image.resize``), normalised
with CLIP's mean and std; the embedding is L2-normalised (unit length).

Distance (the reference implementation's estimator, stated here as facts, not copied)::

    k(a, b) = exp(-||a - b||^2 / (2 sigma^2)),  sigma = 10
    CMMD    = 1000 * ( mean_{i,j} k(x_i, x_j) + mean_{i,j} k(y_i, y_j) - 2 mean_{i,j} k(x_i, y_j) )

with x the n real and y the m generated embeddings, every mean over the full n x n, m x m and
n x m kernel matrices, diagonals included. The paper calls its estimator unbiased; the
reference code computes this form, the minimum-variance ("biased", V-statistic) estimator of
MMD^2 of Gretton et al. 2012 (JMLR, Eq. 5), whose difference from the unbiased U-statistic
is O(1/n). It is what the published numbers were computed with, so it is what is computed here;
it is >= 0 (a squared distance in the kernel's feature space, up to rounding) and exactly 0
when both sets are the same array. Squared distances are ``|a|^2 + |b|^2 - 2 a.b`` in float64,
not clamped at 0 (as the reference).

The real embeddings of an image folder or zip are cached like the FID statistics (the
statistics cache, keyed by the detector's name and weights), with their per-image features;
a statistics file written by ``stylegan-eval stats --features`` with this detector also works.
Weights come through the weights catalogue (``clip-vitl14-336``); without them
``allow_random_weights`` runs the architecture at a seeded random initialisation and the
result lists it in ``random_weights``.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import ArgumentError, UserError
from .context import Raw, RunContext
from .modern_detectors import ModernDetector, resize_bicubic
from .modern_weights import CLIP_L336, CLIP_MEAN, CLIP_STD
from .result_simple import raws, run_options

SIGMA = 10.0
SCALE = 1000.0
INPUT_SIZE = 336
EMBED_DIM = 768
#: open_clip's architecture name of CLIP ViT-L/14 at 336 px.
ARCH = "ViT-L-14-336"


def _kernel_mean(a: torch.Tensor, b: torch.Tensor, gamma: float, block: int) -> float:
    """mean over all (i, j) of exp(-gamma ||a_i - b_j||^2), in row blocks of ``block`` (float64)."""
    b_sq = (b * b).sum(1)
    total = 0.0
    for start in range(0, a.shape[0], block):
        rows = a[start : start + block]
        d2 = (rows * rows).sum(1)[:, None] + b_sq[None, :] - 2.0 * (rows @ b.T)
        total += float(torch.exp(-gamma * d2).sum())
    return total / (a.shape[0] * b.shape[0])


def mmd2(x: Any, y: Any, sigma: float = SIGMA, scale: float = SCALE, block: int = 4096, device: Any = "cpu") -> float:
    """CMMD's estimator (see the module docstring) of two embedding sets, scaled.

    Args:
        x: real embeddings, [n, D] (array-like, n >= 1).
        y: generated embeddings, [m, D] (same D).
        sigma: RBF bandwidth (10 in the paper).
        scale: factor of the result (1000 in the paper).
        block: rows per kernel block (bounds memory to block x max(n, m) float64 values).
        device: where the kernel sums run (float64).
    """
    xt = torch.as_tensor(x).to(device=device, dtype=torch.float64)
    yt = torch.as_tensor(y).to(device=device, dtype=torch.float64)
    if xt.ndim != 2 or yt.ndim != 2 or xt.shape[1] != yt.shape[1] or not len(xt) or not len(yt):
        raise UserError(
            f"cmmd: expected two non-empty [N, D] embedding sets, got {tuple(xt.shape)} and {tuple(yt.shape)}"
        )
    gamma = 1.0 / (2.0 * sigma**2)
    k_xx = _kernel_mean(xt, xt, gamma, block)
    k_yy = _kernel_mean(yt, yt, gamma, block)
    k_xy = _kernel_mean(xt, yt, gamma, block)
    return scale * (k_xx + k_yy - 2.0 * k_xy)


def preprocess_cmmd(images: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """uint8 NCHW -> float32 NCHW [size, size]: [0, 1], bicubic resize of the whole image, CLIP normalisation."""
    x = resize_bicubic(images.float() / 255, (size, size))
    mean = torch.tensor(CLIP_MEAN, device=x.device)[:, None, None]
    std = torch.tensor(CLIP_STD, device=x.device)[:, None, None]
    return (x - mean) / std


def build_clip_l336(device: torch.device | str = "cpu", **vision_overrides: Any) -> torch.nn.Module:
    """open_clip's ViT-L/14@336 image tower (QuickGELU, 768-d); ``vision_overrides`` shrink it for tests."""
    try:
        from open_clip.factory import get_model_config
        from open_clip.model import CLIPVisionCfg, _build_vision_tower
    except ImportError:
        raise UserError("cmmd needs the 'open_clip_torch' package (pip install stylegan-eval[modern])") from None
    cfg = get_model_config(ARCH)
    vision = {**cfg["vision_cfg"], **vision_overrides}
    with torch.device(device):
        return _build_vision_tower(cfg["embed_dim"], CLIPVisionCfg(**vision), quick_gelu=True)


class CmmdDetector(ModernDetector):
    """CLIP ViT-L/14@336 embeddings of uint8 NCHW RGB images of any size: float32 [N, 768], unit length.

    Args as :class:`~.modern_detectors.ModernDetector` (``arch_kwargs``: vision-tower overrides,
    tests build a tiny tower through the same path; ``embed_dim`` is not among them).
    """

    def __init__(
        self,
        weights_path: str | os.PathLike | None = None,
        allow_random: bool = False,
        device: torch.device | str = "cpu",
        download: bool = True,
        arch_kwargs: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(CLIP_L336, weights_path, allow_random, device, download, "detector", arch_kwargs)
        self.preprocess = preprocess_cmmd

    def build(self, device: torch.device | str | None = None) -> torch.nn.Module:
        return build_clip_l336(device=self._device if device is None else device, **self._arch_kwargs)

    @property
    def feature_dim(self) -> int:  # type: ignore[override]
        return EMBED_DIM

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(super().forward(images), dim=1)


# ------------------------------------------------------------------------------ entry point
def real_embeddings(
    real: Any,
    det: CmmdDetector,
    *,
    batch_size: int,
    num_workers: int = 0,
    use_cache: bool = True,
    device: Any = "cpu",
    show_progress: bool = False,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """(the real embeddings [n, 768], their description for the fingerprint) of ``real``: a
    FeatureStats with features, a statistics file with features (local or ``hf://``) written
    with this detector, or an image folder / zip (through the statistics cache)."""
    from pathlib import Path

    from ..hub import local_path
    from .features import FeatureStats, dataset_stats, load_stats

    if isinstance(real, FeatureStats):
        stats, info = real, {"source": "statistics", **dict(real.meta)}
    elif Path(local_path(real)).suffix.lower() in (".npz", ".pkl"):
        stats = load_stats(local_path(real), EMBED_DIM)
        made_by = (stats.meta.get("detector"), stats.meta.get("weights_sha256"))
        if made_by != (det.name, det.weights_sha256):
            raise UserError(
                f"{real}: embeddings of {made_by[0]!r} ({made_by[1]}), not of {det.name} ({det.weights_sha256})"
            )
        info = {"stats_file": str(real), **stats.meta}
    else:
        stats, ds = dataset_stats(
            local_path(real),
            det,
            batch_size=batch_size,
            num_workers=num_workers,
            keep_features=True,
            use_cache=use_cache,
            device=device,
            show_progress=show_progress,
        )
        info = {"source": str(real), "data_hash": ds.data_hash, "cache_hit": ds.cache_hit}
    if stats.features is None:
        raise UserError(
            f"{real}: CMMD needs the real images' embeddings; pass the image folder or a stats file with features"
        )
    return torch.as_tensor(stats.features), info


def validate(
    generator: Any,
    real: Any,
    *,
    num_samples: int = 30_000,
    batch_size: int | None = None,
    detector: CmmdDetector | None = None,
    psi: float = 1.0,
    noise_mode: str = "random",
    num_workers: int = 0,
) -> None:
    """Every check of :func:`cmmd`'s arguments (same names), run by it and by the registered
    runner before CLIP is built or an image read: ArgumentError naming the first argument out of range."""
    from .common import check_sampling
    from .stats_cache import check_real_source

    check_sampling(generator, num_samples=num_samples, batch_size=batch_size, psi=psi, noise_mode=noise_mode)
    if detector is not None and not isinstance(detector, CmmdDetector):
        raise ArgumentError("detector", f"detector must be a CmmdDetector or None, got {type(detector).__name__}")
    if not (isinstance(num_workers, int) and num_workers >= 0):
        raise ArgumentError("num_workers", f"num_workers must be an integer >= 0, got {num_workers!r}")
    check_real_source(real)


def cmmd(
    generator,
    real,
    *,
    num_samples: int = 30_000,
    seed: int = 0,
    batch_size: int | None = None,
    show_progress: bool = False,
    state=None,
    detector: CmmdDetector | None = None,
    detector_weights: str | os.PathLike | None = None,
    allow_random_weights: bool = False,
    psi: float = 1.0,
    noise_mode: str = "random",
    num_workers: int = 0,
    use_cache: bool = True,
):
    """CMMD between real images and ``num_samples`` generated ones (registry entry ``cmmd``).

    Args:
        generator: a :class:`~stylegan_eval.generator.Generator` (images in [-1, 1], NCHW), or
            generated images (folder, zip, uint8 tensor; every one of them is used).
        real: image folder / zip (embeddings cached), a statistics file with features of this
            detector, or FeatureStats with features.
        num_samples: generated images (30k, the paper's COCO-30K count).
        detector: a built :class:`CmmdDetector` (else one is made with ``detector_weights``).
        allow_random_weights: run CLIP at a seeded random initialisation when its weights are missing (reported).
    Returns:
        a SimpleResult with the output ``cmmd`` (>= 0, scaled by 1000; lower is better).
    """
    from .common import generator_fingerprint, resolve_state
    from .features import generator_features
    from .image_samples import as_generated
    from .result_simple import SimpleResult

    generator = as_generated(generator)  # a Generator, or generated images (folder, zip, tensor)
    validate(generator, real, num_samples=num_samples, batch_size=batch_size, detector=detector, psi=psi,
             noise_mode=noise_mode, num_workers=num_workers)  # fmt: skip
    det = detector or CmmdDetector(detector_weights, allow_random_weights, device=generator.device)
    bs = batch_size or 32
    real_feats, real_info = real_embeddings(
        real, det, batch_size=bs, num_workers=num_workers, use_cache=use_cache, device=generator.device,
        show_progress=show_progress,
    )  # fmt: skip
    inputs = {"seed": seed, "detector_info": det.describe(), "real": real_info, **generator_fingerprint(generator)}
    state = resolve_state(
        state,
        "cmmd",
        {"metric": "cmmd-embeddings", "num_samples": num_samples, "psi": psi, "noise_mode": noise_mode, **inputs},
    )
    feats = generator_features(
        generator, det, num_samples, batch_size=bs, seed=seed, psi=psi, noise_mode=noise_mode,
        show_progress=show_progress, state=state,
    )  # fmt: skip
    value = mmd2(real_feats, feats, device=generator.device if generator.device.type == "cuda" else "cpu")
    standard = num_samples == 30_000 and psi == 1.0 and noise_mode == "random"
    return SimpleResult(
        name="cmmd" if standard else f"cmmd_{num_samples}",
        outputs={"cmmd": value},
        settings={"num_samples": num_samples, "psi": psi, "noise_mode": noise_mode, "sigma": SIGMA, "scale": SCALE},
        random_weights=list(det.random_weights),
        inputs=inputs,
        extra={"num_real": int(real_feats.shape[0]), "warnings": []},
    )


# ------------------------------------------------------------------------------ registered runner
def run_registered(ctx: RunContext, outputs: tuple[str, ...], **protocol: Any) -> dict[str, Raw]:
    """The registry's runner (:mod:`stylegan_eval.metrics.context`): CMMD against ``ctx.options.data``,
    the CLIP network built once per comparison."""
    opts = ctx.options
    if opts.data is None:
        raise ArgumentError("data", f"data is required for {ctx.name or 'cmmd'} (real images or an embeddings file)")
    validate(ctx.generator, opts.data, num_samples=ctx.num_samples, batch_size=ctx.batch_size, **protocol)
    det = ctx.cached(
        f"cmmd-detector:{opts.allow_random_weights}:{ctx.device}",
        lambda: CmmdDetector(None, opts.allow_random_weights, device=ctx.device, download=opts.download),
    )
    res = cmmd(ctx.generator, opts.data, detector=det, **run_options(ctx), **protocol)
    return raws(res, outputs, ctx.num_samples)
