"""Kernel Inception Distance (Bińkowski et al., "Demystifying MMD GANs", 2018): the entry point.

:func:`kid` runs FID's pipeline (:mod:`stylegan_eval.metrics.feature_pipeline`) with KID's estimator
(:mod:`stylegan_eval.metrics.kid_estimator`: the unbiased MMD² under the cubic polynomial
kernel, averaged over 100 subsets of at most 1000 features). :func:`validate` holds every check
of :func:`kid`'s arguments, for the function and the registered runner alike.
"""

from __future__ import annotations

from typing import Any

from .context import Raw, RunContext
from .feature_pipeline import (
    Estimators,
    FeatureMetricResult,
    FeatureOptions,
    check_options,
    context_options,
    measure,
    measure_in_context,
)
from .kid_estimator import MAX_SUBSET_SIZE, NUM_SUBSETS, check_subsets


def _estimators(num_subsets: int = NUM_SUBSETS, max_subset_size: int = MAX_SUBSET_SIZE) -> Estimators:
    """KID alone; the pipeline's FID settings are fixed (reported in the settings, never fingerprinted)."""
    return Estimators(("kid",), "sqrtm", False, num_subsets, max_subset_size)


def validate(
    generator: Any,
    real: Any,
    options: FeatureOptions,
    *,
    num_subsets: int = NUM_SUBSETS,
    max_subset_size: int = MAX_SUBSET_SIZE,
    real_stats: tuple | None = None,
) -> None:
    """Every check of :func:`kid`'s arguments (the shared ones in ``options``, the others by the
    same names), before a detector is built or an image read: ArgumentError naming the first
    argument out of range (``real`` last, unless ``real_stats`` replaces it)."""
    from . import real as real_data

    check_options(generator, options)
    check_subsets(num_subsets, max_subset_size)
    if real_stats is None:
        real_data.validate(real, keep_features=True)


def kid(
    generator: Any,
    real: Any,
    *,
    num_samples: int = 50_000,
    seed: int = 0,
    batch_size: int | None = None,
    show_progress: bool = False,
    state: Any = None,
    max_real: int | None = None,
    detector: Any = "pytorch-fid",
    inception_weights: Any = None,
    allow_random_weights: bool = False,
    resize: str = "detector",
    psi: float = 1.0,
    noise_mode: str = "random",
    class_idx: int | None = None,
    num_subsets: int = NUM_SUBSETS,
    max_subset_size: int = MAX_SUBSET_SIZE,
    skip_bad: bool = False,
    num_workers: int | None = None,
    cache_dir: Any = None,
    no_cache: bool = False,
    real_stats: tuple | None = None,
    strict_data: bool = False,
) -> FeatureMetricResult:
    """KID of ``generator`` against ``real`` (an image folder / zip or a statistics file with
    features, or FeatureStats holding them); the arguments are those of
    :func:`stylegan_eval.metrics.fid.fid` (:class:`~stylegan_eval.metrics.feature_pipeline.FeatureOptions`
    documents the shared ones), with ``num_subsets`` and ``max_subset_size`` for KID's subsets.

    Returns a :class:`~stylegan_eval.metrics.fid.FeatureMetricResult` named 'kid'.
    """
    options = FeatureOptions.pick(locals())
    validate(generator, real, options, num_subsets=num_subsets, max_subset_size=max_subset_size, real_stats=real_stats)
    return measure(
        generator, real, options, _estimators(num_subsets, max_subset_size), state=state, real_stats=real_stats
    )


# ------------------------------------------------------------------------------ registered runner
def run_registered(ctx: RunContext, outputs: tuple[str, ...], **protocol: Any) -> dict[str, Raw]:
    """The registry's runner (:mod:`stylegan_eval.metrics.context`): KID alone against the
    comparison's shared real statistics (with FID, :func:`stylegan_eval.metrics.fid.run_registered` runs both)."""
    from .real import feature_raws

    options = context_options(ctx, protocol)
    validate(ctx.generator, ctx.options.data, options)
    return feature_raws(measure_in_context(ctx, options, _estimators(), label="+".join(outputs)), outputs)
