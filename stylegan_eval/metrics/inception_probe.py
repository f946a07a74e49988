"""Functional verification of FID Inception weights: does the network built from a file compute
the published network's features?

The probe batch is generated, not stored: two 128x128 RGB images of smooth sinusoidal patterns in
[-1, 1] (float64 trigonometry rounded to float32, so every machine makes the same batch up to the
last bit of ``sin``). Every layer of the Inception runs on it (pool3 is 2x2 at this size, which
keeps the check near one second on a CPU). The kept outputs are the per-image mean and root
mean square of the 2048 pool3 features and every 64th feature: 68 numbers, pinned once with the
published weights (:data:`~.inception_weights.FID_PROBE`). A file passes when the largest
deviation is within ``rtol`` (1e-4) of the largest reference value; float rounding between CPUs
and BLAS libraries stays near 1e-6, while any other weights miss by orders of magnitude.

Results are remembered per file sha256 in ``<cache>/weights-functional.json``, so a file is
probed once per cache.
"""

from __future__ import annotations

import os

import torch

from .. import weights
from ..errors import WeightsUnavailable
from .inception_weights import FID_PROBE

PROBE_SIZE = 128
PROBE_IMAGES = 2
PROBE_STRIDE = 64


def probe_batch() -> torch.Tensor:
    """[2, 3, 128, 128] float32 in [-1, 1]: smooth patterns, a different one per image and channel."""
    n = torch.arange(PROBE_IMAGES, dtype=torch.float64).view(-1, 1, 1, 1)
    c = torch.arange(3, dtype=torch.float64).view(1, -1, 1, 1)
    h = torch.arange(PROBE_SIZE, dtype=torch.float64).view(1, 1, -1, 1)
    w = torch.arange(PROBE_SIZE, dtype=torch.float64).view(1, 1, 1, -1)
    x = torch.sin(0.05 * (n + 1) * (c + 1) * h + 0.031 * (c + 2) * w + 1.7 * n) * torch.cos(0.013 * (h - w) * (n + 2))
    return x.float()


def probe_outputs(features: torch.Tensor) -> list[float]:
    """The pinned summary of [N, 2048] probe features: per image mean, RMS, features[::64]."""
    f = features.double()
    out: list[float] = []
    for row in f:
        out += [float(row.mean()), float(row.pow(2).mean().sqrt())]
        out += [float(v) for v in row[::PROBE_STRIDE]]
    return out


@torch.no_grad()
def probe_deviation(net: torch.nn.Module) -> float:
    """Relative deviation of ``net``'s probe outputs from the pinned ones (CPU, float32)."""
    return FID_PROBE.deviation(probe_outputs(net.eval()(probe_batch())))


def file_deviation(path: str | os.PathLike, digest: str) -> float:
    """Probe deviation of the FID Inception built from ``path`` (sha256 ``digest``), remembered per digest.

    Raises:
        WeightsUnavailable: the file is not a FID Inception of a known layout (one line, from
            :func:`~.inception_layout.read_fid_weights`).
    """
    known = weights.remembered_deviation(digest, FID_PROBE.probe)
    if known is not None:
        return known
    from .fid_inception_net import FIDInceptionV3
    from .inception_layout import load_into, read_fid_weights

    net = FIDInceptionV3()
    load_into(net, read_fid_weights(path), path)
    dev = probe_deviation(net)
    weights.remember_deviation(digest, FID_PROBE.probe, dev)
    return dev


def verify_file(path: str | os.PathLike, digest: str) -> tuple[bool, str]:
    """``weights verify``'s functional check: (passed, 'probe deviation 3e-07 <= 0.0001' or why not)."""
    try:
        dev = file_deviation(path, digest)
    except WeightsUnavailable as exc:
        return False, str(exc)
    ok = dev <= FID_PROBE.rtol
    return ok, f"probe deviation {dev:.2g} {'<=' if ok else '>'} {FID_PROBE.rtol:g}"
