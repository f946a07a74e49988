"""A self-contained HTML page of a report: tables, notes, sample grids and charts embedded as base64 PNG.

The charts come from :mod:`stylegan_eval.figures` (one style for every report):

- every metric per checkpoint as bars with its 95% interval where the interval is usable
  (PPL: the bootstrap interval; FID/KID/LS with --repeats K >= 3: the log-scale t-interval of
  the mean); none drawn otherwise, and the caption says why; a log axis when one interval
  would flatten the chart;
- overlaid PPL histograms of the per-pair distances with each checkpoint's PPL, cut points and
  interval, and PPL in Z vs W where both spaces were measured;
- per-attribute separability bars (H(Y|X) in bits), Z and W side by side.

Figures are laid out in a CSS grid that uses the page's width (checkpoints side by side); the
page references nothing outside itself (no scripts, fonts or image files).
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any, Sequence, Tuple, Union

import numpy as np
import pandas as pd

from .figures.charts import heavy_tailed  # noqa: F401 - part of this module's interface
from .figures.style import Figure, plain_text  # noqa: F401 - plain_text is part of this module's interface
from .metrics.intervals import nice

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em auto;max-width:1240px;padding:0 16px;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.4em}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:0.8em 0;font-size:0.82em}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
.pass{color:#0a7d28;font-weight:bold}.fail{color:#c0392b;font-weight:bold}
.warn{background:#fff3cd;border:1px solid #e0c36c;padding:0.6em}
.notes{background:#f6f8fa;border-left:4px solid #8c8c8c;padding:0.4em 1em}.notes li{margin:0.2em 0}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:16px;align-items:start}
.grid.samples{grid-template-columns:repeat(auto-fill,minmax(280px,1fr))}
figure{margin:0;min-width:0}figure img{width:100%;height:auto;display:block;border:1px solid #eee}
figcaption{font-size:0.8em;color:#444;margin-top:0.3em;line-height:1.35}
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


def png_base64(fig) -> str:
    """A matplotlib figure as a base64 PNG string."""
    buf = io.BytesIO()
    plain_text(fig)
    fig.savefig(buf, format="png", bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def array_base64(image: np.ndarray) -> str:
    """A uint8 [H, W, 3] image (``imageops.sample_grid``/``mixing_figure``) as a base64 PNG string."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def metric_bars(table: pd.DataFrame, **facts: Any) -> list[Figure]:
    """One chart per metric: value per checkpoint with its usable 95% interval (:mod:`stylegan_eval.figures.charts`)."""
    from .figures.reports import metric_figures

    return metric_figures(table, **facts)


def ppl_histograms(
    distances: dict[str, dict[str, np.ndarray]], table: pd.DataFrame | None = None, **facts: Any
) -> list[Figure]:
    """{ppl metric: {checkpoint: per-pair distances}} -> overlaid histograms, one figure per metric
    (:func:`stylegan_eval.figures.charts.ppl_histogram`: the filtered mean, cut points and interval marked)."""
    from .figures.reports import ppl_figures

    return ppl_figures(distances, table, **facts)


def separability_bars(
    entropies: dict[str, dict[str, dict[str, float]]], table: pd.DataFrame | None = None, **facts: Any
) -> list[Figure]:
    """{ls metric: {checkpoint: {attribute: H(Y|X) bits}}} -> the per-attribute chart (Z and W side by side)."""
    from .figures.reports import separability_figures

    return separability_figures(entropies, table, **facts)[0]


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return ""
    return nice(float(v), digits=6) if isinstance(v, (float, np.floating)) else str(v)


def table_html(df: pd.DataFrame) -> str:
    """A DataFrame as an HTML table in a horizontally scrolling box (never wider than the page)."""
    shown = df.astype(object).map(_cell) if hasattr(df, "map") else df.astype(object).applymap(_cell)
    return "<div class='scroll'>" + shown.to_html(index=False, escape=True, border=0) + "</div>"


