"""Which weights the DINOv2 / CLIP detectors use, and how they are described (no torch needed).

See :mod:`stylegan_eval.metrics.modern_detectors` for the networks and their preprocessing.
"""

from __future__ import annotations

import os

from .. import weights
from ..errors import UserError, WeightsUnavailable
from .detector_weights import DetectorWeights

DINOV2 = "dinov2-vitl14"
CLIP = "clip-vitb32"
#: DINOv2 / CLIP detectors (:mod:`stylegan_eval.metrics.modern_detectors`), accepted wherever a detector name is.
MODERN_DETECTORS = (DINOV2, CLIP)
INPUT_SIZE = 224
RANDOM_SEED = 2023
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
FEATURE_DIMS = {DINOV2: 1024, CLIP: 512}

DINOV2_WEIGHTS = weights.WeightSpec(
    name="DINOv2 ViT-L/14 (Meta)",
    filename="dinov2_vitl14_pretrain.pth",
    url="https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth",
    env_var="STYLEGAN_EVAL_DINOV2",
)
#: OpenAI's URL path holds the file's sha256 (their loader checks it the same way).
CLIP_WEIGHTS = weights.WeightSpec(
    name="CLIP ViT-B/32 (OpenAI)",
    filename="ViT-B-32.pt",
    url="https://openaipublic.azureedge.net/clip/models/40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af/ViT-B-32.pt",
    sha256="40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
    env_var="STYLEGAN_EVAL_CLIP",
)
#: CMMD's embedding network (Jayasumana et al. 2024): OpenAI's CLIP ViT-L/14 at 336 px; the URL path holds the sha256.
CLIP_L336 = "clip-vitl14-336"
CLIP_L336_WEIGHTS = weights.WeightSpec(
    name="CLIP ViT-L/14@336px (OpenAI)",
    filename="ViT-L-14-336px.pt",
    url="https://openaipublic.azureedge.net/clip/models/3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02/ViT-L-14-336px.pt",
    sha256="3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02",
    env_var="STYLEGAN_EVAL_CLIP_L336",
)
_SPECS = {DINOV2: DINOV2_WEIGHTS, CLIP: CLIP_WEIGHTS, CLIP_L336: CLIP_L336_WEIGHTS}


def locate_modern(
    name: str,
    weights_path: str | os.PathLike | None = None,
    allow_random: bool = False,
    resize: str = "detector",
    download: bool = True,
) -> DetectorWeights:
    """Find (or download) and hash the weights of a modern detector (torch-free, for cache keys)."""
    if name not in _SPECS:  # CMMD's CLIP ViT-L/14@336 is no --detector choice, but is located the same way
        raise UserError(f"--detector must be one of {MODERN_DETECTORS}, got {name!r}")
    if resize != "detector":
        raise UserError(f"--resize {resize} applies to the Inception detectors only; {name} has its own preprocessing")
    out = DetectorWeights(name, resize)
    try:
        path = weights.fetch(_SPECS[name], weights_path, download=download)
    except WeightsUnavailable:
        if not allow_random or weights_path is not None:
            raise
        out.weights_sha256 = f"random-init-seed-{RANDOM_SEED}"
        out.random_weights = [f"{_SPECS[name].name} (random init)"]
        out.verified = "random"
        return out
    out.weights_file, out.weights_sha256 = str(path), weights._digest(path)
    spec = _SPECS[name]
    checked = (spec.sha256 or spec.sha256_prefix) and not weights.is_trusted(path)  # fetch compared the hash
    out.verified = "sha256" if checked else "unverified-trusted"
    return out
