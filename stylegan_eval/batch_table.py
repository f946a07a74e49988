"""Measured default batch sizes: the table ``benchmarks/roofline.py --write-table`` writes (standard library only).

A table is a JSON file (data only, never code) holding, per device kind (``cpu`` / ``cuda``) and
per stage of the package (:data:`STAGES`), the batch size that ran fastest, the resolution it
was measured at, the generator's parameter count, and the machine and date of the measurement::

    {"format": "stylegan-eval batch sizes", "version": 1,
     "entries": [{"device": "cpu", "stage": "ppl", "resolution": 32, "batch": 8,
                  "num_params": 1234567, "items_per_s": 30.1,
                  "machine": "Intel(R) Xeon(R) Processor, 2 cores", "date": "2026-12-05"}]}

Tables are consulted in order: the user's own (``$STYLEGAN_EVAL_BATCH_TABLE``, else
``batch-sizes.json`` in the cache folder when it exists), then the one shipped in the package
(``assets/batch-sizes.json``). A stage and device the tables lack gets ``None`` here; the caller
(:mod:`stylegan_eval.runtime`) then falls back to its documented constants.

Between two measured resolutions the batch is interpolated geometrically; outside them the
nearest measurement is scaled by (measured / wanted resolution)^2 (about the same number of
pixels per batch), and by measured / given parameter count for a larger network.

A user table is untrusted input: at most :data:`MAX_TABLE_BYTES` are read, every field is
type- and range-checked, and anything else is one :class:`~stylegan_eval.errors.UserError`
line naming the file and what was expected.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .errors import UserError
from .fileio import atomic_write, cache_root

#: Environment variable naming the user's own table.
TABLE_ENV = "STYLEGAN_EVAL_BATCH_TABLE"
#: File name of the user's table in the cache folder (used when the variable is unset).
CACHE_TABLE_NAME = "batch-sizes.json"
#: The table shipped in the package.
SHIPPED_TABLE = Path(__file__).resolve().parent / "assets" / "batch-sizes.json"
FORMAT = "stylegan-eval batch sizes"
VERSION = 1
#: Largest table file read (bytes) and most entries accepted.
MAX_TABLE_BYTES = 1 << 20
MAX_ENTRIES = 4096
#: Bounds of a measured batch, resolution and parameter count.
MAX_BATCH = 65536
MAX_RESOLUTION = 65536
MAX_PARAMS = 10**12
DEVICES = ("cpu", "cuda")
#: What the package runs per batch: ``generate`` (the generator alone: ``generate``, grids),
#: ``fid_generated`` (generator + Inception: FID/KID/IS generated side), ``separability``
#: (generator + attribute classifiers), ``ppl`` (a batch of latent pairs + the distance network;
#: the batch counts pairs) and ``stats`` (decoding real images + Inception).
STAGES = ("generate", "fid_generated", "separability", "ppl", "stats")


@dataclass(frozen=True)
class Entry:
    """One measurement: the best ``batch`` of ``stage`` on ``device`` at ``resolution`` px."""

    device: str
    stage: str
    resolution: int
    batch: int
    num_params: int | None = None
    items_per_s: float | None = None
    machine: str = ""
    date: str = ""


def _int(value: Any, name: str, low: int, high: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise UserError(f"{where}: {name} must be an integer in [{low}, {high}], got {str(value)[:40]!r}")
    return value


def _entry(raw: Any, where: str) -> Entry:
    """An :class:`Entry` from one parsed JSON object, every field checked."""
    if not isinstance(raw, dict):
        raise UserError(f"{where}: expected an object, got {type(raw).__name__}")
    unknown = set(raw) - set(Entry.__dataclass_fields__)
    if unknown:
        raise UserError(f"{where}: unknown field(s) {', '.join(sorted(unknown))[:80]}")
    if raw.get("device") not in DEVICES:
        raise UserError(f"{where}: device must be one of {', '.join(DEVICES)}, got {str(raw.get('device'))[:40]!r}")
    if raw.get("stage") not in STAGES:
        raise UserError(f"{where}: stage must be one of {', '.join(STAGES)}, got {str(raw.get('stage'))[:40]!r}")
    params = raw.get("num_params")
    speed = raw.get("items_per_s")
    if speed is not None and (
        isinstance(speed, bool) or not isinstance(speed, (int, float)) or not math.isfinite(speed) or speed <= 0
    ):
        raise UserError(f"{where}: items_per_s must be a positive number or null, got {str(speed)[:40]!r}")
    for key in ("machine", "date"):
        if not isinstance(raw.get(key, ""), str) or len(raw.get(key, "")) > 200:
            raise UserError(f"{where}: {key} must be a string of at most 200 characters")
    return Entry(
        device=raw["device"],
        stage=raw["stage"],
        resolution=_int(raw.get("resolution"), "resolution", 1, MAX_RESOLUTION, where),
        batch=_int(raw.get("batch"), "batch", 1, MAX_BATCH, where),
        num_params=None if params is None else _int(params, "num_params", 1, MAX_PARAMS, where),
        items_per_s=None if speed is None else float(speed),
        machine=raw.get("machine", ""),
        date=raw.get("date", ""),
    )


def parse_table(data: bytes, source: str) -> list[Entry]:
    """The entries of a table file's bytes; UserError naming ``source`` for anything malformed."""
    where = f"batch-size table {source}"
    if len(data) > MAX_TABLE_BYTES:
        raise UserError(f"{where}: larger than {MAX_TABLE_BYTES} bytes; expected a table written by roofline.py")
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise UserError(f"{where}: not a JSON file ({str(exc)[:80]})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT or raw.get("version") != VERSION:
        raise UserError(f"{where}: expected a JSON object with format {FORMAT!r} and version {VERSION}")
    entries = raw.get("entries")
    if not isinstance(entries, list) or len(entries) > MAX_ENTRIES:
        raise UserError(f"{where}: entries must be a list of at most {MAX_ENTRIES} objects")
    return [_entry(e, f"{where}, entry {i}") for i, e in enumerate(entries)]


def read_table(path: str | os.PathLike) -> list[Entry]:
    """The entries of the table at ``path``, reading at most :data:`MAX_TABLE_BYTES` + 1 bytes."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"batch-size table {path}: not a regular file")
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_TABLE_BYTES + 1)
    except OSError as exc:
        raise UserError(f"batch-size table {path}: cannot be read ({exc.strerror})") from None
    return parse_table(data, str(path))


def user_table_path() -> Path | None:
    """``$STYLEGAN_EVAL_BATCH_TABLE`` (which must then exist), else the cache folder's table if present."""
    named = os.environ.get(TABLE_ENV, "").strip()
    if named:
        if not Path(named).is_file():
            raise UserError(f"environment variable {TABLE_ENV}={named[:200]!r}: expected a batch-size table file")
        return Path(named)
    cached = cache_root() / CACHE_TABLE_NAME
    return cached if cached.is_file() else None


_CACHE: dict[tuple[str, int, int], list[Entry]] = {}


def _cached_read(path: Path) -> list[Entry]:
    """:func:`read_table`, remembered while the file's size and mtime stay the same."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _CACHE:
        _CACHE[key] = read_table(path)
    return _CACHE[key]


def check_user_table() -> None:
    """Read and validate the user's table now (if there is one), so that a bad one is reported
    before any long work rather than when the first default batch is asked for."""
    path = user_table_path()
    if path is not None:
        _cached_read(path)


def active_entries() -> list[list[Entry]]:
    """The tables in the order they are consulted: the user's (if any), then the shipped one."""
    tables = []
    user = user_table_path()
    if user is not None:
        tables.append(_cached_read(user))
    if SHIPPED_TABLE.is_file():
        tables.append(_cached_read(SHIPPED_TABLE))
    return tables


def scaled_batch(entries: list[Entry], resolution: int | None, num_params: int | None = None) -> float:
    """The batch for ``resolution`` from measurements of one stage and device (see the module doc).

    ``resolution`` None (the image size is not known in advance, e.g. a dataset's): the entry
    measured at the highest resolution, unscaled.
    """
    ordered = sorted(entries, key=lambda e: e.resolution)
    if resolution is None:
        return float(ordered[-1].batch)
    below = [e for e in ordered if e.resolution <= resolution]
    above = [e for e in ordered if e.resolution >= resolution]
    if below and above:
        a, b = below[-1], above[0]
        t = (
            0.0
            if a.resolution == b.resolution
            else math.log(resolution / a.resolution) / math.log(b.resolution / a.resolution)
        )
        value = a.batch ** (1 - t) * b.batch**t
        nearest = a if t <= 0.5 else b
    else:
        nearest = below[-1] if below else above[0]
        value = nearest.batch * (nearest.resolution / resolution) ** 2
    if num_params and nearest.num_params and num_params > nearest.num_params:
        value *= nearest.num_params / num_params
    return value


def lookup(stage: str, device: str, resolution: int | None, num_params: int | None = None) -> float | None:
    """The measured batch of ``stage`` on ``device`` (``cpu``/``cuda``) for ``resolution``, from the
    first table that has the stage for that device; None when none has it."""
    for table in active_entries():
        entries = [e for e in table if e.stage == stage and e.device == device]
        if entries:
            return scaled_batch(entries, resolution, num_params)
    return None


def write_table(path: str | os.PathLike, entries: list[Entry]) -> Path:
    """Write ``entries`` into the table at ``path`` (atomically), replacing the entries of the same
    device, stage and resolution and keeping the others of an existing table there."""
    path = Path(path)
    old = read_table(path) if path.exists() else []
    new_keys = {(e.device, e.stage, e.resolution) for e in entries}
    kept = [e for e in old if (e.device, e.stage, e.resolution) not in new_keys]
    merged = sorted(kept + list(entries), key=lambda e: (e.device, STAGES.index(e.stage), e.resolution))
    doc = {"format": FORMAT, "version": VERSION, "entries": [asdict(e) for e in merged]}
    return atomic_write(path, json.dumps(doc, indent=1) + "\n", stage=False)
