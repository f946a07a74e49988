"""Which Inception-v3 weights a FID detector uses, and how it is described (no torch needed).

A detector's description (name, weights file and sha256, resize mode, whether it runs at
random initialisation) is what reports print and what keys the dataset-statistics cache. It
is worked out here from the weights manager alone, without building the network or importing
torch, so that ``stylegan-eval stats`` on unchanged data answers from the cache at once.
:mod:`stylegan_eval.metrics.inception` builds the networks on top of it.
"""

from __future__ import annotations

import os
from typing import Literal

from .. import weights
from ..errors import UserError, WeightsUnavailable
from .detector_weights import DetectorWeights
from .modern_weights import MODERN_DETECTORS, locate_modern

DetectorName = Literal["pytorch-fid", "nvidia"]
ResizeMode = Literal["detector", "clean"]
DETECTORS = ("pytorch-fid", "nvidia")
RESIZE_MODES = ("detector", "clean")
FEATURE_DIM = 2048
#: Seed of the random Inception used when the published weights are missing and allowed so.
RANDOM_SEED = 2015_12_05

PT_INCEPTION = weights.WeightSpec(
    name="FID Inception-v3 (pytorch-fid TF port)",
    filename="pt_inception-2015-12-05-6726825d.pth",
    url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
    sha256_prefix="6726825d",
    env_var="STYLEGAN_EVAL_FID_INCEPTION",
)

#: No full sha256 of NVIDIA's file is pinned here, so it is loaded only with --trust-weights FILE.
NVIDIA_INCEPTION = weights.WeightSpec(
    name="NVIDIA Inception-v3 TorchScript",
    filename="inception-2015-12-05.pt",
    url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt",
    env_var="STYLEGAN_EVAL_NVIDIA_INCEPTION",
)


def check_resize(resize: str) -> None:
    if resize not in RESIZE_MODES:
        raise UserError(f"--resize must be one of {RESIZE_MODES}, got {resize!r}")


def check_choice(name: str, resize: str) -> None:
    if name not in DETECTORS + MODERN_DETECTORS:
        raise UserError(f"--detector must be one of {DETECTORS + MODERN_DETECTORS}, got {name!r}")
    check_resize(resize)


def locate(
    name: DetectorName = "pytorch-fid",
    weights_path: str | os.PathLike | None = None,
    allow_random: bool = False,
    resize: ResizeMode = "detector",
    download: bool = True,
    verify: bool = True,
) -> DetectorWeights:
    """Find (or download) and hash the weights of detector ``name``.

    Args:
        name: 'pytorch-fid' or 'nvidia'.
        weights_path: explicit weights file (must exist); else the weights manager's search.
        allow_random: pytorch-fid only: fall back to the seeded random initialisation.
        resize: 'detector' or 'clean'.
        download: try the URL when no local copy exists.
        verify: pytorch-fid only: require the published file's sha256 prefix (6726825d); with
            False another file is accepted and listed in ``random_weights``.

    Raises:
        WeightsUnavailable: no weights and no random fallback (exit code 2).
    """
    check_choice(name, resize)
    if name in MODERN_DETECTORS:
        return locate_modern(name, weights_path, allow_random, resize, download)
    out = DetectorWeights(name, resize)
    if name == "nvidia":
        path = weights.fetch(NVIDIA_INCEPTION, weights_path, download=download)
        weights.check_torchscript(NVIDIA_INCEPTION, path)  # before anything torch.jit.loads it
        out.weights_file, out.weights_sha256 = str(path), weights._digest(path)
        return out
    try:
        found = weights.find(PT_INCEPTION, weights_path)
        if found is None:
            found = weights.fetch(PT_INCEPTION, None, download=download)
        digest = weights._digest(found)
        published = digest.startswith(PT_INCEPTION.sha256_prefix or "")
        if not published and verify:
            raise WeightsUnavailable(
                f"{found}: sha256 {digest[:16]}... does not start with {PT_INCEPTION.sha256_prefix} ({PT_INCEPTION.name})"
            )
    except WeightsUnavailable:
        if not allow_random or weights_path is not None:
            raise
        out.weights_sha256 = f"random-init-seed-{RANDOM_SEED}"
        out.random_weights = ["FID Inception-v3 (pytorch-fid)"]
        return out
    out.weights_file, out.weights_sha256 = str(found), digest
    if not published:  # verify=False: say so in every report
        out.random_weights = [f"FID Inception-v3 (unpublished weights file {found.name}, sha256 {digest[:8]})"]
    return out
