"""stylegan-eval fid CKPT --data IMAGES|STATS: FID (and KID) of a generator against real data."""

from __future__ import annotations

import time
from pathlib import Path

import click
import pandas as pd

from ..cli import RunOptions, checkpoint_options, common_options, emit
from ..errors import UserError
from ..metrics.features import FeatureStats, dataset_stats, generator_features, load_stats
from ..metrics.fid import FID_METHODS, fid_from_stats
from ..metrics import inception
from ..metrics.kid import MAX_SUBSET_SIZE, NUM_SUBSETS, kernel_inception_distance
from ..report import Report, environment
from ..runtime import Timer, default_batch_size
from .detector_options import default_workers, detector_options

STATS_SUFFIXES = (".npz", ".pkl", ".pickle")


def real_statistics(data: Path, detector, run: RunOptions, *, keep_features: bool, skip_bad: bool, num_workers: int | None,
                    cache_dir: Path | None, no_cache: bool) -> tuple[FeatureStats, dict]:
    """Statistics of --data: a stats file, or an image folder / zip (cached)."""
    if data.is_file() and data.suffix.lower() in STATS_SUFFIXES:
        stats = load_stats(data, dim=detector.feature_dim)
        info = {"source": "stats file", "num_real": stats.num, "skipped": len(stats.meta.get("skipped", [])), "cache_hit": None}
        made_by = {k: stats.meta.get(k) for k in ("detector", "weights_sha256", "resize") if k in stats.meta}
        if made_by:
            info["stats_file_detector"] = made_by
        if keep_features and stats.features is None:
            raise UserError(f"{data}: --kid needs the real images' features, which this statistics file does not hold; "
                            "pass the image folder, or a file written by `stylegan-eval stats --features`")
        return stats, info
    batch = run.batch_size or (64 if run.device.type == "cuda" else 8)
    stats, ds = dataset_stats(data, detector, batch_size=batch, num_workers=default_workers() if num_workers is None else num_workers,
                              skip_bad=skip_bad, keep_features=keep_features, use_cache=not no_cache, cache_dir=cache_dir,
                              device=run.device, show_progress=run.show_progress)
    info = {"source": "images", "num_real": ds.num_images, "num_files": ds.num_files, "skipped": len(ds.skipped),
            "skipped_files": ds.skipped[:100], "cache_hit": ds.cache_hit, "cache_file": ds.cache_file, "data_hash": ds.data_hash,
            "files_hashed": ds.files_hashed, "seconds": ds.seconds, "images_per_s": ds.images_per_second}
    return stats, info


def stats_warnings(detector, real_info: dict) -> list[str]:
    out = []
    made_by = real_info.get("stats_file_detector")
    if made_by and (made_by.get("detector") != detector.name or made_by.get("weights_sha256") != detector.weights_sha256
                    or made_by.get("resize", detector.resize) != detector.resize):
        out.append(f"the statistics file was computed with {made_by}, not with this detector ({detector.name}, "
                   f"{detector.weights_sha256}, resize {detector.resize}): the FID mixes feature spaces")
    if real_info.get("skipped"):
        out.append(f"{real_info['skipped']} undecodable image(s) skipped (--skip-bad-images)")
    return out


@click.command("fid")
@checkpoint_options
@click.option("--data", type=click.Path(path_type=Path), required=True, help="Real images (folder or .zip) or their statistics (.npz mu/sigma, .pkl mean/cov).")
@click.option("--num-gen", type=click.IntRange(min=2), default=50_000, show_default=True, help="Generated images.")
@click.option("--kid", is_flag=True, help="Also compute KID (needs real features: an image folder or a stats file with features).")
@click.option("--kid-subsets", type=click.IntRange(min=1), default=NUM_SUBSETS, show_default=True, help="KID subsets.")
@click.option("--kid-subset-size", type=click.IntRange(min=2), default=MAX_SUBSET_SIZE, show_default=True, help="Largest KID subset.")
@click.option("--fid-method", type=click.Choice(FID_METHODS), default="sqrtm", show_default=True,
              help="sqrtm: scipy's matrix square root (the reference); eigen: symmetric eigendecompositions (faster, same value).")
