"""stylegan-eval ppl CKPT: perceptual path length in Z or W space, as NVIDIA's reference computes it."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from .. import log, plots
from ..errors import UserError
from ..fileio import atomic_write
from ..metrics.distances import make_distance
from ..metrics.ppl import PRECISIONS, PRESETS, SAMPLINGS, SPACES, PPLResult, ppl, resolve_settings
from ..report import Report, environment
from ..runtime import Timer
from .logger_options import log_report, step_of, tensorboard_option
from .metric_options import distance_options
from .options import RunOptions, checkpoint_options, choice, common_options, emit, trunc_option


def histogram_figure(result: PPLResult, seed: int | None = None, label: str = "generator"):
    """The histogram of the per-pair distances with the cut points, the PPL (the filtered mean the
    table reports) and its bootstrap interval marked, in the reports' shared routine (log bins
    when the distances are heavy-tailed)."""
    from ..figures.charts import PPLSeries, ppl_histogram

    series = PPLSeries(label, result.distances, result.mean, result.lo, result.hi, (result.ci_low, result.ci_high))
    return ppl_histogram(result.name, [series], name="ppl_hist", seed=seed, random_weights=result.random_weights)


@click.command("ppl")
@checkpoint_options
@click.option(
    "--preset", type=choice(sorted(PRESETS)), default=None, help="A published variant; explicit options override it."
)
@click.option(
    "--space", type=choice(SPACES), default=None, help="z: slerp of z then mapping; w: lerp of mapped w [default: w]."
)
@click.option("--sampling", type=choice(SAMPLINGS), default=None, help="full: t ~ U[0,1); end: t = 0 [default: end].")
@click.option(
    "--crop/--no-crop",
    default=None,
    help="NVIDIA's face crop [default: no crop; StyleGAN1 presets crop]; a note is printed on non-face / non-256-1024 px generators.",
)
@click.option(
    "--num-samples",
    "--num-gen",
    "num_samples",
    type=click.IntRange(min=1),
    default=None,
    help="Number of pairs (alias --num-gen) [default: 50000].",
)
@click.option("--epsilon", type=float, default=None, help="Step in t; distances are divided by eps^2 [default: 1e-4].")
@distance_options
@click.option(
    "--precision",
    type=choice(list(PRECISIONS)),
    default="fp32",
    show_default=True,
    help="Autocast for generator and distance; bf16/fp16 cannot resolve eps=1e-4 steps (speed checks only).",
)
@trunc_option
@click.option("--save-distances", is_flag=True, help="Write the raw per-sample distances to --out/ppl_distances.npy.")
@tensorboard_option
@common_options
def command(
    *,
    ckpt,
    preset,
    space,
    sampling,
    crop,
    num_samples,
    epsilon,
    distance,
    lpips_weights,
    precision,
    psi,
    save_distances,
    run: RunOptions,
    tensorboard=None,
) -> None:
    """Perceptual path length of CKPT (Karras et al. 2019), NVIDIA's protocol."""
    if save_distances and run.out is None:
        raise UserError("--save-distances needs --out DIR")
    settings = resolve_settings(
        preset, space=space, sampling=sampling, num_samples=num_samples, epsilon=epsilon, crop=crop
    )
    timer = Timer()
    with timer("load"):
        gen, ckpt_meta = ckpt.load(run.device)
        dist = make_distance(distance, lpips_weights, allow_random=run.allow_random_weights)
    with timer("metric"):
        result = ppl(
            gen,
            settings=settings,
            preset=preset,
            psi=psi,
            distance=dist,
            precision=precision,
            batch_size=run.batch_size,
            seed=run.seed,
            class_idx=ckpt.class_idx,
            show_progress=run.show_progress,
            state=run.resume_state,
        )
    warnings = []
    if precision != "fp32":
        warnings.append(
            f"--precision {precision}: reduced precision cannot resolve the difference between the two images of a "
            f"pair at eps={settings.epsilon} (it collapses to 0 or to rounding noise); use fp32 for reportable numbers"
        )
    if result.settings.get("crop_note"):
        warnings.append(result.settings["crop_note"])
    for text in warnings:
        log.warning(text)
    report = Report(
        "ppl",
        result.to_frame(),
        settings={
            **result.settings,
            "save_distances": save_distances,
            "lpips_weights": lpips_weights,
            "allow_random_weights": run.allow_random_weights,
            "device": str(run.device),
        },
        meta={
            **ckpt_meta,
            "environment": environment(run.device),
            "timings": {**timer.seconds, **result.seconds},
            "random_weights": result.random_weights,
            "warnings": warnings,
        },
    )
    if run.out is not None:
        if save_distances:
            import io

            buf = io.BytesIO()
            np.save(buf, result.distances)
            report.extra_files.append(atomic_write(Path(run.out) / "ppl_distances.npy", buf.getvalue()).name)
    label = Path(str(ckpt_meta.get("checkpoint") or "generator")).name
    hist = histogram_figure(result, run.seed, label) if run.out is not None else None
    plots.write_report_figures(report, run.out, gen, ckpt.class_idx, figures=[hist] if hist else [])
    emit(report, run)
    log_report(tensorboard, report, gen, step_of(ckpt.path), ckpt.class_idx)
