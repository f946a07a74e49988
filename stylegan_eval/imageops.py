"""Image operations shared by the metrics. Images are float NCHW; ranges are stated per function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
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


def save_png(image_hwc, path) -> None:
    """Write a uint8 HWC tensor or numpy array (e.g. :func:`sample_grid`'s figure) as PNG, atomically."""
    import io

    from PIL import Image

    from .fileio import atomic_write

    arr = image_hwc.cpu().numpy() if isinstance(image_hwc, torch.Tensor) else np.asarray(image_hwc)
    if arr.ndim == 3 and arr.shape[-1] == 1:  # one channel: a grayscale PNG (PIL has no HxWx1 mode)
        arr = arr[..., 0]
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    atomic_write(path, buf.getvalue())


# --- Figures: sample grids and the style-mixing figure (uint8 HWC numpy arrays) -------------------

#: Background and separator colours of the figures (RGB).
FIGURE_BACKGROUND = (255, 255, 255)
FIGURE_SEPARATOR = (64, 64, 64)
FIGURE_TEXT = (0, 0, 0)


def as_uint8_nhwc(images) -> np.ndarray:
    """Images -> uint8 [N, H, W, 3] numpy.

    Accepts float NCHW tensors/arrays in [-1, 1] (converted as :func:`to_uint8`), uint8 NCHW or
    NHWC tensors/arrays, and a list of PIL images; one channel is repeated to three.
    """
    if isinstance(images, (list, tuple)) and images and hasattr(images[0], "convert"):
        return np.stack([np.asarray(im.convert("RGB")) for im in images])
    if isinstance(images, torch.Tensor):  # the project's convention: NCHW
        t = images.detach().cpu()
        arr = (t if t.dtype == torch.uint8 else to_uint8(t.float())).numpy().transpose(0, 2, 3, 1)
    else:
        arr = np.asarray(images)
        if arr.ndim != 4:
            raise ValueError(f"images must have 4 dimensions (NCHW or NHWC), got shape {arr.shape}")
        if arr.dtype != np.uint8:  # float arrays: NCHW in [-1, 1]
            arr = to_uint8(torch.from_numpy(arr.astype(np.float32))).numpy().transpose(0, 2, 3, 1)
        elif arr.shape[-1] not in (1, 3):  # uint8: NHWC (PIL's layout) unless the last axis cannot be channels
            arr = arr.transpose(0, 2, 3, 1)
    if arr.ndim != 4:
        raise ValueError(f"images must have 4 dimensions (NCHW or NHWC), got shape {arr.shape}")
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    if arr.shape[-1] != 3:
        raise ValueError(f"images must have 1 or 3 channels, got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def upscale_factor(tiles_across: int, tiles_down: int, tile: int, min_size: int, pad: int) -> int:
    """Smallest integer nearest-neighbour factor k >= 1 that makes the longer side of a
    ``tiles_across`` x ``tiles_down`` grid of ``tile``-pixel tiles (k * tile each, ``pad``
    pixels around every tile) at least ``min_size`` pixels."""
    n = max(tiles_across, tiles_down)
    room = min_size - pad * (n + 1)
    return max(1, -(-room // (n * tile)))


def _tile_canvas(tiles: np.ndarray, ncols: int, pad: int, background=FIGURE_BACKGROUND) -> np.ndarray:
    n, h, w, _ = tiles.shape
    nrows = -(-n // ncols)
    canvas = np.empty((nrows * h + (nrows + 1) * pad, ncols * w + (ncols + 1) * pad, 3), np.uint8)
    canvas[:] = background
    for i in range(n):
        r, c = divmod(i, ncols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        canvas[y : y + h, x : x + w] = tiles[i]
    return canvas


def sample_grid(images, nrow: int, min_size: int = 512, pad: int = 4, background=FIGURE_BACKGROUND) -> np.ndarray:
    """Tile images into one figure: ``nrow`` images per row (as torchvision's ``make_grid``),
    row-major, each tile nearest-neighbour upscaled by the smallest integer factor that makes
    the longer side of the figure at least ``min_size`` pixels, ``pad`` pixels of ``background``
    around and between tiles.

    Args:
        images: float NCHW in [-1, 1] (tensor or array), uint8 NCHW/NHWC, or PIL images; all one size.
        nrow: images per row (>= 1).
        min_size: minimum length in pixels of the figure's longer side (no upscaling when the
            tiles are already that large; never downscaled).
        pad: padding in output pixels (>= 0).

    Returns:
        uint8 [H, W, 3] numpy array (``PIL.Image.fromarray`` takes it; :func:`save_png` writes it).
    """
    if nrow < 1 or pad < 0 or min_size < 1:
        raise ValueError(f"sample_grid: need nrow >= 1, pad >= 0, min_size >= 1, got {nrow}, {pad}, {min_size}")
    tiles = as_uint8_nhwc(images)
    n, h, w, _ = tiles.shape
    ncols = min(nrow, n)
    k = upscale_factor(ncols, -(-n // ncols), max(h, w), min_size, pad)
    tiles = tiles.repeat(k, axis=1).repeat(k, axis=2)
    return _tile_canvas(tiles, ncols, pad, background)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has one bitmap size
        return ImageFont.load_default()


def mixing_figure(
    sources,
    destinations,
    mixed,
    source_labels: list[str] | None = None,
    destination_labels: list[str] | None = None,
    title: str | None = None,
    min_tile: int = 128,
    pad: int = 4,
) -> np.ndarray:
    """The style-mixing figure of the StyleGAN paper (Karras et al. 2019, Fig. 3).

    Source images across the top, destination images down the left, and cell (r, c) the
    destination r with some styles taken from source c. Dark separator lines divide the
    header row and column from the body; each header image carries its label (e.g.
    ``seed 5``) above it (top row) or to its left (left column), and ``title`` is written in
    the top-left corner.

    Args:
        sources: C images (see :func:`as_uint8_nhwc` for the accepted forms).
        destinations: R images.
        mixed: R * C images, row-major (or an [R, C, ...] tensor/array).
        source_labels, destination_labels: one string per source / destination (default
            ``source i`` / ``destination i``).
        title: text of the top-left corner (e.g. ``styles 0-3 from source``).
        min_tile: tiles are nearest-neighbour upscaled by an integer factor to at least this size.
        pad: pixels between tiles.

    Returns:
        uint8 [H, W, 3] numpy array.
    """
    from PIL import Image, ImageDraw

    src, dst = as_uint8_nhwc(sources), as_uint8_nhwc(destinations)
    if isinstance(mixed, (torch.Tensor, np.ndarray)) and mixed.ndim == 5:
        mixed = mixed.reshape(-1, *mixed.shape[2:])
    body = as_uint8_nhwc(mixed)
    n_r, n_c = len(dst), len(src)
    if len(body) != n_r * n_c:
        raise ValueError(f"mixing_figure: expected {n_r} x {n_c} = {n_r * n_c} mixed images, got {len(body)}")
    source_labels = source_labels or [f"source {i}" for i in range(n_c)]
    destination_labels = destination_labels or [f"destination {i}" for i in range(n_r)]
    if len(source_labels) != n_c or len(destination_labels) != n_r:
        raise ValueError("mixing_figure: one label per source and per destination")
    lay = _MixingLayout.fit(src.shape[1:3], (n_r, n_c), min_tile, pad, destination_labels)
    canvas = Image.new("RGB", (lay.width, lay.height), FIGURE_BACKGROUND)
    draw = ImageDraw.Draw(canvas)

    def paste(tile: np.ndarray, x: int, y: int) -> None:
        canvas.paste(Image.fromarray(tile.repeat(lay.k, axis=0).repeat(lay.k, axis=1)), (x, y))

    for c in range(n_c):
        paste(src[c], lay.column(c), lay.label_h + pad)
        lay.label_above(draw, source_labels[c], c)
    for r in range(n_r):
        paste(dst[r], lay.label_w + pad, lay.row(r))
        lay.label_left(draw, destination_labels[r], r)
        for c in range(n_c):
            paste(body[r * n_c + c], lay.column(c), lay.row(r))
    lay.separators(draw)
    if title:
        draw.text((pad, pad), title, fill=FIGURE_TEXT, font=lay.font)
    return np.asarray(canvas)


@dataclass(frozen=True)
class _MixingLayout:
    """Pixel geometry of :func:`mixing_figure`: tiles of ``th`` x ``tw`` (upscaled ``k`` times),
    a band of height ``label_h`` above the top row and of width ``label_w`` left of the left
    column for the labels, separator lines ``sep`` wide, the body from (``x0``, ``y0``)."""

    k: int
    th: int
    tw: int
    pad: int
    font: Any
    font_px: int
    label_h: int
    label_w: int
    sep: int
    x0: int
    y0: int
    width: int
    height: int

    @classmethod
    def fit(
        cls, tile_hw: tuple[int, int], grid: tuple[int, int], min_tile: int, pad: int, left_labels: list[str]
    ) -> "_MixingLayout":
        """The layout of a ``grid`` (rows, columns) body of ``tile_hw`` tiles with these left labels."""
        from PIL import Image, ImageDraw

        (h, w), (n_r, n_c) = tile_hw, grid
        k = max(1, -(-min_tile // max(h, w)))
        th, tw = h * k, w * k
        font_px = max(10, min(24, th // 8))
        font = _font(font_px)
        label_h = font_px + 2 * pad
        probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
        label_w = max(int(probe.textlength(s, font=font)) for s in left_labels) + 2 * pad
        sep = max(2, pad // 2)
        x0 = label_w + tw + 2 * pad + sep
        y0 = label_h + th + 2 * pad + sep
        width, height = x0 + n_c * (tw + pad), y0 + n_r * (th + pad)
        return cls(k, th, tw, pad, font, font_px, label_h, label_w, sep, x0, y0, width, height)

    def column(self, c: int) -> int:
        """x of body (and top-row) column ``c``."""
        return self.x0 + c * (self.tw + self.pad)

    def row(self, r: int) -> int:
        """y of body (and left-column) row ``r``."""
        return self.y0 + r * (self.th + self.pad)

    def label_above(self, draw: Any, text: str, c: int) -> None:
        """``text`` centred above the top-row tile of column ``c``."""
        text_w = draw.textlength(text, font=self.font)
        draw.text((self.column(c) + (self.tw - text_w) / 2, self.pad), text, fill=FIGURE_TEXT, font=self.font)

    def label_left(self, draw: Any, text: str, r: int) -> None:
        """``text`` right-aligned left of the left-column tile of row ``r``, centred vertically."""
        text_w = draw.textlength(text, font=self.font)
        xy = (self.label_w - self.pad - text_w, self.row(r) + (self.th - self.font_px) / 2)
        draw.text(xy, text, fill=FIGURE_TEXT, font=self.font)

    def separators(self, draw: Any) -> None:
        """The lines between the header row / column and the body."""
        pad, sep = self.pad, self.sep
        draw.rectangle([0, self.y0 - pad // 2 - sep, self.width - 1, self.y0 - pad // 2 - 1], fill=FIGURE_SEPARATOR)
        draw.rectangle([self.x0 - pad // 2 - sep, 0, self.x0 - pad // 2 - 1, self.height - 1], fill=FIGURE_SEPARATOR)
