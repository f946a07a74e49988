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


def _bar_group(ax, xs: Sequence[float], bars: Sequence[Bar], colors: Sequence[str] | str, width: float) -> list[float]:
    """Bars at ``xs`` with their usable intervals as error bars and their values printed;
    returns the drawn interval ends (for the axis-scale decision)."""
    ax.bar(xs, [b.value for b in bars], width, color=colors, zorder=2)
    ends: list[float] = []
    for x, b in zip(xs, bars):
        iv = usable_interval(b)[0]
        if iv is not None:
            err = [[max(b.value - iv[0], 0.0)], [max(iv[1] - b.value, 0.0)]]
            ax.errorbar([x], [b.value], yerr=err, fmt="none", ecolor="black", capsize=5, lw=1.2, zorder=3)
            ends += list(iv)
        _value_label(ax, x, b.value)
    return ends


def _scale_axis(ax, values: Sequence[float], ends: Sequence[float]) -> bool:
    """Log axis when the drawn extent is too wide (:func:`_log_axis`), else a linear one from 0 with headroom."""
    if _log_axis(values, ends):
        ax.set_yscale("log")
        return True
    finite = [v for v in (*values, *ends) if math.isfinite(v)]
    top = max(finite + [0.0])
    ax.set_ylim(min(0.0, min(finite + [0.0]) * 1.1), top * 1.18 if top > 0 else 1.0)
    return False


def _draw_bars(ax, metric: str, bars: Sequence[Bar]) -> list[str]:
    """Bars (baseline grey) with the usable intervals on ``ax``; returns the reasons for intervals not drawn."""
    x = np.arange(len(bars))
    colors = [BASELINE_COLOR] + [COLORS[0]] * (len(bars) - 1) if len(bars) > 1 else [COLORS[0]]
    ends = _bar_group(ax, list(x), bars, colors, 0.6)
    log = _scale_axis(ax, [b.value for b in bars], ends)
    few = len(bars) <= 4
    ax.set_xticks(x, [b.label for b in bars], rotation=0 if few else 20, ha="center" if few else "right")
    ax.set_ylabel(axis_label(metric))
    better = _better(metric)
    ax.set_title(f"{metric}" + (f" ({better})" if better else "") + (" - log axis" if log else ""))
    return sorted({reason for reason in (usable_interval(b)[1] for b in bars) if reason})


def _n_text(ns: Sequence[int], unit: str = "samples per run") -> str | None:
    if not ns:
        return None
    return f"{ns[0]} {unit}" if len(ns) == 1 else ", ".join(map(str, ns)) + " samples"


def _finite_panels(panels: Mapping[str, Sequence[Bar]]) -> dict[str, list[Bar]]:
    """The panels' bars with a finite value; panels left empty are dropped."""
    kept = {m: [b for b in bars if math.isfinite(b.value)] for m, bars in panels.items()}
    return {m: bars for m, bars in kept.items() if bars}


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
    panels = _finite_panels(panels)
    if not panels:
        return None
    k = len(panels)
    width = min(WIDTH * 1.6, max(4.8 if k == 1 else 3.4, 1.0 + 0.9 * max(len(b) for b in panels.values())) * k)
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
        n=_n_text(ns),
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
    hi = float(np.percentile(all_d, 99)) if all_d.size > 10 else float(all_d.max())
    lo = float(all_d.min())
    return np.linspace(lo, hi if hi > lo else lo + 1.0, 60), False


def _draw_series(ax, s: PPLSeries, bins: np.ndarray, color: str) -> None:
    """One checkpoint's histogram, its PPL (solid), cut points (dotted) and interval (shaded)."""
    d = np.clip(s.distances, bins[0], bins[-1])
    ax.hist(d, bins=bins, histtype="stepfilled", alpha=0.3, color=color)
    ax.hist(d, bins=bins, histtype="step", color=color, lw=1)
    ci = f" [{nice(s.ci[0])}, {nice(s.ci[1])}]" if s.ci is not None else ""
    ax.axvline(s.mean, color=color, lw=1.6, label=f"{s.label}: PPL {nice(s.mean)}{ci}")  # type: ignore[arg-type]
    for cut in (s.lo, s.hi):
        ax.axvline(cut, color=color, lw=1, ls=":")  # type: ignore[arg-type]
    if s.ci is not None and all(math.isfinite(c) for c in s.ci):
        ax.axvspan(s.ci[0], s.ci[1], color=color, alpha=0.18, lw=0)


