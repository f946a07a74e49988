"""File helpers, standard library only: atomic writes and (remembered) sha256 digests.

Reports, statistics, caches and partial results are written atomically (a temporary file in
the target folder, fsync, then a rename), so an interrupted run never leaves a half-written
file. Digests of large files that did not change (same size and mtime) are taken from an index
instead of being recomputed: the data hash of a statistics cache, the hash of detector weights.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

ENV_CACHE = "STYLEGAN_EVAL_CACHE"


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where stylegan-eval keeps its caches: ``cache_dir``, else ``$STYLEGAN_EVAL_CACHE``, else
    ``~/.cache/stylegan-eval``."""
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "stylegan-eval")


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in ``chunk``-byte blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def remembered_sha256(files: list[Path], keys: list[str], index_file: Path | None, keep_others: bool = False) -> tuple[list[str], int]:
    """sha256 of each file, reusing the digests recorded in ``index_file`` for unchanged files.

    The index (JSON) maps ``key -> [size, mtime_ns, digest]``; a file whose size and mtime are
    those recorded is not read. The index is rewritten (atomically) when something changed,
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
        if isinstance(old, list) and len(old) == 3 and old[0] == st.st_size and old[1] == st.st_mtime_ns:
            entry = old
        else:
            entry = [st.st_size, st.st_mtime_ns, sha256_file(f)]
            read += 1
        new_index[key] = entry
        digests.append(str(entry[2]))
    if index_file is not None and new_index != index:
        try:
            atomic_write(index_file, json.dumps(new_index))
        except OSError:
            pass
    return digests, read
