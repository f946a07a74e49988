"""Feature statistics on disk: image sources and their content hash, statistics files, the cache.

Nothing here needs torch, so that a request the cache can answer (``stylegan-eval stats`` on
unchanged data) is answered without importing it; :mod:`stylegan_eval.metrics.features`
computes what the cache lacks.

Real images come from a folder (searched recursively) or a ``.zip`` archive: ``.png``,
``.jpg``, ``.jpeg`` and ``.webp`` files in sorted path order. A folder is walked over regular
files only: symlinks to regular files are followed (symlinked folders are not entered); symlink
loops, dangling links, FIFOs, sockets and devices are an error naming the file, or, with
``skip_bad`` (``--skip-bad-images``), left out and listed among the skipped files. One image
file (or zip entry, streamed) may hold at most :data:`MAX_FILE_BYTES` bytes.

Statistics files written here carry ``digest``, a sha256 of their arrays and metadata, checked
on read: a cache entry that fails it is recomputed, a statistics file given by the user is refused.

Dataset statistics are cached under a key made of
- the data's content hash: sha256 over the sorted sha256 digests of every image file (a zip
  archive is hashed as one file), with a small index of (path, size, mtime_ns) -> digest so
  that unchanged files are never read twice;
- the detector, its weights' sha256 and its resize mode;
- the options that change the result (``skip_bad``); an entry written with per-image
  features (for KID) also answers requests without them, not the other way round.
The cache lives in ``$STYLEGAN_EVAL_CACHE`` (default ``~/.cache/stylegan-eval``) under
``fid-stats/``; entries are ``.npz`` files written atomically.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..checks import check_zip, zip_problem
from ..errors import ArgumentError, UserError
from ..fileio import ENV_CACHE, atomic_write, cache_root, remembered_sha256  # noqa: F401 - ENV_CACHE re-exported

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
#: Largest image file / decompressed zip entry read (bytes).
MAX_FILE_BYTES = 256 << 20
#: Below this many samples a 2048-d covariance is rank-deficient (pytorch-fid #13, TTUR #4).
MIN_SAMPLES_FULL_RANK = 2048
_CACHE_VERSION = 1


class BadImage(UserError):
    """An image file could not be decoded."""


class StatsFileError(UserError):
    """A statistics file is unreadable, lacks a key or has the wrong dimension."""


# ------------------------------------------------------------------------------ image sources
def is_image_source(path: str | os.PathLike) -> bool:
    """Whether ``path`` names images rather than a checkpoint: a folder, or a ``.zip`` holding image files
    (a torch ``.pt`` is a zip too, but names no image files)."""
    p = Path(path)
    if p.is_dir():
        return True
    if not (p.is_file() and p.suffix.lower() == ".zip" and zipfile.is_zipfile(p)):
        return False
    try:
        with zipfile.ZipFile(p) as zf:
            return any(n.lower().endswith(IMAGE_EXTENSIONS) for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def check_real_source(real: Any) -> None:
    """ArgumentError naming ``real`` unless it is FeatureStats, a ``hf://`` reference (checked
    when it is resolved) or a local path that exists."""
    from ..hub import is_hub_ref  # torch-free, as this module

    if isinstance(real, FeatureStats):
        return
    if not isinstance(real, (str, os.PathLike)):
        raise ArgumentError(
            "real", f"real must be an image folder or zip, a statistics file or FeatureStats, got {type(real).__name__}"
        )
    if not is_hub_ref(real) and not Path(real).exists():
        raise ArgumentError("real", f"real {Path(real)}: no such file or folder")


class ImageSource:
    """The image files of a folder (recursive) or a zip archive, in sorted path order.

    Args:
        path: folder or ``.zip`` file.
        skip_bad: leave out image-named entries that are not regular files (listed in
            ``skipped``) instead of raising.

    Raises:
        UserError: the path does not exist, is neither a folder nor a zip, holds no images, or
            (without ``skip_bad``) holds a symlink loop, dangling link, FIFO or device.
    """

    def __init__(self, path: str | os.PathLike, skip_bad: bool = False) -> None:
        self.path = Path(path)
        self.skipped: list[str] = []
        if self.path.is_dir():
            self.kind = "folder"
            names = self._folder_names(skip_bad)
        elif self.path.is_file() and zipfile.is_zipfile(self.path):
            self.kind = "zip"
            names = self._zip_names()
        elif self.path.exists():
            raise UserError(
                f"{self.path}: expected an image folder, a .zip of images or a statistics file (.npz, .pkl)"
            )
        else:
            raise UserError(f"{self.path}: no such file or folder")
        self.names = sorted(names)
        if not self.names:
            raise UserError(f"{self.path}: no images found ({', '.join(IMAGE_EXTENSIONS)}, searched recursively)")
        self._zip: zipfile.ZipFile | None = None
        self._zip_pid: int | None = None

    def _folder_names(self, skip_bad: bool) -> list[str]:
        """The image files under the folder (relative POSIX paths); what is not a regular file is
        listed in ``skipped`` with ``skip_bad``, else refused."""
        names = []
        for root, dirs, files in os.walk(self.path):  # symlinked folders are listed in dirs, never entered
            dirs.sort()
            rel = Path(root).relative_to(self.path)
            for f in sorted(files):
                if not f.lower().endswith(IMAGE_EXTENSIONS):
                    continue
                problem = _not_regular(Path(root) / f)
                if problem is None:
                    names.append((rel / f).as_posix())
                elif skip_bad:
                    self.skipped.append(f"{(rel / f).as_posix()} ({problem})")
                else:
                    raise UserError(
                        f"{Path(root) / f}: {problem} (expected a regular image file); remove it, or "
                        "pass --skip-bad-images to leave such files out"
                    )
        return names

    def _zip_names(self) -> list[str]:
        """The image entries of the zip archive; an unreadable or overlapping-entry archive is refused."""
        try:
            with zipfile.ZipFile(self.path) as zf:
                names = [
                    i.filename
                    for i in zf.infolist()
                    if i.filename.lower().endswith(IMAGE_EXTENSIONS) and not i.is_dir()
                ]
                problem = zip_problem(zf, 1 << 50, 1 << 50)  # entry sizes: checked per image on reading
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:  # ValueError: undecodable names
            raise UserError(f"{self.path}: unreadable zip archive ({exc})") from None
        if problem is not None:  # overlapping entries would inflate one stream many times
            raise UserError(f"{self.path}: refused zip archive: {problem}")
        return names

    def __len__(self) -> int:
        return len(self.names)

    def __getstate__(self) -> dict[str, Any]:  # worker processes open their own zip handle
        return {**self.__dict__, "_zip": None, "_zip_pid": None}

    def read(self, i: int) -> bytes:
        """The bytes of image ``i`` (at most :data:`MAX_FILE_BYTES`; a larger file or zip entry raises ValueError)."""
        if self.kind == "folder":
            with open(self.path / self.names[i], "rb") as f:
                data = f.read(MAX_FILE_BYTES + 1)
        else:
            if self._zip is None or self._zip_pid != os.getpid():
                self._zip, self._zip_pid = zipfile.ZipFile(self.path), os.getpid()
            info = self._zip.getinfo(self.names[i])
            if info.file_size > MAX_FILE_BYTES:
                raise ValueError(
                    f"zip entry of {info.file_size} bytes exceeds the {MAX_FILE_BYTES}-byte limit (decompression bomb?)"
                )
            with self._zip.open(info) as f:  # streamed: the declared size may lie
                data = f.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ValueError(f"more than {MAX_FILE_BYTES} bytes (limit for one image file)")
        return data

    def display_name(self, i: int) -> str:
        return str(self.path / self.names[i]) if self.kind == "folder" else f"{self.path}:{self.names[i]}"

    def content_hash(self, index_dir: Path | None) -> tuple[str, int]:
        """sha256 of the data's content and the number of files that had to be read for it.

        With ``index_dir``, digests of files whose (size, mtime, ctime, inode) did not change since the
        last call are taken from an index there instead of re-reading the files.
        """
        files = [self.path / n for n in self.names] if self.kind == "folder" else [self.path]
        keys = [f.relative_to(self.path).as_posix() for f in files] if self.kind == "folder" else [self.path.name]
        index_file = None
        if index_dir is not None:
            root_id = hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:16]
            index_file = index_dir / f"index-{root_id}.json"
        digests, read = remembered_sha256(files, keys, index_file)
        total = hashlib.sha256(f"{self.kind}\n".encode())
        for digest in sorted(digests):
            total.update(digest.encode())
        return total.hexdigest(), read


def _not_regular(p: Path) -> str | None:
    """Why ``p`` is not a readable regular file (after following symlinks), or None."""
    import stat

    try:
        st = p.stat()
    except OSError as exc:
        if p.is_symlink():
            return "symlink loop" if exc.errno == 40 else "dangling symlink"
        return f"cannot stat ({exc.strerror or exc})"
    if stat.S_ISREG(st.st_mode):
        return None
    kind = (
        "FIFO"
        if stat.S_ISFIFO(st.st_mode)
        else "device"
        if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)
        else "socket"
        if stat.S_ISSOCK(st.st_mode)
        else "folder"
        if stat.S_ISDIR(st.st_mode)
        else "special file"
    )
    return f"{'symlink to a ' if p.is_symlink() else ''}{kind}, not a regular file"


def stats_digest(arrays: dict[str, Any]) -> str:
    """sha256 over the named arrays (sorted by name; dtype, shape and bytes)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()


