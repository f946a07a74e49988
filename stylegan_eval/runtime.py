"""Run-time helpers shared by the metrics and the CLI: device choice, progress bars, timing."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Iterator

import torch
from tqdm.auto import tqdm

from .errors import UserError


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """'auto' (or None) -> cuda when available, else cpu. Validates explicit choices."""
    reference_precision()
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise UserError(f"--device: expected auto, cpu, cuda or cuda:N, got {device!r}") from None
    if dev.type not in ("cpu", "cuda"):
        raise UserError(f"--device: expected auto, cpu, cuda or cuda:N, got {str(device)[:40]!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {device}: CUDA is not available on this machine")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise UserError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s), cuda:0 first")
    return dev


def reference_precision() -> None:
    """Turn TF32 off for matmuls and convolutions, as NVIDIA's calc_metrics.py does.

    TF32 keeps 10 mantissa bits; the reference numbers were computed in full float32.
    """
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


#: Most items per default batch (CPU, GPU), whatever a table or the scaling says.
MAX_AUTO_BATCH = {"cpu": 128, "cuda": 256}
#: Parameter count at which the fallback batches below apply as given (a StyleGAN2 config-f
#: generator has about 30M); larger networks get proportionally fewer images per batch.
REFERENCE_PARAMS = 30_000_000
#: Fallback batches at 256 px for a stage no batch-size table has (see
#: :mod:`stylegan_eval.batch_table`), scaled by (256 / resolution)^2 and REFERENCE_PARAMS /
#: parameters. The CPU values follow the single-network sweeps of ``benchmarks/roofline.py`` on an
#: idle 2-core Xeon (benchmarks/RESULTS.md): the 256 px generator runs best at 1 image and
#: dominates generation, FID's generated side and PPL; Inception (best 5, 97% at 8) the dataset
#: statistics; 40 classifier passes (flat from 8 to 32) separability. The CUDA values are NOT
#: measured (no GPU has run the roofline yet): guesses to be replaced by a measured table
#: (``python benchmarks/roofline.py --device cuda --write-table PATH``).
FALLBACK_BATCH_AT_256 = {
    "cpu": {"generate": 1, "fid_generated": 1, "separability": 8, "ppl": 1, "stats": 8},
    "cuda": {"generate": 32, "fid_generated": 32, "separability": 32, "ppl": 16, "stats": 64},
}


def default_batch_size(
    device: torch.device, resolution: int | None, stage: str = "generate", num_params: int | None = None
) -> int:
    """Items per batch for ``stage`` (one of :data:`stylegan_eval.batch_table.STAGES`) by default.

    From the measured batch-size tables (:mod:`stylegan_eval.batch_table`: the user's, then the
    shipped one), scaled to ``resolution`` (px; None when unknown, e.g. a dataset) and to
    ``num_params`` (the generator's parameter count); for a device and stage no table has, from
    :data:`FALLBACK_BATCH_AT_256`. Within [1, :data:`MAX_AUTO_BATCH`]. Only speed and memory
    depend on it, never the samples (sampling is counter-based). PPL batches count pairs.
    """
    from . import batch_table

    if stage not in batch_table.STAGES:
        raise ValueError(f"stage must be one of {batch_table.STAGES}, got {stage!r}")
    kind = "cuda" if device.type == "cuda" else "cpu"
    n = batch_table.lookup(stage, kind, resolution, num_params)
    if n is None:
        n = FALLBACK_BATCH_AT_256[kind][stage] * (256 / max(1, resolution or 256)) ** 2
        if num_params:
            n *= min(1.0, REFERENCE_PARAMS / num_params)
    return int(max(1, min(MAX_AUTO_BATCH[kind], round(n))))


def num_parameters(module: Any) -> int | None:
    """Parameter count of a torch module (None for objects without parameters)."""
    params = getattr(module, "parameters", None)
    return (sum(p.numel() for p in params()) or None) if callable(params) else None


def generator_batch_size(generator: Any, device: torch.device | None = None, stage: str = "generate") -> int:
    """:func:`default_batch_size` of ``stage`` for ``generator`` (its resolution and parameter count, on its device)."""
    dev = device if device is not None else getattr(generator, "device", torch.device("cpu"))
    return default_batch_size(dev, int(getattr(generator, "resolution", 256)), stage, num_parameters(generator))


def ppl_batch_size(device: torch.device, resolution: int, num_params: int | None = None) -> int:
    """PPL pairs per batch by default (:func:`default_batch_size` of the ``ppl`` stage)."""
    return default_batch_size(device, resolution, "ppl", num_params)


def progress(total: int, desc: str, enabled: bool = True, initial: int = 0) -> tqdm:
    """A tqdm bar on stderr counting samples."""
    return tqdm(
        total=total, initial=initial, desc=desc, unit="img", disable=not enabled, dynamic_ncols=True, leave=True
    )


class Timer:
    """Wall-clock seconds of named phases, reported beside the numbers."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        start = time.perf_counter()
        try:
            yield
        finally:
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start
