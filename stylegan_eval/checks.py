"""Up-front checks of options, paths and environment variables (standard library only).

Each check runs before any long work and raises :class:`~stylegan_eval.errors.UserError` with one
line naming the option, file or variable and what was expected, so that a bad ``--log`` path, a
cache folder that is a file or an incomplete ``torchrun`` environment fails at once instead of
after the metrics ran (or, for a FIFO, hanging forever on its ``open``).
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import stat
import zipfile
from pathlib import Path
from typing import Any

from .batch_table import check_user_table
from .envvars import env_int
from .errors import UserError

#: --device values: auto, cpu, cuda or cuda:N (other torch device types cannot run the networks).
DEVICE_RE = re.compile(r"^(auto|cpu|cuda(:\d{1,4})?)$")
#: Largest process group accepted from WORLD_SIZE (an absurd value is a typo, not a cluster).
MAX_WORLD_SIZE = 1 << 16
#: Deepest nesting accepted in JSON / TOML read from files and options (real files use < 8 levels).
MAX_NESTING = 32
#: Bytes read from the end of an existing --log to check that it is a JSON-lines log.
LOG_TAIL_BYTES = 1 << 16


def check_device_spec(spec: Any, option: str = "--device") -> str:
    """``spec`` as a device string when it is auto, cpu, cuda or cuda:N; UserError otherwise."""
    text = str(spec).strip().lower()
    if not DEVICE_RE.match(text):
        raise UserError(f"{option}: expected auto, cpu, cuda or cuda:N, got {str(spec)[:40]!r}")
    return text


def kind_of(mode: int) -> str:
    """What a non-regular file is, from its ``st_mode``: "a FIFO", "a folder", "a device", ..."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a file" if stat.S_ISREG(mode) else "not a regular file"


def _creatable_folder(folder: Path, option: str, shown: Path) -> None:
    """The nearest existing ancestor of ``folder`` must be a folder (``mkdir -p`` can then make it)."""
    for d in [folder, *folder.parents]:
        try:
            st = d.stat()
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            raise UserError(f"{option} {shown}: cannot use {d} ({exc.strerror or exc})") from None
        if not stat.S_ISDIR(st.st_mode):
            raise UserError(f"{option} {shown}: {d} is {kind_of(st.st_mode)}, expected a folder")
        return


