"""Metric-over-training curves: each metric against training progress, with its interval and the best snapshot.

The input is one long table (:data:`CURVE_COLUMNS`), one row per run, source, metric and step,
built from our JSON-lines logs (:func:`frame_from_records`: ``track``, ``Evaluator`` and
``api.evaluate`` records that carry a ``step``) and from NVIDIA's ``metric-*.jsonl``
(:func:`frame_from_nvidia`: their values, labelled as theirs). :func:`curves_figure` draws one
panel per metric, one line per run and source; :func:`save_figure` writes PNG (200 dpi) and PDF.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from .metrics import registry

#: The columns of a curve table.
CURVE_COLUMNS = [
    "run",
    "source",
    "metric",
    "step",
    "unit",
    "value",
    "ci95_low",
    "ci95_high",
    "snapshot",
    "num_samples",
    "seed",
    "repeats",
    "random_weights",
]
#: ``source`` of values we computed, and of values read from NVIDIA's training logs.
OURS = "stylegan-eval"
NVIDIA = "NVIDIA's metric log"
#: Resolution of the PNG files.


def _num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f if math.isfinite(f) else math.nan


def frame_from_records(records: Iterable[Mapping[str, Any]], run: str) -> pd.DataFrame:
    """Our log records that have a ``step`` (track, Evaluator, api.evaluate) as curve rows of ``run``.

    Records without a step (one-off commands) are left out.
    """
    rows = []
    for rec in records:
        step = _num(rec.get("step"))
        value = _num(rec.get("value"))
        if math.isnan(step) or not isinstance(rec.get("metric"), str):
            continue
        given = rec.get("settings")
        settings: Mapping[str, Any] = given if isinstance(given, dict) else {}
        rows.append(
            {
                "run": run,
                "source": OURS,
                "metric": rec["metric"],
                "step": step,
                "unit": str(rec.get("step_unit") or "step"),
                "value": value,
                "ci95_low": _num(rec.get("ci95_low")),
                "ci95_high": _num(rec.get("ci95_high")),
                "snapshot": str(rec.get("snapshot") or f"step {step:g}"),
                "num_samples": _num(rec.get("num_samples", settings.get("num_samples"))),
                "seed": _num(settings.get("seed")),
                "repeats": _num(rec.get("repeats")),
                "random_weights": bool(rec.get("random_weights")),
            }
        )
    return _frame(rows)


def nvidia_output(name: str) -> str | None:
    """Our output name for one of NVIDIA's result keys (``fid50k_full`` -> ``fid``,
    ``pr50k3_full_precision`` -> ``precision``, ``is50k_mean`` -> ``is``); None for spreads
    (``is50k_std``); the key itself for metrics we do not know."""
    if name in registry.REGISTRY:
        outputs = registry.get(name).outputs
        return outputs[0] if len(outputs) == 1 else None
    base, _, tail = name.rpartition("_")
    if base in registry.REGISTRY:
        outputs = registry.get(base).outputs
        if tail in outputs:
            return tail
        if tail == "mean" and len(outputs) == 1:
            return outputs[0]
        return None
    return name


def frame_from_nvidia(rows: Iterable[Mapping[str, Any]], run: str) -> pd.DataFrame:
    """NVIDIA's metric rows (:func:`stylegan_eval.runs.read_nvidia_metrics`) as curve rows of ``run``."""
    out = []
    for r in rows:
        metric = nvidia_output(str(r["nvidia_name"]))
        if metric is None:
            continue
        out.append(
            {
                "run": run,
                "source": NVIDIA,
                "metric": metric,
                "step": float(r["step"]),
                "unit": "kimg",
                "value": float(r["value"]),
                "snapshot": str(r["snapshot"]),
                "nvidia_name": str(r["nvidia_name"]),
            }
        )
    return _frame(out)


def frame_from_table(table: pd.DataFrame, run: str) -> pd.DataFrame:
    """A ``track`` table (columns of :data:`CURVE_COLUMNS` but ``run``) as curve rows of ``run``."""
    return _frame(table.assign(run=run).to_dict(orient="records"))


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    for col in CURVE_COLUMNS:
        if col not in df.columns:
            df[col] = math.nan if col not in ("run", "source", "metric", "snapshot", "unit") else ""
    return df


def latest_per_step(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, source, metric, step): the last one logged (a rerun supersedes)."""
    if df.empty:
        return df
    return df.drop_duplicates(["run", "source", "metric", "step"], keep="last").sort_values(
        ["run", "source", "metric", "step"], kind="stable"
    )


def best_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The best row per (run, source, metric), in the metric's direction of better (ties: the earliest)."""
    picks = []
    for _, g in df.dropna(subset=["value"]).groupby(["run", "source", "metric"], sort=False):
        vals = g["value"].to_numpy(float)
        i = int(np.argmin(vals) if registry.lower_is_better(str(g["metric"].iloc[0])) else np.argmax(vals))
        picks.append(g.iloc[i])
    return pd.DataFrame(picks).reset_index(drop=True) if picks else df.iloc[:0]


