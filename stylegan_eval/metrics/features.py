"""Inception feature statistics of image datasets and generators, and their cache.

Real images come from a folder (searched recursively) or a ``.zip`` archive: ``.png``,
``.jpg``, ``.jpeg`` and ``.webp`` files in sorted path order. Each is decoded with PIL and
converted to RGB (grayscale repeated to three channels, alpha dropped, palettes expanded),
batched as uint8 NCHW by a torch DataLoader (worker processes decode) and fed to the detector.
Images of different sizes may share a batch: each size goes through the detector separately.

Statistics are accumulated on the device in float64 (the sum and the sum of outer products)
and turned into mu and the unbiased (N - 1) covariance at the end, as pytorch-fid, TTUR and
clean-fid compute them.

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
from typing import Any, Callable

import numpy as np
import torch

from ..errors import UserError
from ..report import atomic_write
from ..runtime import progress as progress_bar

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp")
ENV_CACHE = "STYLEGAN_EVAL_CACHE"
#: Below this many samples a 2048-d covariance is rank-deficient (pytorch-fid #13, TTUR #4).
MIN_SAMPLES_FULL_RANK = 2048
_CACHE_VERSION = 1


class BadImage(UserError):
    """An image file could not be decoded."""


class StatsFileError(UserError):
    """A statistics file is unreadable, lacks a key or has the wrong dimension."""


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir``, else ``$STYLEGAN_EVAL_CACHE``, else ``~/.cache/stylegan-eval``."""
    if cache_dir is not None:
        return Path(cache_dir)
    return Path(os.environ.get(ENV_CACHE) or Path.home() / ".cache" / "stylegan-eval")


# ------------------------------------------------------------------------------ image sources
class ImageSource:
    """The image files of a folder (recursive) or a zip archive, in sorted path order.

    Args:
        path: folder or ``.zip`` file.

    Raises:
        UserError: the path does not exist, is neither a folder nor a zip, or holds no images.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            self.kind = "folder"
            names = []
            for root, dirs, files in os.walk(self.path):
                dirs.sort()
                rel = Path(root).relative_to(self.path)
                names += [(rel / f).as_posix() for f in files if f.lower().endswith(IMAGE_EXTENSIONS)]
        elif self.path.is_file() and zipfile.is_zipfile(self.path):
            self.kind = "zip"
            try:
                with zipfile.ZipFile(self.path) as zf:
                    names = [n for n in zf.namelist() if n.lower().endswith(IMAGE_EXTENSIONS) and not n.endswith("/")]
            except (zipfile.BadZipFile, OSError) as exc:
                raise UserError(f"{self.path}: unreadable zip archive ({exc})") from None
        elif self.path.exists():
            raise UserError(f"{self.path}: expected an image folder, a .zip of images or a statistics file (.npz, .pkl)")
        else:
            raise UserError(f"{self.path}: no such file or folder")
        self.names = sorted(names)
        if not self.names:
            raise UserError(f"{self.path}: no images found ({', '.join(IMAGE_EXTENSIONS)}, searched recursively)")
        self._zip: zipfile.ZipFile | None = None
        self._zip_pid: int | None = None

    def __len__(self) -> int:
        return len(self.names)

    def __getstate__(self) -> dict[str, Any]:  # worker processes open their own zip handle
        return {**self.__dict__, "_zip": None, "_zip_pid": None}

    def read(self, i: int) -> bytes:
        """The bytes of image ``i``."""
        if self.kind == "folder":
            return (self.path / self.names[i]).read_bytes()
        if self._zip is None or self._zip_pid != os.getpid():
            self._zip, self._zip_pid = zipfile.ZipFile(self.path), os.getpid()
        return self._zip.read(self.names[i])

    def display_name(self, i: int) -> str:
        return str(self.path / self.names[i]) if self.kind == "folder" else f"{self.path}:{self.names[i]}"

    def content_hash(self, index_dir: Path | None) -> tuple[str, int]:
        """sha256 of the data's content and the number of files that had to be read for it.

        With ``index_dir``, digests of files whose (size, mtime_ns) did not change since the
        last call are taken from an index there instead of re-reading the files.
        """
        files = [self.path / n for n in self.names] if self.kind == "folder" else [self.path]
        keys = [f.relative_to(self.path).as_posix() for f in files] if self.kind == "folder" else [self.path.name]
        index_file = None
        index: dict[str, list] = {}
        if index_dir is not None:
            root_id = hashlib.sha256(str(self.path.resolve()).encode()).hexdigest()[:16]
            index_file = index_dir / f"index-{root_id}.json"
            try:
                index = json.loads(index_file.read_text())
            except (OSError, ValueError):
                index = {}
        new_index: dict[str, list] = {}
        read = 0
        for key, f in zip(keys, files):
            st = f.stat()
            old = index.get(key)
            if isinstance(old, list) and len(old) == 3 and old[0] == st.st_size and old[1] == st.st_mtime_ns:
                new_index[key] = old
                continue
            h = hashlib.sha256()
            with open(f, "rb") as fh:
                while block := fh.read(1 << 20):
                    h.update(block)
            new_index[key] = [st.st_size, st.st_mtime_ns, h.hexdigest()]
            read += 1
        if index_file is not None and new_index != index:
            atomic_write(index_file, json.dumps(new_index))
        total = hashlib.sha256(f"{self.kind}\n".encode())
        for digest in sorted(v[2] for v in new_index.values()):
            total.update(digest.encode())
        return total.hexdigest(), read


def decode_image(data: bytes) -> torch.Tensor:
    """Image file bytes -> uint8 RGB [3, H, W] (fully decoded, so truncated files fail here)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img.load()
        rgb = img.convert("RGB")
    return torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1)


