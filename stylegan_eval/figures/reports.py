"""The figures of a report, built from its long table (one row per checkpoint and metric) and the
runs' plot data (PPL distances, per-attribute entropies). One function per kind of figure, so a
report can ask for the figures of the metrics it holds.

The long table has the columns ``checkpoint``, ``metric``, ``value``, ``ci95_low``,
``ci95_high``, ``repeats`` and ``num_samples`` (the ``compare``/``calc`` table).

The ``*_report_figures`` functions draw a single-metric command's report (its own table, see
:class:`stylegan_eval.report.Report`) for the metric modules' ``report_figures`` hooks
(:attr:`stylegan_eval.metrics.registry.MetricSpec.report_figures`); each returns
``(figures, notes on figures not drawn)``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .charts import Bar, PPLSeries, metric_chart, ppl_histogram, ppl_z_vs_w, separability_chart
from .style import Figure

_PPL_VARIANT = re.compile(r"^ppl2?_([zw])_?(full|end)")
_LS_SPACE = re.compile(r"^ls_?([zw])\b")


def _f(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def bars(table, metric: str) -> list[Bar]:
    """The bars of ``metric``: one per checkpoint, in table order."""
    sub = table[table["metric"] == metric]
    return [
        Bar(
            str(r["checkpoint"]),
            float(r["value"]) if _f(r["value"]) is not None else math.nan,
            _f(r.get("ci95_low")),
            _f(r.get("ci95_high")),
            int(r.get("repeats") or 1) if _f(r.get("repeats")) is not None else 1,
            int(r["num_samples"]) if _f(r.get("num_samples")) is not None else None,
        )
        for r in sub.to_dict(orient="records")
    ]


def metric_figures(table, *, seed: int | None = None, random_weights: Sequence[str] = ()) -> list[Figure]:
    """One chart per metric of the long table (value per checkpoint with its usable interval)."""
    out = []
    for i, metric in enumerate(dict.fromkeys(table["metric"])):
        fig = metric_chart(
            {str(metric): bars(table, str(metric))},
            name=f"bars_{i:02d}_{_stem(metric)}",
            seed=seed,
            random_weights=random_weights,
        )
        if fig is not None:
            out.append(fig)
    return out


def ppl_figures(
    distances: Mapping[str, Mapping[str, np.ndarray]],
    table=None,
    *,
    seed: int | None = None,
    random_weights: Sequence[str] = (),
) -> list[Figure]:
    """{ppl metric: {checkpoint: per-pair distances}} -> one histogram per metric (checkpoints overlaid),
    each checkpoint's PPL and interval taken from ``table`` where it has the row."""
    out = []
    for metric, per_ckpt in distances.items():
        series = []
        for label, d in per_ckpt.items():
            ci = None
            if table is not None:
                row = table[(table["metric"] == metric) & (table["checkpoint"] == label)]
                if len(row):
                    lo, hi = _f(row["ci95_low"].iloc[0]), _f(row["ci95_high"].iloc[0])
                    ci = (lo, hi) if lo is not None and hi is not None else None
            series.append(PPLSeries(str(label), np.asarray(d, float), ci=ci))
        fig = ppl_histogram(
            str(metric), series, name=f"ppl_hist_{_stem(metric)}", seed=seed, random_weights=random_weights
        )
        if fig is not None:
            out.append(fig)
    return out


def z_vs_w_figure(table, *, seed: int | None = None, random_weights: Sequence[str] = ()) -> Figure | None:
    """PPL in Z vs W (full / end panels) from the PPL rows of ``table``; None unless some sampling has both spaces."""
    rows = []
    for r in table.to_dict(orient="records"):
        m = _PPL_VARIANT.match(str(r["metric"]))
        if m and _f(r["value"]) is not None:
            rows.append({**r, "space": m.group(1), "sampling": m.group(2)})
    return ppl_z_vs_w(rows, seed=seed, random_weights=random_weights) if rows else None


