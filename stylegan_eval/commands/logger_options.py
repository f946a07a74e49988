"""``--tensorboard DIR``: the option, and logging a command's report to it.

Every metric of the report becomes a scalar ``metrics/<name>`` at the command's step, and the
generator's sample grid (NVIDIA seeds 0-15) the image ``samples/<label>``
(:mod:`stylegan_eval.loggers`). Only rank 0 writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


def _needs_tensorboard(ctx, param, value: Path | None) -> Path | None:
    """Check on parsing, before any work, that the writer's package is installed."""
    import importlib.util

    if value is not None and importlib.util.find_spec("tensorboard") is None:
        raise click.BadParameter("needs the tensorboard package (pip install 'stylegan-eval[tensorboard]')")
    return value


tensorboard_option = click.option(
    "--tensorboard",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    callback=_needs_tensorboard,
    help="Also write every metric as a TensorBoard scalar (and the sample grid as an image) into DIR.",
)


def step_of(path: Any) -> int:
    """The training step in a snapshot's file name (``network-snapshot-000400.pkl`` -> 400), else 0."""
    from ..runs import step_from_name

    step = step_from_name(path) if path is not None else None
    return 0 if step is None else step


def open_logger(tensorboard: Path | None):
    """The TensorBoard logger of ``--tensorboard`` on rank 0 (None without it or on other ranks)."""
    from ..engine import DistInfo

    if tensorboard is None or not DistInfo.current().is_main:
        return None
    from ..loggers import TensorBoardLogger

    return TensorBoardLogger(tensorboard)


def log_generator(logger: Any, generator: Any, label: str, step: int | None, class_idx: int | None = None) -> None:
    """The sample grid of ``generator`` as the image ``samples/<label>`` at ``step`` (nothing without a logger)."""
    if logger is None:
        return
    from .. import plots
    from ..loggers import IMAGE_PREFIX

    logger.log_image(IMAGE_PREFIX + label, plots.sample_grid_image(generator, class_idx=class_idx), step or 0)


def log_report(
    tensorboard: Path | None, report: Any, generator: Any = None, step: int = 0, class_idx: int | None = None
) -> None:
    """Write ``report``'s metric values (:func:`stylegan_eval.jsonlog.records`) and the sample grid of
    ``generator`` to ``--tensorboard`` at ``step``; nothing without the option."""
    logger = open_logger(tensorboard)
    if logger is None:
        return
    from ..jsonlog import records

    try:
        values = {str(r["metric"]): r["value"] for r in records(report) if r.get("value") is not None}
        logger.log_scalars(values, step)
        if generator is not None:
            log_generator(logger, generator, report.command, step, class_idx)
    finally:
        logger.close()
