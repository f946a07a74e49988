"""Tiny generators for tests, importable through --generator toy_generators:ATTR."""

from __future__ import annotations

import torch
from torch import nn


class ToyStyleGAN(nn.Module):
    """An object following the custom-module contract: mapping, synthesis with explicit noise."""

    z_dim = 8
    w_dim = 6
    num_ws = 4
    resolution = 8
    noise_shapes = [(4, 4), (8, 8)]

    def __init__(self) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.map = nn.Parameter(torch.randn(8, 6, generator=g) / 8**0.5)
        self.to_img = nn.Parameter(torch.randn(4, 6, 3 * 8 * 8, generator=g) / 24)

    def mapping(self, z, c=None):
        return torch.tanh(z @ self.map)

    def synthesis(self, ws, noise=None):
        img = torch.einsum("nlw,lwp->np", ws, self.to_img).reshape(-1, 3, 8, 8)
        if noise is not None:
            img = img + 0.1 * torch.nn.functional.interpolate(noise[0], size=8) + 0.1 * noise[1]
        return torch.tanh(img)


def make():
    """Factory form of the contract."""
    return ToyStyleGAN()


def black_box(z):
    """A black-box generator: z -> images."""
    return torch.tanh(z[:, :3, None, None].expand(-1, 3, 8, 8) * 0.5)


black_box.z_dim = 8
black_box.resolution = 8