class ImageDataset(torch.utils.data.Dataset):
    """Items (index, uint8 [3, H, W] tensor or None, error message or None); decoding errors are returned, not raised."""

    def __init__(self, source: ImageSource) -> None:
        self.source = source

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int):
        try:
            return i, decode_image(self.source.read(i)), None
        except Exception as exc:  # noqa: BLE001 - reported by name in the main process
            return i, None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


def collate_by_size(items):
    """Batch items into same-size groups: {'groups': [(indices, uint8 [n, 3, H, W])], 'bad': [(index, error)]}."""
    groups: dict[tuple[int, ...], list] = {}
    bad = []
    for i, img, err in items:
        if img is None:
            bad.append((i, err))
        else:
            groups.setdefault(tuple(img.shape), []).append((i, img))
    return {
        "groups": [(torch.tensor([i for i, _ in g]), torch.stack([t for _, t in g])) for g in groups.values()],
        "bad": bad,
    }


# ------------------------------------------------------------------------------ statistics
class StatsAccumulator:
    """Running float64 sum and sum of outer products of feature rows, on the features' device."""

    def __init__(self, dim: int, device: torch.device | str = "cpu") -> None:
        self.dim = dim
        self.n = 0
        dtype = torch.float64 if torch.device(device).type != "mps" else torch.float32
        self.sum = torch.zeros(dim, dtype=dtype, device=device)
        self.outer = torch.zeros(dim, dim, dtype=dtype, device=device)

    def update(self, features: torch.Tensor) -> None:
        if features.ndim != 2 or features.shape[1] != self.dim:
            raise ValueError(f"features must be [N, {self.dim}], got {tuple(features.shape)}")
        x = features.to(self.sum.device, self.sum.dtype)
        self.sum += x.sum(0)
        self.outer += x.T @ x
        self.n += x.shape[0]

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """(mu [D], sigma [D, D]) as float64 numpy, sigma with N - 1."""
        if self.n < 2:
            raise UserError(f"need at least 2 images for a covariance, got {self.n}")
        mu = self.sum / self.n
        sigma = (self.outer - self.n * torch.outer(mu, mu)) / (self.n - 1)
        return mu.double().cpu().numpy(), sigma.double().cpu().numpy()


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
    def from_features(cls, features: torch.Tensor | np.ndarray, keep: bool = False, meta: dict | None = None) -> "FeatureStats":
        f = torch.as_tensor(features)
        acc = StatsAccumulator(f.shape[1], f.device)
        acc.update(f)
        mu, sigma = acc.mean_cov()
        return cls(mu, sigma, acc.n, f.float().cpu().numpy() if keep else None, dict(meta or {}))

    def to_bytes(self) -> bytes:
        """A pytorch-fid-compatible ``.npz`` (``mu``, ``sigma``) plus ``num_images``, ``meta`` and optional ``features``."""
        arrays: dict[str, Any] = {"mu": self.mu, "sigma": self.sigma, "num_images": np.int64(-1 if self.num is None else self.num),
                                  "meta": np.array(json.dumps(self.meta, default=str))}
        if self.features is not None:
            arrays["features"] = self.features
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        return buf.getvalue()

    def save(self, path: str | os.PathLike) -> Path:
        return atomic_write(path, self.to_bytes())


def _as_matrix(value: Any, what: str, path: Path) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise StatsFileError(f"{path}: {what} is not a numeric array") from None
    return arr