# ------------------------------------------------------------------------------ statistics files
@dataclass
class FeatureStats:
    """mu and sigma of detector features, with what produced them.

    Attributes:
        mu: float64 [D].
        sigma: float64 [D, D], unbiased (N - 1).
        num: number of images (None when a foreign stats file does not say).
        features: float32 [N, D] when kept (KID needs them), else None.
        meta: detector, data hash, skipped files, ... (free-form, JSON-able).
    """

    mu: np.ndarray
    sigma: np.ndarray
    num: int | None = None
    features: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.mu.shape[0])

    @classmethod
    def from_features(cls, features: Any, keep: bool = False, meta: dict | None = None) -> "FeatureStats":
        """From a [N, D] torch tensor or array of features (float64 accumulation on its device)."""
        import torch

        from .accumulate import StatsAccumulator

        f = torch.as_tensor(features)
        acc = StatsAccumulator(f.shape[1], f.device)
        acc.update(f)
        mu, sigma = acc.mean_cov()
        return cls(mu, sigma, acc.n, f.float().cpu().numpy() if keep else None, dict(meta or {}))

    def to_bytes(self) -> bytes:
        """A pytorch-fid-compatible ``.npz`` (``mu``, ``sigma``) plus ``num_images``, ``meta`` and optional ``features``."""
        arrays: dict[str, Any] = {
            "mu": self.mu,
            "sigma": self.sigma,
            "num_images": np.int64(-1 if self.num is None else self.num),
            "meta": np.array(json.dumps(self.meta, default=str)),
        }
        if self.features is not None:
            arrays["features"] = self.features
        arrays["digest"] = np.array(stats_digest(arrays))
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    def save(self, path: str | os.PathLike) -> Path:
        return atomic_write(path, self.to_bytes())