def _last_line_is_json(path: Path) -> bool:
    """Whether the last complete line of ``path`` (or its only, unterminated one) is a JSON object."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(max(0, size - LOG_TAIL_BYTES))
        tail = f.read(LOG_TAIL_BYTES)  # pseudo-files (/proc) report size 0 and still have text
    if not tail.strip():
        return True
    lines = tail.split(b"\n")
    complete = [ln for ln in lines[:-1] if ln.strip()]
    if not complete:  # one unterminated line: a torn first record is still a log
        return tail.lstrip().startswith(b"{")
    try:
        return isinstance(json.loads(complete[-1]), dict)
    except (ValueError, RecursionError):
        return False


def check_log_file(path: str | os.PathLike, option: str = "--log") -> Path:
    """An append-only JSON-lines log: a regular file holding JSON lines, or a new file in a folder
    that can be created. Refuses folders, FIFOs (whose ``open`` would wait for a reader forever),
    devices, pseudo-files and files of another kind than a JSON-lines log."""
    if str(path).strip() == "":
        raise UserError(f"{option}: expected a file name, got an empty string")
    p = Path(path)
    try:
        st = p.stat()
    except (FileNotFoundError, NotADirectoryError):
        _creatable_folder(p.parent, option, p)
        return p
    except OSError as exc:
        raise UserError(f"{option} {p}: cannot use it ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise UserError(f"{option} {p}: is {kind_of(st.st_mode)}, expected a JSON-lines file")
    try:
        os.close(os.open(p, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK))
        ok = _last_line_is_json(p)
    except OSError as exc:
        raise UserError(f"{option} {p}: cannot append to it ({exc.strerror or exc})") from None
    if not ok or p.resolve().parts[1:2] in (("proc",), ("sys",)):
        raise UserError(f"{option} {p}: not a JSON-lines log (its last line is not a JSON object); give a new file")
    return p


def check_cache_dir(root: str | os.PathLike, what: str = "environment variable STYLEGAN_EVAL_CACHE") -> Path:
    """A cache folder: an existing folder, or one ``mkdir -p`` can create; UserError otherwise."""
    p = Path(root)
    try:
        st = p.stat()
    except (FileNotFoundError, NotADirectoryError):
        _creatable_folder(p.parent, what, p)
        return p
    except OSError as exc:
        raise UserError(f"{what} {p}: cannot use it ({exc.strerror or exc})") from None
    if not stat.S_ISDIR(st.st_mode):
        raise UserError(f"{what} {p}: is {kind_of(st.st_mode)}, expected a folder")
    return p


def check_distributed_env() -> int:
    """The ``torchrun`` variables, consistent before any process group is joined; returns WORLD_SIZE.

    WORLD_SIZE in [1, 65536]; RANK and LOCAL_RANK in [0, WORLD_SIZE); a multi-process run also
    needs RANK, MASTER_ADDR and an integer MASTER_PORT (the env:// rendezvous reads them).
    """
    world = env_int("WORLD_SIZE", 1, minimum=1, maximum=MAX_WORLD_SIZE)
    for name in ("RANK", "LOCAL_RANK"):
        value = env_int(name, 0, minimum=0)
        if value >= world:
            raise UserError(
                f"environment variable {name}={value}: expected an integer < WORLD_SIZE={world} "
                f"(ranks count from 0{'; WORLD_SIZE is unset' if not os.environ.get('WORLD_SIZE') else ''})"
            )
    if world > 1:
        for name in ("RANK", "MASTER_ADDR", "MASTER_PORT"):
            if not os.environ.get(name, "").strip():
                raise UserError(
                    f"environment variable {name} is not set, and WORLD_SIZE={world} needs it "
                    "(start multi-process runs with torchrun, which sets it)"
                )
        env_int("MASTER_PORT", 0, minimum=1, maximum=65535)
    return world


def check_environment() -> None:
    """Every environment variable the CLI reads that can be checked before the command starts."""
    check_distributed_env()
    cache = os.environ.get("STYLEGAN_EVAL_CACHE", "")
    if cache:
        check_cache_dir(cache)
    check_user_table()


def nesting_depth(obj: Any, limit: int = MAX_NESTING) -> int:
    """Depth of nested lists/dicts in ``obj`` (iterative; stops counting past ``limit + 1``)."""
    depth, level = 0, [obj]
    while level and depth <= limit:
        nxt: list[Any] = []
        for o in level:
            if isinstance(o, dict):
                nxt.extend(o.values())
            elif isinstance(o, (list, tuple)):
                nxt.extend(o)
        if not nxt:
            break
        depth += 1
        level = nxt
    return depth


def loads_json(text: str | bytes, what: str, limit: int = MAX_NESTING, error: type[UserError] = UserError) -> Any:
    """``json.loads(text)`` for text read from a file or an option; ``error`` (a UserError) naming
    ``what`` for invalid JSON or nesting deeper than ``limit`` levels (which would exhaust Python's
    recursion while parsing or later)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise error(f"{what}: JSON nested too deeply (at most {limit} levels)") from None
    except ValueError as exc:
        raise error(f"{what}: not valid JSON ({str(exc)[:120]})") from None
    if nesting_depth(value, limit) > limit:
        raise error(f"{what}: JSON nested too deeply (at most {limit} levels)")
    return value


#: Largest integer accepted as a network hyper-parameter (sizes, counts, resolutions).
MAX_HYPERPARAMETER = 1 << 31


def unusable_number(obj: Any, where: str = "", limit: int = MAX_NESTING) -> str | None:
    """The first hyper-parameter in ``obj`` (nested dicts/lists/tuples) that no network can use, as
    ``"key = value"``: a NaN or infinite float, or an integer beyond 2^31; None when there is none
    (or the nesting passes ``limit`` levels, which is reported the same way)."""
    stack: list[tuple[str, Any, int]] = [(where, obj, 0)]
    while stack:
        key, o, depth = stack.pop()
        if depth > limit:
            return f"{key or 'value'}: nested deeper than {limit} levels"
        if isinstance(o, dict):
            stack.extend((f"{key}.{k}" if key else str(k), v, depth + 1) for k, v in o.items())
        elif isinstance(o, (list, tuple)):
            stack.extend((f"{key}[{i}]", v, depth + 1) for i, v in enumerate(o))
        elif isinstance(o, numbers.Real) and not isinstance(o, bool):
            ok = abs(int(o)) <= MAX_HYPERPARAMETER if isinstance(o, numbers.Integral) else math.isfinite(float(o))
            if not ok:
                return f"{key or 'value'} = {str(o)[:40]}"
    return None


# ------------------------------------------------------------------------------ zip directories
#: Largest ratio of an entry's inflated to its stored size accepted above :data:`RATIO_FLOOR` bytes
#: (real arrays and images compress < 10x; decompression bombs reach 1000x).
MAX_INFLATION = 200
RATIO_FLOOR = 1 << 20


def zip_problem(zf: zipfile.ZipFile, max_entry_bytes: int | dict[str, int], max_total_bytes: int) -> str | None:
    """Why the archive's own directory rules it out before anything is inflated, or None.

    Refused: an entry larger than ``max_entry_bytes`` (per name when a dict; ``"*"`` for the
    others), entries larger than ``max_total_bytes`` together, an inflation ratio above
    :data:`MAX_INFLATION`, and entries whose stored bytes overlap (one deflate stream counted
    many times: a small file that inflates for minutes).
    """
    infos = zf.infolist()
    total = 0
    for info in infos:
        cap = max_entry_bytes if isinstance(max_entry_bytes, int) else max_entry_bytes.get(info.filename, -1)
        if cap < 0 and isinstance(max_entry_bytes, dict):
            cap = max_entry_bytes.get("*", 0)
        if info.file_size > cap:
            return f"entry {info.filename[:60]!r} inflates to {info.file_size} bytes (limit {cap})"
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_INFLATION * max(info.compress_size, 1):
            return f"entry {info.filename[:60]!r} inflates {info.file_size // max(info.compress_size, 1)}x (decompression bomb?)"
        total += info.file_size
    if total > max_total_bytes:
        return f"entries inflate to {total} bytes together (limit {max_total_bytes})"
    spans = sorted((i.header_offset, i.header_offset + 30 + len(i.filename.encode()) + i.compress_size) for i in infos)
    for (_, end), (start, _) in zip(spans, spans[1:]):
        if start < end:
            return "entries overlap (their stored bytes are shared: a zip bomb)"
    return None


def check_zip(
    path: str | os.PathLike,
    what: str,
    max_entry_bytes: int | dict[str, int],
    max_total_bytes: int,
    error: type[UserError] = UserError,
) -> list[str]:
    """The entry names of the zip (``.npz``) at ``path`` after :func:`zip_problem`; ``error`` naming
    ``what`` for an unreadable directory or a refused entry."""
    try:
        with zipfile.ZipFile(path) as zf:
            problem = zip_problem(zf, max_entry_bytes, max_total_bytes)
            names = zf.namelist()
    except (OSError, zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise error(f"{what}: not a readable .npz (zip) file ({str(exc)[:100]})") from None
    if problem is not None:
        raise error(f"{what}: refused: {problem}")
    return names
