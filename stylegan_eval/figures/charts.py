"""Charts of metric results: values with intervals, PPL histograms, Z vs W PPL, per-attribute separability.

Rules every chart follows:

- axes say what is plotted and in which unit (:func:`axis_label`), the caption states n, the
  seed and what the interval is (:func:`stylegan_eval.figures.style.caption`), and a figure
  computed with random detector weights is stamped so;
- an interval is drawn only when it means something: a bootstrap interval (PPL) or a
  t-interval over at least :data:`MIN_REPEATS` repeats; with fewer, none is drawn and the
  caption says why (:func:`usable_interval`);
- one wide interval never flattens a chart: when the drawn extent spans more than
  :data:`LOG_SPREAD` times the smallest value, the axis becomes logarithmic;
- a chart with nothing to show (every value 0 or missing) is not drawn: the functions return
  None and the report carries the note instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from ..metrics.intervals import filter_outliers, nice
from .style import BASELINE_COLOR, COLORS, SPACE_COLORS, WIDTH, Figure, caption, mark_random_weights, new_figure

#: A t-interval from fewer repeats is not drawn: with K = 2, t(0.975, 1) = 12.7 makes it span
#: orders of magnitude on the log scale (e.g. FID [2.6e-05, 11189] around 0.7).
MIN_REPEATS = 3
#: Drawn extent (largest interval end or value / smallest positive value) above which the axis is logarithmic.
LOG_SPREAD = 30.0
#: PPL histograms use log bins when max / median of the distances exceeds this (heavy tails).
HEAVY_TAIL_RATIO = 50.0

#: Axis label (quantity [unit]) by metric name prefix; the first match wins.
_AXIS_LABELS = (
    ("ppl", "PPL [LPIPS distance / ε²]"),
    ("ls", "separability score [2^ΣH, 1 = separable]"),
    ("fid", "FID [squared Inception-feature distance]"),
    ("kid", "KID [squared MMD, Inception features]"),
    ("fd_dinov2", "FD [squared DINOv2-feature distance]"),
    ("fd_clip", "FD [squared CLIP-feature distance]"),
    ("fd", "Fréchet distance [squared feature distance]"),
    ("is", "Inception Score [exp(KL), 1 to #classes]"),
    ("eqt", "EQ-T [PSNR, dB]"),
    ("eqr", "EQ-R [PSNR, dB]"),
    ("pr", "fraction [0-1]"),
    ("precision", "precision [fraction, 0-1]"),
    ("recall", "recall [fraction, 0-1]"),
    ("density", "density [0-∞, 1 = matched]"),
    ("coverage", "coverage [fraction, 0-1]"),
)


def axis_label(metric: str) -> str:
    """'ppl_wend' -> 'ppl_wend: PPL [LPIPS distance / ε²]'; unknown names are returned as they are."""
    m = metric.lower()
    for prefix, text in _AXIS_LABELS:
        if m.startswith(prefix):
            return f"{metric}: {text}"
    return metric


def _better(metric: str) -> str:
    from ..metrics import registry

    try:
        return "lower is better" if registry.lower_is_better(metric) else "higher is better"
    except Exception:  # noqa: BLE001 - a name outside the registry simply gets no direction
        return ""


@dataclass
class Bar:
    """One value of one checkpoint: the mean, its 95% interval (or None), repeats and sample count."""

    label: str
    value: float
    lo: float | None = None
    hi: float | None = None
    repeats: int = 1
    n: int | None = None


def usable_interval(bar: Bar) -> tuple[tuple[float, float] | None, str]:
    """(lo, hi) when ``bar``'s interval can be drawn, else None; and the reason when it cannot ('' otherwise)."""
    finite = all(v is not None and math.isfinite(v) for v in (bar.lo, bar.hi))
    if bar.repeats >= 2 and bar.repeats < MIN_REPEATS:
        return None, (
            f"{bar.repeats} repeats give no usable 95% interval (a t-interval needs at least {MIN_REPEATS}); none drawn"
        )
    if not finite:
        return None, "single run: no interval" if bar.repeats <= 1 else "no interval"
    return (float(bar.lo), float(bar.hi)), ""  # type: ignore[arg-type]


