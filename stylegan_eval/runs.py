"""The snapshots of a training run folder, ordered by training progress, and NVIDIA's own metric logs.

Naming conventions recognised (the first that matches any file wins, in this order):

- NVIDIA (stylegan2-ada-pytorch, stylegan3): ``network-snapshot-<kimg>.pkl`` -> progress in kimg.
- rosinality (stylegan2-pytorch): ``checkpoint/<iteration>.pt`` (or ``<iteration>.pt`` in the
  folder itself) -> progress in iterations.
- lucidrains (stylegan2-pytorch): ``models/<name>/model_<n>.pt`` or ``model_<n>.pt`` -> the
  checkpoint number ``n`` (one per ``save_every`` iterations).
- ``glob``: any pattern relative to the run folder; the progress is the last integer in the
  file name (its stem), in the unit the caller names.

NVIDIA's training loop appends one JSON line per evaluated snapshot to
``metric-<name>.jsonl``: ``{"results": {"fid50k_full": 12.3}, "metric": "fid50k_full",
"snapshot_pkl": "network-snapshot-000400.pkl", "timestamp": ..., ...}``. Those files are
untrusted input: :func:`read_nvidia_metrics` bounds their size, line length and line count
before reading and validates every field it uses.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UserError

#: At most this many snapshots in one run folder (a bound on untrusted folder listings).
MAX_SNAPSHOTS = 100_000
#: Bounds on one NVIDIA metric-*.jsonl file: bytes, bytes per line, and lines.
MAX_METRIC_FILE_BYTES = 16 << 20
MAX_METRIC_LINE_BYTES = 64 << 10
MAX_METRIC_FILES = 64

_NVIDIA = re.compile(r"^network-snapshot-(\d{1,12})\.pkl$")
_ROSINALITY = re.compile(r"^(\d{1,12})\.pt$")
_LUCIDRAINS = re.compile(r"^model_(\d{1,12})\.pt$")
_LAST_INT = re.compile(r"(\d{1,12})(?!.*\d)")
_METRIC_FILE = re.compile(r"^metric-([A-Za-z0-9_]{1,64})\.jsonl$")


@dataclass(frozen=True)
class Snapshot:
    """One checkpoint file of a run.

    Attributes:
        path: the file.
        step: training progress read from the name (kimg, iteration or checkpoint number; >= 0).
        unit: what ``step`` counts: 'kimg', 'iteration', 'checkpoint' or the caller's unit.
        name: the path relative to the run folder (the label in tables, logs and figures).
    """

    path: Path
    step: int
    unit: str
    name: str


def _regular(paths) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if len(out) >= MAX_SNAPSHOTS:
            raise UserError(f"{p.parent}: more than {MAX_SNAPSHOTS} snapshot files (expected a training run folder)")
        if p.is_file():
            out.append(p)
    return out


def _matching(folder: Path, pattern: re.Pattern[str]) -> list[tuple[Path, int]]:
    if not folder.is_dir():
        return []
    return [(p, int(m.group(1))) for p in _regular(folder.iterdir()) if (m := pattern.match(p.name))]


def _by_convention(run_dir: Path) -> tuple[list[tuple[Path, int]], str]:
    found = _matching(run_dir, _NVIDIA)
    if found:
        return found, "kimg"
    found = _matching(run_dir / "checkpoint", _ROSINALITY) or _matching(run_dir, _ROSINALITY)
    if found:
        return found, "iteration"
    models = run_dir / "models"
    found = _matching(run_dir, _LUCIDRAINS)
    if not found and models.is_dir():
        subdirs = sorted(d for d in models.iterdir() if d.is_dir())
        found = [x for d in subdirs[:64] for x in _matching(d, _LUCIDRAINS)]
    return found, "checkpoint"


def _by_glob(run_dir: Path, pattern: str) -> list[tuple[Path, int]]:
    if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
        raise UserError(f"--glob {pattern!r}: expected a pattern relative to the run folder (no '..')")
    found = []
    for p in _regular(sorted(run_dir.glob(pattern))):
        m = _LAST_INT.search(p.stem)
        if m is None:
            raise UserError(f"--glob {pattern!r}: {p} has no number in its name (expected the training step in it)")
        found.append((p, int(m.group(1))))
    return found


def step_from_name(path: str | Path) -> int | None:
    """The training step a snapshot's file name states (NVIDIA, rosinality, lucidrains naming), or None."""
    name = Path(path).name
    for pattern in (_NVIDIA, _ROSINALITY, _LUCIDRAINS):
        m = pattern.match(name)
        if m:
            return int(m.group(1))
    return None


