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


#: Most images per default batch (CPU, GPU): beyond these a larger batch gains nothing measurable.
MAX_AUTO_BATCH = {"cpu": 64, "cuda": 256}
#: Parameter count at which the 256-px base batch applies as given (a StyleGAN2 config-f generator
#: has about 30M); larger networks get proportionally fewer images per batch.
REFERENCE_PARAMS = 30_000_000


def default_batch_size(
    device: torch.device, resolution: int, gpu: int = 32, cpu: int = 8, num_params: int | None = None
) -> int:
    """Images per batch from the generator's size: the rule every image metric's default uses.

    ``gpu`` / ``cpu`` images at 256 px, scaled by (256 / resolution)^2 (a batch holds about the same
    number of output pixels at every resolution) and by REFERENCE_PARAMS / ``num_params`` for
    networks above that size, within [1, :data:`MAX_AUTO_BATCH`]. A 32 px demo generator gets 64 on
    a CPU (8 before: 3.4x slower generation at identical values), 1024 px gets 1 (CPU) / 2 (GPU).
    Only speed and memory depend on it, never the samples.
    """
    kind = "cuda" if device.type == "cuda" else "cpu"
    n = (gpu if kind == "cuda" else cpu) * (256 / max(1, resolution)) ** 2
    if num_params:
        n *= min(1.0, REFERENCE_PARAMS / num_params)
    return int(max(1, min(MAX_AUTO_BATCH[kind], n)))


def num_parameters(module: Any) -> int | None:
    """Parameter count of a torch module (None for objects without parameters)."""
    params = getattr(module, "parameters", None)
    return (sum(p.numel() for p in params()) or None) if callable(params) else None


def generator_batch_size(generator: Any, device: torch.device | None = None, gpu: int = 32, cpu: int = 8) -> int:
    """:func:`default_batch_size` for ``generator`` (its resolution and parameter count, on its device)."""
    dev = device if device is not None else getattr(generator, "device", torch.device("cpu"))
    return default_batch_size(dev, int(getattr(generator, "resolution", 256)), gpu, cpu, num_parameters(generator))


#: PPL pairs per batch on a CPU at <= 256 px (fewer for larger images, as :func:`default_batch_size`).
#: Measured with benchmarks/bench_batch_size.py on the demo generator (32 px, LPIPS VGG16, 128 pairs,
#: 1 thread, shared 2-core machine), pairs/s for 4 / 16 / 64 pairs per batch: 8.0 / 11.6 / 8.5 (loaded)
#: and 21.9 / 27.4 / 18.9 (best of 2, less loaded), so 16 (1.25-1.45x the former 4; 64 is no faster
#: than 4 here). GPUs keep 16 pairs (32 images) per batch.
CPU_PPL_PAIRS = 16
GPU_PPL_PAIRS = 16


def ppl_batch_size(device: torch.device, resolution: int) -> int:
    """PPL pairs per batch by device and resolution (see :data:`CPU_PPL_PAIRS`; measured, so not the
    pixel-budget rule of :func:`default_batch_size`: more pairs per batch were slower on a CPU)."""
    base = GPU_PPL_PAIRS if device.type == "cuda" else CPU_PPL_PAIRS
    return max(1, base // max(1, (resolution // 256) ** 2))


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
