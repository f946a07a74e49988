"""FID/KID of images produced elsewhere, fed batch by batch (the torchmetrics-style stateful path).

    import stylegan_eval as se
    metric = se.StreamingFID("real/", kid=True)       # the real side: folder, zip, stats file, FeatureStats
    for images in my_sampler():                        # NCHW, float in [-1, 1] or uint8 in [0, 255]
        metric.update(images)
    result = metric.compute()                          # FeatureMetricResult, as se.fid returns

Each :meth:`~StreamingFID.update` runs the detector at once and keeps only the features
(2048 floats per image), so the images themselves are not held. :meth:`~StreamingFID.compute`
goes through :func:`stylegan_eval.metrics.fid.fid` with the same real-side statistics cache,
warnings and result object as every other path.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from ..errors import ArgumentError


def _check(real: Any, kid: bool, options: dict[str, Any], resize: str) -> None:
    """Refuse at construction what :meth:`StreamingFID.compute` would: an option
    :func:`~stylegan_eval.metrics.fid.fid` does not take, or one out of range (its ``validate``)."""
    import inspect

    from .fid import FeatureOptions, fid, validate

    taken = set(inspect.signature(fid).parameters) - {"generator", "real", "kid", "detector"}
    taken -= {"inception_weights", "allow_random_weights", "resize"}  # StreamingFID's own arguments
    unknown = sorted(set(options) - taken)
    if unknown:
        raise ArgumentError(unknown[0], f"{unknown[0]} is not an option of fid() (options: {', '.join(sorted(taken))})")
    others = {k: options[k] for k in ("method", "kid_subsets", "kid_subset_size", "real_stats") if k in options}
    validate(None, real, FeatureOptions.pick({**options, "resize": resize}), kid=kid, **others)


class StreamingFID:
    """Accumulate generated images' features; compute FID (and KID) against ``real`` on demand.

    Args:
        real: as :func:`stylegan_eval.metrics.fid.fid`'s ``real`` (image folder or zip, statistics
            file, FeatureStats, ``(mu, sigma)``).
        kid: also compute KID (the real side must hold per-image features).
        detector: 'pytorch-fid', 'nvidia' or a built detector.
        inception_weights, allow_random_weights, resize: the detector's weights and resize.
        device: where the detector runs.
        **options: further keyword arguments of :func:`~stylegan_eval.metrics.fid.fid`
            (``method``, ``kid_subsets``, ``cache_dir``, ``strict_data`` ...).
    """

    def __init__(
        self,
        real: Any,
        *,
        kid: bool = False,
        detector: Any = "pytorch-fid",
        inception_weights: str | os.PathLike | None = None,
        allow_random_weights: bool = False,
        resize: str = "detector",
        device: torch.device | str = "cpu",
        **options: Any,
    ) -> None:
        from . import inception

        _check(real, kid, options, resize=resize)
        self.real, self.kid, self.options = real, kid, options
        self.device = torch.device(device)
        self.detector = (
            inception.make_detector(
                detector, inception_weights, allow_random=allow_random_weights, resize=resize, device=self.device
            )
            if isinstance(detector, str)
            else detector
        )
        self.reset()

    def reset(self) -> None:
        """Forget every image seen so far (the real side and the detector are kept)."""
        self._features: list[torch.Tensor] = []
        self._sizes: dict[str, int] = {}

    @property
    def num_images(self) -> int:
        """Images seen since construction or :meth:`reset`."""
        return sum(len(f) for f in self._features)

    @torch.inference_mode()
    def update(self, images: torch.Tensor) -> None:
        """Add a batch: NCHW with 1 or 3 channels, float in [-1, 1] (quantised as generated images are)
        or uint8 in [0, 255]."""
        from .image_samples import as_uint8, size_counts

        x = as_uint8(images, "images")
        for size, n in size_counts([x]).items():
            self._sizes[size] = self._sizes.get(size, 0) + n
        self._features.append(self.detector(x.to(self.device)).float().cpu())

    def compute(self) -> Any:
        """The :class:`~stylegan_eval.metrics.fid.FeatureMetricResult` of the images seen so far.

        Raises:
            ArgumentError: fewer than 2 images seen.
        """
        from .fid import fid
        from .image_samples import GeneratedImages

        if self.num_images < 2:
            raise ArgumentError("images", f"images: compute() needs at least 2 images, got {self.num_images}")
        samples = GeneratedImages.from_features(torch.cat(self._features), self.detector, self._sizes, self.device)
        return fid(samples, self.real, kid=self.kid, detector=self.detector, **self.options)
