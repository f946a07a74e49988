"""stylegan-eval fid CKPT|SAMPLES --data IMAGES|STATS: FID (and KID) of a generator, or of a folder / zip of
generated images, against real data.

The options become the protocol of the registry's ``fid`` (and ``kid``) entries, run once as one
shared pass by the generic runner (:func:`stylegan_eval.compare.evaluation.run_single`, one
:class:`~stylegan_eval.metrics.context.RunContext` as ``calc`` builds it); the report's table is
the result's own and its bars come from the registry's ``report_figures`` hook.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import click

from .. import log, plots
from ..compare.evaluation import EvalOptions, plan, run_single
from ..errors import UserError
from ..metrics import registry
from ..metrics.image_samples import GeneratedImages
from ..metrics.kid_estimator import MAX_SUBSET_SIZE, NUM_SUBSETS
from ..report import Report, environment
from ..runtime import Timer
from .detector_options import detector_options, strict_data_option
from .hub_paths import HubOrPath
from .logger_options import log_report, step_of, tensorboard_option
from .metric_options import fid_method_option
from .options import RunOptions, checkpoint_options, choice, common_options, emit, load_generated, trunc_option

#: The protocol the command adds to the registry entries': the low-rank route of :func:`~stylegan_eval.metrics.fid.fid`
#: for fewer images than feature dimensions (``compare`` keeps it off).
_COMMAND_PROTOCOL = {"max_real": None, "low_rank": True}


def fid_specs(kid: bool, num_gen: int, **protocol: Any) -> list[registry.MetricSpec]:
    """The registry entries the command runs (``fid``, and ``kid`` with ``kid``) with ``num_gen``
    generated images and the command's protocol (psi, noise_mode, kid_subsets, kid_subset_size)."""
    names = ["fid", "kid"] if kid else ["fid"]
    full = {**_COMMAND_PROTOCOL, **protocol}
    return [dataclasses.replace(registry.get(n), num_samples=num_gen, protocol=full) for n in names]


def _options(run: RunOptions, data: Path, class_idx: int | None, options: dict[str, Any]) -> EvalOptions:
    """The runner's options from the command's: one run, resume state under the entry's own name."""
    return EvalOptions(
        seed=run.seed,
        batch_size=run.batch_size,
        data=data,
        allow_random_weights=run.allow_random_weights,
        class_idx=class_idx,
        detector=options["detector"],
        inception_weights=options["inception_weights"],
        fid_method=options["fid_method"],
        show_progress=run.show_progress,
        resume_state=run.resume_state,
        strict_data=options["strict_data"],
        resize=options["resize"],
        skip_bad=options["skip_bad_images"],
        num_workers=options["num_workers"],
        cache_dir=options["cache_dir"],
        no_cache=options["no_cache"],
        resume_prefix=None,
    )


def _settings(run: RunOptions, data: Path, class_idx: int | None, result, options: dict[str, Any]) -> dict[str, Any]:
    """The report's settings: the options as given, with what the run resolved (batch size, generated kind)."""
    return {
        "data": str(data),
        "num_gen": result.num_gen,
        "kid": options["kid"],
        "kid_subsets": options["kid_subsets"],
        "kid_subset_size": options["kid_subset_size"],
        "fid_method": options["fid_method"],
        "psi": options["psi"],
        "noise_mode": options["noise_mode"],
        "seed": run.seed,
        "detector": options["detector"],
        "resize": options["resize"],
        "skip_bad_images": options["skip_bad_images"],
        "covariance": "unbiased (N-1)",
        "device": str(run.device),
        "batch_size": result.settings["batch_size"],
        "class_idx": class_idx,
        "generated": result.settings.get("generated"),
        "strict_data": options["strict_data"],
    }


def _meta(run: RunOptions, ckpt_meta: dict, result, timings: dict[str, float]) -> dict[str, Any]:
    """The report's meta: the checkpoint, detector, both sides' counts and the run's timings and warnings."""
    gen_seconds = result.seconds["generator"]
    return {
        **ckpt_meta,
        "detector": result.detector,
        "real": result.real_info,
        "skipped_images": result.real_info.get("skipped", 0),
        "generated": {
            "num": result.num_gen,
            "seconds": gen_seconds,
            "images_per_s": result.num_gen / gen_seconds if gen_seconds > 0 else None,
        },
        **({"kid_subset_size": result.kid_subset_size} if result.kid is not None else {}),
        "environment": environment(run.device),
        "timings": timings,
        "random_weights": result.random_weights,
        "warnings": result.warnings,
    }


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
def command(*, ckpt, data, num_gen, run: RunOptions, tensorboard=None, **options) -> None:
    """Fréchet Inception Distance (and KID) of CKPT against --data.

    CKPT may also be a folder or .zip of generated images (every image is used; --num-gen and the
    sampling options then do not apply): FID of those images against --data.
    """
    if not data.exists():
        raise UserError(f"--data {data}: no such file or folder")
    protocol = {k: options[k] for k in ("psi", "noise_mode", "kid_subsets", "kid_subset_size")}
    (runner,) = plan(fid_specs(options["kid"], num_gen, **protocol))
    opts = _options(run, data, ckpt.class_idx, options)
    timer = Timer()
    with timer("load"):
        gen, ckpt_meta = load_generated(
            ckpt,
            run.device,
            skip_bad=opts.skip_bad,
            num_workers=opts.num_workers,
            cache_dir=opts.cache_dir,
            no_cache=opts.no_cache,
        )
    raws = run_single(gen, ckpt_meta, runner, opts)
    result = raws[runner.outputs[0]].result
    # The run context builds the detector and the real statistics (shared, as in compare), so the
    # result's own "detector" and "real" phases only took them over: their time is that build's.
    phases = {k: v for k, v in result.seconds.items() if k not in ("detector", "real")}
    timings = {"load": timer.seconds["load"], "detector+real": sum(opts.built_seconds.values()), **phases}
    for w in result.warnings:
        log.warning(w)
    report = Report(
        "fid",
        result.to_frame(),
        settings=_settings(run, data, ckpt.class_idx, result, options),
        meta=_meta(run, ckpt_meta, result, timings),
    )
    generator = None if isinstance(gen, GeneratedImages) else gen
    plots.write_report_figures(report, run.out, generator, ckpt.class_idx, metrics=runner.specs)  # fid_bars, samples
    emit(report, run)
    log_report(tensorboard, report, generator, step_of(ckpt.path), ckpt.class_idx)
