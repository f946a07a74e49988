"""The tables of ``compare``: the long table (one row per checkpoint and metric) and the wide summary."""

from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

from ..metrics.intervals import nice
from .evaluation import Measurement, significant
from .rules import lower_is_better


def compare_table(
    labels: Sequence[str], results: dict[str, dict[str, Measurement]], infos: dict[str, dict] | None = None
) -> pd.DataFrame:
    """The long table: one row per (checkpoint, metric) with deltas vs the baseline (first label)."""
    infos = infos or {}
    base = results[labels[0]]
    rows = []
    for label in labels:
        for metric, m in results[label].items():
            b = base.get(metric)
            delta = m.value - b.value if b is not None else math.nan
            rel = 100.0 * delta / abs(b.value) if b is not None and b.value != 0 else math.nan
            sig = significant(b, m) if b is not None and label != labels[0] else None
            better = None if label == labels[0] or delta == 0 else bool((delta < 0) == lower_is_better(metric))
            info = infos.get(label, {})
            rows.append(
                {
                    "checkpoint": label,
                    "metric": metric,
                    "value": m.value,
                    "std": m.std,
                    "ci95_low": m.ci_low,
                    "ci95_high": m.ci_high,
                    "repeats": m.repeats,
                    "num_samples": m.num_samples,
                    "delta": delta if label != labels[0] else 0.0,
                    "delta_pct": rel if label != labels[0] else 0.0,
                    "better": better,
                    "significant": sig,
                    "path": info.get("checkpoint"),
                    "sha256": info.get("sha256"),
                    "generator_spec": info.get("generator_spec"),
                }
            )
    df = pd.DataFrame(rows)
    for col in ("std", "ci95_low", "ci95_high"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def summary_table(table: pd.DataFrame) -> pd.DataFrame:
    """A wide view for Markdown/HTML: one row per checkpoint, one column per metric, "value +- err (delta%)"."""
    labels = list(dict.fromkeys(table["checkpoint"]))
    metrics = list(dict.fromkeys(table["metric"]))
    rows = []
    for label in labels:
        row = {"checkpoint": label}
        for metric in metrics:
            r = table[(table["checkpoint"] == label) & (table["metric"] == metric)]
            if r.empty:
                row[metric] = ""
                continue
            r = r.iloc[0]
            if pd.notna(r["std"]):
                cell = nice(r["value"], r["std"])
            else:
                cell = nice(r["value"])
                if pd.notna(r["ci95_low"]):
                    cell += f" [{nice(r['ci95_low'])}, {nice(r['ci95_high'])}]"
            if label != labels[0] and pd.notna(r["delta_pct"]):
                cell += f" ({r['delta_pct']:+.1f}%{', significant' if r['significant'] is True else ''})"
            row[metric] = cell
        rows.append(row)
    return pd.DataFrame(rows)
