"""A self-contained HTML page for a comparison: tables plus plots embedded as base64 PNG.

Plots (matplotlib, Agg, no display needed):

- every metric per checkpoint as bars with 95% interval error bars (FID/KID with --repeats:
  the t-interval of the mean; PPL: the bootstrap interval);
- overlaid PPL histograms of the per-pair distances, one figure per PPL metric;
- per-attribute separability bars (H(Y|X) in bits), one figure per space.

The page references nothing outside itself (no scripts, fonts or image files).
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .metrics import registry

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
.pass{color:#0a7d28;font-weight:bold}.fail{color:#c0392b;font-weight:bold}
.warn{background:#fff3cd;border:1px solid #e0c36c;padding:0.6em}
figure{display:inline-block;margin:0.5em}img{max-width:100%}
pre{background:#f6f8fa;padding:0.8em;overflow:auto;font-size:0.8em}
"""


def _figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.6), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def png_base64(fig) -> str:
    """A matplotlib figure as a base64 PNG string."""
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def metric_bars(table: pd.DataFrame) -> list[tuple[str, str]]:
    """One bar chart per metric: value per checkpoint with its 95% interval (when known)."""
    figs = []
    for metric, sub in table.groupby("metric", sort=False):
        fig = _figure()
        ax = fig.add_subplot()
        x = np.arange(len(sub))
        values = sub["value"].to_numpy(float)
        lo = sub["ci95_low"].to_numpy(float)
        hi = sub["ci95_high"].to_numpy(float)
        err = np.vstack([np.where(np.isfinite(lo), values - lo, 0), np.where(np.isfinite(hi), hi - values, 0)])
        colors = ["tab:gray"] + ["tab:blue"] * (len(sub) - 1)
        ax.bar(x, values, yerr=err, capsize=6, color=colors)
        ax.set_xticks(x, [str(c) for c in sub["checkpoint"]], rotation=15)
        ax.set_ylabel(str(metric))
        better = "lower" if registry.lower_is_better(str(metric)) else "higher"
        ax.set_title(f"{metric} (error bars: 95% interval; {better} is better)")
        figs.append((f"{metric} per checkpoint", png_base64(fig)))
    return figs


def ppl_histograms(distances: dict[str, dict[str, np.ndarray]]) -> list[tuple[str, str]]:
    """{ppl metric: {checkpoint: per-pair distances}} -> overlaid histograms, one figure per metric."""
    figs = []
    for metric, per_ckpt in distances.items():
        fig = _figure()
        ax = fig.add_subplot()
        all_d = np.concatenate([np.asarray(d, float).ravel() for d in per_ckpt.values()])
        hi = np.percentile(all_d, 99) if all_d.size > 10 else all_d.max()
        bins = np.linspace(all_d.min(), hi if hi > all_d.min() else all_d.min() + 1, 60)
        for label, d in per_ckpt.items():
            ax.hist(np.clip(d, None, hi), bins=bins, alpha=0.45, label=f"{label} (mean {np.mean(d):.4g})")
        ax.set_xlabel("distance / eps^2 (clipped at the 99th percentile)")
        ax.set_ylabel("pairs")
        ax.set_title(f"{metric}: per-pair distances")
        ax.legend(fontsize=8)
        figs.append((f"{metric} histograms", png_base64(fig)))
    return figs


def separability_bars(entropies: dict[str, dict[str, dict[str, float]]]) -> list[tuple[str, str]]:
    """{ls metric: {checkpoint: {attribute: H(Y|X) bits}}} -> grouped bars per attribute."""
    figs = []
    for metric, per_ckpt in entropies.items():
        labels = list(per_ckpt)
        attrs = list(dict.fromkeys(a for d in per_ckpt.values() for a in d))
        if not attrs:
            continue
        fig = _figure()
        fig.set_size_inches(max(6, 0.35 * len(attrs) * max(1, len(labels)) + 2), 3.8)
        ax = fig.add_subplot()
        width = 0.8 / max(1, len(labels))
        x = np.arange(len(attrs))
        for i, label in enumerate(labels):
            ax.bar(x + i * width - 0.4 + width / 2, [per_ckpt[label].get(a, np.nan) for a in attrs], width, label=label)
        ax.set_xticks(x, attrs, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel("H(Y|X) bits (lower: more separable)")
        ax.set_title(f"{metric}: per-attribute conditional entropy")
        ax.legend(fontsize=8)
        figs.append((f"{metric} per attribute", png_base64(fig)))
    return figs


def _table_html(df: pd.DataFrame) -> str:
    return df.to_html(index=False, escape=True, na_rep="", float_format=lambda v: f"{v:.6g}", border=0)


def render(
    title: str,
    summary: pd.DataFrame,
    table: pd.DataFrame,
    rules: pd.DataFrame | None,
    figures: Sequence[tuple[str, str]],
    notes: Sequence[str] = (),
    settings: dict[str, Any] | None = None,
    warning: str | None = None,
) -> str:
    """The HTML page as a string."""
    import json

    from .report import jsonable

    parts = [
        "<!DOCTYPE html>", "<html><head><meta charset='utf-8'>", f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>", f"<h1>{html.escape(title)}</h1>",
    ]
    if warning:
        parts.append(f"<p class='warn'>{html.escape(warning)}</p>")
    parts += ["<h2>Summary</h2>", _table_html(summary)]
    if rules is not None and len(rules):
        ok = bool(rules["passed"].all())
        parts.append(f"<h2>Rules: <span class='{'pass' if ok else 'fail'}'>{'all passed' if ok else 'FAILED'}</span></h2>")
        r = rules.copy()
        r["passed"] = ["PASS" if p else "FAIL" for p in r["passed"]]
        tbl = _table_html(r).replace("<td>PASS</td>", "<td class='pass'>PASS</td>").replace("<td>FAIL</td>", "<td class='fail'>FAIL</td>")
        parts.append(tbl)
    parts.append("<h2>Plots</h2>")
    for caption, b64 in figures:
        parts.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{b64}'><figcaption>{html.escape(caption)}</figcaption></figure>")
    parts += ["<h2>All results</h2>", _table_html(table)]
    for note in notes:
        parts.append(f"<p>{html.escape(note)}</p>")
    if settings:
        parts += ["<h2>Settings</h2>", f"<pre>{html.escape(json.dumps(jsonable(settings), indent=2))}</pre>"]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
