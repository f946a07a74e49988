"""Memory layout of the convolutional detectors: channels_last where it was measured faster.

oneDNN's CPU convolutions work natively on NHWC (channels_last) data; a network whose weights and
input are NCHW pays a layout reorder around its convolutions. ``benchmarks/candidates.py``
measured on an AVX-512 Xeon: the FID Inception-v3 1.3x faster in channels_last (FID statistics
equal to 6e-8), the CelebA-HQ classifier 1.3x (probabilities equal to 3e-7). A network opts in
with a class attribute ``prefers_channels_last = True`` (others, e.g. user classifiers that may
``view`` their input, keep NCHW); GPUs keep their layout (not measured there). Only the layout
changes, never shapes or the values a caller sees (up to float rounding of the convolution sums).
"""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import nn

M = TypeVar("M", bound=nn.Module)


def uses_channels_last(module: nn.Module, device: torch.device | str) -> bool:
    """Whether ``module`` runs channels_last on ``device``: it opts in and the device is a CPU."""
    return bool(getattr(module, "prefers_channels_last", False)) and torch.device(device).type == "cpu"


def channels_last_on_cpu(module: M, device: torch.device | str) -> M:
    """``module`` (in place) with its 4-D parameters and buffers channels_last when :func:`uses_channels_last`."""
    if uses_channels_last(module, device):
        module.to(memory_format=torch.channels_last)
    return module


def input_for(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Batch ``x`` [N, C, H, W] in the layout ``module`` runs in (same shape and values)."""
    if x.ndim == 4 and uses_channels_last(module, x.device):
        return x.contiguous(memory_format=torch.channels_last)
    return x