def interval_notes(table) -> list[str]:
    """One note per metric whose repeats are too few for a usable interval (the reports state it
    instead of drawing an interval that spans orders of magnitude)."""
    if table is None or not hasattr(table, "columns") or not {"metric", "repeats"} <= set(table.columns):
        return []
    notes = []
    for metric, sub in table.groupby("metric", sort=False):
        k = [int(r) for r in sub["repeats"] if r is not None and r == r and 2 <= int(r) < MIN_REPEATS]
        if k:
            notes.append(
                f"{metric}: {k[0]} repeats give no usable 95% interval (a t-interval needs at least {MIN_REPEATS} "
                f"repeats; t(0.975, {k[0] - 1}) = {_t975(k[0] - 1):.1f}); no interval is drawn"
            )
    return notes


def _t975(df: int) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, df))


def _log_axis(values: Sequence[float], ends: Sequence[float]) -> bool:
    """Whether the drawn extent (values and interval ends) is too wide for a linear axis."""
    pos = [v for v in (*values, *ends) if v is not None and math.isfinite(v) and v > 0]
    lo_v = [v for v in values if v is not None and math.isfinite(v) and v > 0]
    return bool(pos and lo_v) and max(pos) > LOG_SPREAD * min(lo_v)


def _interval_words(bars: Sequence[Bar]) -> str:
    kinds = {("bootstrap" if b.repeats <= 1 else "repeats") for b in bars if usable_interval(b)[0] is not None}
    if kinds == {"bootstrap"}:
        return "error bars: 95% percentile bootstrap interval of the mean"
    if kinds == {"repeats"}:
        return "error bars: 95% log-scale t-interval over repeats"
    if kinds:
        return "error bars: 95% bootstrap interval (single runs) or t-interval over repeats"
    return ""


def _draw_bars(ax, metric: str, bars: Sequence[Bar]) -> list[str]:
    """Bars (baseline grey) with the usable intervals on ``ax``; returns the reasons for intervals not drawn."""
    x = np.arange(len(bars))
    values = np.array([b.value for b in bars], float)
    colors = [BASELINE_COLOR] + [COLORS[0]] * (len(bars) - 1) if len(bars) > 1 else [COLORS[0]]
    shown = [usable_interval(b) for b in bars]
    ends = [e for iv, _ in shown if iv is not None for e in iv]
    log = _log_axis(list(values), ends)
    if log:
        ax.set_yscale("log")
    ax.bar(x, values, color=colors, width=0.6, zorder=2)
    for i, (iv, _) in enumerate(shown):
        if iv is not None:
            err = [[max(values[i] - iv[0], 0.0)], [max(iv[1] - values[i], 0.0)]]
            ax.errorbar([x[i]], [values[i]], yerr=err, fmt="none", ecolor="black", capsize=5, lw=1.2, zorder=3)
        _value_label(ax, x[i], values[i])
    ax.set_xticks(x, [b.label for b in bars], rotation=0 if len(bars) <= 4 else 20, ha="center" if len(bars) <= 4 else "right")
    ax.set_ylabel(axis_label(metric))
    if not log:
        top = max([v for v in (*values, *ends) if math.isfinite(v)] + [0.0])
        ax.set_ylim(min(0.0, float(np.nanmin(values)) * 1.1), top * 1.18 if top > 0 else 1.0)
    better = _better(metric)
    ax.set_title(f"{metric}" + (f" ({better})" if better else "") + (" - log axis" if log else ""))
    return sorted({reason for iv, reason in shown if iv is None and reason})


