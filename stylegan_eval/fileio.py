"""File helpers, standard library only: atomic writes, (remembered) sha256 digests, ``--out`` checks and locks.

Reports, statistics, caches and partial results are written atomically (a temporary file in
the target folder, fsync, then a rename), so an interrupted run never leaves a half-written
file. Files are created with the permissions the umask gives (``0666 & ~umask``, as ``open``
would), not ``mkstemp``'s private 0600, so that lab-mates can read reports and share caches.
One run at a time writes a report folder: :func:`out_lock` holds ``<out>/.stylegan-eval.lock``
(naming the holder's PID; a lock whose process is gone is taken over). Digests of large files that did not change (same size and mtime) are taken from an index
instead of being recomputed: the data hash of a statistics cache, the hash of detector weights.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import secrets
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import DiskFullError, UserError

#: errno values that mean "no room to write": reported as one line naming the file, exit 2.
NO_SPACE = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG)


def disk_full(exc: BaseException, path: str | os.PathLike) -> DiskFullError | None:
    """The one-line error for ``exc`` when it is a lack of space writing ``path``, else None."""
    if not isinstance(exc, OSError) or isinstance(exc, DiskFullError) or exc.errno not in NO_SPACE:
        return None
    reason = exc.strerror or os.strerror(exc.errno or errno.ENOSPC)
    return DiskFullError(f"{path}: cannot write ({reason}); free some space or write elsewhere", exc.errno)


try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: the lock file's PID alone decides
    fcntl = None  # type: ignore[assignment]

ENV_CACHE = "STYLEGAN_EVAL_CACHE"


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where stylegan-eval keeps its caches: ``cache_dir``, else ``$STYLEGAN_EVAL_CACHE``, else
    ``~/.cache/stylegan-eval``."""
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "stylegan-eval")


def atomic_write(path: str | os.PathLike, data: str | bytes, stage: bool = True) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    Inside :func:`staged_out` a report file of the staged folder goes to the staging folder
    instead (moved to ``path`` when the run completes), unless ``stage`` is False (a
    self-describing result worth keeping even if the report fails). Returns ``path``.

    Raises:
        DiskFullError: no space left (one line naming ``path``); nothing is left behind.
    """
    path = Path(path)
    target = staged(path) if stage else path
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _write_replace(target, data.encode() if isinstance(data, str) else data)
    except OSError as exc:
        full = disk_full(exc, path)
        if full is not None:
            raise full from None
        raise
    return path


def _write_replace(path: Path, data: bytes) -> None:
    tmp = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    # O_EXCL: never follow a planted link; mode 0o666 is filtered by the umask like open() does.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ------------------------------------------------------------------------------ report folders as a whole set
#: Report folder (resolved) -> its staging folder, while a run writes it (:func:`staged_out`).
_STAGING: dict[Path, Path] = {}
STAGING_PREFIX = ".staging-"


def staged(path: str | os.PathLike) -> Path:
    """Where a file meant for ``path`` is written now: inside a staged report folder, a report
    file (no part of its name inside the folder starts with ``.``) goes to the staging folder;
    hidden files (the lock, ``--resume`` partials, temporary files) and everything else go to
    ``path`` itself."""
    p = Path(path)
    for folder, stage in _STAGING.items():
        try:
            rel = (p.parent.resolve() / p.name).relative_to(folder)
        except ValueError:
            continue
        if rel.parts and not any(part.startswith(".") for part in rel.parts):
            return stage / rel
    return p


@contextmanager
def staged_out(out: str | os.PathLike, exits: tuple[type[BaseException], ...] = (SystemExit,)) -> Iterator[Path]:
    """Write the report folder ``out`` as a whole set: while the block runs, report files go to a
    hidden staging folder inside ``out`` (same filesystem); when the block completes, or leaves
    by one of ``exits`` (a deliberate exit code after the report, e.g. a failed ``--fail-if``),
    they are moved into ``out`` by renames, which need no space. A failure before (disk full, an
    error, an interrupt) removes the staging folder and leaves the previous run's files untouched."""
    folder = Path(out).resolve()
    for old in folder.glob(STAGING_PREFIX + "*"):  # a killed run's (the caller holds the --out lock)
        shutil.rmtree(old, ignore_errors=True)
    stage = folder / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    stage.mkdir()
    _STAGING[folder] = stage
    try:
        try:
            yield stage
        except exits:
            _STAGING.pop(folder, None)
            _commit(stage, folder)
            raise
        _STAGING.pop(folder, None)
        _commit(stage, folder)
    finally:
        _STAGING.pop(folder, None)
        shutil.rmtree(stage, ignore_errors=True)


def _commit(stage: Path, folder: Path) -> None:
    """Move every file of ``stage`` to the same place in ``folder`` (folders created, files replaced)."""
    for src in sorted(p for p in stage.rglob("*") if not p.is_dir()):
        dest = folder / src.relative_to(stage)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dest)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in ``chunk``-byte blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def remembered_sha256(
    files: list[Path], keys: list[str], index_file: Path | None, keep_others: bool = False
) -> tuple[list[str], int]:
    """sha256 of each file, reusing the digests recorded in ``index_file`` for unchanged files.

    The index (JSON) maps ``key -> [size, mtime_ns, ctime_ns, inode, digest]``; a file whose
    size, modification time, status-change time and inode are those recorded is not read. The index is rewritten (atomically) when something changed,
    with the given keys only, or with the others kept too (``keep_others``, for an index that
    several callers share). A read-only index location only costs re-hashing next time.

    Returns:
        (digests in the order of ``files``, number of files that had to be read).
    """
    index: dict[str, list] = {}
    if index_file is not None:
        try:
            loaded = json.loads(index_file.read_text())
            index = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError):
            index = {}
    new_index: dict[str, list] = dict(index) if keep_others else {}
    digests, read = [], 0
    for key, f in zip(keys, files):
        st = f.stat()
        old = index.get(key)
        # ctime and inode too: an edit that restores the mtime (touch -d, cp -p, rsync -t over a
        # same-size file) still changes the ctime, which no user call can set back
        stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        if isinstance(old, list) and len(old) == 5 and old[:4] == stamp:
            entry = old
        else:
            entry = [*stamp, sha256_file(f)]
            read += 1
        new_index[key] = entry
        digests.append(str(entry[4]))
    if index_file is not None and new_index != index:
        try:
            atomic_write(index_file, json.dumps(new_index))
        except OSError:
            pass
    return digests, read


