"""Toy generators for the equivariance tests: exactly equivariant by construction, or not at all."""

from __future__ import annotations

import math

import torch

from stylegan_eval.generator import Generator


def pixel_grid(res: int, device=None) -> torch.Tensor:
    """[H, W, 2] pixel-centre coordinates (x, y) in image units, spanning [-1/2, 1/2] (StyleGAN3's input grid)."""
    c = (torch.arange(res, dtype=torch.float32, device=device) + 0.5) / res - 0.5
    y, x = torch.meshgrid(c, c, indexing="ij")
    return torch.stack([x, y], -1)


class BandLimitedGenerator(Generator):
    """Images are sums of sinusoids (frequencies <= ``max_freq`` cycles per image) sampled at T @ (x, y, 1).

    The synthesis only samples a fixed band-limited function at transformed coordinates, so it is
    translation- and rotation-equivariant exactly (up to the sampling of the band-limited signal).
    """

    family = "toy-bandlimited"
    z_dim = w_dim = 4
    num_ws = 2
    img_channels = 3
    supports_input_transform = True

    def __init__(self, resolution: int = 32, max_freq: float = 3.0, num_waves: int = 6, seed: int = 0) -> None:
        super().__init__()
        self.resolution = resolution
        g = torch.Generator().manual_seed(seed)
        ang = torch.rand(num_waves, generator=g) * 2 * math.pi
        mag = torch.rand(num_waves, generator=g) * max_freq
        self.register_buffer("freqs", torch.stack([mag * ang.cos(), mag * ang.sin()], 1))  # [K, 2] cycles / image
        self.register_buffer("mix", torch.randn(self.w_dim, num_waves * 3, generator=g) / 4)

    @property
    def noise_shapes(self):
        return []

    def _map(self, z, c):
        return z[:, None].expand(-1, self.num_ws, -1)

    def _synthesize(self, ws, noise):
        return self._synthesize_transformed(ws, noise, torch.eye(3, device=ws.device).expand(ws.shape[0], 3, 3))

    def _synthesize_transformed(self, ws, noise, transform):
        grid = pixel_grid(self.resolution, ws.device)  # [H, W, 2]
        p = torch.einsum("nij,hwj->nhwi", transform[:, :2, :2], grid) + transform[:, None, None, :2, 2]
        phase = torch.einsum("nhwi,ki->nhwk", p, self.freqs)  # [N, H, W, K]
        amp = (ws[:, 0] @ self.mix).reshape(-1, 3, self.freqs.shape[0])  # [N, 3, K]
        img = torch.einsum("nck,nhwk->nchw", amp, torch.sin(2 * math.pi * phase + 0.3))
        return torch.tanh(img * 0.5)  # a pointwise map keeps the equivariance


class FixedPatternGenerator(BandLimitedGenerator):
    """Claims an input transform but ignores it: a fixed pixel-space pattern (not equivariant)."""

    family = "toy-fixed"

    def _synthesize_transformed(self, ws, noise, transform):
        eye = torch.eye(3, device=ws.device).expand(ws.shape[0], 3, 3)
        return super()._synthesize_transformed(ws, noise, eye)


class NoTransformGenerator(BandLimitedGenerator):
    family = "toy-plain"
    supports_input_transform = False