def metric_chart(
    panels: Mapping[str, Sequence[Bar]],
    *,
    name: str,
    seed: int | None = None,
    random_weights: Sequence[str] = (),
    what: str | None = None,
) -> Figure | None:
    """One panel per metric (bars per checkpoint, the first grey as the baseline) with the usable intervals.

    Args:
        panels: metric name -> bars (one per checkpoint); metrics without a finite value are left out.
        name: file stem of the figure.
        seed: sampling seed (caption).
        random_weights: networks at random initialisation (stamp and caption).
        what: the caption's first sentence (default: the metrics per checkpoint).
    """
    panels = {m: [b for b in bars if math.isfinite(b.value)] for m, bars in panels.items()}
    panels = {m: bars for m, bars in panels.items() if bars}
    if not panels:
        return None
    k = len(panels)
    width = min(WIDTH * 1.6, max(3.4, 1.0 + 0.9 * max(len(b) for b in panels.values())) * k)
    fig, axes = new_figure(ncols=k, width=width, height=3.3)
    axes = np.atleast_1d(axes)
    reasons: list[str] = []
    for ax, (metric, bars) in zip(axes, panels.items()):
        reasons += [f"{metric}: {r}" for r in _draw_bars(ax, metric, bars)]
    mark_random_weights(fig, random_weights)
    all_bars = [b for bars in panels.values() for b in bars]
    ns = sorted({b.n for b in all_bars if b.n})
    interval = _interval_words(all_bars)
    fig_caption = caption(
        what or f"{', '.join(panels)} per checkpoint" + (" (grey: the baseline)" if len(all_bars) > k else ""),
        n=(f"{ns[0]} samples per run" if len(ns) == 1 else ", ".join(map(str, ns)) + " samples") if ns else None,
        seed=seed,
        interval=interval or None,
        random_weights=random_weights,
        extra=reasons,
    )
    return Figure(name, fig_caption, fig=fig)


# ------------------------------------------------------------------------------ PPL
def heavy_tailed(distances: np.ndarray, ratio: float = HEAVY_TAIL_RATIO) -> bool:
    """Whether positive distances are heavy-tailed enough for log bins: max / median > ``ratio``."""
    d = np.asarray(distances, float).ravel()
    d = d[np.isfinite(d) & (d > 0)]
    return d.size > 1 and float(d.max()) > ratio * float(np.median(d))


@dataclass
class PPLSeries:
    """The per-pair distances of one checkpoint, with the statistics the report states.

    ``mean``/``lo``/``hi`` default to the metric's own filtered mean and cut points (values
    between the 1st and 99th percentiles); ``ci`` is the 95% bootstrap interval of that mean.
    """

    label: str
    distances: np.ndarray
    mean: float | None = None
    lo: float | None = None
    hi: float | None = None
    ci: tuple[float, float] | None = None

    def resolved(self) -> PPLSeries:
        d = np.asarray(self.distances, float).ravel()
        d = d[np.isfinite(d)]
        if self.mean is None or self.lo is None or self.hi is None:
            kept, lo, hi = filter_outliers(d)
            return PPLSeries(self.label, d, float(np.mean(kept)), lo, hi, self.ci)
        return PPLSeries(self.label, d, self.mean, self.lo, self.hi, self.ci)


def _ppl_bins(all_d: np.ndarray) -> tuple[np.ndarray, bool]:
    if heavy_tailed(all_d):
        pos = all_d[all_d > 0]
        return np.geomspace(pos.min(), pos.max() * (1 + 1e-9), 60), True
    hi = float(np.percentile(all_d, 99.9)) if all_d.size > 10 else float(all_d.max())
    lo = float(all_d.min())
    return np.linspace(lo, hi if hi > lo else lo + 1.0, 60), False


