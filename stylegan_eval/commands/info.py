"""stylegan-eval info CKPT: what a checkpoint is."""

from __future__ import annotations

import click
import pandas as pd

from ..report import Report, environment
from .options import RunOptions, checkpoint_options, common_options, emit


@click.command("info")
@checkpoint_options
@common_options(batch=False, resume=False, log=False, detectors=False)
def command(ckpt, run: RunOptions) -> None:
    """Family, resolution, z/w dims, num_ws, conditional, parameter count, sha256."""
    gen, meta = ckpt.load(run.device)
    table = pd.DataFrame({"field": list(meta), "value": ["-" if v is None else str(v) for v in meta.values()]})
    emit(Report("info", table, settings={}, meta={**meta, "environment": environment(run.device)}), run)
