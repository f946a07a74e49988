"""A self-contained HTML page for a comparison: tables plus plots embedded as base64 PNG.

Plots (matplotlib, Agg, no display needed):

- every metric per checkpoint as bars with 95% interval error bars where there is an interval
  (FID/KID/LS with --repeats: the log-scale t-interval of the mean; PPL: the bootstrap
  interval); single runs get no error bar;
- overlaid PPL histograms of the per-pair distances, one figure per PPL metric (log x axis
  when the distances are heavy-tailed);
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

from .metrics import figures, registry
from .metrics.intervals import nice

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:1em 0;font-size:0.9em}
th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
.pass{color:#0a7d28;font-weight:bold}.fail{color:#c0392b;font-weight:bold}
.warn{background:#fff3cd;border:1px solid #e0c36c;padding:0.6em}
figure{display:inline-block;margin:0.5em;max-width:100%;vertical-align:top}img{max-width:100%;height:auto}
img.pixels{image-rendering:pixelated}
pre{background:#f6f8fa;padding:0.8em;overflow:auto;font-size:0.8em;white-space:pre-wrap;word-break:break-all}
details{margin:1em 0}summary{cursor:pointer;font-weight:bold}
"""

#: Columns of the long table shown by default (the rest is in the CSV/JSON and under "details").
DEFAULT_COLUMNS = (
    "checkpoint",
    "metric",
    "value",
    "ci95_low",
    "ci95_high",
    "repeats",
    "num_samples",
    "delta_pct",
    "significant",
)


def _figure():
    return figures.new_figure()


plain_text = figures.plain_text


