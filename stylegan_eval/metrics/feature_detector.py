"""The base of every feature detector (Inception, DINOv2, CLIP): uint8 images in, features out, described for reports and caches."""

from __future__ import annotations

import torch
from torch import nn

from .detector_weights import DetectorWeights
from .inception_weights import FEATURE_DIM, ResizeMode, check_resize


class FeatureDetector(nn.Module):
    """uint8 NCHW RGB images of any size -> float32 [N, 2048] Inception pool3 features.

    Attributes:
        name: 'pytorch-fid' or 'nvidia'.
        resize: 'detector' (the detector's own resize) or 'clean'.
        weights_file: path of the weights used, or None at random initialisation.
        weights_sha256: full sha256 of that file, or a label of the random initialisation.
        random_weights: names of networks running at random initialisation (for the report).
        weights_verified: 'sha256', 'functional', 'unverified-trusted' or 'random' (see
            :class:`~.detector_weights.DetectorWeights`).
    """

    name: str
    feature_dim: int = FEATURE_DIM

    def __init__(self, located: DetectorWeights | ResizeMode = "detector") -> None:
        """``located``: the weights found by :func:`locate`, or just a resize mode (a detector without a weights file)."""
        super().__init__()
        if not isinstance(located, DetectorWeights):
            check_resize(located)
            located = DetectorWeights(self.name, located)
        self.resize = located.resize
        self.weights_file: str | None = located.weights_file
        self.weights_sha256: str | None = located.weights_sha256
        self.random_weights: list[str] = list(located.random_weights)
        self.weights_verified: str | None = located.verified

    @staticmethod
    def _check(images: torch.Tensor) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"detector input must be uint8 [N, 3, H, W], got {images.dtype} {tuple(images.shape)}")

    def describe(self) -> dict[str, object]:
        """Name, weights file and hash, resize mode: what the report and the stats cache key need."""
        return DetectorWeights(
            self.name, self.resize, self.weights_file, self.weights_sha256, self.random_weights, self.weights_verified
        ).describe()