#: Largest inflated statistics .npz (KID's per-image features included) and per-image feature entry.
MAX_STATS_FILE_BYTES = 8 << 30
MAX_FEATURES_BYTES = 4 << 30


def npz_limits(dim: int) -> dict[str, int]:
    """Largest inflated size of each entry of a statistics .npz of ``dim``-d features (float64 at
    most, or float128 for mu and sigma, plus an .npy header)."""
    return {
        "mu.npy": 16 * dim + 4096,
        "sigma.npy": 16 * dim * dim + 4096,
        "features.npy": MAX_FEATURES_BYTES,
        "*": 64 << 20,
    }


def _as_matrix(value: Any, what: str, path: Path) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise StatsFileError(f"{path}: {what} is not a numeric array") from None
    return arr


#: Relative tolerances of :func:`check_covariance`: rounding of a float32/float64 covariance stays
#: far below them; a matrix that is not a covariance (negative variances, an indefinite or
#: asymmetric matrix) exceeds them by orders of magnitude.
SYMMETRY_RTOL = 1e-5
PSD_RTOL = 1e-5


def check_covariance(sigma: np.ndarray, path: Path, mu: np.ndarray | None = None) -> None:
    """Refuse a ``sigma`` that no set of features has: asymmetric or not positive semi-definite.

    The tolerance is relative to sigma's largest entry, and never below the float64 rounding of
    ``E[x x^T] - mu mu^T`` (about D * eps * max mu^2): features that barely vary around a large
    mean leave rounding-level negative eigenvalues in a genuine covariance.

    Args:
        sigma: float64 [D, D], finite.
        path: the file, for the message.
        mu: the mean [D] stored beside it (None: the relative tolerance alone).

    Raises:
        StatsFileError: one line naming ``path`` and what is wrong (FID from such a matrix is
        meaningless, e.g. negative).
    """
    scale = float(np.abs(sigma).max()) if sigma.size else 0.0
    if scale == 0.0:
        return
    asym = float(np.abs(sigma - sigma.T).max())
    if asym > SYMMETRY_RTOL * scale:
        raise StatsFileError(
            f"{path}: sigma is not symmetric (max |sigma - sigma^T| = {asym:.3g} at scale {scale:.3g}); "
            "a covariance matrix is symmetric"
        )
    rounding = sigma.shape[0] * np.finfo(np.float64).eps * float(np.max(mu**2)) if mu is not None and mu.size else 0.0
    tol = max(PSD_RTOL * scale, 64 * rounding)
    diag = np.diag(sigma)
    if float(diag.min()) < -tol:
        raise StatsFileError(
            f"{path}: sigma is not positive semi-definite (a negative variance on its diagonal: {float(diag.min()):.3g})"
        )
    shifted = (sigma + sigma.T) / 2 + np.eye(sigma.shape[0]) * tol
    try:
        np.linalg.cholesky(shifted)  # succeeds iff every eigenvalue > -tol
    except np.linalg.LinAlgError:
        low = float(np.linalg.eigvalsh((sigma + sigma.T) / 2)[0])
        raise StatsFileError(
            f"{path}: sigma is not positive semi-definite (smallest eigenvalue {low:.3g} at scale {scale:.3g}); "
            "a covariance matrix has no negative eigenvalues"
        ) from None


