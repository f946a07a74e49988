"""Fréchet Inception Distance (Heusel et al., "GANs Trained by a Two Time-Scale Update Rule", 2017): the entry point.

:func:`fid` (and :func:`stylegan_eval.metrics.kid.kid`) run the detector on real and generated
images and compare the feature statistics (:mod:`stylegan_eval.metrics.feature_pipeline`); the
distance itself, its two solvers ('eigen', 'sqrtm') and their safeguards are in
:mod:`stylegan_eval.metrics.frechet`. :func:`validate` holds every check of :func:`fid`'s
arguments, for the function and the registered runner alike.
"""

from __future__ import annotations

from typing import Any

from .context import Raw, RunContext
from .feature_pipeline import (
    Estimators,
    FeatureMetricResult,
    FeatureOptions,
    check_method,
    check_options,
    context_options,
    measure,
    measure_in_context,
    protocol_name,
)
from .frechet import FID_METHODS, FIDMethod, fid_from_stats
from .kid_estimator import MAX_SUBSET_SIZE, NUM_SUBSETS, check_subsets

__all__ = [  # with the names of the distance it reports (from frechet)
    "FID_METHODS",
    "FeatureMetricResult",
    "FeatureOptions",
    "fid",
    "fid_from_stats",
    "protocol_name",
    "report_figures",
    "run_registered",
    "validate",
]


# ------------------------------------------------------------------------------ the entry point
def validate(
    generator: Any,
    real: Any,
    options: FeatureOptions,
    *,
    method: str = "eigen",
    kid: bool = False,
    kid_subsets: int = NUM_SUBSETS,
    kid_subset_size: int = MAX_SUBSET_SIZE,
    real_stats: tuple | None = None,
) -> None:
    """Every check of :func:`fid`'s arguments (the shared ones in ``options``, the others by the
    same names), before a detector is built or an image read: ArgumentError naming the first
    argument out of range (``real`` last, unless ``real_stats`` replaces it)."""
    from . import real as real_data

    check_options(generator, options)
    check_method(method)
    if kid:
        check_subsets(kid_subsets, kid_subset_size, names=("kid_subsets", "kid_subset_size"))
    if real_stats is None:
        real_data.validate(real, keep_features=kid)


def fid(
    generator: Any,
    real: Any,
    *,
    num_samples: int = 50_000,
    seed: int = 0,
    batch_size: int | None = None,
    show_progress: bool = False,
    state: Any = None,
    max_real: int | None = None,
    kid: bool = False,
    detector: Any = "pytorch-fid",
    inception_weights: Any = None,
    allow_random_weights: bool = False,
    resize: str = "detector",
    method: FIDMethod = "eigen",
    low_rank: bool = True,
    psi: float = 1.0,
    noise_mode: str = "random",
    class_idx: int | None = None,
    kid_subsets: int = 100,
    kid_subset_size: int = 1000,
    skip_bad: bool = False,
    num_workers: int | None = None,
    cache_dir: Any = None,
    no_cache: bool = False,
    real_stats: tuple | None = None,
    strict_data: bool = False,
) -> FeatureMetricResult:
    """FID of ``generator`` against ``real`` (and KID with ``kid=True``), as the reference computes it.

    Args:
        generator: a :class:`~stylegan_eval.generator.Generator` (eval mode, on its device), or the
            generated images themselves: an image folder or zip, an NCHW tensor (float [-1, 1] or
            uint8) or an iterable of them (:mod:`~stylegan_eval.metrics.image_samples`; every
            image is used, ``num_samples`` and the sampling options are then unused).
        real: an image folder or zip (statistics cached), a statistics file (.npz mu/sigma,
            .pkl mean/cov), a :class:`~stylegan_eval.metrics.stats_cache.FeatureStats` or a
            ``(mu, sigma)`` pair.
        num_samples: generated images (>= 2).
        seed: sampling seed (also the KID subsets' seed).
        batch_size: images per batch (None: by device and resolution).
        show_progress: progress bars on stderr.
        state: a ResumeState or ``(name, fingerprint) -> ResumeState | None`` (asked with "fid").
        max_real: at most this many real images (None: all; subsampling is not implemented).
        kid: also compute KID (needs the real features).
        detector: 'pytorch-fid', 'nvidia', or a detector instance; inception_weights its file.
        allow_random_weights: run the detector at random initialisation when its weights are missing.
        resize: 'detector' or 'clean'.
        method: 'sqrtm' (reference) or 'eigen'.
        low_rank: with 'eigen' and fewer generated images than feature dimensions, take the
            low-rank route (same value up to rounding; the registered runner takes False, the
            route its pinned values were computed with).
        psi, noise_mode, class_idx: generator sampling options.
        kid_subsets, kid_subset_size: KID's subsets (100 of at most 1000).
        skip_bad, num_workers, cache_dir, no_cache: real image decoding and caching.
        real_stats: ``(FeatureStats, info)`` already computed with this detector (shared by ``compare``).
        strict_data: refuse real images whose size differs from the generated ones' (or of mixed
            sizes) instead of warning (ArgumentError naming ``strict_data``).
    """
    options = FeatureOptions.pick(locals())
    subsets = {"kid_subsets": kid_subsets, "kid_subset_size": kid_subset_size}
    validate(generator, real, options, method=method, kid=kid, **subsets, real_stats=real_stats)
    estimators = Estimators(("fid", "kid") if kid else ("fid",), method, low_rank, kid_subsets, kid_subset_size)
    return measure(generator, real, options, estimators, state=state, real_stats=real_stats)


# ------------------------------------------------------------------------------ registered runner
def run_registered(
    ctx: RunContext,
    outputs: tuple[str, ...],
    *,
    low_rank: bool = False,
    kid_subsets: int = NUM_SUBSETS,
    kid_subset_size: int = MAX_SUBSET_SIZE,
    **protocol: Any,
) -> dict[str, Raw]:
    """The registry's runner (:mod:`stylegan_eval.metrics.context`): FID, and KID when it is
    wanted too, from one generated pass against the comparison's shared real statistics.

    ``protocol``: :class:`~stylegan_eval.metrics.feature_pipeline.FeatureOptions` fields (``max_real``,
    ``psi``, ``noise_mode``); ``low_rank`` (see :func:`fid`; off unless the protocol turns it on, as
    the ``fid`` command does), ``kid_subsets`` and ``kid_subset_size`` go to the estimators."""
    from .real import feature_raws

    with_kid = "kid" in outputs
    method = ctx.options.fid_method
    options = context_options(ctx, protocol)
    validate(
        ctx.generator,
        ctx.options.data,
        options,
        method=method,
        kid=with_kid,
        kid_subsets=kid_subsets,
        kid_subset_size=kid_subset_size,
    )
    outs = ("fid", "kid") if with_kid else ("fid",)
    estimators = Estimators(outs, method, low_rank, kid_subsets, kid_subset_size)
    return feature_raws(measure_in_context(ctx, options, estimators, label="+".join(outputs)), outputs)


def report_figures(report: Any, runs: Any = None) -> tuple[list[Any], list[str]]:
    """The registry's ``report_figures`` hook: the FID/KID bars of a ``fid`` report (its rows
    ``metric``, ``value``), drawn by :func:`stylegan_eval.figures.reports.fid_report_figures`."""
    from ..figures.reports import fid_report_figures

    return fid_report_figures(report)
