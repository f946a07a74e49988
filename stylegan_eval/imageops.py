"""Image operations shared by the metrics. Images are float NCHW; ranges are stated per function."""

from __future__ import annotations

import torch


def face_crop(images: torch.Tensor) -> torch.Tensor:
    """The StyleGAN PPL face crop: rows [3c, 7c), columns [2c, 6c) with c = H // 8.

    Takes and returns NCHW images of any range; the output side is half the input's.
    """
    h, w = images.shape[-2:]
    if h != w:
        raise ValueError(f"face crop needs square images, got {h}x{w}")
    c = h // 8
    return images[..., 3 * c : 7 * c, 2 * c : 6 * c]


def box_downsample(images: torch.Tensor, size: int = 256) -> torch.Tensor:
    """Average-pool NCHW images by the integer factor H // size when H > size (the reference's box filter).

    Images at or below ``size`` are returned unchanged; the factor is computed from the input
    (after any crop), as the TensorFlow reference does.
    """
    h, w = images.shape[-2:]
    if h <= size:
        return images
    factor = h // size
    n, ch = images.shape[:2]
    out = images.reshape(n, ch, h // factor, factor, w // factor, factor)
    return out.mean(dim=(3, 5))


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] float -> uint8 [0, 255] exactly as NVIDIA's metrics do: (x * 127.5 + 128).clamp(0, 255)."""
    return (images * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def to_rgb(images: torch.Tensor) -> torch.Tensor:
    """Repeat single-channel NCHW images to three channels; other images pass through."""
    return images.repeat(1, 3, 1, 1) if images.shape[1] == 1 else images
