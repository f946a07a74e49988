"""stylegan-eval fid CKPT|SAMPLES --data IMAGES|STATS: FID (and KID) of a generator, or of a folder / zip of
generated images, against real data."""

from __future__ import annotations

from pathlib import Path

import click

from .. import log, plots
from ..errors import UserError
from ..metrics.fid import fid as fid_metric
from ..metrics.image_samples import GeneratedImages
from ..metrics.kid_estimator import MAX_SUBSET_SIZE, NUM_SUBSETS
from ..report import Report, environment
from ..runtime import Timer
from .detector_options import detector_options, strict_data_option
from .hub_paths import HubOrPath
from .logger_options import log_report, step_of, tensorboard_option
from .metric_options import fid_method_option
from .options import RunOptions, checkpoint_options, choice, common_options, emit, load_generated, trunc_option


@click.command("fid")
@checkpoint_options
@click.option(
    "--data",
    type=HubOrPath(path_type=Path),
    required=True,
    help="Real images (folder or .zip) or their statistics (.npz mu/sigma, .pkl mean/cov).",
)
@click.option(
    "--num-samples",
    "--num-gen",
    "num_gen",
    type=click.IntRange(min=2),
    default=50_000,
    show_default=True,
    help="Generated images (alias --num-gen).",
)
@click.option(
    "--kid", is_flag=True, help="Also compute KID (needs real features: an image folder or a stats file with features)."
)
@click.option("--kid-subsets", type=click.IntRange(min=1), default=NUM_SUBSETS, show_default=True, help="KID subsets.")
@click.option(
    "--kid-subset-size",
    type=click.IntRange(min=2),
    default=MAX_SUBSET_SIZE,
    show_default=True,
    help="Largest KID subset.",
)
@fid_method_option
@trunc_option
@click.option(
    "--noise-mode",
    type=choice(["random", "const", "none"]),
    default="random",
    show_default=True,
    help="Generator noise.",
)
@strict_data_option
@detector_options
@tensorboard_option
@common_options
def command(
    *,
    ckpt,
    data,
    num_gen,
    kid,
    kid_subsets,
    kid_subset_size,
    fid_method,
    psi,
    noise_mode,
    detector,
    inception_weights,
    resize,
    skip_bad_images,
    num_workers,
    cache_dir,
    no_cache,
    strict_data,
    run: RunOptions,
    tensorboard=None,
) -> None:
    """Fréchet Inception Distance (and KID) of CKPT against --data.

    CKPT may also be a folder or .zip of generated images (every image is used; --num-gen and the
    sampling options then do not apply): FID of those images against --data.
    """
    if not data.exists():
        raise UserError(f"--data {data}: no such file or folder")
    timer = Timer()
    with timer("load"):
        gen, ckpt_meta = load_generated(
            ckpt,
            run.device,
            skip_bad=skip_bad_images,
            num_workers=num_workers,
            cache_dir=cache_dir,
            no_cache=no_cache,
        )
    images = isinstance(gen, GeneratedImages)
    with timer("metric"):
        result = fid_metric(
            gen,
            data,
            num_samples=num_gen,
            seed=run.seed,
            batch_size=run.batch_size,
            show_progress=run.show_progress,
            state=run.resume_state,
            kid=kid,
            detector=detector,
            inception_weights=inception_weights,
            allow_random_weights=run.allow_random_weights,
            resize=resize,
            method=fid_method,
            psi=psi,
            noise_mode=noise_mode,
            class_idx=ckpt.class_idx,
            kid_subsets=kid_subsets,
            kid_subset_size=kid_subset_size,
            skip_bad=skip_bad_images,
            num_workers=num_workers,
            cache_dir=cache_dir,
            no_cache=no_cache,
            strict_data=strict_data,
        )
    num_gen = result.num_gen
    timings = {**timer.seconds, **result.seconds}
    timings.pop("metric", None)
    gen_seconds = result.seconds["generator"]
    real_info = result.real_info
    kid_info = {"kid_subset_size": result.kid_subset_size} if kid else {}
    warnings = result.warnings
    for w in warnings:
        log.warning(w)
    batch = result.settings["batch_size"]
    report = Report(
        "fid",
        result.to_frame(),
        settings={
            "data": str(data),
            "num_gen": num_gen,
            "kid": kid,
            "kid_subsets": kid_subsets,
            "kid_subset_size": kid_subset_size,
            "fid_method": fid_method,
            "psi": psi,
            "noise_mode": noise_mode,
            "seed": run.seed,
            "detector": detector,
            "resize": resize,
            "skip_bad_images": skip_bad_images,
            "covariance": "unbiased (N-1)",
            "device": str(run.device),
            "batch_size": batch,
            "class_idx": ckpt.class_idx,
            "generated": result.settings.get("generated"),
            "strict_data": strict_data,
        },
        meta={
            **ckpt_meta,
            "detector": result.detector,
            "real": real_info,
            "skipped_images": real_info.get("skipped", 0),
            "generated": {
                "num": num_gen,
                "seconds": gen_seconds,
                "images_per_s": num_gen / gen_seconds if gen_seconds > 0 else None,
            },
            **kid_info,
            "environment": environment(run.device),
            "timings": timings,
            "random_weights": result.random_weights,
            "warnings": warnings,
        },
    )
    plots.write_report_figures(
        report, run.out, None if images else gen, ckpt.class_idx
    )  # fid_bars.png, samples.png, fid.html
    emit(report, run)
    log_report(tensorboard, report, None if images else gen, step_of(ckpt.path), ckpt.class_idx)