def _read_npz(p: Path, require_digest: bool) -> tuple[Any, Any, int | None, np.ndarray | None, dict[str, Any]]:
    """(mu, sigma, num_images, features, meta) of a statistics ``.npz``, its digest checked."""
    try:
        with np.load(p, allow_pickle=False) as data:
            return _npz_entries(p, data, require_digest)
    except StatsFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - zip/npy/pickle errors of a bad file
        raise StatsFileError(
            f"{p}: not a readable .npz statistics file ({type(exc).__name__}: {str(exc).splitlines()[0][:150] if str(exc) else ''})"
        ) from None


def _npz_entries(
    p: Path, data: Any, require_digest: bool
) -> tuple[Any, Any, int | None, np.ndarray | None, dict[str, Any]]:
    """The entries of an open ``.npz`` (``data``): the digest checked, then mu and sigma required."""
    keys = set(data.files)
    if "digest" in keys:
        if stats_digest({k: data[k] for k in keys if k != "digest"}) != str(data["digest"]):
            raise StatsFileError(
                f"{p}: content does not match its sha256 digest (damaged or modified); delete it to recompute"
            )
    elif require_digest:
        raise StatsFileError(f"{p}: has no content digest (not written by this version)")
    if not {"mu", "sigma"} <= keys:
        raise StatsFileError(
            f"{p}: missing key {'mu' if 'mu' not in keys else 'sigma'} (a statistics .npz holds 'mu' and 'sigma'; has {sorted(keys)})"
        )
    features = np.asarray(data["features"], dtype=np.float32) if "features" in keys else None
    num = int(data["num_images"]) if "num_images" in keys and int(data["num_images"]) >= 0 else None
    return data["mu"], data["sigma"], num, features, _npz_meta(data, keys)