def png_base64(fig) -> str:
    """A matplotlib figure as a base64 PNG string."""
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def array_base64(image: np.ndarray) -> str:
    """A uint8 [H, W, 3] image (``imageops.sample_grid``/``mixing_figure``) as a base64 PNG string."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def metric_bars(table: pd.DataFrame) -> list[tuple[str, str]]:
    """One bar chart per metric: value per checkpoint, with its 95% interval where there is one.

    A bar without an interval (one run of FID/KID/LS) gets no error bar at all, and the title
    says which bars carry one, so that no zero-width cap suggests a certainty that was never measured.
    """
    figs = []
    for metric, sub in table.groupby("metric", sort=False):
        fig = _figure()
        ax = fig.add_subplot()
        x = np.arange(len(sub))
        values = sub["value"].to_numpy(float)
        lo = pd.to_numeric(sub["ci95_low"], errors="coerce").to_numpy(float)
        hi = pd.to_numeric(sub["ci95_high"], errors="coerce").to_numpy(float)
        has = np.isfinite(lo) & np.isfinite(hi)
        colors = ["tab:gray"] + ["tab:blue"] * (len(sub) - 1)
        ax.bar(x, values, color=colors)
        if has.any():
            err = np.vstack([np.maximum(values - lo, 0), np.maximum(hi - values, 0)])[:, has]
            ax.errorbar(x[has], values[has], yerr=err, fmt="none", ecolor="black", capsize=6)
        ax.set_xticks(x, [str(c) for c in sub["checkpoint"]], rotation=15)
        ax.set_ylabel(str(metric))
        better = "lower" if registry.lower_is_better(str(metric)) else "higher"
        if has.all():
            which = "error bars: 95% interval"
        elif has.any():
            which = f"95% interval on {int(has.sum())} of {len(has)} bars"
        else:
            which = "single runs, no interval"
        ax.set_title(f"{metric} ({which}; {better} is better)", fontsize=10)
        figs.append((f"{metric} per checkpoint", png_base64(fig)))
    return figs


def heavy_tailed(distances: np.ndarray, ratio: float = 50.0) -> bool:
    """Whether positive distances are heavy-tailed enough for a log-x histogram (:func:`stylegan_eval.metrics.figures.heavy_tailed`)."""
    return figures.heavy_tailed(distances, ratio)


def ppl_histograms(distances: dict[str, dict[str, np.ndarray]]) -> list[tuple[str, str]]:
    """{ppl metric: {checkpoint: per-pair distances}} -> [(caption, base64 PNG)] (:func:`stylegan_eval.metrics.figures.ppl_histograms`)."""
    return [(caption, png_base64(fig)) for caption, fig in figures.ppl_histograms(distances)]


def separability_bars(entropies: dict[str, dict[str, dict[str, float]]]) -> list[tuple[str, str]]:
    """{ls metric: {checkpoint: {attribute: bits}}} -> [(caption, base64 PNG)] (:func:`stylegan_eval.metrics.figures.separability_bars`)."""
    return [(caption, png_base64(fig)) for caption, fig in figures.separability_bars(entropies)]


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    return nice(float(v), digits=6) if isinstance(v, (float, np.floating)) else str(v)


def table_html(df: pd.DataFrame) -> str:
    """A DataFrame as an HTML table in a horizontally scrolling box (never wider than the page)."""
    shown = df.astype(object).map(_cell) if hasattr(df, "map") else df.astype(object).applymap(_cell)
    return "<div class='scroll'>" + shown.to_html(index=False, escape=True, border=0) + "</div>"


_table_html = table_html


def figure_html(caption: str, b64: str, pixels: bool = False) -> str:
    cls = " class='pixels'" if pixels else ""
    return (
        f"<figure><img{cls} alt='{html.escape(caption, quote=True)}' src='data:image/png;base64,{b64}'>"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def render(
    title: str,
    summary: pd.DataFrame,
    table: pd.DataFrame,
    rules: pd.DataFrame | None,
    figures: Sequence[tuple[str, str]],
    *,
    notes: Sequence[str] = (),
    settings: dict[str, Any] | None = None,
    warning: str | None = None,
    samples: Sequence[tuple[str, str]] = (),
    columns: Sequence[str] | None = DEFAULT_COLUMNS,
) -> str:
    """The HTML page as a string.

    ``samples`` are (caption, base64 PNG) image figures (sample grids, mixing figures), shown
    before the plots; ``table`` is shown with ``columns`` (those present; None: all) and the
    full table, settings and notes sit in collapsed ``<details>``.
    """
    import json

    from .fileio import jsonable

    parts = [
        "<!DOCTYPE html>",
        "<html><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    if warning:
        parts.append(f"<p class='warn'>{html.escape(warning)}</p>")
    parts += ["<h2>Summary</h2>", table_html(summary)]
    if rules is not None and len(rules):
        ok = bool(rules["passed"].all())
        parts.append(
            f"<h2>Rules: <span class='{'pass' if ok else 'fail'}'>{'all passed' if ok else 'FAILED'}</span></h2>"
        )
        r = rules.copy()
        r["passed"] = ["PASS" if p else "FAIL" for p in r["passed"]]
        tbl = (
            table_html(r)
            .replace("<td>PASS</td>", "<td class='pass'>PASS</td>")
            .replace("<td>FAIL</td>", "<td class='fail'>FAIL</td>")
        )
        parts.append(tbl)
    if samples:
        parts.append("<h2>Samples</h2>")
        parts += [figure_html(caption, b64, pixels=True) for caption, b64 in samples]
    if figures:
        parts.append("<h2>Plots</h2>")
        parts += [figure_html(caption, b64) for caption, b64 in figures]
    shown = table if columns is None else table[[c for c in columns if c in table.columns]]
    if table is not summary:
        parts += ["<h2>Results</h2>", table_html(shown)]
    for note in notes:
        parts.append(f"<p>{html.escape(note)}</p>")
    if columns is not None and len(shown.columns) < len(table.columns):
        parts += ["<details><summary>All columns</summary>", table_html(table), "</details>"]
    if settings:
        parts += [
            "<details><summary>Settings</summary>",
            f"<pre>{html.escape(json.dumps(jsonable(settings), indent=2))}</pre>",
            "</details>",
        ]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
