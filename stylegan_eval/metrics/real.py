"""The real side of FID/KID: statistics of ``real`` (a stats file, an image folder or zip, or statistics in memory).

Shared by the ``fid`` and ``kid`` entry points; the ``fid`` command, ``compare`` and
``api.evaluate`` all reach it through them.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..errors import ArgumentError
from .context import Raw, RunContext
from .stats_cache import FeatureStats, check_real_source

STATS_SUFFIXES = (".npz", ".pkl", ".pickle")

#: What ``real`` may be: a path, a :class:`FeatureStats`, or a ``(mu, sigma)`` pair.
RealArg = Union[str, os.PathLike, FeatureStats, tuple]


def default_workers() -> int:
    """Image decoding processes by default: half the CPUs, at most 8."""
    return max(0, min(8, (os.cpu_count() or 1) // 2))


def stats_digest(stats: FeatureStats) -> str:
    """sha256 of in-memory statistics (mu and sigma bytes, and the features when kept)."""
    h = hashlib.sha256()
    for a in (stats.mu, stats.sigma, stats.features):
        if a is not None:
            h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def validate(real: Any, *, keep_features: bool = False) -> None:
    """The checks of ``real`` (as :func:`real_statistics` takes it) that need no detector and read
    no file, run by it and by the feature metrics' ``validate`` before a detector is built:
    ArgumentError naming ``real`` for another type or a local path that does not exist (a
    ``hf://`` reference is checked when it is resolved), or naming ``kid`` for statistics in
    memory without the per-image features ``keep_features`` (KID) needs."""
    if isinstance(real, FeatureStats) or (isinstance(real, tuple) and len(real) == 2):
        if keep_features and getattr(real, "features", None) is None:
            raise ArgumentError("kid", "kid=True needs the real images' features, which these statistics do not hold")
        return
    check_real_source(real)


def real_statistics(
    real: RealArg,
    detector: Any,
    *,
    keep_features: bool,
    batch_size: int | None = None,
    device: Any = "cpu",
    show_progress: bool = False,
    skip_bad: bool = False,
    num_workers: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    no_cache: bool = False,
) -> tuple[FeatureStats, dict[str, Any]]:
    """(statistics, info) of ``real``; an image folder / zip goes through the statistics cache.

    ``info`` holds ``source``, ``num_real``, ``skipped`` and, for images, the cache details and
    ``data_hash``; ``identity`` names the real data in fingerprints (a data hash or file digest).
    """
    validate(real, keep_features=keep_features)
    if isinstance(real, tuple):
        real = FeatureStats(np.asarray(real[0], np.float64), np.asarray(real[1], np.float64))
    if isinstance(real, FeatureStats):
        return _in_memory(real)
    from .. import hub

    source = hub.resolve(str(real)) if hub.is_hub_ref(real) else None  # the cached file, read like a local one
    data = Path(source.path if source else real)
    if data.is_file() and data.suffix.lower() in STATS_SUFFIXES:
        return _stats_file(data, source, detector, keep_features)
    import torch

    from ..runtime import default_batch_size
    from .features import dataset_stats

    dev = torch.device(device)
    stats, ds = dataset_stats(
        data,
        detector,
        batch_size=batch_size or default_batch_size(dev, None, "stats"),
        num_workers=default_workers() if num_workers is None else num_workers,
        skip_bad=skip_bad,
        keep_features=keep_features,
        use_cache=not no_cache,
        cache_dir=cache_dir,
        device=dev,
        show_progress=show_progress,
    )
    return stats, _images_info(stats, ds, skip_bad)


def _in_memory(real: FeatureStats) -> tuple[FeatureStats, dict[str, Any]]:
    """Statistics given in memory: identified by the digest of their arrays."""
    info = {"source": "statistics", "num_real": real.num, "skipped": 0, "cache_hit": None}
    return real, {**info, "identity": "stats:" + stats_digest(real)}


def _stats_file(data: Path, source: Any, detector: Any, keep_features: bool) -> tuple[FeatureStats, dict[str, Any]]:
    """A statistics file (local, or ``source``: the Hub file it was resolved from), its dimension the detector's."""
    from ..fileio import sha256_file
    from .stats_cache import load_stats

    stats = load_stats(data, dim=detector.feature_dim)
    if keep_features and stats.features is None:
        raise ArgumentError(
            "kid",
            f"{data}: kid=True needs the real images' features, which this statistics file does not hold",
            hint="pass the image folder, or a file written by `stylegan-eval stats --features`",
        )
    info: dict[str, Any] = {
        "source": "stats file",
        "num_real": stats.num,
        "skipped": len(stats.meta.get("skipped", [])),
        "cache_hit": None,
        "sizes": dict(stats.meta.get("sizes") or {}),  # written by `stylegan-eval stats` since image sizes are kept
    }
    made_by = {k: stats.meta.get(k) for k in ("detector", "weights_sha256", "resize") if k in stats.meta}
    if made_by:
        info["stats_file_detector"] = made_by
    info["identity"] = "file:" + sha256_file(data)
    if source is not None:  # a Hub file: its commit enters the fingerprint too
        info["hub"] = source.info()
        info["identity"] = f"hf:{source.repo_id}@{source.commit}:{info['identity']}"
    return stats, info


def _images_info(stats: FeatureStats, ds: Any, skip_bad: bool) -> dict[str, Any]:
    """The info of statistics computed from (or cached for) an image folder or zip."""
    return {
        "source": "images",
        "num_real": ds.num_images,
        "num_files": ds.num_files,
        "skipped": len(ds.skipped),
        "skipped_files": ds.skipped[:100],
        "cache_hit": ds.cache_hit,
        "cache_file": ds.cache_file,
        "data_hash": ds.data_hash,
        "files_hashed": ds.files_hashed,
        "seconds": ds.seconds,
        "images_per_s": ds.images_per_second,
        "identity": f"images:{ds.data_hash}:skip_bad={skip_bad}",
        "sizes": dict(stats.meta.get("sizes") or {}),
    }


def stats_warnings(detector: Any, real_info: dict[str, Any]) -> list[str]:
    """Warnings about the real side: a statistics file made by another detector, skipped images."""
    out = []
    from .inception_weights import pinned_digest

    made_by = real_info.get("stats_file_detector")
    theirs, ours = str(made_by.get("weights_sha256")) if made_by else "", str(detector.weights_sha256)
    same_network = theirs == ours or (
        pinned_digest(theirs) and pinned_digest(ours)
    )  # two files of the published Inception
    if made_by and (
        made_by.get("detector") != detector.name
        or not same_network
        or made_by.get("resize", detector.resize) != detector.resize
    ):
        out.append(
            f"the statistics file was computed with {made_by}, not with this detector ({detector.name}, "
            f"{detector.weights_sha256}, resize {detector.resize}): the FID mixes feature spaces"
        )
    if real_info.get("skipped"):
        out.append(f"{real_info['skipped']} undecodable image(s) skipped (--skip-bad-images)")
    return out


def shared_real_statistics(ctx: RunContext, keep_features: bool) -> tuple[Any, tuple]:
    """(detector, (real statistics, info)) of ``ctx.options.data`` with the options' detector,
    built once per comparison / Evaluator and shared by FID and KID of every checkpoint."""
    from .inception import make_detector

    opts = ctx.options

    def make() -> tuple[Any, tuple]:
        det = make_detector(
            opts.detector,
            opts.inception_weights,
            allow_random=opts.allow_random_weights,
            resize=opts.resize,
            device=ctx.device,
            download=opts.download,
        )
        real = real_statistics(
            Path(opts.data) if isinstance(opts.data, (str, os.PathLike)) else opts.data,
            det,
            keep_features=keep_features,
            batch_size=opts.batch_size,
            device=ctx.device,
            show_progress=opts.show_progress,
            skip_bad=opts.skip_bad,
            num_workers=opts.num_workers,
            cache_dir=opts.cache_dir,
            no_cache=opts.no_cache,
        )
        return det, real

    return ctx.cached("fid-real", make)


def feature_raws(res: Any, outputs: tuple[str, ...]) -> dict[str, Raw]:
    """{output: Raw} of a FID/KID result (:class:`~stylegan_eval.metrics.fid.FeatureMetricResult`)."""
    num_real = res.real_info.get("num_real")
    names = res.settings.get("protocol", {})
    out = {}
    if "fid" in outputs:
        details = {
            "warnings": res.warnings,
            "num_real": num_real,
            "name": names.get("fid", "fid"),
            "detector": dict(res.detector),
        }
        out["fid"] = Raw(res.fid, None, res.num_gen, list(res.random_weights), details, res.fingerprint(), res)
    if "kid" in outputs:
        details = {"subset_std": res.kid_std, "num_real": num_real, "name": names.get("kid", "kid")}
        out["kid"] = Raw(res.kid, None, res.num_gen, list(res.random_weights), details, res.fingerprint(), res)
    return out