def ppl_histogram(
    metric: str,
    series: Sequence[PPLSeries],
    *,
    name: str = "ppl_hist",
    seed: int | None = None,
    random_weights: Sequence[str] = (),
) -> Figure | None:
    """Overlaid histograms of per-pair PPL distances, one per checkpoint, with each one's cut points
    (dotted), PPL (solid; the filtered mean the table reports) and its 95% interval (shaded).

    Heavy-tailed distances (max / median > :data:`HEAVY_TAIL_RATIO`) get logarithmic bins on a
    log x axis; otherwise 60 linear bins up to the 99.9th percentile (larger values in the last bin).
    """
    series = [s.resolved() for s in series if np.asarray(s.distances).size]
    series = [s for s in series if s.distances.size]
    if not series:
        return None
    all_d = np.concatenate([s.distances for s in series])
    bins, log_x = _ppl_bins(all_d)
    fig, ax = new_figure(height=3.4)
    for i, s in enumerate(series):
        color = COLORS[i % len(COLORS)]
        d = np.clip(s.distances, bins[0], bins[-1])
        ax.hist(d, bins=bins, histtype="stepfilled", alpha=0.3, color=color)
        ax.hist(d, bins=bins, histtype="step", color=color, lw=1)
        ci = f" [{nice(s.ci[0])}, {nice(s.ci[1])}]" if s.ci is not None else ""
        ax.axvline(s.mean, color=color, lw=1.6, label=f"{s.label}: PPL {nice(s.mean)}{ci}")  # type: ignore[arg-type]
        for cut in (s.lo, s.hi):
            ax.axvline(cut, color=color, lw=1, ls=":")  # type: ignore[arg-type]
        if s.ci is not None and all(math.isfinite(c) for c in s.ci):
            ax.axvspan(s.ci[0], s.ci[1], color=color, alpha=0.18, lw=0)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel("LPIPS distance / ε² per pair" + (" (log bins: max / median > 50)" if log_x else ""))
    ax.set_ylabel("pairs per bin")
    ax.set_title(f"{metric}: per-pair distances")
    ax.legend(loc="upper right")
    mark_random_weights(fig, random_weights)
    counts = sorted({int(s.distances.size) for s in series})
    text = caption(
        f"Per-pair distances of {metric}" + (f" for {len(series)} checkpoints" if len(series) > 1 else ""),
        n=f"{counts[0]} pairs" + (" per checkpoint" if len(series) > 1 else "")
        if len(counts) == 1
        else ", ".join(map(str, counts)) + " pairs",
        seed=seed,
        interval="solid line: PPL, the mean of the distances between the 1st and 99th percentiles (dotted); "
        + ("shaded: its 95% percentile bootstrap interval" if any(s.ci for s in series) else "no interval"),
        random_weights=random_weights,
    )
    return Figure(name, text, fig=fig)


def ppl_z_vs_w(
    rows: Sequence[Mapping[str, Any]],
    *,
    name: str = "ppl_z_vs_w",
    seed: int | None = None,
    random_weights: Sequence[str] = (),
) -> Figure | None:
    """PPL in Z and W side by side, one panel per sampling (full paths, path ends), with 95% intervals.

    Args:
        rows: dicts with ``checkpoint``, ``space`` ('z'/'w'), ``sampling`` ('full'/'end'),
            ``value``, ``ci95_low``, ``ci95_high`` and optionally ``repeats``, ``num_samples``.
            Drawn only when some sampling has both spaces.
    """
    samplings = [s for s in ("full", "end") if {r["space"] for r in rows if r["sampling"] == s} >= {"z", "w"}]
    if not samplings:
        return None
    labels = list(dict.fromkeys(str(r["checkpoint"]) for r in rows))
    fig, axes = new_figure(ncols=len(samplings), width=min(WIDTH * 1.4, 3.0 + 1.6 * len(samplings) * len(labels)))
    axes = np.atleast_1d(axes)
    reasons: list[str] = []
    for ax, sampling in zip(axes, samplings):
        sub = [r for r in rows if r["sampling"] == sampling]
        bars = {
            (str(r["checkpoint"]), r["space"]): Bar(
                str(r["checkpoint"]),
                float(r["value"]),
                _num(r.get("ci95_low")),
                _num(r.get("ci95_high")),
                int(r.get("repeats") or 1),
                r.get("num_samples"),
            )
            for r in sub
        }
        ends, values = [], []
        for j, space in enumerate(("z", "w")):
            xs, vs, errs = [], [], []
            for i, label in enumerate(labels):
                b = bars.get((label, space))
                if b is None:
                    continue
                iv, reason = usable_interval(b)
                if reason:
                    reasons.append(f"{label} {space.upper()} {sampling}: {reason}")
                xs.append(i + (j - 0.5) * 0.38)
                vs.append(b.value)
                errs.append((b.value - iv[0], iv[1] - b.value) if iv else (np.nan, np.nan))
                ends += list(iv or [])
            values += vs
            err = np.array(errs, float).T.clip(min=0) if errs else None
            ax.bar(xs, vs, 0.36, color=SPACE_COLORS[space], label=f"{space.upper()} space", zorder=2)
            if err is not None and np.isfinite(err).any():
                ax.errorbar(xs, vs, yerr=np.nan_to_num(err), fmt="none", ecolor="black", capsize=4, lw=1.1, zorder=3)
            for x, v in zip(xs, vs):
                _value_label(ax, x, v)
        if _log_axis(values, ends):
            ax.set_yscale("log")
        ax.set_xticks(range(len(labels)), labels)
        ax.set_title({"full": "full paths (t ~ U[0, 1))", "end": "path ends (t = 0)"}[sampling])
        ax.set_ylabel("PPL [LPIPS distance / ε²]")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2)
    mark_random_weights(fig, random_weights)
    ns = sorted({int(r["num_samples"]) for r in rows if r.get("num_samples")})
    text = caption(
        "Perceptual path length in Z and W (lower: smoother latent space); separate panels for full paths and path ends",
        n=f"{ns[0]} pairs per variant" if len(ns) == 1 else None,
        seed=seed,
        interval="error bars: 95% percentile bootstrap interval of the filtered mean",
        random_weights=random_weights,
        extra=sorted(set(reasons)),
    )
    return Figure(name, text, fig=fig)


