"""stylegan-eval stats IMAGES [--out DIR | --out-file FILE.npz]: Inception statistics of an image folder or zip.

``--out`` is a folder, as everywhere: the statistics go to ``<out>/stats.npz`` (``./stats.npz``
without --out); ``--out-file`` names the file itself. A pytorch-fid-compatible ``.npz`` with ``mu``
and ``sigma`` (plus ``num_images``, a JSON ``meta`` naming the detector, weights hash, resize mode
and data hash, and with ``--features`` the per-image features KID needs). Pass it to
``stylegan-eval fid --data``.

The statistics are cached (see :mod:`stylegan_eval.metrics.stats_cache`). A run that the cache
can answer (same data, detector weights and options) is answered before torch is imported:
it re-stats the files, reads only those whose size or mtime changed, and copies the cached
statistics, in a fraction of a second.

``stats`` measures real data, not a generator, so it runs no registry entry: it builds the
detector with :func:`~stylegan_eval.metrics.inception.make_detector` and computes through
:func:`~stylegan_eval.metrics.features.dataset_stats` and the statistics cache, the pieces the
FID's real side uses, so that ``fid --data IMAGES`` and ``stats IMAGES`` share one cache entry.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click

from .. import log, weights
from ..errors import UserError, WeightsUnavailable
from ..metrics.inception_weights import FEATURE_DIM, locate
from ..metrics.stats_cache import cache_entry, cached_stats, rank_warning
from ..report import Report, environment
from .detector_options import default_workers, detector_options
from .hub_paths import HubOrPath
from .options import RunOptions, common_options


def _from_cache(
    images: Path,
    detector: str,
    inception_weights,
    resize: str,
    skip_bad: bool,
    keep_features: bool,
    cache_dir,
    allow_random: bool,
):
    """(stats, info, detector weights) when the cache answers without computing, else None.

    Only weights already on disk are considered (nothing is downloaded here); the random
    fallback is taken only where the full path would take it too, i.e. with downloads off.
    """
    try:
        located = locate(
            detector,
            inception_weights,
            allow_random=allow_random and bool(os.environ.get(weights.ENV_OFFLINE)),
            resize=resize,
            download=False,
        )
    except WeightsUnavailable:
        return None  # the full path downloads the weights, or explains where to put them
    hit = cached_stats(
        cache_entry(images, detector, located.describe(), skip_bad=skip_bad, cache_dir=cache_dir),
        FEATURE_DIM,
        keep_features,
    )
    return None if hit is None else (*hit, located)


@click.command("stats")
@click.argument("images", required=False, type=click.Path(path_type=Path))
@click.option(
    "--data",
    type=HubOrPath(path_type=Path),
    default=None,
    help="Same as IMAGES (so a configuration's data = ... applies).",
)
@click.option(
    "--features", "keep_features", is_flag=True, help="Also store the per-image features (for --kid against this file)."
)
@click.option(
    "--out-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The statistics file (.npz: mu, sigma, num_images, meta[, features]) [default: <out>/stats.npz, else ./stats.npz].",
)
@detector_options
@common_options(out_file="stats.npz", resume=False)
def command(
    *,
    images,
    data,
    keep_features,
    out_file,
    detector,
    inception_weights,
    resize,
    skip_bad_images,
    num_workers,
    cache_dir,
    no_cache,
    run: RunOptions,
) -> None:
    """Inception mean/covariance of IMAGES (folder, recursive, or .zip) written to --out."""
    images = _images(images or data)
    stats_path = _stats_path(out_file, run.out)
    t0 = time.perf_counter()
    choice = (detector, inception_weights, resize)
    hit = (
        None
        if no_cache
        else _from_cache(images, *choice, skip_bad_images, keep_features, cache_dir, run.allow_random_weights)
    )
    if hit is not None:
        stats, info, det = hit
        device, env = run.device_spec, environment(None)
    else:
        stats, info, det = _compute(
            images, choice, run, skip_bad_images, keep_features, num_workers, cache_dir, no_cache
        )
        device, env = str(run.device), environment(run.device)
    if not keep_features:
        stats.features = None
    stats.save(stats_path)
    warnings = [w for w in [rank_warning(stats.num, stats.dim, "images")] if w]
    if info.skipped:
        warnings.append(f"{len(info.skipped)} undecodable image(s) skipped (--skip-bad-images)")
    rows = _rows(stats_path, info, time.perf_counter() - t0)
    report = Report(
        "stats",
        [{"field": k, "value": str(v)} for k, v in rows.items()],  # printed only (--out is the .npz): no DataFrame
        settings={
            "images": str(images),
            "detector": detector,
            "resize": resize,
            "skip_bad_images": skip_bad_images,
            "features": keep_features,
            "covariance": "unbiased (N-1)",
            "device": device,
        },
        meta={
            "detector": det.describe(),
            "cache_file": info.cache_file,
            "skipped_files": info.skipped[:100],
            "timings": info.seconds,
            "environment": env,
            "random_weights": det.random_weights,
            "warnings": warnings,
            "result": rows,
        },
    )
    _emit(report, run, stats_path, info, warnings)


def _images(images: Path | None) -> Path:
    """The image folder or zip given as IMAGES or --data (UserError when none or missing)."""
    if images is None:
        raise UserError("no images given: pass IMAGES (a folder or .zip) or --data")
    if not images.exists():
        raise UserError(f"{images}: no such file or folder")
    return images


def _stats_path(out_file: Path | None, out: Path | None) -> Path:
    """The statistics file: --out-file, else <out>/stats.npz, else ./stats.npz (UserError for a non-.npz name)."""
    if out is not None and out.suffix.lower() == ".npz":
        raise UserError(
            f"--out {out}: --out names a folder (stats.npz is written inside); use --out-file {out} for the file itself"
        )
    path = out_file if out_file is not None else (out if out is not None else Path(".")) / "stats.npz"
    if path.suffix.lower() != ".npz":
        raise UserError(f"--out-file {path}: the statistics file must end in .npz")
    return path


def _compute(
    images: Path,
    choice: tuple,
    run: RunOptions,
    skip_bad: bool,
    keep_features: bool,
    num_workers: int | None,
    cache_dir,
    no_cache: bool,
):
    """(stats, info, detector) computed with the detector ``choice`` (name, weights, resize), through
    the dataset statistics routine the FID's real side uses (:func:`stylegan_eval.metrics.features.dataset_stats`)."""
    from ..metrics.features import dataset_stats
    from ..metrics.inception import make_detector
    from ..runtime import default_batch_size

    name, weights_file, resize = choice
    det = make_detector(name, weights_file, allow_random=run.allow_random_weights, resize=resize, device=run.device)
    stats, info = dataset_stats(
        images,
        det,
        batch_size=run.batch_size or default_batch_size(run.device, None, "stats"),
        num_workers=default_workers() if num_workers is None else num_workers,
        skip_bad=skip_bad,
        keep_features=keep_features,
        use_cache=not no_cache,
        cache_dir=cache_dir,
        device=run.device,
        show_progress=run.show_progress,
    )
    return stats, info, det


def _rows(stats_path: Path, info, seconds: float) -> dict:
    """The printed result: where the statistics went and how they were made."""
    return {
        "stats_file": str(stats_path),
        "num_images": info.num_images,
        "num_files": info.num_files,
        "skipped": len(info.skipped),
        "cache_hit": info.cache_hit,
        "data_hash": info.data_hash,
        "files_hashed": info.files_hashed,
        "images_per_s": info.images_per_second,
        "seconds": seconds,
    }


def _emit(report: Report, run: RunOptions, stats_path: Path, info, warnings: list[str]) -> None:
    """The banner and warnings on stderr, then the report as JSON (--json) or one line."""
    if report.banner():
        click.echo(report.banner(), err=True)
    for w in warnings:
        log.warning(w)
    if run.json:
        click.echo(json.dumps(report.to_dict()))
    else:
        click.echo(f"wrote {stats_path} ({info.num_images} images{', from the cache' if info.cache_hit else ''})")
