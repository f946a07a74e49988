"""The figures of a report, built from its long table (one row per checkpoint and metric) and the
runs' plot data (PPL distances, per-attribute entropies). One function per kind of figure, so a
report can ask for the figures of the metrics it holds.

The long table has the columns ``checkpoint``, ``metric``, ``value``, ``ci95_low``,
``ci95_high``, ``repeats`` and ``num_samples`` (the ``compare``/``calc`` table).
"""

from __future__ import annotations

import math
import re
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