def _value_label(ax, x: float, v: float) -> None:
    """The value printed just right of the top of its bar (clear of the error bar's cap)."""
    ax.annotate(nice(float(v)), (x, v), textcoords="offset points", xytext=(7, 2), ha="left", fontsize=7.5)


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


# ------------------------------------------------------------------------------ separability
def separability_chart(
    entropies: Mapping[str, Mapping[str, Mapping[str, float]]],
    *,
    scores: Mapping[str, Mapping[str, float]] | None = None,
    name: str = "separability_entropy",
    n: int | str | None = None,
    seed: int | None = None,
    random_weights: Sequence[str] = (),
) -> Figure | None:
    """Per-attribute conditional entropy H(Y|X) in bits, Z and W bars side by side, one panel per checkpoint.

    Args:
        entropies: checkpoint -> space ('z'/'w') -> attribute -> H(Y|X) in bits [0, 1].
        scores: checkpoint -> space -> separability score (legend), optional.
        n: samples (caption). Returns None when every entropy is 0 or missing (nothing to draw).
    """
    values = [v for per in entropies.values() for s in per.values() for v in s.values()]
    if not any(math.isfinite(v) and abs(v) >= 1e-12 for v in values):
        return None
    labels = list(entropies)
    attrs = list(dict.fromkeys(a for per in entropies.values() for s in per.values() for a in s))
    spaces = [s for s in ("z", "w") if any(s in per for per in entropies.values())] or sorted(
        {s for per in entropies.values() for s in per}
    )
    height = 1.2 + 0.28 * len(attrs) * max(1, len(spaces))
    fig, axes = new_figure(
        ncols=len(labels), width=min(WIDTH * 1.6, 3.4 + 2.6 * len(labels)), height=min(height, 14), sharey=True
    )
    axes = np.atleast_1d(axes)
    y = np.arange(len(attrs))
    step = 0.8 / max(1, len(spaces))
    for ax, label in zip(axes, labels):
        for j, space in enumerate(spaces):
            per_attr = entropies[label].get(space, {})
            vals = [_zero(per_attr.get(a, np.nan)) for a in attrs]
            score = (scores or {}).get(label, {}).get(space)
            legend = f"{space.upper()} space" + (f" (score {nice(score)})" if score is not None else "")
            ys = y - 0.4 + step * (j + 0.5)
            ax.barh(ys, vals, step * 0.95, color=SPACE_COLORS.get(space, COLORS[j]), label=legend)
            for yy, v in zip(ys, vals):  # a zero-length bar is a result (H = 0), not a missing one
                ax.annotate(nice(v) if np.isfinite(v) else "-", (v if np.isfinite(v) else 0, yy), textcoords="offset points", xytext=(3, 0), va="center", fontsize=7)
        ax.set_yticks(y, attrs)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.0)
        ax.grid(axis="x", alpha=0.35, ls=":")
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("H(Y|X) [bits] (0 = linearly separable)")
        ax.set_title(label if len(labels) > 1 else "conditional entropy per attribute")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=len(spaces))
    mark_random_weights(fig, random_weights)
    text = caption(
        "Linear separability per attribute: conditional entropy of the classifier's label given a linear SVM on the "
        "latent, Z and W side by side; the score is 2 to the sum of H",
        n=n,
        seed=seed,
        interval="single run per space, no interval",
        random_weights=random_weights,
    )
    return Figure(name, text, fig=fig)


def _zero(v: float) -> float:
    """Float noise (|v| < 1e-12, e.g. an entropy of 1e-16 bits) as 0."""
    return 0.0 if abs(v) < 1e-12 else float(v)