def find_snapshots(run_dir: str | Path, glob: str | None = None, unit: str | None = None) -> list[Snapshot]:
    """The snapshots of ``run_dir`` ordered by training progress (then by name).

    Args:
        run_dir: the training run folder.
        glob: a pattern relative to ``run_dir`` for other naming schemes (progress: the last
            integer in the file's stem).
        unit: the unit of that progress ('kimg' by default with ``glob``); ignored otherwise.

    Raises UserError naming the folder when it does not exist or holds no snapshot, or when two
    files have the same progress (the curve would be ambiguous).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError(f"{run_dir}: no such folder (expected a training run folder)")
    if glob:
        found, unit = _by_glob(run_dir, glob), unit or "kimg"
    else:
        found, unit = _by_convention(run_dir)
    if not found:
        what = f"files matching --glob {glob!r}" if glob else "snapshots"
        raise UserError(
            f"{run_dir}: no {what} (expected network-snapshot-<kimg>.pkl, checkpoint/<iteration>.pt, "
            "models/<name>/model_<n>.pt, or --glob PATTERN)"
        )
    found.sort(key=lambda x: (x[1], x[0].name))
    for (a, sa), (b, sb) in zip(found, found[1:]):
        if sa == sb:
            raise UserError(f"{run_dir}: {a.name} and {b.name} both have training step {sa} (give one of them)")
    return [Snapshot(p, s, unit, p.relative_to(run_dir).as_posix()) for p, s in found]


# ------------------------------------------------------------------------------ NVIDIA metric logs
def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _nvidia_rows(path: Path, line_no: int, obj: Any) -> list[dict[str, Any]]:
    where = f"{path}:{line_no}"
    if not isinstance(obj, dict) or not isinstance(obj.get("results"), dict):
        raise UserError(f"{where}: expected a JSON object with a 'results' object (NVIDIA's metric-*.jsonl)")
    pkl = obj.get("snapshot_pkl")
    m = _NVIDIA.match(pkl) if isinstance(pkl, str) else None
    if m is None:
        raise UserError(f"{where}: expected 'snapshot_pkl' = network-snapshot-<kimg>.pkl, got {str(pkl)[:80]!r}")
    results = obj["results"]
    if len(results) > 64:
        raise UserError(f"{where}: more than 64 results in one line")
    rows = []
    for key, value in results.items():
        if not (isinstance(key, str) and re.fullmatch(r"[A-Za-z0-9_]{1,64}", key)) or not _finite(value):
            raise UserError(f"{where}: expected results {{name: finite number}}, got {str(key)[:64]!r}: {value!r:.40}")
        rows.append({"nvidia_name": key, "value": float(value), "step": int(m.group(1)), "snapshot": pkl})
    return rows


def read_nvidia_metric_file(path: str | Path) -> list[dict[str, Any]]:
    """The rows of one NVIDIA ``metric-*.jsonl``: {nvidia_name, value, step (kimg), snapshot}.

    The size is checked before reading; a last line without its newline (being written by a
    running training) is left out. Raises UserError naming the file and line for anything else.
    """
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:  # read at most the bound, even if the file grows meanwhile
        data = f.read(MAX_METRIC_FILE_BYTES + 1)
    if max(size, len(data)) > MAX_METRIC_FILE_BYTES:
        raise UserError(
            f"{path}: {max(size, len(data))} bytes (expected an NVIDIA metric log of at most {MAX_METRIC_FILE_BYTES})"
        )
    lines = data.split(b"\n")
    complete = lines[:-1]  # the part after the last newline is incomplete (or empty)
    rows: list[dict[str, Any]] = []
    for i, raw in enumerate(complete, start=1):
        if not raw.strip():
            continue
        if len(raw) > MAX_METRIC_LINE_BYTES:
            raise UserError(f"{path}:{i}: line longer than {MAX_METRIC_LINE_BYTES} bytes")
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise UserError(f"{path}:{i}: not a JSON line (expected NVIDIA's metric-*.jsonl)") from None
        rows += _nvidia_rows(path, i, obj)
    return rows


def read_nvidia_metrics(run_dir: str | Path) -> list[dict[str, Any]]:
    """Every NVIDIA ``metric-<name>.jsonl`` of ``run_dir`` (at most :data:`MAX_METRIC_FILES`), as rows
    {nvidia_name, value, step, snapshot, file}."""
    run_dir = Path(run_dir)
    files = sorted(p for p in run_dir.iterdir() if _METRIC_FILE.match(p.name) and p.is_file())
    if len(files) > MAX_METRIC_FILES:
        raise UserError(f"{run_dir}: more than {MAX_METRIC_FILES} metric-*.jsonl files")
    rows = []
    for f in files:
        rows += [{**r, "file": f.name} for r in read_nvidia_metric_file(f)]
    return rows


def is_nvidia_metric_log(path: str | Path) -> bool:
    """Whether ``path`` is named like NVIDIA's ``metric-<name>.jsonl``."""
    return bool(_METRIC_FILE.match(Path(path).name))
