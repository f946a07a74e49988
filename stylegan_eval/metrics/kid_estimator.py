"""The estimator of the Kernel Inception Distance (Bińkowski et al., "Demystifying MMD GANs", 2018).

The unbiased estimate of the squared MMD between real and generated Inception features under
the cubic polynomial kernel k(a, b) = (a·b / d + 1)^3, d the feature dimension, averaged over
subsets as NVIDIA's ``kernel_inception_distance.py`` does:

- m = min(n_real, n_gen, max_subset_size) (1000); ``num_subsets`` (100) times, m generated and
  m real rows are drawn without replacement;
- per subset: [Σ_{i≠j} k(x_i, x_j) + Σ_{i≠j} k(y_i, y_j)] / (m (m - 1)) - 2 Σ_{i,j} k(x_i, y_j) / m²;
- KID is the mean over subsets; the standard deviation over subsets is reported beside it
  (as torch-fidelity does).

Subsets come from ``numpy.random.default_rng(seed)`` (fixed, so KID is reproducible); the
kernel sums run batched over subsets in float64 on the features' device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ArgumentError, UserError

NUM_SUBSETS = 100
MAX_SUBSET_SIZE = 1000


@dataclass
class KIDResult:
    """KID mean and std over subsets; ``subsets`` holds every subset's estimate."""

    mean: float
    std: float
    subset_size: int
    subsets: np.ndarray


def check_subsets(
    num_subsets: int, max_subset_size: int, names: tuple[str, str] = ("num_subsets", "max_subset_size")
) -> None:
    """ArgumentError naming the argument (``names``: the caller's names of the two) unless
    ``num_subsets`` >= 1 and ``max_subset_size`` >= 2 are integers."""
    if not (isinstance(num_subsets, int) and num_subsets >= 1):
        raise ArgumentError(names[0], f"{names[0]} must be an integer >= 1, got {num_subsets!r}")
    if not (isinstance(max_subset_size, int) and max_subset_size >= 2):
        raise ArgumentError(names[1], f"{names[1]} must be an integer >= 2, got {max_subset_size!r}")


def subset_indices(n_real: int, n_gen: int, num_subsets: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """([S, m] generated rows, [S, m] real rows), each row drawn without replacement."""
    rng = np.random.default_rng(seed)
    gen = np.stack([rng.choice(n_gen, m, replace=False) for _ in range(num_subsets)])
    real = np.stack([rng.choice(n_real, m, replace=False) for _ in range(num_subsets)])
    return gen, real


def _mmd2(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD² per subset for x, y [S, m, d] -> [S]."""
    d, m = x.shape[-1], x.shape[-2]
    kxx = (x @ x.transpose(1, 2) / d + 1) ** 3
    kyy = (y @ y.transpose(1, 2) / d + 1) ** 3
    kxy = (x @ y.transpose(1, 2) / d + 1) ** 3
    diag = kxx.diagonal(dim1=1, dim2=2).sum(-1) + kyy.diagonal(dim1=1, dim2=2).sum(-1)
    within = (kxx.sum((1, 2)) + kyy.sum((1, 2)) - diag) / (m - 1)
    return (within - 2 * kxy.sum((1, 2)) / m) / m


@torch.inference_mode()
def kernel_inception_distance(
    real: torch.Tensor | np.ndarray,
    gen: torch.Tensor | np.ndarray,
    num_subsets: int = NUM_SUBSETS,
    max_subset_size: int = MAX_SUBSET_SIZE,
    seed: int = 0,
    device: torch.device | str | None = None,
    chunk_bytes: int = 512 << 20,
) -> KIDResult:
    """KID between feature sets ``real`` [n_real, d] and ``gen`` [n_gen, d].

    Args:
        num_subsets: number of subsets (100 in the reference).
        max_subset_size: upper bound of the subset size m (1000).
        seed: seed of the subset choice.
        device: where to compute (default: the device of ``gen`` when it is a tensor, else cpu).
        chunk_bytes: memory bound of one batch of subsets.
    """
    real_t, gen_t = torch.as_tensor(real), torch.as_tensor(gen)
    if real_t.ndim != 2 or gen_t.ndim != 2 or real_t.shape[1] != gen_t.shape[1]:
        raise UserError(
            f"KID needs feature matrices of the same width, got {tuple(real_t.shape)} and {tuple(gen_t.shape)}"
        )
    if num_subsets < 1 or max_subset_size < 2:
        raise UserError("KID needs num_subsets >= 1 and a subset size >= 2")
    m = min(real_t.shape[0], gen_t.shape[0], max_subset_size)
    if m < 2:
        raise UserError(
            f"KID needs at least 2 real and 2 generated samples, got {real_t.shape[0]} and {gen_t.shape[0]}"
        )
    device = torch.device(device) if device is not None else gen_t.device
    dtype = torch.float64 if device.type != "mps" else torch.float32
    real_t, gen_t = real_t.to(device, dtype), gen_t.to(device, dtype)
    gi_np, ri_np = subset_indices(real_t.shape[0], gen_t.shape[0], num_subsets, m, seed)
    gi, ri = torch.from_numpy(gi_np).to(device), torch.from_numpy(ri_np).to(device)
    per_subset = 8 * (2 * m * real_t.shape[1] + 3 * m * m)
    step = max(1, chunk_bytes // per_subset)
    values = torch.cat([_mmd2(gen_t[gi[s : s + step]], real_t[ri[s : s + step]]) for s in range(0, num_subsets, step)])
    v = values.cpu().numpy()
    return KIDResult(float(v.mean()), float(v.std()), m, v)