def separability_figures(
    entropies: Mapping[str, Mapping[str, Mapping[str, float]]],
    table=None,
    *,
    seed: int | None = None,
    random_weights: Sequence[str] = (),
) -> tuple[list[Figure], list[str]]:
    """{ls metric (ls_z, ls_w): {checkpoint: {attribute: H bits}}} -> (the per-attribute chart with Z and W
    side by side, one panel per checkpoint; notes). No chart when every entropy is 0 (the note says so)."""
    per_ckpt: dict[str, dict[str, dict[str, float]]] = {}
    scores: dict[str, dict[str, float]] = {}
    for metric, by_label in entropies.items():
        m = _LS_SPACE.match(str(metric))
        space = m.group(1) if m else str(metric)
        for label, per_attr in by_label.items():
            per_ckpt.setdefault(str(label), {})[space] = dict(per_attr)
            if table is not None:
                row = table[(table["metric"] == metric) & (table["checkpoint"] == label)]
                if len(row) and _f(row["value"].iloc[0]) is not None:
                    scores.setdefault(str(label), {})[space] = float(row["value"].iloc[0])
    if not per_ckpt:
        return [], []
    ns = sorted(
        {int(v) for v in (table["num_samples"] if table is not None and "num_samples" in table else []) if _f(v)}
    )
    n = f"{ns[0]} samples per space" if len(ns) == 1 else None
    fig = separability_chart(per_ckpt, scores=scores, n=n, seed=seed, random_weights=random_weights)
    if fig is None:
        return [], ["Separability: H(Y|X) = 0 for every attribute and space, so no per-attribute chart is drawn."]
    return [fig], []


def _stem(metric: Any) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(metric))


def demo_figures(
    table,
    distances: Mapping[str, Mapping[str, np.ndarray]],
    sep_table,
    settings: Mapping[str, Any],
    random_weights: Sequence[str] = (),
) -> tuple[list[Figure], list[str]]:
    """The demo report's charts (PPL Z vs W, the PPL histograms, separability per attribute, FID) and notes.

    Args:
        table: the demo table (``section``, ``metric``, ``value``, ``ci95_low``, ``ci95_high``, ``num_samples``).
        distances: {ppl metric: {'demo': per-pair distances}}.
        sep_table: the separability frame (``space``, ``attribute``, ``conditional_entropy_bits``, ``score``).
        settings: the demo's settings (``seed``).
    """
    # Each chart carries the mark of the network it depends on (LPIPS for PPL, Inception for FID).
    facts: dict[str, Any] = {
        "seed": settings.get("seed"),
        "random_weights": [n for n in random_weights if "LPIPS" in n],
    }
    fid_facts: dict[str, Any] = {
        "seed": settings.get("seed"),
        "random_weights": [n for n in random_weights if "LPIPS" not in n],
    }
    ppl_rows = table[table["section"] == "ppl"].assign(checkpoint="demo", repeats=1)
    charts: list[Figure] = []
    z_vs_w = z_vs_w_figure(ppl_rows, **facts)
    charts += [z_vs_w] if z_vs_w is not None else []
    charts += ppl_figures(distances, ppl_rows, **facts)
    per_space: dict[str, dict[str, float]] = {}
    scores: dict[str, float] = {}
    for r in sep_table.to_dict(orient="records"):
        if r["attribute"] == "score":
            scores[str(r["space"])] = float(r["score"])
        else:
            per_space.setdefault(str(r["space"]), {})[str(r["attribute"])] = float(r["conditional_entropy_bits"])
    notes = []
    ls = separability_chart(
        {"demo": per_space},
        scores={"demo": scores},
        n=settings.get("separability_samples"),
        random_weights=(),
        seed=settings.get("seed"),
    )
    if ls is None:
        notes.append("Separability: H(Y|X) = 0 for every attribute and space, so no per-attribute chart is drawn.")
    else:
        charts.append(ls)
    fid = table[table["metric"] == "fid"]
    if len(fid):
        fid_rows = fid.assign(checkpoint="demo", repeats=1)
        charts += [
            f
            for f in [
                metric_chart(
                    {"fid": bars(fid_rows, "fid")},
                    name="fid_bars",
                    what="FID of the demo generator against the procedural images",
                    **fid_facts,
                )
            ]
            if f is not None
        ]
    return charts, notes


