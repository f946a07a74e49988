"""Uncertainty of a metric: the percentile cut, the bootstrap and t-intervals, the significance rule.

One place for the statistics every caller shares: :mod:`stylegan_eval.metrics.ppl` cuts its
outliers and bootstraps its mean here, and ``compare`` aggregates repeats and decides
significance here. Only numpy and scipy; no torch.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

#: The rule ``compare`` applies (also printed in its reports).
SIGNIFICANCE_RULE = (
    "a difference from the baseline is significant when the two 95% intervals do not overlap "
    "(PPL: bootstrap interval of the mean; FID/KID/LS with --repeats K >= 2: mean +- t(0.975, K-1) * std / sqrt(K))"
)


def percentile_bounds(values: np.ndarray, lower: float = 1.0, upper: float = 99.0) -> tuple[float, float]:
    """(percentile ``lower`` with numpy method 'lower', percentile ``upper`` with method 'higher').

    Both are sample values: the floor and the ceiling of the virtual index (n - 1) * q / 100 of
    the sorted values, as NVIDIA's reference cuts PPL's outliers.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0:
        raise ValueError("values must not be empty")
    lo = np.percentile(v, lower, method="lower")
    hi = np.percentile(v, upper, method="higher")
    return float(lo), float(hi)


def filter_outliers(values: np.ndarray, lower: float = 1.0, upper: float = 99.0) -> tuple[np.ndarray, float, float]:
    """The values with lo <= v <= hi (cut points from :func:`percentile_bounds`), lo, hi."""
    v = np.asarray(values, dtype=np.float64).ravel()
    lo, hi = percentile_bounds(v, lower, upper)
    return v[(v >= lo) & (v <= hi)], lo, hi


def bootstrap_ci(
    values: np.ndarray, num_resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of ``values`` (fixed seed).

    Not ``scipy.stats.bootstrap``: its resampling draws the generator's integers in another
    order (and it defaults to BCa), so it would change every published interval of this
    package; this is the plain percentile method with ``default_rng(seed).integers`` resamples,
    computed in chunks so that memory stays bounded for large sample counts.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size == 0 or num_resamples <= 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = np.empty(num_resamples)
    chunk = max(1, 4_000_000 // v.size)
    for start in range(0, num_resamples, chunk):
        stop = min(num_resamples, start + chunk)
        means[start:stop] = v[rng.integers(0, v.size, size=(stop - start, v.size))].mean(axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return float(lo), float(hi)


def t_interval(values: Sequence[float], level: float = 0.95) -> tuple[float, float, float]:
    """(std with ddof 1, low, high) of the mean of ``values``: mean +- t(level, K - 1) * std / sqrt(K); K >= 2."""
    from scipy import stats

    v = [float(x) for x in values]
    k = len(v)
    if k < 2:
        raise ValueError(f"values must hold at least 2 runs, got {k}")
    mean = float(np.mean(v))
    std = float(np.std(v, ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, k - 1)) * std / math.sqrt(k)
    return std, mean - half, mean + half


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether the closed intervals ``a`` and ``b`` overlap."""
    return not (b[0] > a[1] or b[1] < a[0])


def significant(base: tuple[float | None, float | None], other: tuple[float | None, float | None]) -> bool | None:
    """The significance rule: True when the two 95% intervals do not overlap (None: an interval is missing)."""
    if None in (*base, *other):
        return None
    return not intervals_overlap((float(base[0]), float(base[1])), (float(other[0]), float(other[1])))  # type: ignore[arg-type]