def load_stats(path: str | os.PathLike, dim: int = 2048) -> FeatureStats:
    """Read statistics: pytorch-fid / our ``.npz`` (``mu``, ``sigma``) or rosinality ``.pkl`` (``mean``, ``cov``).

    Pickles are read with the restricted unpickler (numpy arrays and plain containers only).

    Raises:
        StatsFileError: unreadable file, missing key, wrong shape or dimension, non-finite values.
    """
    p = Path(path)
    if not p.is_file():
        raise StatsFileError(f"{p}: no such statistics file")
    suffix = p.suffix.lower()
    features = None
    meta: dict[str, Any] = {}
    num = None
    if suffix == ".npz":
        try:
            with np.load(p, allow_pickle=False) as data:
                keys = set(data.files)
                if not {"mu", "sigma"} <= keys:
                    raise StatsFileError(f"{p}: missing key {'mu' if 'mu' not in keys else 'sigma'} (a statistics .npz holds 'mu' and 'sigma'; has {sorted(keys)})")
                mu, sigma = data["mu"], data["sigma"]
                if "features" in keys:
                    features = np.asarray(data["features"], dtype=np.float32)
                if "num_images" in keys and int(data["num_images"]) >= 0:
                    num = int(data["num_images"])
                if "meta" in keys:
                    try:
                        meta = json.loads(str(data["meta"]))
                    except ValueError:
                        meta = {}
        except StatsFileError:
            raise
        except Exception as exc:  # noqa: BLE001 - zip/npy/pickle errors of a bad file
            raise StatsFileError(f"{p}: not a readable .npz statistics file ({type(exc).__name__}: {str(exc).splitlines()[0][:150] if str(exc) else ''})") from None
    elif suffix in (".pkl", ".pickle"):
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
            raise StatsFileError(f"{p}: missing key {'mean' if mu is None else 'cov'} (a statistics pickle holds 'mean' and 'cov'; has {sorted(map(str, data))})")
        if isinstance(data.get("size"), int):
            num = int(data["size"])
    else:
        raise StatsFileError(f"{p}: unknown statistics format {suffix!r} (expected .npz or .pkl)")
    mu, sigma = _as_matrix(mu, "mu", p), _as_matrix(sigma, "sigma", p)
    if mu.ndim != 1 or mu.shape[0] != dim:
        raise StatsFileError(f"{p}: mu has shape {tuple(mu.shape)}, expected ({dim},) (the detector's feature dimension)")
    if sigma.shape != (dim, dim):
        raise StatsFileError(f"{p}: sigma has shape {tuple(sigma.shape)}, expected ({dim}, {dim})")
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise StatsFileError(f"{p}: statistics contain NaN or infinite values")
    if features is not None and (features.ndim != 2 or features.shape[1] != dim):
        raise StatsFileError(f"{p}: features have shape {tuple(features.shape)}, expected (N, {dim})")
    return FeatureStats(mu, sigma, num, features, meta)


# ------------------------------------------------------------------------------ dataset features
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


