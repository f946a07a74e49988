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


def image_grid(images: torch.Tensor, ncols: int) -> torch.Tensor:
    """Tile NCHW images in [-1, 1] into one uint8 HWC image, row-major, ``ncols`` per row.

    Missing cells at the end of the last row stay black.
    """
    n, c, h, w = images.shape
    nrows = -(-n // ncols)
    canvas = torch.full((nrows * ncols, c, h, w), -1.0, dtype=images.dtype, device=images.device)
    canvas[:n] = images
    grid = canvas.reshape(nrows, ncols, c, h, w).permute(0, 3, 1, 4, 2).reshape(nrows * h, ncols * w, c)
    grid = to_uint8(grid)
    return grid.repeat(1, 1, 3) if c == 1 else grid


def save_png(image_hwc: torch.Tensor, path) -> None:
    """Write a uint8 HWC tensor as PNG, atomically."""
    import io

    from PIL import Image

    from .report import atomic_write

    buf = io.BytesIO()
    Image.fromarray(image_hwc.cpu().numpy()).save(buf, format="PNG")
    atomic_write(path, buf.getvalue())
