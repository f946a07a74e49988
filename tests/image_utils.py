"""Helpers for the tests of generated images as the generated side: a tiny generator, smooth PNG
folders, the generator's samples as images, and a small fast feature detector."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from stylegan_eval.generator import Generator, latents
from stylegan_eval.imageops import to_uint8
from stylegan_eval.metrics.inception import FeatureDetector


class TinyGen(Generator):
    """A 16x16 linear generator with one noise map."""

    family = "tiny"
    z_dim, w_dim, num_ws, resolution = 4, 4, 1, 16

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.A = nn.Parameter(torch.randn(4, 3 * 4 * 4, generator=g), requires_grad=False)

    @property
    def noise_shapes(self):
        return [(4, 4)]

    def _map(self, z, c):
        return z[:, None, :]

    def _synthesize(self, ws, noise):
        x = (ws[:, 0] @ self.A).reshape(-1, 3, 4, 4) + 0.2 * noise[0]
        return torch.tanh(F.interpolate(x, size=16, mode="bilinear", align_corners=False))


def write_images(folder: Path, n: int, seed: int, size: int = 32, start: int = 0) -> list[Path]:
    """Smooth random RGB PNGs (blurred noise), named img<start + i>.png."""
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    x = F.interpolate(torch.rand(n, 3, size // 4, size // 4, generator=g), size=size, mode="bilinear")
    arr = (x * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    paths = []
    for i, a in enumerate(arr):
        paths.append(folder / f"img{start + i:03d}.png")
        Image.fromarray(a).save(paths[-1])
    return paths


class PoolDetector(FeatureDetector):
    """uint8 images -> 16 features: 8x8 average pool, a fixed random projection, tanh."""

    name = "pool-test"
    feature_dim = 16

    def __init__(self) -> None:
        super().__init__("detector")
        self.proj = torch.randn(192, 16, generator=torch.Generator().manual_seed(5)) / 8

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self._check(images)
        x = F.adaptive_avg_pool2d(images.float() / 127.5 - 1, 8).flatten(1)
        return torch.tanh(x @ self.proj)


def tiny_samples(n: int, seed: int = 0) -> torch.Tensor:
    """The [-1, 1] images TinyGen gives for samples 0..n-1 (as generator_features draws them)."""
    g = TinyGen()
    idx = torch.arange(n)
    return g.generate(latents(g, seed, idx), None, noise_mode="random", noise_seed=seed, indices=idx)


def save_pngs(images: torch.Tensor, folder: Path) -> Path:
    """[-1, 1] NCHW images as s<i>.png files (quantised as generated images are)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(to_uint8(images).permute(0, 2, 3, 1).numpy()):
        Image.fromarray(a).save(folder / f"s{i:03d}.png")
    return folder
