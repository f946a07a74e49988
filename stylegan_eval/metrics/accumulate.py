"""Running feature statistics: float64 sums on the features' device, then mu and the unbiased covariance.

Its own module so that :mod:`~stylegan_eval.metrics.stats_cache` (torch-free at import) and
:mod:`~stylegan_eval.metrics.features` both use it without importing each other.
"""

from __future__ import annotations

import numpy as np
import torch

from ..errors import UserError


class StatsAccumulator:
    """Running float64 sum and sum of outer products of feature rows, on the features' device."""

    def __init__(self, dim: int, device: torch.device | str = "cpu") -> None:
        self.dim = dim
        self.n = 0
        dtype = torch.float64 if torch.device(device).type != "mps" else torch.float32
        self.sum = torch.zeros(dim, dtype=dtype, device=device)
        self.outer = torch.zeros(dim, dim, dtype=dtype, device=device)

    def update(self, features: torch.Tensor) -> None:
        if features.ndim != 2 or features.shape[1] != self.dim:
            raise ValueError(f"features must be [N, {self.dim}], got {tuple(features.shape)}")
        x = features.to(self.sum.device, self.sum.dtype)
        self.sum += x.sum(0)
        self.outer += x.T @ x
        self.n += x.shape[0]

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """(mu [D], sigma [D, D]) as float64 numpy, sigma with N - 1."""
        if self.n < 2:
            raise UserError(f"need at least 2 images for a covariance, got {self.n}")
        mu = self.sum / self.n
        sigma = (self.outer - self.n * torch.outer(mu, mu)) / (self.n - 1)
        return mu.double().cpu().numpy(), sigma.double().cpu().numpy()
