"""The Fréchet distance between feature statistics: what FID (Heusel et al., "GANs Trained by a Two
Time-Scale Update Rule", 2017) and FD-DINOv2/CLIP compute.

The Fréchet distance between the Gaussians N(mu1, S1) and N(mu2, S2) fitted to the features
of real and generated images:

    FID = |mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr((S1 S2)^(1/2))

Two ways to get the trace of the matrix square root, which agree (to float64 rounding; the
tests check it, also on rank-deficient covariances). ``'eigen'`` is the default (faster, exact);
``'sqrtm'`` is kept for bit-level parity with pytorch-fid:

- ``'sqrtm'`` (the reference): ``scipy.linalg.sqrtm(S1 @ S2)`` as TTUR, pytorch-fid and
  NVIDIA compute it, with pytorch-fid's safeguards: when the root is not finite, 1e-6 is added
  to both diagonals and it is recomputed; a complex root whose diagonal has an imaginary part
  above 1e-3 is an error, a smaller one is dropped. ``sqrtm`` is called without the ``disp``
  argument (removed in scipy 1.18) and its result is checked here instead.
- ``'eigen'``: Tr((S1 S2)^(1/2)) = sum of sqrt(eigenvalues of S1^(1/2) S2 S1^(1/2)), a
  symmetric positive semi-definite matrix; two symmetric eigendecompositions in float64 with
  torch (on the GPU when given one), several times faster than ``sqrtm`` and well defined even
  when the covariances are rank-deficient. When the generated side's features X [n, D] are at
  hand and n < D, S2 = B^T B with B = (X - mu2) / sqrt(n - 1), and the non-zero eigenvalues of
  S1^(1/2) B^T B S1^(1/2) are those of the n x n matrix B S1 B^T: one [n, D] x [D, D] product
  and a small eigendecomposition give the same trace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from ..errors import ArgumentError, UserError
from .stats_cache import FeatureStats, rank_warning

FIDMethod = Literal["sqrtm", "eigen"]
FID_METHODS = ("sqrtm", "eigen")
EPS = 1e-6
IMAG_ATOL = 1e-3


class FIDNumericalError(UserError):
    """The matrix square root has a large imaginary part (usually: too few samples)."""


def _check_pair(mu1, sigma1, mu2, sigma2) -> tuple[np.ndarray, ...]:
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    d = mu1.shape[0]
    if mu1.shape != mu2.shape or mu1.ndim != 1:
        raise ValueError(f"mean vectors have different shapes: {mu1.shape} and {mu2.shape}")
    if sigma1.shape != (d, d) or sigma2.shape != (d, d):
        raise ValueError(f"covariances must be {d}x{d}, got {sigma1.shape} and {sigma2.shape}")
    return mu1, sigma1, mu2, sigma2


def sqrtm(matrix: np.ndarray) -> np.ndarray:
    """``scipy.linalg.sqrtm`` on every scipy: called without ``disp`` (gone in 1.18, a tuple-returning
    flag before); a tuple result is unpacked."""
    from scipy import linalg

    out = linalg.sqrtm(matrix)
    if isinstance(out, tuple):  # very old scipy with a different default
        out = out[0]
    return np.asarray(out)


def trace_sqrt_product_sqrtm(sigma1: np.ndarray, sigma2: np.ndarray, eps: float = EPS) -> tuple[float, dict]:
    """Tr((S1 S2)^(1/2)) with scipy's sqrtm and pytorch-fid's fallbacks; returns (trace, info)."""
    info: dict = {"eps_offset": False, "max_imag": 0.0}
    covmean = sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        info["eps_offset"] = True
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = sqrtm((sigma1 + offset) @ (sigma2 + offset))
        if not np.isfinite(covmean).all():
            raise FIDNumericalError(
                "FID: the matrix square root is not finite even with the 1e-6 offset (degenerate statistics?)"
            )
    if np.iscomplexobj(covmean):
        max_imag = float(np.max(np.abs(np.diagonal(covmean).imag)))
        info["max_imag"] = max_imag
        if max_imag > IMAG_ATOL:
            raise FIDNumericalError(
                f"FID: the matrix square root has an imaginary component {max_imag:.3g} > {IMAG_ATOL} "
                "(rank-deficient covariances: use more samples, or --fid-method eigen)"
            )
        covmean = covmean.real
    return float(np.trace(covmean)), info


def _psd_sqrt(s: torch.Tensor) -> torch.Tensor:
    w, v = torch.linalg.eigh((s + s.T) / 2)
    return (v * w.clamp_min(0).sqrt()) @ v.T


def trace_sqrt_product_eigen(sigma1: np.ndarray, sigma2: np.ndarray, device: torch.device | str = "cpu") -> float:
    """Tr((S1 S2)^(1/2)) = sum sqrt(eig(S1^(1/2) S2 S1^(1/2))), float64 torch on ``device``."""
    s1 = torch.as_tensor(sigma1, dtype=torch.float64, device=device)
    s2 = torch.as_tensor(sigma2, dtype=torch.float64, device=device)
    r = _psd_sqrt(s1)
    m = r @ s2 @ r
    ev = torch.linalg.eigvalsh((m + m.T) / 2)
    return float(ev.clamp_min(0).sqrt().sum())


def trace_sqrt_product_lowrank(
    sigma1: np.ndarray, features2: torch.Tensor | np.ndarray, device: torch.device | str = "cpu"
) -> float:
    """Tr((S1 S2)^(1/2)) with S2 the unbiased covariance of ``features2`` [n, D]: sum sqrt(eig(B S1 B^T))."""
    x = torch.as_tensor(features2).to(device, torch.float64)
    b = (x - x.mean(0)) / math.sqrt(x.shape[0] - 1)
    m = b @ torch.as_tensor(sigma1, dtype=torch.float64, device=device) @ b.T
    ev = torch.linalg.eigvalsh((m + m.T) / 2)
    return float(ev.clamp_min(0).sqrt().sum())


def frechet_distance(
    mu1: np.ndarray,
    sigma1: np.ndarray,
    mu2: np.ndarray,
    sigma2: np.ndarray,
    method: FIDMethod = "eigen",
    eps: float = EPS,
    device: torch.device | str = "cpu",
    features2: torch.Tensor | np.ndarray | None = None,
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    Args:
        mu1, mu2: means [D].
        sigma1, sigma2: covariances [D, D].
        method: 'sqrtm' (scipy, the reference) or 'eigen' (torch eigendecompositions).
        eps: diagonal offset of the sqrtm fallback.
        device: where the 'eigen' method runs.
        features2: the features sigma2 was computed from (unbiased), optional; with 'eigen' and
            fewer rows than columns the low-rank route is taken (same value, much faster).

    Raises:
        FIDNumericalError: sqrtm gives a large imaginary part or no finite result.
    """
    if method not in FID_METHODS:
        raise ArgumentError("method", f"method must be one of {FID_METHODS}, got {method!r}")
    mu1, sigma1, mu2, sigma2 = _check_pair(mu1, sigma1, mu2, sigma2)
    diff = mu1 - mu2
    if method == "sqrtm":
        tr_covmean, _ = trace_sqrt_product_sqrtm(sigma1, sigma2, eps)
    elif features2 is not None and 2 <= len(features2) < sigma2.shape[0]:
        tr_covmean = trace_sqrt_product_lowrank(sigma1, features2, device)
    else:
        tr_covmean = trace_sqrt_product_eigen(sigma1, sigma2, device)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean)


