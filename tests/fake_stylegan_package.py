"""Stands in for a third-party StyleGAN package in the README adapter example (tests/adapter_example.py).

Package-style on purpose: its own parameter names, ``forward(ws, noises=None)`` drawing its own
noise when none is given, and images in [0, 1].
"""

from __future__ import annotations

import torch
from torch import nn


class TinyStyleGAN(nn.Module):
    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.style = nn.Sequential(nn.Linear(16, 16), nn.LeakyReLU(0.2))
        with torch.no_grad():
            for p in self.style.parameters():
                p.copy_(torch.randn(p.shape, generator=g) / 4)
        self.const = nn.Parameter(torch.randn(1, 8, 16, 16, generator=g))
        self.affine = nn.Parameter(torch.randn(4, 16, 8, generator=g) / 4)
        self.noise_strength = nn.Parameter(torch.full((3,), 0.3))
        self.to_rgb = nn.Parameter(torch.randn(3, 8, generator=g) / 3)

    def forward(self, ws: torch.Tensor, noises: list[torch.Tensor] | None = None) -> torch.Tensor:
        """ws [N, 4, 16] -> images [N, 3, 16, 16] in [0, 1]."""
        n = ws.shape[0]
        if noises is None:
            noises = [torch.randn(n, 1, 16, 16, device=ws.device) for _ in range(3)]
        x = self.const.expand(n, -1, -1, -1)
        for i in range(3):
            s = torch.einsum("nw,wc->nc", ws[:, i], self.affine[i])
            x = torch.tanh(x * (1 + s[:, :, None, None]) + self.noise_strength[i] * noises[i])
        s = torch.einsum("nw,wc->nc", ws[:, 3], self.affine[3])
        return torch.sigmoid(torch.einsum("nchw,kc->nkhw", x * (1 + s[:, :, None, None]), self.to_rgb))