def _histogram_caption(
    metric: str, series: Sequence[PPLSeries], seed: int | None, random_weights: Sequence[str]
) -> str:
    counts = sorted({int(s.distances.size) for s in series})
    many = len(series) > 1
    return caption(
        f"Per-pair distances of {metric}" + (f" for {len(series)} checkpoints" if many else ""),
        n=_n_text(counts, "pairs per checkpoint" if many else "pairs"),
        seed=seed,
        interval="solid line: PPL, the mean of the distances between the 1st and 99th percentiles (dotted); "
        + ("shaded: its 95% percentile bootstrap interval" if any(s.ci for s in series) else "no interval"),
        random_weights=random_weights,
    )


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
    log x axis; otherwise 60 linear bins up to the 99th percentile (larger values in the last bin).
    """
    series = [r for r in (s.resolved() for s in series) if r.distances.size]
    if not series:
        return None
    bins, log_x = _ppl_bins(np.concatenate([s.distances for s in series]))
    fig, ax = new_figure(height=3.4)
    for i, s in enumerate(series):
        _draw_series(ax, s, bins, COLORS[i % len(COLORS)])
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel("LPIPS distance / ε² per pair" + (" (log bins: max / median > 50)" if log_x else ""))
    ax.set_ylabel("pairs per bin")
    ax.set_title(f"{metric}: per-pair distances")
    ax.legend(loc="upper right")
    mark_random_weights(fig, random_weights)
    text = _histogram_caption(metric, series, seed, random_weights)
    return Figure(name, text, fig=fig)


def _row_bar(r: Mapping[str, Any]) -> Bar:
    n = _num(r.get("num_samples"))
    repeats = _num(r.get("repeats"))
    return Bar(
        str(r["checkpoint"]),
        float(r["value"]),
        _num(r.get("ci95_low")),
        _num(r.get("ci95_high")),
        int(repeats) if repeats else 1,
        int(n) if n else None,
    )


def _z_vs_w_panel(ax, rows: Sequence[Mapping[str, Any]], labels: Sequence[str], sampling: str) -> list[str]:
    """Z and W bars per checkpoint for one sampling; returns the reasons for intervals not drawn."""
    bars = {(str(r["checkpoint"]), r["space"]): _row_bar(r) for r in rows if r["sampling"] == sampling}
    ends: list[float] = []
    values: list[float] = []
    reasons: list[str] = []
    for j, space in enumerate(("z", "w")):
        placed = [
            (i + (j - 0.5) * 0.38, bars[(label, space)]) for i, label in enumerate(labels) if (label, space) in bars
        ]
        if not placed:
            continue
        xs, group = [x for x, _ in placed], [b for _, b in placed]
        ends += _bar_group(ax, xs, group, SPACE_COLORS[space], 0.36)
        ax.patches[-1].set_label(f"{space.upper()} space")
        values += [b.value for b in group]
        reasons += [
            f"{b.label} {space.upper()} {sampling}: {usable_interval(b)[1]}" for b in group if usable_interval(b)[1]
        ]
    _scale_axis(ax, values, ends)
    ax.set_xticks(range(len(labels)), labels)
    ax.set_title({"full": "full paths (t ~ U[0, 1))", "end": "path ends (t = 0)"}[sampling])
    ax.set_ylabel("PPL [LPIPS distance / ε²]")
    return reasons


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
    reasons = [reason for ax, sampling in zip(axes, samplings) for reason in _z_vs_w_panel(ax, rows, labels, sampling)]
    handles = [h for h in axes[0].patches if not h.get_label().startswith("_")]
    fig.legend(handles, [h.get_label() for h in handles], loc="outside lower center", ncols=2)
    mark_random_weights(fig, random_weights)
    ns = sorted({int(r["num_samples"]) for r in rows if _num(r.get("num_samples"))})
    text = caption(
        "Perceptual path length in Z and W (lower: smoother latent space); separate panels for full paths and path ends",
        n=_n_text(ns, "pairs per variant"),
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
def _entropy_panel(
    ax,
    per_space: Mapping[str, Mapping[str, float]],
    attrs: Sequence[str],
    spaces: Sequence[str],
    scores: Mapping[str, float],
) -> None:
    """Horizontal H(Y|X) bars of one checkpoint: a group per attribute, one bar per space, values printed."""
    y = np.arange(len(attrs))
    step = 0.8 / max(1, len(spaces))
    for j, space in enumerate(spaces):
        vals = [_zero(per_space.get(space, {}).get(a, np.nan)) for a in attrs]
        score = scores.get(space)
        legend = f"{space.upper()} space" + (f" (score {nice(score)})" if score is not None else "")
        ys = y - 0.4 + step * (j + 0.5)
        ax.barh(ys, vals, step * 0.95, color=SPACE_COLORS.get(space, COLORS[j]), label=legend)
        for yy, v in zip(ys, vals):  # a zero-length bar is a result (H = 0), not a missing one
            finite = bool(np.isfinite(v))
            ax.annotate(
                nice(v) if finite else "-",
                (v if finite else 0, yy),
                textcoords="offset points",
                xytext=(3, 0),
                va="center",
                fontsize=7,
            )
    ax.set_yticks(y, attrs)
    if not ax.yaxis_inverted():  # first attribute on top; panels share the y axis, so invert it once
        ax.invert_yaxis()
    ax.set_xlim(0, 1.0)
    ax.grid(axis="x", alpha=0.35, ls=":")
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("H(Y|X) [bits] (0 = linearly separable)")


def _has_entropy(entropies: Mapping[str, Mapping[str, Mapping[str, float]]]) -> bool:
    """Whether some entropy is finite and not 0 (otherwise the chart would be empty)."""
    values = [v for per in entropies.values() for s in per.values() for v in s.values()]
    return any(math.isfinite(v) and abs(v) >= 1e-12 for v in values)


def _attributes_and_spaces(entropies: Mapping[str, Mapping[str, Mapping[str, float]]]) -> tuple[list[str], list[str]]:
    attrs = list(dict.fromkeys(a for per in entropies.values() for s in per.values() for a in s))
    found = {s for per in entropies.values() for s in per}
    return attrs, [s for s in ("z", "w") if s in found] or sorted(found)


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
    if not _has_entropy(entropies):
        return None
    labels = list(entropies)
    attrs, spaces = _attributes_and_spaces(entropies)
    height = min(14.0, 1.2 + 0.28 * len(attrs) * len(spaces))
    fig, axes = new_figure(
        ncols=len(labels), width=min(WIDTH * 1.6, 3.4 + 2.6 * len(labels)), height=height, sharey=True
    )
    axes = np.atleast_1d(axes)
    for ax, label in zip(axes, labels):
        _entropy_panel(ax, entropies[label], attrs, spaces, (scores or {}).get(label, {}))
        if len(labels) > 1:  # each checkpoint's scores in its own legend
            ax.set_title(label)
            ax.legend(loc="lower right")
    if len(labels) == 1:
        axes[0].set_title("conditional entropy per attribute")
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