@dataclass
class FIDResult:
    """FID of generated statistics against real ones."""

    fid: float
    method: str
    num_real: int | None
    num_gen: int | None
    warnings: list[str]


def fid_from_stats(
    real: FeatureStats, gen: FeatureStats, method: FIDMethod = "eigen", device: torch.device | str = "cpu"
) -> FIDResult:
    """FID between two :class:`FeatureStats` of the same dimension, with rank-deficiency warnings.

    ``gen.features``, when present, enables the low-rank route of the 'eigen' method.
    """
    if real.dim != gen.dim:
        raise UserError(f"statistics have different dimensions: real {real.dim}, generated {gen.dim}")
    warnings = [
        w
        for w in (rank_warning(real.num, real.dim, "real images"), rank_warning(gen.num, gen.dim, "generated images"))
        if w
    ]
    import warnings as _warnings

    with _warnings.catch_warnings(record=True) as caught:  # scipy's LinAlgWarning etc.: one report line, not stderr
        _warnings.simplefilter("always")
        value = frechet_distance(
            real.mu, real.sigma, gen.mu, gen.sigma, method=method, device=device, features2=gen.features
        )
    solver = sorted({str(w.message).splitlines()[0][:200] for w in caught})
    if solver:
        warnings.append(
            f"FID {method}: the matrix solver warned ({'; '.join(solver)}); the value was checked "
            "(finite, small imaginary part)" + ("; --fid-method eigen avoids it" if method == "sqrtm" else "")
        )
    if not math.isfinite(value):
        raise FIDNumericalError("FID is not finite")
    return FIDResult(value, method, real.num, gen.num, warnings)
