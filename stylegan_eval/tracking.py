"""Incremental evaluation of a training run: which snapshots a log already holds, and the records it gets.

A tracked run's log is JSON lines (:mod:`stylegan_eval.jsonlog`), one line per snapshot and
metric output::

    {"metric": "fid", "value": 7.41, "std": null, "ci95_low": ..., "ci95_high": ..., "repeats": 1,
     "num_samples": 50000, "command": "track", "step": 400, "step_unit": "kimg",
     "snapshot": "network-snapshot-000400.pkl", "checkpoint": "/runs/00001/network-...pkl",
     "sha256": "<file digest>", "fingerprint": "<settings digest>", "settings": {...},
     "result_fingerprints": [...], "time": "..."}

``fingerprint`` is the digest of every option the values depend on (metrics, seed, repeats,
sample count, detector, data file identity, ...). A snapshot is *done* when the log holds every
requested output for its ``sha256`` under the same ``fingerprint``: a rerun evaluates only the
others (new snapshots, changed files, other settings). Each snapshot's lines are appended when
that snapshot is finished, so an interrupted run loses at most the snapshot in progress.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from .jsonlog import append, extractor
from .metrics.registry import fingerprint_digest
from .report import jsonable

#: The ``command`` field of a tracked run's records.
COMMAND = "track"
#: Lines of a log read at most, and bytes per line (bounds on a file appended to forever or handed to ``plot``).
MAX_LOG_LINES = 1_000_000
MAX_LINE_BYTES = 1 << 20


@extractor(COMMAND)
def _no_records(report: Any) -> list[dict[str, Any]]:
    """``track`` appends its records itself, one snapshot at a time; its report adds none."""
    return []


def data_identity(data: str | os.PathLike | None) -> Any:
    """What identifies the real data cheaply: path, and size + mtime for a file (a folder: its path)."""
    if data is None:
        return None
    p = Path(data)
    if p.is_file():
        st = p.stat()
        return [str(p.resolve()), st.st_size, st.st_mtime_ns]
    return str(p.resolve())


def settings_fingerprint(settings: Mapping[str, Any]) -> str:
    """The digest (16 hex digits) of the evaluation settings: equal settings, equal digest."""
    return fingerprint_digest(jsonable(dict(settings)))[:16]


def _lines(f) -> Iterable[bytes]:
    """The lines of a binary file, each read with at most :data:`MAX_LINE_BYTES` in memory
    (a longer line is yielded as b"" and skipped to its end)."""
    for _ in range(MAX_LOG_LINES):
        line = f.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        if len(line) > MAX_LINE_BYTES:
            while line and not line.endswith(b"\n"):
                line = f.readline(MAX_LINE_BYTES + 1)
            yield b""
        else:
            yield line


def read_records(path: str | os.PathLike) -> list[dict[str, Any]]:
    """The JSON objects of a log, in order; unparseable or overlong lines are skipped (at most
    :data:`MAX_LOG_LINES` lines of at most :data:`MAX_LINE_BYTES` each)."""
    p = Path(path)
    if not p.is_file():
        return []
    out: list[dict[str, Any]] = []
    with open(p, "rb") as f:
        for line in _lines(f):
            try:
                obj = json.loads(line.decode("utf-8", errors="replace"))
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
    return out


def done_outputs(records: Iterable[Mapping[str, Any]], fingerprint: str) -> dict[str, dict[str, dict[str, Any]]]:
    """{snapshot sha256: {metric: the latest record}} of the records made under ``fingerprint``."""
    done: dict[str, dict[str, dict[str, Any]]] = {}
    for rec in records:
        if rec.get("command") == COMMAND and rec.get("fingerprint") == fingerprint and rec.get("sha256"):
            done.setdefault(str(rec["sha256"]), {})[str(rec.get("metric"))] = dict(rec)
    return done


def snapshot_records(
    snapshot: Any, sha256: str, results: Mapping[str, Any], fingerprint: str, settings: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The log lines of one evaluated snapshot (a :class:`~stylegan_eval.runs.Snapshot`).

    ``results`` maps output names to :class:`~stylegan_eval.compare.Measurement`.
    """
    now = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    recs = []
    for name, m in results.items():
        rec = {
            **m.log_fields(),
            "metric": name,
            "num_samples": m.num_samples,
            "command": COMMAND,
            "step": snapshot.step,
            "step_unit": snapshot.unit,
            "snapshot": snapshot.name,
            "checkpoint": str(snapshot.path),
            "sha256": sha256,
            "fingerprint": fingerprint,
            "settings": dict(settings),
            "result_fingerprints": list(m.fingerprints),
            "time": now,
        }
        if m.random_weights:
            rec["random_weights"] = list(m.random_weights)
        recs.append(jsonable(rec))
    return recs


def append_records(path: str | os.PathLike, records: list[dict[str, Any]]) -> None:
    """Append one snapshot's records to the log (one write per line; see :func:`stylegan_eval.jsonlog.append`)."""
    append(path, records)