@click.option("--psi", type=float, default=1.0, show_default=True, help="Truncation psi (the reference uses none).")
@click.option("--noise-mode", type=click.Choice(["random", "const", "none"]), default="random", show_default=True, help="Generator noise.")
@detector_options
@common_options
def command(ckpt, data, num_gen, kid, kid_subsets, kid_subset_size, fid_method, psi, noise_mode, detector, inception_weights, resize,
            skip_bad_images, num_workers, cache_dir, no_cache, run: RunOptions) -> None:
    """Fréchet Inception Distance (and KID) of CKPT against --data."""
    if not data.exists():
        raise UserError(f"--data {data}: no such file or folder")
    timer = Timer()
    with timer("detector"):
        det = inception.make_detector(detector, inception_weights, allow_random=run.allow_random_weights, resize=resize, device=run.device)
    with timer("load"):
        gen, ckpt_meta = ckpt.load(run.device)
    with timer("real"):
        real, real_info = real_statistics(data, det, run, keep_features=kid, skip_bad=skip_bad_images, num_workers=num_workers,
                                          cache_dir=cache_dir, no_cache=no_cache)
    fingerprint = {
        "metric": "fid-features", "seed": run.seed, "checkpoint": ckpt_meta.get("sha256") or ckpt_meta.get("generator_spec"),
        "psi": psi, "noise_mode": noise_mode, "class_idx": ckpt.class_idx, **det.describe(),
    }
    batch = run.batch_size or default_batch_size(run.device, gen.resolution, gpu=32, cpu=8)
    state = run.resume_state("fid", fingerprint)
    start = time.perf_counter()
    with timer("generator"):
        feats = generator_features(gen, det, num_gen, batch_size=batch, seed=run.seed, psi=psi, noise_mode=noise_mode,
                                   class_idx=ckpt.class_idx, show_progress=run.show_progress, state=state)
    gen_seconds = time.perf_counter() - start
    gen_stats = FeatureStats.from_features(feats, keep=True)
    with timer("fid"):
        result = fid_from_stats(real, gen_stats, method=fid_method, device=run.device)
    rows = [{"metric": "fid", "value": result.fid, "std": None, "num_real": real_info["num_real"], "num_gen": num_gen}]
    kid_info = {}
    if kid:
        with timer("kid"):
            k = kernel_inception_distance(real.features, feats, kid_subsets, kid_subset_size, seed=run.seed, device=run.device)
        rows.append({"metric": "kid", "value": k.mean, "std": k.std, "num_real": real_info["num_real"], "num_gen": num_gen})
        kid_info = {"kid_subset_size": k.subset_size}
    warnings = result.warnings + stats_warnings(det, real_info)
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    report = Report(
        "fid",
        pd.DataFrame(rows),
        settings={
            "data": str(data), "num_gen": num_gen, "kid": kid, "kid_subsets": kid_subsets, "kid_subset_size": kid_subset_size,
            "fid_method": fid_method, "psi": psi, "noise_mode": noise_mode, "seed": run.seed, "detector": detector,
            "resize": resize, "skip_bad_images": skip_bad_images, "covariance": "unbiased (N-1)", "device": str(run.device),
            "batch_size": batch, "class_idx": ckpt.class_idx,
        },
        meta={
            **ckpt_meta,
            "detector": det.describe(),
            "real": real_info,
            "skipped_images": real_info.get("skipped", 0),
            "generated": {"num": num_gen, "seconds": gen_seconds, "images_per_s": num_gen / gen_seconds if gen_seconds > 0 else None},
            **kid_info,
            "environment": environment(run.device),
            "timings": timer.seconds,
            "random_weights": det.random_weights,
            "warnings": warnings,
        },
    )
    if state is not None:
        state.clear()
    emit(report, run)
