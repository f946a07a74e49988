"""Experiment loggers: metric values as scalars at a training step, and sample grids as images.

One small interface, :class:`MetricLogger` (``log_scalars``, ``log_image``, ``close``), with
implementations for TensorBoard (:class:`TensorBoardLogger`, through
``torch.utils.tensorboard.SummaryWriter``; the ``tensorboard`` extra), Weights & Biases
(:class:`WandbLogger`, the ``wandb`` package) and MLflow (:class:`MLflowLogger`, the ``mlflow``
package). Each backend is imported only when its logger is created; a missing package is an
:class:`~stylegan_eval.errors.ArgumentError` naming the argument and the package to install.

Tags: a metric ``fid`` is the scalar ``metrics/fid``; a sample grid of snapshot ``label`` is
the image ``samples/<label>`` (uint8 HWC, [0, 255]). Steps are training progress (kimg for
NVIDIA runs), integers >= 0.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Mapping, Protocol, runtime_checkable

import numpy as np

from .errors import ArgumentError

#: Tag prefixes of metric scalars and of sample images.
SCALAR_PREFIX = "metrics/"
IMAGE_PREFIX = "samples/"


@runtime_checkable
class MetricLogger(Protocol):
    """Where metric values and sample grids go besides the reports."""

    def log_scalars(self, values: Mapping[str, float], step: int) -> None:
        """Log ``{metric: value}`` at training ``step`` (non-finite values are left out)."""
        ...

    def log_image(self, tag: str, image: np.ndarray, step: int) -> None:
        """Log a uint8 [H, W, 3] image under ``tag`` at ``step``."""
        ...

    def close(self) -> None:
        """Flush and release the backend."""
        ...


def _finite(values: Mapping[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in values.items():
        try:
            f = float(v)
        except (TypeError, ValueError):
            continue
        if math.isfinite(f):
            out[str(k)] = f
    return out


def _check_image(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4) or img.dtype != np.uint8:
        raise ArgumentError("image", f"image must be uint8 [H, W, C] with C in 1, 3, 4, got {img.dtype} {img.shape}")
    return img


def _missing(arg: str, package: str, extra: str) -> ArgumentError:
    return ArgumentError(arg, f"{arg}: needs the {package} package (pip install 'stylegan-eval[{extra}]')")


class TensorBoardLogger:
    """Event files in ``log_dir`` (read them with TensorBoard, or ``EventAccumulator``).

    Args:
        log_dir: the folder of the event files (created if needed).
    """

    def __init__(self, log_dir: str | os.PathLike) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise _missing("tensorboard", "tensorboard", "tensorboard") from None
        self.log_dir = Path(log_dir)
        self._writer = SummaryWriter(log_dir=str(self.log_dir))

    def log_scalars(self, values: Mapping[str, float], step: int) -> None:
        for name, value in _finite(values).items():
            self._writer.add_scalar(SCALAR_PREFIX + name, value, global_step=int(step))
        self._writer.flush()

    def log_image(self, tag: str, image: np.ndarray, step: int) -> None:
        self._writer.add_image(tag, _check_image(image), global_step=int(step), dataformats="HWC")
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class WandbLogger:
    """A Weights & Biases run (``wandb.init(**init_kwargs)``; offline with ``WANDB_MODE=offline``)."""

    def __init__(self, **init_kwargs: Any) -> None:
        try:
            import wandb
        except ImportError:
            raise _missing("wandb", "wandb", "wandb") from None
        self._wandb = wandb
        self._run = wandb.init(**init_kwargs)

    def log_scalars(self, values: Mapping[str, float], step: int) -> None:
        self._run.log({SCALAR_PREFIX + k: v for k, v in _finite(values).items()}, step=int(step))

    def log_image(self, tag: str, image: np.ndarray, step: int) -> None:
        self._run.log({tag: self._wandb.Image(_check_image(image))}, step=int(step))

    def close(self) -> None:
        self._run.finish()


class MLflowLogger:
    """The active MLflow run (started here when none is active; ``mlflow.set_tracking_uri`` chooses where)."""

    def __init__(self, run_name: str | None = None) -> None:
        try:
            import mlflow
        except ImportError:
            raise _missing("mlflow", "mlflow", "mlflow") from None
        self._mlflow = mlflow
        self._own = mlflow.active_run() is None
        if self._own:
            mlflow.start_run(run_name=run_name)

    def log_scalars(self, values: Mapping[str, float], step: int) -> None:
        # MLflow metric keys may not contain '/' on every backend: 'metrics.fid'.
        self._mlflow.log_metrics({f"metrics.{k}": v for k, v in _finite(values).items()}, step=int(step))

    def log_image(self, tag: str, image: np.ndarray, step: int) -> None:
        name = tag.replace("/", "_")
        self._mlflow.log_image(_check_image(image), f"{name}_step{int(step):08d}.png")

    def close(self) -> None:
        if self._own:
            self._mlflow.end_run()


def as_logger(tensorboard: str | os.PathLike | MetricLogger | None) -> MetricLogger | None:
    """A logger from a ``tensorboard=`` argument: a folder (TensorBoard event files), a
    :class:`MetricLogger` (used as is) or None."""
    if tensorboard is None:
        return None
    if isinstance(tensorboard, (str, os.PathLike)):
        return TensorBoardLogger(tensorboard)
    if isinstance(tensorboard, MetricLogger):
        return tensorboard
    raise ArgumentError(
        "tensorboard", f"tensorboard must be a folder or a MetricLogger, got {type(tensorboard).__name__}"
    )