# ------------------------------------------------------------------------------ single-metric reports
_ALL_ZERO = "H(Y|X) = 0 for every attribute and space: no per-attribute chart is drawn (nothing to show)."


def _has_columns(table: Any, columns: set[str]) -> bool:
    return hasattr(table, "columns") and columns <= set(table.columns)


def checkpoint_label(report: Any) -> str:
    """The file name of the report's checkpoint (``meta['checkpoint']``), else ``generator``."""
    return Path(str(report.meta.get("checkpoint") or "generator")).name


def fid_report_figures(report: Any) -> tuple[list[Figure], list[str]]:
    """FID and KID of a ``fid`` report (rows ``metric``, ``value``), one panel each, with n
    (``settings['num_gen']``), seed and the random-weights mark; none when the table holds neither."""
    table = report.table
    if not _has_columns(table, {"metric", "value"}):
        return [], []
    label = checkpoint_label(report)
    n = report.settings.get("num_gen")
    panels = {
        str(r["metric"]): [Bar(label, float(r["value"]), n=n)]
        for r in table.to_dict(orient="records")
        if r["metric"] in ("fid", "kid") and r["value"] is not None
    }
    fig = metric_chart(
        panels,
        name="fid_bars",
        seed=report.settings.get("seed"),
        random_weights=report.random_weights,
        what=f"{' and '.join(p.upper() for p in panels)} of {label} against {report.settings.get('data', 'the data')}",
    )
    return ([fig] if fig is not None else []), []


def separability_report_figures(report: Any) -> tuple[list[Figure], list[str]]:
    """The per-attribute chart of a ``separability`` report (rows ``space``, ``attribute``,
    ``conditional_entropy_bits``, ``score``; Z and W side by side), or a note when every entropy is 0."""
    table = report.table
    if not _has_columns(table, {"space", "attribute", "conditional_entropy_bits"}):
        return [], []
    ents: dict[str, dict[str, float]] = {}
    for r in table[table["attribute"] != "score"].to_dict(orient="records"):
        ents.setdefault(str(r["space"]), {})[str(r["attribute"])] = float(r["conditional_entropy_bits"])
    scores = {
        str(r["space"]): float(r["score"])
        for r in table[table["attribute"] == "score"].to_dict(orient="records")
        if _f(r.get("score")) is not None
    }
    fig = separability_chart(
        {"generator": ents},
        scores={"generator": scores},
        n=report.settings.get("num_samples"),
        seed=report.settings.get("seed"),
        random_weights=report.random_weights,
    )
    return ([fig], []) if fig is not None else ([], [_ALL_ZERO])


def ppl_report_figures(report: Any, runs: Mapping[str, Mapping[str, Any]]) -> tuple[list[Figure], list[str]]:
    """The histogram of a ``ppl`` report's per-pair distances (``runs``: {output: the run's plot
    data, with ``distances`` and the result's ``name``}) with the cut points, the PPL and its
    interval of the report's row of that name (columns ``metric``, ``ppl``, ``lo``, ``hi``,
    ``ci95_low``, ``ci95_high``); log bins when the distances are heavy-tailed."""
    table = report.table
    if not _has_columns(table, {"metric", "ppl", "lo", "hi"}):
        return [], []
    figs = []
    for details in runs.values():
        rows = table[table["metric"] == details.get("name")].to_dict(orient="records")
        if "distances" not in details or not rows:
            continue
        r = rows[0]
        lo, hi = _f(r.get("ci95_low")), _f(r.get("ci95_high"))
        ci = (lo, hi) if lo is not None and hi is not None else None
        series = PPLSeries(checkpoint_label(report), np.asarray(details["distances"]), r["ppl"], r["lo"], r["hi"], ci)
        fig = ppl_histogram(
            str(r["metric"]),
            [series],
            name="ppl_hist",
            seed=report.settings.get("seed"),
            random_weights=report.random_weights,
        )
        figs += [fig] if fig is not None else []
    return figs, []
