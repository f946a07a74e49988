"""The generated side of the feature metrics given as images instead of a generator.

FID, KID, precision/recall, the Inception Score and FD in DINOv2/CLIP features only need the
detector's features of the generated images, so the images may come from elsewhere: a folder
or zip of image files (decoded as the real side is, statistics cached the same way), a tensor
[N, C, H, W] (float in [-1, 1] or uint8 in [0, 255]) or an iterable of such tensors.
:class:`GeneratedImages` wraps them and stands in for the generator argument of those entry
points; :func:`stylegan_eval.metrics.features.generator_features` reads its features.

Float images are quantised as generated ones are, ``(x * 127.5 + 128).clamp(0, 255)`` -> uint8,
so the FID of saved PNGs of a generator's samples equals the FID of that generator on the same
samples (to float rounding). Metrics that need the generator itself (PPL, linear separability,
equivariance) refuse these with :func:`require_generator`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import torch

from ..errors import ArgumentError, UserError
from .stats_cache import is_image_source  # noqa: F401 - re-exported

#: Metrics that take images in place of a generator (registry families).
IMAGE_FAMILIES = ("fid", "kid", "pr", "is", "fd")


def as_uint8(images: torch.Tensor, arg: str = "images") -> torch.Tensor:
    """NCHW images -> uint8 RGB NCHW: uint8 kept, float in [-1, 1] quantised as generated images are,
    one channel repeated to three.

    Raises:
        ArgumentError: not a 4-d tensor with 1 or 3 channels, or a dtype other than uint8/float.
    """
    from ..imageops import to_rgb, to_uint8

    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1] not in (1, 3):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ArgumentError(arg, f"{arg} must be NCHW image tensors with 1 or 3 channels, got {shape}")
    if images.dtype == torch.uint8:
        return to_rgb(images)
    if not images.is_floating_point():
        raise ArgumentError(arg, f"{arg} must be uint8 [0, 255] or float [-1, 1], got {images.dtype}")
    return to_rgb(to_uint8(images))


def size_counts(images: Iterable[torch.Tensor]) -> dict[str, int]:
    """``{"HxW": count}`` over NCHW batches (the sizes the detector saw)."""
    out: dict[str, int] = {}
    for x in images:
        key = f"{x.shape[-2]}x{x.shape[-1]}"
        out[key] = out.get(key, 0) + int(x.shape[0])
    return out


class GeneratedImages:
    """Generated images from elsewhere, in place of a generator for the feature metrics.

    Args:
        source: an image folder or zip, a tensor [N, C, H, W] (uint8 [0, 255] or float [-1, 1]),
            or an iterable of such tensors (read once).
        device: where the detector runs.
        skip_bad, num_workers, cache_dir, no_cache: decoding and statistics cache of a folder / zip,
            as for the real side.

    Attributes:
        device: the torch.device the detector runs on.
        kind: 'folder', 'zip', 'tensor' or 'iterable'.
        sizes: ``{"HxW": count}`` once known (tensors: at once; files: after the features).
    """

    family = "images"
    is_demo = False
    supports_input_transform = False
    resolution = 256  # only the default batch size reads it; the detector resizes every image anyway

    def __init__(
        self,
        source: Any,
        *,
        device: torch.device | str = "cpu",
        skip_bad: bool = False,
        num_workers: int | None = None,
        cache_dir: str | os.PathLike | None = None,
        no_cache: bool = False,
    ) -> None:
        self.device = torch.device(device)
        self.skip_bad, self.num_workers, self.cache_dir, self.no_cache = skip_bad, num_workers, cache_dir, no_cache
        self._features: dict[str, torch.Tensor] = {}
        self._consumed = False
        self.sizes: dict[str, int] = {}
        self.path: Path | None = None
        self.tensor: torch.Tensor | None = None
        self.iterable: Iterable[torch.Tensor] | None = None
        if isinstance(source, (str, os.PathLike)):
            self.path = Path(source)
            if not self.path.exists():
                raise ArgumentError("generator", f"{self.path}: no such image folder or zip")
            if not is_image_source(self.path):
                raise ArgumentError("generator", f"{self.path}: expected an image folder or a .zip of images")
            self.kind = "folder" if self.path.is_dir() else "zip"
            self.identity: dict[str, Any] = {"images": str(self.path)}
        elif isinstance(source, torch.Tensor):
            self.tensor = as_uint8(source, "generator").cpu()
            self.kind = "tensor"
            self.sizes = size_counts([self.tensor])
            digest = hashlib.sha256(self.tensor.contiguous().numpy().tobytes()).hexdigest()
            self.identity = {"images": f"tensor:{digest}"}
        elif isinstance(source, Iterable):
            self.iterable = source
            self.kind = "iterable"
            self.identity = {"images": f"iterable:{id(source)}"}
        else:
            raise ArgumentError(
                "generator",
                "generator must be a Generator, an image folder or zip, an NCHW image tensor or an iterable "
                f"of them, got {type(source).__name__}",
            )

    @classmethod
    def from_features(
        cls, features: torch.Tensor, detector: Any, sizes: dict[str, int], device: torch.device | str = "cpu"
    ) -> "GeneratedImages":
        """Images already passed through ``detector``: their features [N, D] and ``{"HxW": count}``."""
        out = cls(torch.zeros(0, 3, 1, 1, dtype=torch.uint8), device=device)
        out.kind, out.sizes = "features", dict(sizes)
        feats = features.float().cpu().contiguous()
        out.identity = {"images": "features:" + hashlib.sha256(feats.numpy().tobytes()).hexdigest()}
        out._features[_detector_key(detector)] = feats
        return out

    def __repr__(self) -> str:
        return f"GeneratedImages({self.kind}: {self.path or self.identity['images']})"

    # ------------------------------------------------------------------ the generator look-alike
    training = False

    def eval(self) -> "GeneratedImages":
        """Images have no training mode (callers that toggle a generator's mode may call this)."""
        return self

    def train(self, mode: bool = True) -> "GeneratedImages":
        return self

    def state_dict(self) -> dict[str, torch.Tensor]:
        """No weights: the images' identity names them in fingerprints."""
        return {}

    def info(self) -> dict[str, Any]:
        """What the reports show in place of a checkpoint's description."""
        out: dict[str, Any] = {"family": "images", "images": self.kind}
        if self.path is not None:
            out["checkpoint"] = str(self.path)
        if self.sizes:
            out["image_sizes"] = dict(self.sizes)
        return out

    def fingerprint(self) -> dict[str, Any]:
        return dict(self.identity)

    # ------------------------------------------------------------------ batches and features
    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """uint8 RGB NCHW batches on the CPU, in order (same-size groups for files of mixed sizes)."""
        if self.tensor is not None:
            yield from self.tensor.split(batch_size)
            return
        if self.iterable is not None:
            if self._consumed:
                raise ArgumentError(
                    "generator", "an iterable of images can be read once; pass a tensor or a folder to reuse it"
                )
            self._consumed = True
            for x in self.iterable:
                yield as_uint8(torch.as_tensor(x), "images").cpu()
            return
        yield from self._file_batches(batch_size)

    def _file_batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        from .features import ImageDataset, collate_by_size
        from .stats_cache import BadImage, ImageSource

        source = ImageSource(self.path, skip_bad=self.skip_bad)  # type: ignore[arg-type]
        loader = torch.utils.data.DataLoader(
            ImageDataset(source),
            batch_size=batch_size,
            num_workers=self.num_workers or 0,
            collate_fn=collate_by_size,
        )
        for batch in loader:
            for i, err in batch["bad"]:
                if not self.skip_bad:
                    raise BadImage(f"{source.display_name(i)}: cannot decode image ({err}); pass --skip-bad-images")
            for _, images in batch["groups"]:
                yield images

    def map(
        self, fn: Callable[[torch.Tensor], torch.Tensor], batch_size: int, show_progress: bool = False
    ) -> torch.Tensor:
        """``fn`` over every uint8 batch (moved to :attr:`device`), rows concatenated on the CPU."""
        from ..runtime import progress

        bar = progress(len(self.tensor) if self.tensor is not None else 0, "image features", show_progress)
        outs, seen = [], []
        try:
            with torch.inference_mode():
                for x in self.batches(batch_size):
                    seen.append(x)
                    outs.append(fn(x.to(self.device)).float().cpu())
                    bar.update(len(x))
        finally:
            bar.close()
        if not outs:
            raise UserError(f"{self}: no images")
        self.sizes = self.sizes or size_counts(seen)
        return torch.cat(outs)

    def image_features(self, detector: Any, batch_size: int, show_progress: bool = False) -> torch.Tensor:
        """Detector features [N, D] (CPU float32), once per detector; a folder / zip goes through the
        statistics cache (:func:`stylegan_eval.metrics.features.dataset_stats`)."""
        key = _detector_key(detector)
        if key not in self._features:
            if self.path is not None:
                from .features import dataset_stats

                stats, _ = dataset_stats(
                    self.path,
                    detector,
                    batch_size=batch_size,
                    num_workers=0 if self.num_workers is None else self.num_workers,
                    skip_bad=self.skip_bad,
                    keep_features=True,
                    use_cache=not self.no_cache,
                    cache_dir=self.cache_dir,
                    device=self.device,
                    show_progress=show_progress,
                )
                self.sizes = dict(stats.meta.get("sizes") or {})
                self._features[key] = torch.as_tensor(stats.features).float()
            else:
                self._features[key] = self.map(detector, batch_size, show_progress)
        return self._features[key]


def _detector_key(detector: Any) -> str:
    describe = getattr(detector, "describe", None)
    return repr(sorted(describe().items())) if callable(describe) else f"id:{id(detector)}"


def as_generated(obj: Any, device: torch.device | str = "cpu") -> Any:
    """``obj`` itself when it is a Generator or :class:`GeneratedImages`, else images wrapped as
    :class:`GeneratedImages` (a folder / zip path, a tensor, an iterable of tensors)."""
    from ..generator import Generator

    if isinstance(obj, (Generator, GeneratedImages)):
        return obj
    if isinstance(obj, torch.nn.Module):
        raise ArgumentError("generator", f"generator must be a stylegan_eval Generator, got {type(obj).__name__}")
    return GeneratedImages(obj, device=device)


def refuse_image_checkpoints(checkpoints: Iterable[Any], metrics: dict[str, str]) -> None:
    """Before any work: images among ``checkpoints`` with a metric (name -> family) that needs a generator.

    Raises:
        UserError: naming the folder and the first such metric.
    """
    needing = [name for name, family in metrics.items() if family not in IMAGE_FAMILIES]
    for ckpt in checkpoints:
        if needing and ckpt is not None and Path(str(ckpt)).exists() and is_image_source(ckpt):
            raise UserError(
                f"{ckpt}: a folder or zip of images, but {needing[0]} needs a generator (it samples latents); "
                f"images are accepted only by the feature metrics ({', '.join(IMAGE_FAMILIES)})"
            )


def require_generator(obj: Any, metric: str) -> None:
    """Refuse images where ``metric`` needs the generator itself (PPL, LS, EQ)."""
    if isinstance(obj, GeneratedImages) or (isinstance(obj, (str, os.PathLike)) and is_image_source(obj)):
        raise ArgumentError(
            "generator",
            f"{metric} needs a generator (it samples latents); images are accepted only by the feature "
            f"metrics ({', '.join(IMAGE_FAMILIES)})",
        )
