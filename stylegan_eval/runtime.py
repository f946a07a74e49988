"""Run-time helpers shared by the metrics and the CLI: device choice, progress bars, timing."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

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


def default_batch_size(device: torch.device, resolution: int, gpu: int = 32, cpu: int = 8) -> int:
    """A batch size that fits typical memory: smaller for large images."""
    base = gpu if device.type == "cuda" else cpu
    scale = max(1, (resolution // 256) ** 2)
    return max(1, base // scale)


#: PPL pairs per batch on a CPU at <= 256 px (fewer for larger images, as :func:`default_batch_size`).
#: Measured with benchmarks/bench_batch_size.py on the demo generator (32 px, LPIPS VGG16, 128 pairs,
#: 1 thread, shared 2-core machine), pairs/s for 4 / 16 / 64 pairs per batch: 8.0 / 11.6 / 8.5 (loaded)
#: and 21.9 / 27.4 / 18.9 (best of 2, less loaded), so 16 (1.25-1.45x the former 4; 64 is no faster
#: than 4 here). GPUs keep 16 pairs (32 images) per batch.
CPU_PPL_PAIRS = 16
GPU_PPL_PAIRS = 16


def ppl_batch_size(device: torch.device, resolution: int) -> int:
    """PPL pairs per batch by device and resolution (see :data:`CPU_PPL_PAIRS`)."""
    return default_batch_size(device, resolution, gpu=GPU_PPL_PAIRS, cpu=CPU_PPL_PAIRS)


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
