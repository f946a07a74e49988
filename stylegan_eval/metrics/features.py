"""Inception features of image datasets and generators, accumulated into statistics.

Images of a folder or zip (:class:`~stylegan_eval.metrics.stats_cache.ImageSource`) are
decoded with PIL and converted to RGB (grayscale repeated to three channels, alpha dropped,
palettes expanded), batched as uint8 NCHW by a torch DataLoader (worker processes decode) and
fed to the detector. Images of different sizes may share a batch: each size goes through the
detector separately.

Statistics are accumulated on the device in float64 (the sum and the sum of outer products)
and turned into mu and the unbiased (N - 1) covariance at the end, as pytorch-fid, TTUR and
clean-fid compute them. Dataset statistics are cached (:mod:`~stylegan_eval.metrics.stats_cache`,
which also holds the statistics file formats and needs no torch).
"""

from __future__ import annotations

import io
import os
import time
from typing import Callable

import numpy as np
import torch

from ..errors import UserError
from ..runtime import progress as progress_bar
from .accumulate import StatsAccumulator  # noqa: F401 - re-exported
from .stats_cache import (  # noqa: F401 - re-exported: the statistics API lives here for callers
    ENV_CACHE,
    IMAGE_EXTENSIONS,
    MIN_SAMPLES_FULL_RANK,
    BadImage,
    DatasetStatsInfo,
    FeatureStats,
    ImageSource,
    StatsFileError,
    cache_entry,
    cache_key,
    cache_root,
    cached_stats,
    load_stats,
)

# ------------------------------------------------------------------------------ decoding
#: Largest image decoded (width x height): Pillow's own refusal threshold (twice its
#: ``Image.MAX_IMAGE_PIXELS`` default of 89,478,485), about 13,377 x 13,377.
MAX_IMAGE_PIXELS = 2 * 89_478_485


def decode_image(data: bytes) -> torch.Tensor:
    """Image file bytes -> uint8 RGB [3, H, W] (fully decoded, so truncated files fail here).

    16-bit grayscale is scaled to 8 bits as round(value / 257) (65535 -> 255); 16-bit-per-channel
    colour PNGs are refused (Pillow would keep only the high byte). More than
    :data:`MAX_IMAGE_PIXELS` pixels: refused before decoding.
    """
    import warnings

    from PIL import Image

    with warnings.catch_warnings():  # Pillow warns from half its own limit on: below ours, not news
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data))
        except Image.UnidentifiedImageError:  # Pillow's message names the in-memory buffer object
            raise ValueError("cannot identify the image format (expected PNG, JPEG or WebP data)") from None
        except Image.DecompressionBombError as exc:  # Pillow's own limit: the same one, said our way
            pixels = "".join(ch for ch in str(exc).split(" pixels")[0] if ch.isdigit()) or "more"
            raise ValueError(
                f"{pixels} pixels exceeds the {MAX_IMAGE_PIXELS}-pixel limit (decompression bomb?)"
            ) from None
    with img:
        if img.width * img.height > MAX_IMAGE_PIXELS:
            raise ValueError(
                f"{img.width}x{img.height} pixels exceeds the {MAX_IMAGE_PIXELS}-pixel limit (decompression bomb?)"
            )
        if img.mode in ("RGB", "RGBA") and any(";16" in str(getattr(t, "args", "")) for t in img.tile):
            raise ValueError("16-bit-per-channel colour image: convert it to 8 bits (value / 257) first")
        img.load()
        if img.mode.startswith("I"):  # 16-bit (I;16*) or 32-bit integer grayscale holding 16-bit values
            v = np.asarray(img).astype(np.float64)
            gray = np.clip(np.rint(v / 257.0), 0, 255).astype(np.uint8)
            return torch.from_numpy(np.repeat(gray[None], 3, axis=0))
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


# ------------------------------------------------------------------------------ dataset features
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
        ImageDataset(source),
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=collate_by_size,
        pin_memory=device.type == "cuda",
        persistent_workers=False,
    )
    acc: StatsAccumulator | None = None
    kept: list[tuple[torch.Tensor, torch.Tensor]] = []
    skipped: list[str] = list(getattr(source, "skipped", []))  # non-regular files left out by the walk
    sizes: dict[str, int] = {}  # "HxW" -> images: a size unlike the generator's is reported
    bar = progress_bar(len(source), "dataset features", show_progress)
    try:
        for batch in loader:
            for i, err in batch["bad"]:
                if not skip_bad:
                    raise BadImage(
                        f"{source.display_name(i)}: cannot decode image ({err}); fix or remove it, or pass --skip-bad-images"
                    )
                skipped.append(source.names[i])
            for idx, images in batch["groups"]:
                size = f"{images.shape[-2]}x{images.shape[-1]}"
                sizes[size] = sizes.get(size, 0) + len(idx)
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
    return FeatureStats(mu, sigma, acc.n, features, {"sizes": sizes}), skipped


def _write_cache(file: str | os.PathLike | None, stats: FeatureStats) -> None:
    """Store ``stats`` in the cache ``file`` (None: caching off); a full or read-only cache costs
    the next run a recomputation, not this result (one warning)."""
    if file is None:
        return
    try:
        stats.save(file)
    except OSError as exc:
        from ..log import warning

        warning(f"could not write the statistics cache {file} ({exc.strerror or exc}); the result is kept")


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
    t0 = time.perf_counter()
    entry = cache_entry(
        path, detector.name, detector.describe(), skip_bad=skip_bad, use_cache=use_cache, cache_dir=cache_dir
    )
    hit = cached_stats(entry, detector.feature_dim, keep_features) if use_cache else None
    if hit is not None:
        return hit
    timings = dict(entry.seconds)
    t1 = time.perf_counter()
    stats, skipped = dataset_features(
        entry.source,
        detector,
        batch_size=batch_size,
        num_workers=num_workers,
        skip_bad=skip_bad,
        keep_features=keep_features,
        device=device,
        show_progress=show_progress,
    )
    timings["features"] = time.perf_counter() - t1
    stats.meta = {
        **stats.meta,
        "source": str(path),
        "data_hash": entry.data_hash,
        **detector.describe(),
        "skipped": skipped,
        "num_files": len(entry.source),
    }
    _write_cache(entry.file, stats)
    timings["total"] = time.perf_counter() - t0
    info = DatasetStatsInfo(
        str(path),
        len(entry.source),
        int(stats.num or 0),
        skipped,
        False,
        None if entry.file is None else str(entry.file),
        entry.data_hash,
        entry.files_hashed,
        timings,
    )
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

    ``generator`` may also be :class:`~stylegan_eval.metrics.image_samples.GeneratedImages`: the
    features of those images, every one of them (``num_samples`` and the sampling options unused).
    """
    image_features = getattr(generator, "image_features", None)  # GeneratedImages (which imports this module)
    if callable(image_features):
        return image_features(detector, batch_size, show_progress)
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