def _interval_name(metric: str) -> str:
    spec = registry.output_spec(metric)
    kind = spec.uncertainty if spec is not None else "repeats"
    return {
        "bootstrap": "95% bootstrap interval",
        "repeats": "95% t-interval over repeats",
        "splits": "spread over splits",
        "subsets": "spread over subsets",
    }[kind]


def _values(series: pd.Series) -> str:
    vals = sorted({int(v) for v in series.dropna()})
    return "/".join(f"{v:,}" for v in vals) if vals else "?"


def caption(df: pd.DataFrame) -> str:
    """One line per metric: samples, seed, repeats and the interval drawn; NVIDIA's values named as theirs."""
    lines = []
    for metric, g in df.groupby("metric", sort=False):
        ours = g[g["source"] == OURS]
        if not ours.empty:
            has_ci = ours["ci95_low"].notna().any()
            text = (
                f"{metric}: n = {_values(ours['num_samples'])} samples, seed {_values(ours['seed'])}, "
                f"repeats {_values(ours['repeats'])}; "
                + (f"shaded: {_interval_name(str(metric))}" if has_ci else "no interval (one run)")
            )
            if ours["random_weights"].astype(bool).any():
                text += "; RANDOM detector weights (not comparable to published values)"
            lines.append(text)
        if (g["source"] == NVIDIA).any():
            lines.append(f"{metric}: dashed = NVIDIA's values from their training log (metric-*.jsonl), not recomputed")
    lines.append("star: best snapshot")
    return "\n".join(lines)


def _direction(metric: str) -> str:
    return "lower is better" if registry.lower_is_better(metric) else "higher is better"


def _draw_panel(ax, g: pd.DataFrame, metric: str, colors: dict[str, Any]) -> None:
    for (run, source), line in g.groupby(["run", "source"], sort=False):
        line = line.sort_values("step")
        x, y = line["step"].to_numpy(float), line["value"].to_numpy(float)
        color = colors[str(run)]
        ours = source == OURS
        label = f"{run}" if ours else f"{run} ({NVIDIA})"
        ax.plot(x, y, "-o" if ours else "--x", color=color, label=label, markersize=4, linewidth=1.4 if ours else 1.0)
        lo, hi = line["ci95_low"].to_numpy(float), line["ci95_high"].to_numpy(float)
        if ours and np.isfinite(lo).any():
            ax.fill_between(x, lo, hi, color=color, alpha=0.2, linewidth=0)
    lo, hi = float(g["step"].min()), float(g["step"].max())
    for _, b in best_rows(g).iterrows():
        ax.plot([b["step"]], [b["value"]], marker="*", markersize=13, color=colors[str(b["run"])], zorder=5)
        right = b["step"] > (lo + hi) / 2  # the label points inwards, so it stays inside the panel
        ax.annotate(
            f"best: {b['snapshot']}",
            (b["step"], b["value"]),
            textcoords="offset points",
            xytext=(-6 if right else 6, 8),
            ha="right" if right else "left",
            fontsize=6,
        )
    units = sorted({str(u) for u in g["unit"] if u})
    ax.set_xlabel("training progress (" + (", ".join(units) or "step") + ")")
    ax.set_ylabel(f"{metric} ({_direction(metric)})")
    ax.set_title(metric, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def curves_figure(df: pd.DataFrame, title: str | None = None):
    """A matplotlib Figure: one panel per metric, one line per run (ours solid with the shaded
    interval, NVIDIA's dashed), the best point of each line starred, the caption below."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    metrics = list(dict.fromkeys(df["metric"]))
    cols = min(3, max(1, len(metrics)))
    rows = math.ceil(len(metrics) / cols)
    fig = Figure(figsize=(4.6 * cols, 3.4 * rows + 0.3))
    FigureCanvasAgg(fig)
    palette = [f"C{i}" for i in range(10)]
    colors = {str(r): palette[i % 10] for i, r in enumerate(dict.fromkeys(df["run"]))}
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, i + 1)
        _draw_panel(ax, df[df["metric"] == metric], metric, colors)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    fig.text(0.01, -0.01, caption(df), fontsize=7, va="top", ha="left", wrap=True)
    return fig


def save_figure(fig, stem: str | Path) -> list[Path]:
    """Write ``fig`` in the reports' one style (:func:`stylegan_eval.figures.style.save`):
    ``<stem>.png`` at 200 dpi plus ``.pdf`` and ``.svg``, each atomically; the paths, PNG first."""
    from .figures.style import Figure as StyledFigure
    from .figures.style import save

    stem = Path(stem)
    return [stem.parent / name for name in save(StyledFigure(stem.name, "", fig), stem.parent)]