def _npz_meta(data: Any, keys: set[str]) -> dict[str, Any]:
    """The ``meta`` JSON entry ({} when absent or not JSON)."""
    if "meta" not in keys:
        return {}
    try:
        return json.loads(str(data["meta"]))
    except ValueError:
        return {}


def _read_pickle(p: Path) -> tuple[Any, Any, int | None]:
    """(mean, cov, size) of a rosinality statistics pickle, read with the restricted unpickler."""
    from ..formats.safe_pickle import safe_load

    try:
        data = safe_load(p, encoding="latin1")
    except UserError as exc:
        raise StatsFileError(str(exc)) from None
    if not isinstance(data, dict):
        raise StatsFileError(f"{p}: expected a dict with 'mean' and 'cov', got {type(data).__name__}")
    mu = data.get("mean", data.get("mu"))
    sigma = data.get("cov", data.get("sigma"))
    if mu is None or sigma is None:
        raise StatsFileError(
            f"{p}: missing key {'mean' if mu is None else 'cov'} (a statistics pickle holds 'mean' and 'cov'; has {sorted(map(str, data))})"
        )
    return mu, sigma, int(data["size"]) if isinstance(data.get("size"), int) else None


def _check_shapes(p: Path, mu: np.ndarray, sigma: np.ndarray, features: np.ndarray | None, dim: int) -> None:
    """StatsFileError unless mu is [dim], sigma [dim, dim], both finite, and features [N, dim]."""
    if mu.ndim != 1 or mu.shape[0] != dim:
        raise StatsFileError(
            f"{p}: mu has shape {tuple(mu.shape)}, expected ({dim},) (the detector's feature dimension)"
        )
    if sigma.shape != (dim, dim):
        raise StatsFileError(f"{p}: sigma has shape {tuple(sigma.shape)}, expected ({dim}, {dim})")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise StatsFileError(f"{p}: statistics contain NaN or infinite values")
    if features is not None and (features.ndim != 2 or features.shape[1] != dim):
        raise StatsFileError(f"{p}: features have shape {tuple(features.shape)}, expected (N, {dim})")


def load_stats(path: str | os.PathLike, dim: int = 2048, require_digest: bool = False) -> FeatureStats:
    """Read statistics: pytorch-fid / our ``.npz`` (``mu``, ``sigma``) or rosinality ``.pkl`` (``mean``, ``cov``).

    Pickles are read with the restricted unpickler (numpy arrays and plain containers only).
    An ``.npz`` with a ``digest`` entry must match it; ``require_digest`` (cache entries) also
    refuses one without.

    Raises:
        StatsFileError: unreadable file, missing key, wrong shape or dimension, non-finite values,
        a sigma that is not a covariance (asymmetric, not positive semi-definite).
    """
    p = Path(path)
    if not p.is_file():
        raise StatsFileError(f"{p}: no such statistics file")
    suffix = p.suffix.lower()
    features = None
    meta: dict[str, Any] = {}
    if suffix == ".npz":
        # sizes from the zip directory, before anything is inflated
        check_zip(p, str(p), npz_limits(dim), MAX_STATS_FILE_BYTES, error=StatsFileError)
        mu, sigma, num, features, meta = _read_npz(p, require_digest)
    elif suffix in (".pkl", ".pickle"):
        mu, sigma, num = _read_pickle(p)
    else:
        raise StatsFileError(f"{p}: unknown statistics format {suffix!r} (expected .npz or .pkl)")
    mu, sigma = _as_matrix(mu, "mu", p), _as_matrix(sigma, "sigma", p)
    _check_shapes(p, mu, sigma, features, dim)
    check_covariance(sigma, p, mu)
    return FeatureStats(mu, sigma, num, features, meta)