_table_html = table_html


def figure_html(caption: str, b64: str, pixels: bool = False, alt: str | None = None) -> str:
    cls = " class='pixels'" if pixels else ""
    alt = alt if alt is not None else caption.split(". ")[0]
    return (
        f"<figure><img{cls} alt='{html.escape(alt, quote=True)}' src='data:image/png;base64,{b64}'>"
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


FigureLike = Union[Figure, Tuple[str, str]]


def figures_html(figures: Sequence[FigureLike], cls: str = "grid", pixels: bool = False) -> str:
    """Figures (or (caption, base64 PNG) pairs) in a grid that uses the page's width: two or three
    per row at 1280 px, one per row on a phone."""
    items = []
    for f in figures:
        if isinstance(f, Figure):
            items.append(figure_html(f.caption, f.base64(), pixels=f.pixels or pixels, alt=f.name))
        else:
            items.append(figure_html(f[0], f[1], pixels=pixels))
    return f"<div class='{cls}'>" + "".join(items) + "</div>"


def ordered(table: pd.DataFrame, headline: Sequence[str]) -> pd.DataFrame:
    """``table`` with the ``headline`` columns (those present) first, so they are visible without scrolling."""
    first = [c for c in headline if c in table.columns]
    return table[first + [c for c in table.columns if c not in first]]


def _rules_html(rules: pd.DataFrame) -> list[str]:
    ok = bool(rules["passed"].all())
    r = rules.copy()
    r["passed"] = ["PASS" if p else "FAIL" for p in r["passed"]]
    tbl = (
        table_html(r)
        .replace("<td>PASS</td>", "<td class='pass'>PASS</td>")
        .replace("<td>FAIL</td>", "<td class='fail'>FAIL</td>")
    )
    return [f"<h2>Rules: <span class='{'pass' if ok else 'fail'}'>{'all passed' if ok else 'FAILED'}</span></h2>", tbl]


def notes_html(notes: Sequence[str]) -> list[str]:
    """Notes and caveats (warnings of the run, why an interval or a chart is missing) as a list, once each."""
    notes = list(dict.fromkeys(n for n in notes if n))
    if not notes:
        return []
    return ["<h2>Notes</h2>", "<ul class='notes'>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>"]


def render(
    title: str,
    summary: pd.DataFrame,
    table: pd.DataFrame,
    rules: pd.DataFrame | None,
    figures: Sequence[FigureLike],
    *,
    notes: Sequence[str] = (),
    settings: dict[str, Any] | None = None,
    warning: str | None = None,
    samples: Sequence[FigureLike] = (),
    columns: Sequence[str] | None = DEFAULT_COLUMNS,
    headline: Sequence[str] = (),
) -> str:
    """The HTML page as a string.

    ``samples`` (sample grids, mixing figures; one per checkpoint side by side) and ``figures``
    (charts) are :class:`~stylegan_eval.figures.style.Figure` objects or (caption, base64 PNG)
    pairs, laid out in a grid that uses the page's width. ``summary`` is shown with its
    ``headline`` columns first (visible without scrolling); ``table`` with ``columns`` (those
    present; None: all). ``notes`` (caveats of the run) are listed under "Notes"; the full
    table and the settings sit in collapsed ``<details>``.
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
    parts += ["<h2>Summary</h2>", table_html(ordered(summary, headline))]
    if rules is not None and len(rules):
        parts += _rules_html(rules)
    parts += notes_html(notes)
    if samples:
        parts += ["<h2>Samples</h2>", figures_html(samples, "grid samples", pixels=True)]
    if figures:
        parts += ["<h2>Plots</h2>", figures_html(figures)]
    shown = table if columns is None else table[[c for c in columns if c in table.columns]]
    if table is not summary:
        parts += ["<h2>Results</h2>", table_html(ordered(shown, headline))]
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
