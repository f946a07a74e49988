"""stylegan-eval ppl CKPT: perceptual path length in Z or W space, as NVIDIA's reference computes it.

The options become the protocol of a registry PPL entry (the ``--preset`` one, else ppl2_wend's
with the command's own name), run once by the generic runner
(:func:`stylegan_eval.compare.evaluation.run_single`, one
:class:`~stylegan_eval.metrics.context.RunContext` as ``calc`` builds it). The protocol is
resolved once, by :func:`stylegan_eval.metrics.ppl.resolve_settings`, before the checkpoint is
loaded, so that a bad option fails before any long work; the runner takes it whole. The report's table is the result's
own (:meth:`~stylegan_eval.metrics.ppl.PPLResult.to_frame`); its histogram comes from the
registry's ``report_figures`` hook.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import Any

import click
import numpy as np

from .. import log, plots
from ..compare.evaluation import EvalOptions, plan, run_single
from ..errors import UserError
from ..fileio import atomic_write
from ..metrics import registry
from ..metrics.ppl import PRECISIONS, PRESETS, SAMPLINGS, SPACES, PPLSettings, resolve_settings
from ..report import Report, environment
from ..runtime import Timer
from .logger_options import log_report, step_of, tensorboard_option
from .metric_options import distance_options
from .options import RunOptions, checkpoint_options, choice, common_options, emit, trunc_option


def ppl_spec(preset: str | None, settings: PPLSettings, **options: Any) -> registry.MetricSpec:
    """The registry entry the command runs: ``preset``'s (else ppl2_wend's, named ``ppl`` so that no
    preset is recorded) with the resolved ``settings`` as its whole protocol (their pair count is
    the entry's) and ``options`` (psi, precision)."""
    base = registry.get(preset or "ppl2_wend")
    protocol = {"settings": settings, "preset": preset, **options}
    return dataclasses.replace(base, name=preset or "ppl", num_samples=settings.num_samples, protocol=protocol)


def eval_options(run: RunOptions, distance: str, lpips_weights, class_idx: int | None) -> EvalOptions:
    """The runner's options from the command's: one run, resume state under the entry's own name."""
    return EvalOptions(
        seed=run.seed,
        batch_size=run.batch_size,
        distance=distance,
        lpips_weights=lpips_weights,
        allow_random_weights=run.allow_random_weights,
        class_idx=class_idx,
        show_progress=run.show_progress,
        resume_state=run.resume_state,
        resume_prefix=None,
    )


def _warnings(result, precision: str) -> list[str]:
    out = []
    if precision != "fp32":
        out.append(
            f"--precision {precision}: reduced precision cannot resolve the difference between the two images of a "
            f"pair at eps={result.settings['epsilon']} (it collapses to 0 or to rounding noise); use fp32 for "
            "reportable numbers"
        )
    if result.settings.get("crop_note"):
        out.append(result.settings["crop_note"])
    return out


def _save_distances(report: Report, out: Path, distances: np.ndarray) -> None:
    buf = io.BytesIO()
    np.save(buf, distances)
    report.extra_files.append(atomic_write(out / "ppl_distances.npy", buf.getvalue()).name)


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
    spec = ppl_spec(preset, settings, psi=psi, precision=precision)
    (runner,) = plan([spec])
    opts = eval_options(run, distance, lpips_weights, ckpt.class_idx)
    timer = Timer()
    with timer("load"):
        gen, ckpt_meta = ckpt.load(run.device)
    with timer("metric"):
        raws = run_single(gen, ckpt_meta, runner, opts)
    output = runner.outputs[0]
    result = raws[output].result
    warnings = _warnings(result, precision)
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
            "timings": {**timer.seconds, "distance": sum(opts.built_seconds.values()), **result.seconds},
            "random_weights": result.random_weights,
            "warnings": warnings,
        },
    )
    if run.out is not None and save_distances:
        _save_distances(report, Path(run.out), result.distances)
    runs = {o: raw.details for o, raw in raws.items()}
    plots.write_report_figures(report, run.out, gen, ckpt.class_idx, metrics=[spec], runs=runs)
    emit(report, run)
    log_report(tensorboard, report, gen, step_of(ckpt.path), ckpt.class_idx)
