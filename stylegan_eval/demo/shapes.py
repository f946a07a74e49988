"""A procedural image set with known, independent binary attributes (the demo's "dataset").

Each image is 32x32 RGB: one shape on a flat grey background. Four binary attributes are drawn
independently (probability 1/2 each) per image:

========== ============================ ==========================
attribute  0                            1
========== ============================ ==========================
shape      circle                       square
colour     red                          blue
size       small (radius ~4 px)         big (radius ~7 px)
position   left half                    right half
========== ============================ ==========================

and a few continuous nuisance factors (exact size, exact centre, shade of the colour,
background brightness) so that the set is not just 16 images. Everything is a pure function
of ``(seed, index)`` through the project's counter-based sampling engine, so image ``i`` of
seed ``s`` is the same on every machine and for every batch size, and nothing is stored on disk.

Images are float32 NCHW in [-1, 1] (the :class:`~stylegan_eval.generator.Generator`
convention); attributes are int64 [N, 4] in the order of :data:`ATTRIBUTES`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import torch

from .. import sampling

RESOLUTION = 32
#: Attribute names, in column order; value 1 means the right-hand column of the table above.
ATTRIBUTES = ("shape", "colour", "size", "position")
#: What 0 and 1 mean for each attribute.
ATTRIBUTE_VALUES = {
    "shape": ("circle", "square"),
    "colour": ("red", "blue"),
    "size": ("small", "big"),
    "position": ("left", "right"),
}
#: Sampling-engine stream of the per-image parameters (kept away from the metrics' streams).
STREAM = 7001
_NPARAM = 13

_RED = (0.85, 0.12, 0.12)
_BLUE = (0.15, 0.25, 0.88)


def _params(seed: int, indices: torch.Tensor) -> torch.Tensor:
    return sampling.uniform(seed, STREAM, indices, (_NPARAM,))


def render(
    seed: int, indices: torch.Tensor | list[int], resolution: int = RESOLUTION
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images [N, 3, R, R] in [-1, 1] and attributes int64 [N, 4] for the given sample indices."""
    idx = torch.as_tensor(indices, dtype=torch.int64)
    u = _params(seed, idx)  # [N, 13] in (0, 1)
    attrs = (u[:, :4] >= 0.5).to(torch.int64)  # shape, colour, size, position
    square, blue, big, right = (attrs[:, k].float() for k in range(4))
    s = resolution / 32.0
    # Radius (circles) / half-side (squares, area-matched to the circle: r * sqrt(pi) / 2).
    radius = s * torch.where(big > 0, 6.3 + 1.2 * u[:, 4], 3.4 + 1.0 * u[:, 4])
    half = radius * 0.886
    cx = s * torch.where(right > 0, 20.5 + 3.0 * u[:, 5], 8.5 + 3.0 * u[:, 5])
    cy = s * (9.0 + 14.0 * u[:, 6])
    red = torch.tensor(_RED)
    blu = torch.tensor(_BLUE)
    base = torch.where(blue[:, None] > 0, blu, red)  # [N, 3]
    colour = (base + 0.12 * (u[:, 7:10] - 0.5)).clamp(0, 1)
    brightness = 0.8 + 0.25 * (u[:, 10] - 0.5)
    colour = (colour * brightness[:, None]).clamp(0, 1)
    bg = 0.35 + 0.3 * u[:, 11]  # grey level

    coords = torch.arange(resolution, dtype=torch.float32) + 0.5
    dx = coords[None, None, :] - cx[:, None, None]  # [N, 1, R]
    dy = coords[None, :, None] - cy[:, None, None]  # [N, R, 1]
    d_circle = torch.sqrt(dx * dx + dy * dy) - radius[:, None, None]
    d_square = torch.maximum(dx.abs(), dy.abs()) - half[:, None, None]
    dist = torch.where(square[:, None, None] > 0, d_square, d_circle)
    alpha = (0.5 - dist).clamp(0, 1)  # one pixel of antialiasing
    img = bg[:, None, None, None] * (1 - alpha[:, None]) + colour[:, :, None, None] * alpha[:, None]
    return img * 2 - 1, attrs


def batches(
    seed: int, num_images: int, batch_size: int = 256, start: int = 0
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(images, attributes) for indices [start, num_images) in batches."""
    for idx in sampling.batch_indices(num_images, batch_size, start=start):
        yield render(seed, idx)


class ShapesDataset(torch.utils.data.Dataset):
    """``num_images`` images of seed ``seed`` as a map-style dataset: item -> (image [3,R,R], attrs [4])."""

    def __init__(self, num_images: int, seed: int = 0, resolution: int = RESOLUTION):
        self.num_images = int(num_images)
        self.seed = int(seed)
        self.resolution = resolution

    def __len__(self) -> int:
        return self.num_images

    def __getitem__(self, i: int):
        img, att = render(self.seed, [int(i)], self.resolution)
        return img[0], att[0]


def write_png_folder(out: str | os.PathLike, num_images: int, seed: int = 0, batch_size: int = 500) -> Path:
    """Write images as ``out/000000.png`` ... plus ``out/attributes.csv`` (file name + 4 columns)."""
    from PIL import Image

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["file," + ",".join(ATTRIBUTES)]
    for idx in sampling.batch_indices(num_images, batch_size):
        imgs, attrs = render(seed, idx)
        u8 = (imgs * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        for k, i in enumerate(idx.tolist()):
            name = f"{i:06d}.png"
            Image.fromarray(u8[k]).save(out / name)
            lines.append(name + "," + ",".join(str(int(v)) for v in attrs[k]))
    (out / "attributes.csv").write_text("\n".join(lines) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(description="Write the demo's procedural shapes as a PNG folder.")
    p.add_argument("--out", required=True)
    p.add_argument("--num", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    write_png_folder(a.out, a.num, a.seed)
    print(f"wrote {a.num} images to {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
