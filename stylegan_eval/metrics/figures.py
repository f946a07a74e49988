"""The metrics' figures (matplotlib, no display, torch-free): what each metric's
``figures`` / ``report_figures`` hook in the registry draws.

- PPL: overlaid histograms of the per-pair distances (log x axis when heavy-tailed);
- separability: per-attribute H(Y|X) bars;
- FID/KID: value bars.

Every function returns matplotlib ``Figure`` objects; the report layer encodes them.
"""

from __future__ import annotations

import numpy as np

from .intervals import nice


def plain_text(fig) -> None:
    """Show every text of ``fig`` literally: checkpoint names and labels may hold ``$`` or ``\\``,
    which matplotlib would otherwise parse as (possibly invalid) mathtext when laying out."""
    from matplotlib.text import Text

    for t in fig.findobj(Text):
        t.set_parse_math(False)


def new_figure(width: float = 6, height: float = 3.6):
    """A matplotlib Figure on the Agg canvas (no pyplot state, no display) whose texts are never
    mathtext (see :func:`plain_text`), in layout and in every format."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    class PlainTextFigure(Figure):
        def tight_layout(self, *args, **kwargs):
            plain_text(self)
            return super().tight_layout(*args, **kwargs)

        def savefig(self, *args, **kwargs):
            plain_text(self)
            return super().savefig(*args, **kwargs)

    fig = PlainTextFigure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def heavy_tailed(distances: np.ndarray, ratio: float = 50.0) -> bool:
    """Whether positive distances are heavy-tailed enough for a log-x histogram: max / median > ``ratio``."""
    d = np.asarray(distances, float).ravel()
    d = d[np.isfinite(d) & (d > 0)]
    return d.size > 1 and float(d.max()) > ratio * float(np.median(d))


def ppl_histograms(distances: dict[str, dict[str, np.ndarray]]) -> list[tuple[str, object]]:
    """{ppl metric: {checkpoint: per-pair distances}} -> overlaid histograms, one figure per metric.

    Heavy-tailed distances (:func:`heavy_tailed`) get logarithmic bins on a log x axis over
    every positive value; otherwise linear bins up to the 99th percentile (larger values in the last bin).
    """
    figs = []
    for metric, per_ckpt in distances.items():
        fig = new_figure()
        ax = fig.add_subplot()
        all_d = np.concatenate([np.asarray(d, float).ravel() for d in per_ckpt.values()])
        all_d = all_d[np.isfinite(all_d)]
        if all_d.size == 0:
            continue
        log_x = heavy_tailed(all_d)
        if log_x:
            pos = all_d[all_d > 0]
            bins = np.geomspace(pos.min(), pos.max() * (1 + 1e-9), 60)
            clip_lo, clip_hi = pos.min(), None
            ax.set_xscale("log")
            xlabel = "distance / eps^2 (log scale: max / median > 50)"
        else:
            hi = np.percentile(all_d, 99) if all_d.size > 10 else all_d.max()
            bins = np.linspace(all_d.min(), hi if hi > all_d.min() else all_d.min() + 1, 60)
            clip_lo, clip_hi = None, hi
            xlabel = "distance / eps^2 (clipped at the 99th percentile)"
        for label, d in per_ckpt.items():
            d = np.asarray(d, float).ravel()
            d = d[np.isfinite(d)]
            ax.hist(
                np.clip(d, clip_lo, clip_hi), bins=bins, alpha=0.45, label=f"{label} (mean {nice(float(np.mean(d)))})"
            )
        ax.set_xlabel(xlabel)
        ax.set_ylabel("pairs")
        ax.set_title(f"{metric}: per-pair distances")
        ax.legend(fontsize=8)
        figs.append((f"{metric} histograms", fig))
    return figs


def separability_bars(entropies: dict[str, dict[str, dict[str, float]]]) -> list[tuple[str, object]]:
    """{ls metric: {checkpoint: {attribute: H(Y|X) bits}}} -> grouped bars per attribute."""
    figs = []
    for metric, per_ckpt in entropies.items():
        labels = list(per_ckpt)
        attrs = list(dict.fromkeys(a for d in per_ckpt.values() for a in d))
        if not attrs:
            continue
        fig = new_figure()
        fig.set_size_inches(max(6, 0.35 * len(attrs) * max(1, len(labels)) + 2), 3.8)
        ax = fig.add_subplot()
        width = 0.8 / max(1, len(labels))
        x = np.arange(len(attrs))
        for i, label in enumerate(labels):
            ax.bar(
                x + i * width - 0.4 + width / 2,
                [_zero(per_ckpt[label].get(a, np.nan)) for a in attrs],
                width,
                label=label,
            )
        ax.set_xticks(x, attrs, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel("H(Y|X) bits (lower: more separable)")
        ax.set_title(f"{metric}: per-attribute conditional entropy")
        ax.legend(fontsize=8)
        figs.append((f"{metric} per attribute", fig))
    return figs


def _zero(v: float) -> float:
    """Float noise (|v| < 1e-12, e.g. an entropy of 1e-16 bits) as 0."""
    return 0.0 if abs(v) < 1e-12 else v


def fid_figure(values: dict[str, float], title: str):
    """Bars of FID / KID (each on its own axis), values printed on the bars."""
    fig = new_figure()
    names = [k for k, v in values.items() if v is not None and np.isfinite(v)]
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        ax.bar([0], [values[name]], color="tab:blue")
        ax.set_xticks([0], [name])
        ax.set_title(f"{name} = {nice(values[name])}", fontsize=10)
    fig.suptitle(title, fontsize=10)
    return fig


def separability_figure(table, title: str):
    """Per-attribute conditional entropy H(Y|X) in bits, one bar group per space."""
    rows = table[table["attribute"] != "score"] if "attribute" in table.columns else table
    attrs = list(dict.fromkeys(rows["attribute"]))
    spaces = list(dict.fromkeys(rows["space"]))
    fig = new_figure()
    fig.set_size_inches(max(6, 0.3 * len(attrs) * max(1, len(spaces)) + 2), 3.8)
    ax = fig.add_subplot()
    width = 0.8 / max(1, len(spaces))
    x = np.arange(len(attrs))
    for i, s in enumerate(spaces):
        sub = rows[rows["space"] == s].set_index("attribute")["conditional_entropy_bits"].astype(float)
        vals = [0.0 if abs(v) < 1e-12 else v for v in (sub.get(a, np.nan) for a in attrs)]
        ax.bar(x + i * width - 0.4 + width / 2, vals, width, label=f"{s.upper()} space")
    ax.set_xticks(x, attrs, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("H(Y|X) bits (lower: more separable)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    return fig
