"""Results as JSON lines: one line per metric value, appended to a log a training loop can tail.

Each line is one JSON object::

    {"metric": "ppl_wend", "value": 143.2, "checkpoint": "net.pt", "sha256": "...",
     "command": "ppl", "settings": {...}, "time": "2026-11-25T07:30:00+00:00", ...}

with optional ``std``, ``ci95_low``/``ci95_high``, ``repeats`` and ``label`` (compare).
The log is ``--log FILE`` (or the configuration's ``log = ...``), else ``<out>/metrics.jsonl``
when ``--out DIR`` is given; commands that compute no metric (info, generate, mix) log nothing.

The lines of one report are appended with one ``write`` of complete lines in append mode (then
fsync), so concurrent writers (several runs logging to one file) never interleave inside a line;
a write cut short by a full disk is taken back, and :func:`read_log` skips (and reports) a torn
line rather than failing on the whole log.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable

import pandas as pd

from .fileio import disk_full, jsonable
from .report import Report

LOG_NAME = "metrics.jsonl"

#: command -> function(report) -> records {metric, value, ...}; see :func:`records`.
EXTRACTORS: dict[str, Callable[[Report], list[dict[str, Any]]]] = {}


def extractor(command: str) -> Callable:
    """Register how to read the metric values of ``command``'s report table."""

    def deco(fn: Callable[[Report], list[dict[str, Any]]]) -> Callable:
        EXTRACTORS[command] = fn
        return fn

    return deco


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _str(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def _optional(row: pd.Series, names: Iterable[str]) -> dict[str, Any]:
    return {n: _num(row[n]) for n in names if n in row.index and _num(row[n]) is not None}


@extractor("ppl")
def _ppl(report: Report) -> list[dict[str, Any]]:
    return [
        {
            "metric": r["metric"],
            "value": _num(r["ppl"]),
            **_optional(r, ("ci95_low", "ci95_high")),
            "num_samples": int(r["num_samples"]),
        }
        for _, r in report.table.iterrows()
    ]


@extractor("separability")
def _separability(report: Report) -> list[dict[str, Any]]:
    t = report.table
    if "attribute" not in t.columns:
        return []
    return [
        {"metric": f"ls_{r['space']}", "value": _num(r["score"])} for _, r in t[t["attribute"] == "score"].iterrows()
    ]


@extractor("compare")
def _compare(report: Report) -> list[dict[str, Any]]:
    out = []
    for _, r in report.table.iterrows():
        out.append(
            {
                "metric": r["metric"],
                "value": _num(r["value"]),
                "label": r["checkpoint"],
                **_optional(r, ("std", "ci95_low", "ci95_high")),
                "repeats": int(r["repeats"]),
                "checkpoint": _str(r.get("path")) or _str(r.get("generator_spec")),
                "sha256": _str(r.get("sha256")),
            }
        )
    return out


def _generic(report: Report) -> list[dict[str, Any]]:
    """Tables with ``metric`` and ``value`` columns (FID, KID, ...)."""
    t = report.table
    if not {"metric", "value"} <= set(t.columns):
        return []
    return [
        {"metric": r["metric"], "value": _num(r["value"]), **_optional(r, ("std", "ci95_low", "ci95_high"))}
        for _, r in t.iterrows()
    ]


def records(report: Report) -> list[dict[str, Any]]:
    """The JSON-line records of ``report`` (empty for commands that compute no metric)."""
    rows = EXTRACTORS.get(report.command, _generic)(report)
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    meta = report.meta
    base = {
        "command": report.command,
        "checkpoint": meta.get("checkpoint") or meta.get("generator_spec"),
        "sha256": meta.get("sha256"),
    }
    out = []
    for row in rows:
        rec = {**base, **{k: v for k, v in row.items() if v is not None or k == "value"}}
        rec["settings"] = report.settings
        rec["time"] = now
        if report.random_weights:
            rec["random_weights"] = report.random_weights
        out.append(jsonable(rec))
    return out


def log_path(out: str | os.PathLike | None, log: str | os.PathLike | None) -> Path | None:
    """``log`` if given, else ``<out>/metrics.jsonl`` when ``out`` is a report folder, else None."""
    if log is not None:
        return Path(log)
    if out is not None and not Path(out).is_file():
        return Path(out) / LOG_NAME
    return None


def append(path: str | os.PathLike, recs: list[dict[str, Any]]) -> None:
    """Append ``recs`` to ``path`` as JSON lines: one ``os.write`` of all the complete lines
    (O_APPEND), then fsync.

    A write cut short (disk full) is undone (the file is truncated back to where it ended) when
    no other writer appended meanwhile; :func:`read_log` skips and reports a torn line either way.

    Raises:
        DiskFullError: no space left (one line naming ``path``).
    """
    if not recs:
        return
    p = Path(path)
    data = "".join(json.dumps(rec, sort_keys=False) + "\n" for rec in recs).encode()
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise disk_full(exc, p) or exc from None
    try:
        start = os.fstat(fd).st_size
        written = 0
        try:
            while written < len(data):  # one write; a short one (disk filling up) continues, then fails
                written += os.write(fd, data[written:])
            os.fsync(fd)
        except OSError as exc:
            if os.fstat(fd).st_size == start + written:  # only our bytes since: take them back
                os.ftruncate(fd, start)
            raise disk_full(exc, p) or exc from None
    finally:
        os.close(fd)


def log_report(report: Report, run: Any) -> Path | None:
    """Append ``report``'s results to the log ``run`` (RunOptions) names; returns the file, or None."""
    path = log_path(getattr(run, "out", None), getattr(run, "log", None))
    recs = records(report)
    if path is None or not recs:
        return None
    append(path, recs)
    return path


class TornLogLine(UserWarning):
    """A metrics log holds a line that is not a complete JSON object (a write cut short)."""


def read_log(path: str | os.PathLike) -> pd.DataFrame:
    """A metrics log as a DataFrame (one row per line).

    A line that is not a complete JSON object (a torn last line after a full disk, a crash) is
    skipped; each one is reported as a :class:`TornLogLine` warning naming the file and line, and
    listed in ``frame.attrs["torn_lines"]`` (1-based line numbers).
    """
    rows, torn = [], []
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                rec = None
            if isinstance(rec, dict):
                rows.append(rec)
            else:
                torn.append(number)
                warnings.warn(
                    f"{path}: line {number} is not a complete JSON record (a write cut short?); skipped",
                    TornLogLine,
                    stacklevel=2,
                )
    frame = pd.DataFrame(rows)
    frame.attrs["torn_lines"] = torn
    return frame