# ------------------------------------------------------------------------------ the cache
@dataclass
class DatasetStatsInfo:
    """How dataset statistics were obtained."""

    path: str
    num_files: int
    num_images: int
    skipped: list[str]
    cache_hit: bool
    cache_file: str | None
    data_hash: str | None
    files_hashed: int
    seconds: dict[str, float]

    @property
    def images_per_second(self) -> float | None:
        s = self.seconds.get("features")
        return self.num_images / s if s else None


def rank_warning(num: int | None, dim: int, what: str) -> str | None:
    """The warning for covariances from fewer samples than the feature dimension, else None."""
    if num is not None and num < max(dim, MIN_SAMPLES_FULL_RANK):
        return (
            f"{what}: {num} samples < {max(dim, MIN_SAMPLES_FULL_RANK)}: the {dim}-d covariance is rank-deficient, "
            "so FID is biased and its matrix square root ill-conditioned (use >= 2048, preferably 10k-50k)"
        )
    return None


def cache_key(data_hash: str, detector_desc: dict[str, Any], options: dict[str, Any]) -> str:
    text = json.dumps(
        {"v": _CACHE_VERSION, "data": data_hash, "detector": detector_desc, "options": options},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass
class CacheEntry:
    """Where the statistics of one (data, detector, options) combination are cached."""

    source: ImageSource
    data_hash: str
    files_hashed: int
    file: Path | None
    seconds: dict[str, float]


def cache_entry(
    path: str | os.PathLike,
    detector_name: str,
    detector_desc: dict[str, Any],
    *,
    skip_bad: bool = False,
    use_cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> CacheEntry:
    """Hash the data at ``path`` (reading only files that changed) and name its cache file.

    Raises:
        UserError: no such folder / zip, or no images in it.
    """
    t0 = time.perf_counter()
    source = ImageSource(path, skip_bad=skip_bad)
    root = cache_root(cache_dir) / "fid-stats"
    if use_cache:  # before hashing and computing: a cache that cannot be written would lose the result
        from ..checks import check_cache_dir

        check_cache_dir(root, "the statistics cache")
    data_hash, hashed = source.content_hash(root if use_cache else None)
    key = cache_key(data_hash, detector_desc, {"skip_bad": skip_bad})
    file = root / f"{Path(path).name or 'data'}-{detector_name}-{key}.npz" if use_cache else None
    return CacheEntry(source, data_hash, hashed, file, {"hash": time.perf_counter() - t0})


def cached_stats(
    entry: CacheEntry, dim: int, keep_features: bool = False
) -> tuple[FeatureStats, DatasetStatsInfo] | None:
    """The cached statistics of ``entry``, or None when there are none usable (missing, unreadable,
    or without the per-image features that ``keep_features`` asks for)."""
    t0 = time.perf_counter()
    if entry.file is None or not entry.file.is_file():
        return None
    try:
        stats = load_stats(entry.file, dim=dim, require_digest=True)
    except UserError:
        return None
    if keep_features and stats.features is None:
        return None
    seconds = {**entry.seconds, "load": time.perf_counter() - t0}
    seconds["total"] = sum(seconds.values())
    info = DatasetStatsInfo(
        str(entry.source.path),
        len(entry.source),
        int(stats.num or 0),
        list(stats.meta.get("skipped", [])),
        True,
        str(entry.file),
        entry.data_hash,
        entry.files_hashed,
        seconds,
    )
    return stats, info