# ------------------------------------------------------------------------------ --out checks and lock
LOCK_NAME = ".stylegan-eval.lock"


def check_out_dir(path: str | os.PathLike, option: str = "--out") -> Path:
    """Make sure the report folder ``path`` exists (created if needed) and is writable; UserError otherwise.

    Called at the start of a run, so that an unwritable ``--out`` fails before any computation.
    """
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise UserError(f"{option} {p}: exists and is not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{option} {p}: cannot create the folder ({exc.strerror or exc})") from None
    _check_writable(p, option, p)
    return p


def check_out_file(path: str | os.PathLike, option: str = "--out") -> Path:
    """Make sure the file ``path`` can be written (its folder created if needed); UserError otherwise."""
    p = Path(path)
    if p.is_dir():
        raise UserError(f"{option} {p}: is a folder (expected a file name)")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{option} {p}: cannot create its folder ({exc.strerror or exc})") from None
    _check_writable(p.parent, option, p)
    return p


def _check_writable(folder: Path, option: str, shown: Path) -> None:
    probe = folder / f".write-test-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"{option} {shown}: not writable ({exc.strerror or exc})") from None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _holder(text: str) -> tuple[int | None, str]:
    parts = text.split()
    pid = int(parts[0]) if parts and parts[0].isdigit() else None
    return pid, parts[1] if len(parts) > 1 else socket.gethostname()


def _in_use(option: str, folder: Any, lock: Path, text: str) -> UserError:
    pid, host = _holder(text)
    who = f"process {pid} on {host}" if pid is not None else "another process"
    return UserError(
        f"{option} {folder}: in use by another stylegan-eval run ({who} holds {lock}; "
        "wait for it, or delete the lock file if that process is gone)"
    )


def _take(lock: Path, option: str, folder: Any) -> int | None:
    """An open descriptor holding ``flock`` on ``lock`` (the file at that path now), or None to retry."""
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UserError(f"{option} {folder}: cannot create the lock file {lock} ({exc.strerror or exc})") from None
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # held by a live process (the kernel drops the locks of dead ones)
        text = os.pread(fd, 256, 0).decode(errors="replace")
        os.close(fd)
        raise _in_use(option, folder, lock, text) from None
    try:
        same = os.path.samestat(os.fstat(fd), os.stat(lock))
    except FileNotFoundError:
        same = False
    if not same:  # the holder removed it between our open and our flock: take the new file
        os.close(fd)
        return None
    text = os.pread(fd, 256, 0).decode(errors="replace")
    pid, host = _holder(text)
    # a holder that writes the file without flock (an older version) is still respected
    if pid is not None and pid != os.getpid() and host == socket.gethostname() and _pid_alive(pid):
        os.close(fd)
        raise _in_use(option, folder, lock, text)
    return fd


_held: dict[str, int] = {}  # lock path -> descriptor, for nested use in one process


@contextmanager
def out_lock(folder: str | os.PathLike, option: str = "--out") -> Iterator[Path]:
    """Hold ``<folder>/.stylegan-eval.lock`` while the block runs (one writer per report folder).

    The lock is an ``flock`` on the file, which the kernel releases when its process dies, so a
    killed run never leaves a stale lock; the file holds ``pid host`` for the message a second
    run gets (UserError naming that PID). It is removed while still locked, and a run that
    locked a file someone removed meanwhile starts over on the new one, so that two runs can
    never both hold it.
    """
    lock = Path(folder) / LOCK_NAME
    key = str(lock.resolve())
    if key in _held:  # nested use in this process
        yield lock
        return
    for _ in range(20):
        fd = _take(lock, option, folder)
        if fd is not None:
            break
    else:
        raise UserError(f"{option} {folder}: could not take the lock {lock}")
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
    _held[key] = fd
    try:
        yield lock
    finally:
        del _held[key]
        try:
            os.unlink(lock)  # while still holding it: a waiting opener sees another inode and retries
        except OSError:
            pass
        os.close(fd)


@contextmanager
def guarded_out(
    out: str | os.PathLike | None,
    is_file: bool = False,
    option: str = "--out",
    exits: tuple[type[BaseException], ...] = (SystemExit,),
) -> Iterator[None]:
    """What every command does with ``--out`` before its work: a report folder is created, checked
    writable, locked (rank 0 of a ``torchrun`` job holds the lock) and written as a whole set
    (:func:`staged_out`); an output file's folder is checked writable. ``None``: nothing."""
    from .envvars import env_int

    if out is None:
        yield
        return
    if is_file:
        check_out_file(out, option)
        yield
        return
    check_out_dir(out, option)
    if env_int("RANK", 0, minimum=0) != 0:
        yield
        return
    with out_lock(out, option), staged_out(out, exits):
        yield


def jsonable(value: Any) -> Any:
    """Convert numpy/pandas/torch scalars, paths and non-finite floats into JSON-safe values."""
    import numpy as np  # only this helper needs it; the rest of the module is standard library

    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return jsonable(value.item())
    return value
