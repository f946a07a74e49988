"""stylegan-eval calc CKPT --metrics a,b [--data ...]: NVIDIA's calc_metrics.py analogue.

``compare`` with one checkpoint: the same options, metrics (every registry name), seeds and
report (calc.{json,csv,md,html} in --out); ``--fail-if '<metric> <op> <number>'`` gates it.
"""

from __future__ import annotations

import click

from .compare import compare_options, run_comparison
from .options import CheckpointRef, RunOptions, common_options


@click.command("calc")
@click.argument("ckpt", required=False, type=CheckpointRef())
@compare_options(single=True)
@common_options
@click.pass_context
def command(ctx, ckpt, run: RunOptions, **options) -> None:
    """Compute --metrics on one checkpoint (as NVIDIA's calc_metrics.py): the compare report with one column."""
    run_comparison(ctx, "calc", [ckpt] if ckpt else [], run=run, **options)
