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
    "(PPL: bootstrap interval of the mean; FID/KID/LS with --repeats K >= 2: t-interval of the mean on the log scale, "
    "exp(mean(log v) +- t(0.975, K-1) * std(log v) / sqrt(K)), which is never negative; with a non-positive run "
    "(KID can be): mean +- t(0.975, K-1) * std / sqrt(K) with its lower end clipped at 0)"
)

#: How :func:`repeat_interval` built an interval (reports state it).
LOG_T_METHOD = "log-scale t-interval over repeats"
CLIPPED_T_METHOD = "t-interval over repeats, lower end clipped at 0"


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
    """Percentile bootstrap confidence interval of the mean of ``values`` (fixed seed); NaN for
    fewer than 2 values, which have no interval.

    Not ``scipy.stats.bootstrap``: its resampling draws the generator's integers in another
    order (and it defaults to BCa), so it would change every published interval of this
    package; this is the plain percentile method with ``default_rng(seed).integers`` resamples,
    computed in chunks so that memory stays bounded for large sample counts.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    if v.size < 2 or num_resamples <= 0:  # one value: every resample is that value, a zero-width "interval"
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


def repeat_interval(
    values: Sequence[float], level: float = 0.95, nonnegative: bool = True
) -> tuple[float, float, float, str]:
    """(std with ddof 1, low, high, method) of a quantity measured in K >= 2 repeats.

    A non-negative quantity (FID, KID, PPL, separability) gets an interval that respects it:
    when every run is positive, the t-interval of the mean of ``log v`` mapped back with exp
    (so both ends are positive and the interval is wider above than below, as the spread of
    a ratio-scale quantity is); otherwise the plain t-interval with its lower end raised to 0.
    ``nonnegative=False`` returns the plain t-interval. ``std`` is always the std of ``values``.
    """
    std, lo, hi = t_interval(values, level)
    if not nonnegative:
        return std, lo, hi, "t-interval over repeats"
    v = np.asarray([float(x) for x in values])
    if np.all(v > 0):
        _, llo, lhi = t_interval(np.log(v).tolist(), level)
        return std, float(math.exp(llo)), float(math.exp(lhi)), LOG_T_METHOD
    return std, max(0.0, lo), max(0.0, hi), CLIPPED_T_METHOD


def nice(value: float | None, err: float | None = None, digits: int = 4) -> str:
    """A number for people: ``digits`` significant digits, '-' for None/NaN, 0 for float noise.

    With ``err`` (a std or half-width) the error gets 2 significant digits; an error below 1e-9 of the value (rounding noise of
    identical repeats) prints as ``± 0``. Values below 1e-12 in magnitude print as 0 (an
    entropy of 1.1e-16 bits is zero bits).
    """
    if value is None or not math.isfinite(float(value)):
        return "-"
    v = float(value)
    if abs(v) < 1e-12:
        v = 0.0
    if err is None or not math.isfinite(float(err)):
        return f"{v:.{digits}g}"
    e = abs(float(err))
    if e <= 1e-9 * max(abs(v), 1e-12) or e < 1e-12:
        return f"{v:.{digits}g} ± 0"
    return f"{v:.{digits}g} ± {e:.2g}"


def result_repr(kind: str, values: dict[str, str], **extra: object) -> str:
    """The short ``repr`` of a metric result: ``Kind(name=value, ..., key=extra)``, never an array.

    ``values`` maps output names to already formatted numbers (:func:`nice`); ``extra`` entries
    that are None or empty are left out.
    """
    parts = [f"{k}={v}" for k, v in values.items()]
    parts += [
        f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}" for k, v in extra.items() if v not in (None, [], {}, "")
    ]
    return f"{kind}({', '.join(parts)})"


def intervals_overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether the closed intervals ``a`` and ``b`` overlap."""
    return not (b[0] > a[1] or b[1] < a[0])


def significant(base: tuple[float | None, float | None], other: tuple[float | None, float | None]) -> bool | None:
    """The significance rule: True when the two 95% intervals do not overlap (None: an interval is missing)."""
    if None in (*base, *other):
        return None
    return not intervals_overlap((float(base[0]), float(base[1])), (float(other[0]), float(other[1])))  # type: ignore[arg-type]