def cache_key(data_hash: str, detector_desc: dict[str, Any], options: dict[str, Any]) -> str:
    text = json.dumps({"v": _CACHE_VERSION, "data": data_hash, "detector": detector_desc, "options": options}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@torch.inference_mode()
def dataset_features(
    source: ImageSource,
    detector: Callable[[torch.Tensor], torch.Tensor],
    *,
    batch_size: int = 64,
    num_workers: int = 0,
    skip_bad: bool = False,
    keep_features: bool = False,
    device: torch.device | str = "cpu",
    show_progress: bool = True,
) -> tuple[FeatureStats, list[str]]:
    """Stream the images through ``detector`` and accumulate statistics.

    Returns:
        (stats, names of the skipped files). ``stats.features`` follows the file order.

    Raises:
        BadImage: an undecodable file when ``skip_bad`` is False (names the file).
    """
    device = torch.device(device)
    loader = torch.utils.data.DataLoader(
        ImageDataset(source), batch_size=batch_size, shuffle=False, num_workers=num_workers,
        collate_fn=collate_by_size, pin_memory=device.type == "cuda", persistent_workers=False,
    )
    acc: StatsAccumulator | None = None
    kept: list[tuple[torch.Tensor, torch.Tensor]] = []
    skipped: list[str] = []
    bar = progress_bar(len(source), "dataset features", show_progress)
    try:
        for batch in loader:
            for i, err in batch["bad"]:
                if not skip_bad:
                    raise BadImage(f"{source.display_name(i)}: cannot decode image ({err}); fix or remove it, or pass --skip-bad-images")
                skipped.append(source.names[i])
            for idx, images in batch["groups"]:
                feats = detector(images.to(device, non_blocking=True))
                if acc is None:
                    acc = StatsAccumulator(feats.shape[1], feats.device)
                acc.update(feats)
                if keep_features:
                    kept.append((idx, feats.float()))
            bar.update(sum(len(g[0]) for g in batch["groups"]) + len(batch["bad"]))
    finally:
        bar.close()
    if acc is None or acc.n == 0:
        raise UserError(f"{source.path}: none of the {len(source)} image files could be decoded")
    mu, sigma = acc.mean_cov()
    features = None
    if keep_features:
        idx = torch.cat([k[0] for k in kept])
        feats = torch.cat([k[1] for k in kept]).cpu()
        features = feats[torch.argsort(idx)].numpy()
    return FeatureStats(mu, sigma, acc.n, features), skipped


def dataset_stats(
    path: str | os.PathLike,
    detector,
    *,
    batch_size: int = 64,
    num_workers: int = 0,
    skip_bad: bool = False,
    keep_features: bool = False,
    use_cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    device: torch.device | str = "cpu",
    show_progress: bool = True,
) -> tuple[FeatureStats, DatasetStatsInfo]:
    """Statistics of the image folder / zip at ``path``, from the cache when possible.

    Args:
        path: image folder (recursive) or ``.zip``.
        detector: a :class:`~stylegan_eval.metrics.inception.FeatureDetector` (its
            ``describe()`` enters the cache key).
        batch_size: images per detector call.
        num_workers: DataLoader decoding processes (0: decode in this process).
        skip_bad: skip undecodable files (listed in the info) instead of failing.
        keep_features: also keep the per-image features (KID needs them).
        use_cache: read and write the statistics cache.
        cache_dir: cache root (default :func:`cache_root`).

    Returns:
        (stats, info); ``info.cache_hit`` says whether the cache answered.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    source = ImageSource(path)
    root = cache_root(cache_dir) / "fid-stats"
    data_hash, hashed = source.content_hash(root if use_cache else None)
    timings["hash"] = time.perf_counter() - t0
    options = {"skip_bad": skip_bad}  # an entry with features also answers requests without
    key = cache_key(data_hash, detector.describe(), options)
    cache_file = root / f"{Path(path).name or 'data'}-{detector.name}-{key}.npz"
    if use_cache and cache_file.is_file():
        try:
            stats = load_stats(cache_file, dim=detector.feature_dim)
        except UserError:
            stats = None
        if stats is not None and (stats.features is not None or not keep_features):
            info = DatasetStatsInfo(str(path), len(source), int(stats.num or 0), list(stats.meta.get("skipped", [])),
                                    True, str(cache_file), data_hash, hashed, {**timings, "total": time.perf_counter() - t0})
            return stats, info
    t1 = time.perf_counter()
    stats, skipped = dataset_features(source, detector, batch_size=batch_size, num_workers=num_workers, skip_bad=skip_bad,
                                      keep_features=keep_features, device=device, show_progress=show_progress)
    timings["features"] = time.perf_counter() - t1
    stats.meta = {"source": str(path), "data_hash": data_hash, **detector.describe(), "skipped": skipped, "num_files": len(source)}
    if use_cache:
        stats.save(cache_file)
    timings["total"] = time.perf_counter() - t0
    info = DatasetStatsInfo(str(path), len(source), int(stats.num), skipped, False, str(cache_file) if use_cache else None,
                            data_hash, hashed, timings)
    return stats, info


# ------------------------------------------------------------------------------ generator features
def generator_features(
    generator,
    detector,
    num_samples: int,
    *,
    batch_size: int,
    seed: int = 0,
    psi: float = 1.0,
    noise_mode: str = "random",
    class_idx: int | None = None,
    show_progress: bool = True,
    state=None,
) -> torch.Tensor:
    """Detector features [num_samples, D] (CPU float32) of generated images, row i from sample i.

    Sample i uses z (and labels, noise) drawn from ``(seed, i)`` by the sampling engine; images
    are quantised as NVIDIA's metrics do, ``(x * 127.5 + 128).clamp(0, 255)`` -> uint8, gray
    repeated to RGB, then the detector resizes them its way. Runs through
    :func:`stylegan_eval.engine.collect`, so it may be sharded and resumed (``state``).
    """
    from ..engine import collect
    from ..generator import labels, latents
    from ..imageops import to_rgb, to_uint8

    @torch.inference_mode()
    def fn(idx: torch.Tensor) -> dict[str, torch.Tensor]:
        dev_idx = idx.to(generator.device)
        z = latents(generator, seed, dev_idx)
        c = labels(generator, seed, dev_idx, class_idx)
        images = generator.generate(z, c, psi=psi, noise_mode=noise_mode, noise_seed=seed, indices=dev_idx)
        return {"features": detector(to_rgb(to_uint8(images)))}

    out = collect(fn, num_samples, batch_size, desc="generator features", show_progress=show_progress, state=state)
    return out["features"]
