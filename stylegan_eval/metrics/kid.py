"""Kernel Inception Distance (Bińkowski et al., "Demystifying MMD GANs", 2018): the entry point.

:func:`kid` runs FID's pipeline (:mod:`stylegan_eval.metrics.fid`) with KID's estimator
(:mod:`stylegan_eval.metrics.kid_estimator`: the unbiased MMD² under the cubic polynomial
kernel, averaged over 100 subsets of at most 1000 features).
"""

from __future__ import annotations

from typing import Any

from .context import RunContext
from .kid_estimator import MAX_SUBSET_SIZE, NUM_SUBSETS


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
) -> Any:
    """KID of ``generator`` against ``real`` (an image folder / zip or a statistics file with
    features, or FeatureStats holding them); the arguments are those of
    :func:`stylegan_eval.metrics.fid.fid`, with ``num_subsets`` and ``max_subset_size`` for KID's subsets.

    Returns a :class:`~stylegan_eval.metrics.fid.FeatureMetricResult` named 'kid'.
    """
    from .fid import _feature_metric

    return _feature_metric(
        generator,
        real,
        ("kid",),
        num_samples=num_samples,
        seed=seed,
        batch_size=batch_size,
        show_progress=show_progress,
        state=state,
        max_real=max_real,
        detector=detector,
        inception_weights=inception_weights,
        allow_random_weights=allow_random_weights,
        resize=resize,
        method="sqrtm",
        low_rank=False,
        psi=psi,
        noise_mode=noise_mode,
        class_idx=class_idx,
        kid_subsets=num_subsets,
        kid_subset_size=max_subset_size,
        skip_bad=skip_bad,
        num_workers=num_workers,
        cache_dir=cache_dir,
        no_cache=no_cache,
        real_stats=real_stats,
        strict_data=strict_data,
    )


# ------------------------------------------------------------------------------ registered runner
def run_registered(ctx: RunContext, outputs: tuple[str, ...], **protocol: Any) -> dict[str, Any]:
    """The registry's runner (:mod:`stylegan_eval.metrics.context`): KID alone against the
    comparison's shared real statistics (with FID, :func:`stylegan_eval.metrics.fid.run_registered` runs both)."""
    from .real import feature_raws, feature_run_options

    res = kid(
        ctx.generator,
        ctx.options.data,
        state=ctx.state("+".join(outputs)),
        **feature_run_options(ctx, keep_features=True),
        **protocol,
    )
    return feature_raws(res, outputs)
