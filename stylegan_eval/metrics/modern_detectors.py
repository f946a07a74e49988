"""Feature detectors beyond Inception: DINOv2 ViT-L/14 and CLIP ViT-B/32, for FD / KID / precision-recall / stats.

``dinov2-vitl14`` (FD_DINOv2, Stein et al., NeurIPS 2023, "Exposing flaws of generative model
evaluation metrics"): the DINOv2 ViT-L/14 image encoder (Oquab et al. 2023) from ``timm``
(``vit_large_patch14_dinov2``, built for 224x224 input, its position embedding resampled from
the checkpoint's 37x37 grid by timm's loader); preprocessing as their reference code: the image
resized to 224x224 with bicubic interpolation, scaled to [0, 1] and normalised with the
ImageNet mean and std; the feature is the final-norm CLS token (1024-d).

``clip-vitb32`` (FD_CLIP, Kynkäänniemi et al., ICLR 2023, "The Role of ImageNet Classes in
Fréchet Inception Distance"): OpenAI's CLIP ViT-B/32 image tower from ``open_clip_torch``
(QuickGELU, as the OpenAI weights); preprocessing as CLIP's: shorter side resized to 224
(bicubic), centre crop 224x224, [0, 1], CLIP mean/std; the feature is the 512-d image embedding
(``encode_image``, not normalised).

Resizing runs on float tensors with torch's antialiased bicubic kernel, the kernel
torchvision's ``Resize`` uses on tensors, so the preprocessing equals ``timm``'s
``create_transform`` and ``open_clip``'s preprocess applied to the same tensor (the
libraries' PIL path also rounds the resized image to uint8).

Weights come through :mod:`stylegan_eval.weights` (URL, sha256 where published, local-copy
variable, offline error) and are read with ``torch.load(weights_only=True)`` (DINOv2) or, for
OpenAI's TorchScript archive, ``torch.jit.load`` after the sha256 check (only the state dict
is used). Without them ``allow_random=True`` builds the architecture at a seeded random
initialisation and the detector lists itself in ``random_weights``. Detector names and
weights enter :meth:`describe`, so statistics caches of different detectors never mix.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import torch.nn.functional as F

from ..errors import ArgumentError, UserError, WeightsUnavailable
from .context import Raw, RunContext
from .feature_detector import FeatureDetector
from .modern_weights import (  # noqa: F401 - re-exported
    _SPECS,
    CLIP,
    CLIP_MEAN,
    CLIP_STD,
    CLIP_WEIGHTS,
    DINOV2,
    DINOV2_WEIGHTS,
    FEATURE_DIMS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    INPUT_SIZE,
    MODERN_DETECTORS,
    RANDOM_SEED,
    locate_modern,
)
from .result_simple import raws, run_options


def resize_bicubic(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Float NCHW -> ``size`` with antialiased bicubic (torchvision ``Resize`` on tensors); unchanged when equal."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=True)


def _shorter_side(h: int, w: int, size: int) -> tuple[int, int]:
    """torchvision's Resize(int) output size: the shorter side becomes ``size``, the other scaled and truncated."""
    if h <= w:
        return size, int(size * w / h)
    return int(size * h / w), size


def preprocess_dinov2(images: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """uint8 NCHW -> float32 NCHW [size, size]: bicubic resize, [0, 1], ImageNet normalisation (Stein et al.)."""
    x = resize_bicubic(images.float() / 255, (size, size))
    mean = torch.tensor(IMAGENET_MEAN, device=x.device)[:, None, None]
    std = torch.tensor(IMAGENET_STD, device=x.device)[:, None, None]
    return (x - mean) / std


def preprocess_clip(images: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """uint8 NCHW -> float32 NCHW [size, size]: shorter side to ``size`` (bicubic), centre crop, CLIP normalisation."""
    h, w = images.shape[-2:]
    x = resize_bicubic(images.float() / 255, _shorter_side(h, w, size))
    hh, ww = x.shape[-2:]
    top, left = round((hh - size) / 2.0), round((ww - size) / 2.0)
    x = x[..., top : top + size, left : left + size]
    mean = torch.tensor(CLIP_MEAN, device=x.device)[:, None, None]
    std = torch.tensor(CLIP_STD, device=x.device)[:, None, None]
    return (x - mean) / std


def build_dinov2(
    arch: str = "vit_large_patch14_dinov2", device: torch.device | str = "cpu", **arch_kwargs: Any
) -> torch.nn.Module:
    """timm's DINOv2 ViT for 224x224 input, no head (forward -> the final-norm CLS token)."""
    try:
        import timm
    except ImportError:
        raise UserError("--detector dinov2-vitl14 needs the 'timm' package (pip install timm)") from None
    kwargs = {"pretrained": False, "num_classes": 0, "img_size": INPUT_SIZE, **arch_kwargs}
    with torch.device(device):
        return timm.create_model(arch, **kwargs)


def build_clip_visual(device: torch.device | str = "cpu", **vision_overrides: Any) -> torch.nn.Module:
    """open_clip's ViT-B/32 image tower (QuickGELU, 512-d embedding); ``vision_overrides`` shrink it for tests."""
    try:
        from open_clip.factory import get_model_config
        from open_clip.model import CLIPVisionCfg, _build_vision_tower
    except ImportError:
        raise UserError(
            "--detector clip-vitb32 needs the 'open_clip_torch' package (pip install open_clip_torch)"
        ) from None
    cfg = get_model_config("ViT-B-32")
    vision = {**cfg["vision_cfg"], **vision_overrides}
    with torch.device(device):
        return _build_vision_tower(cfg["embed_dim"], CLIPVisionCfg(**vision), quick_gelu=True)


class ModernDetector(FeatureDetector):
    """DINOv2 or CLIP features of uint8 NCHW RGB images of any size: float32 [N, feature_dim].

    Args:
        name: 'dinov2-vitl14' or 'clip-vitb32'.
        weights_path: explicit weights file; else the weights manager's search.
        allow_random: seeded random initialisation when the weights are unavailable (reported).
        device: where the network runs.
        download: try the URL when no local copy exists.
        arch_kwargs: architecture overrides (tests build a tiny network through the same path).
    """

    def __init__(
        self,
        name: str = DINOV2,
        weights_path: str | os.PathLike | None = None,
        allow_random: bool = False,
        device: torch.device | str = "cpu",
        download: bool = True,
        resize: str = "detector",
        arch_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.name = name
        super().__init__(locate_modern(name, weights_path, allow_random, resize, download))
        self._device = torch.device(device)
        self._arch_kwargs = dict(arch_kwargs or {})
        self._net: torch.nn.Module | None = None
        self.preprocess = preprocess_dinov2 if name == DINOV2 else preprocess_clip

    def describe(self) -> dict[str, object]:
        out = super().describe()
        if self._arch_kwargs:  # a non-standard architecture (tests) never shares a cache entry with the real one
            out["arch"] = dict(sorted(self._arch_kwargs.items()))
        return out

    def build(self, device: torch.device | str | None = None) -> torch.nn.Module:
        """The architecture alone (``device='meta'`` builds it without memory)."""
        dev = self._device if device is None else device
        if self.name == DINOV2:
            return build_dinov2(device=dev, **self._arch_kwargs)
        return build_clip_visual(device=dev, **self._arch_kwargs)

    @property
    def feature_dim(self) -> int:  # type: ignore[override]
        return (
            int(self._arch_kwargs.get("embed_dim", FEATURE_DIMS[self.name]))
            if self.name == DINOV2
            else FEATURE_DIMS[self.name]
        )

    @property
    def net(self) -> torch.nn.Module:
        if self._net is None:
            if self.weights_file is None:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(RANDOM_SEED)
                    net = self.build("cpu")
            else:
                net = self.build("cpu")
                self._load(net, self.weights_file)
            self._net = net.eval().requires_grad_(False).to(self._device)
        return self._net

    def _load(self, net: torch.nn.Module, path: str) -> None:
        try:
            if self.name == DINOV2:
                from timm.models.vision_transformer import checkpoint_filter_fn

                state = torch.load(path, map_location="cpu", weights_only=True)
                state = checkpoint_filter_fn(state.get("model", state) if isinstance(state, dict) else state, net)  # type: ignore[arg-type]
            else:  # OpenAI's TorchScript archive, sha256-verified by the weights manager
                full = torch.jit.load(path, map_location="cpu").state_dict()
                state = {k[len("visual.") :]: v.float() for k, v in full.items() if k.startswith("visual.")}
            net.load_state_dict(state, strict=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable or mismatched file is bad input
            raise WeightsUnavailable(
                f"{path}: not {_SPECS[self.name].name} weights ({str(exc).splitlines()[0][:200]})"
            ) from None

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self._check(images)
        return self.net(self.preprocess(images.to(self._device))).float()


def make_modern_detector(
    name: str,
    weights_path: str | os.PathLike | None = None,
    allow_random: bool = False,
    resize: str = "detector",
    device: torch.device | str = "cpu",
    download: bool = True,
) -> ModernDetector:
    """The :func:`~stylegan_eval.metrics.inception.make_detector` branch for 'dinov2-vitl14' and 'clip-vitb32'."""
    return ModernDetector(name, weights_path, allow_random, device, download, resize)


# ------------------------------------------------------------------------------ entry point
def validate(
    generator: Any,
    real: Any,
    *,
    num_samples: int = 50_000,
    batch_size: int | None = None,
    detector: str | FeatureDetector = DINOV2,
    max_real: int | None = None,
    fid_method: str = "eigen",
    psi: float = 1.0,
    noise_mode: str = "random",
    num_workers: int = 0,
) -> None:
    """Every check of :func:`frechet_distance_in`'s arguments (same names), run by it before a
    detector is built or an image read: ArgumentError naming the first argument out of range."""
    from .common import check_sampling
    from .frechet import FID_METHODS
    from .stats_cache import check_real_source

    check_sampling(generator, num_samples=num_samples, batch_size=batch_size, psi=psi, noise_mode=noise_mode)
    if not isinstance(detector, FeatureDetector) and detector not in MODERN_DETECTORS:
        raise ArgumentError(
            "detector", f"detector must be one of {MODERN_DETECTORS} or a built detector, got {detector!r}"
        )
    if max_real is not None and not (isinstance(max_real, int) and max_real >= 2):
        raise ArgumentError("max_real", f"max_real must be an integer >= 2 or None, got {max_real!r}")
    if fid_method not in FID_METHODS:
        raise ArgumentError("fid_method", f"fid_method must be one of {FID_METHODS}, got {fid_method!r}")
    if not (isinstance(num_workers, int) and num_workers >= 0):
        raise ArgumentError("num_workers", f"num_workers must be an integer >= 0, got {num_workers!r}")
    check_real_source(real)


def real_statistics_in(
    real: Any,
    det: FeatureDetector,
    *,
    batch_size: int,
    max_real: int | None = None,
    num_workers: int = 0,
    use_cache: bool = True,
    device: Any = "cpu",
    show_progress: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """(statistics, {"real": description}) of ``real`` in ``det``'s features: FeatureStats as
    given, a statistics file made by the same detector, or an image folder / zip (cached; its
    first ``max_real`` images when given)."""
    from pathlib import Path

    from .features import FeatureStats, dataset_stats, load_stats

    if isinstance(real, FeatureStats):
        return real, {"real": dict(real.meta)}
    if Path(real).suffix.lower() in (".npz", ".pkl"):
        stats = load_stats(real, det.feature_dim)
        meta = stats.meta
        if meta.get("detector") not in (None, det.name) or meta.get("weights_sha256") not in (None, det.weights_sha256):
            raise UserError(
                f"{real}: statistics of detector {meta.get('detector')!r} ({meta.get('weights_sha256')}), "
                f"not of {det.name} ({det.weights_sha256})"
            )
        return stats, {"real": {"stats_file": str(real), **meta}}
    stats, info = dataset_stats(
        real,
        det,
        batch_size=batch_size,
        num_workers=num_workers,
        keep_features=max_real is not None,
        use_cache=use_cache,
        device=device,
        show_progress=show_progress,
    )
    if max_real is not None and stats.features is not None and stats.features.shape[0] > max_real:
        stats = FeatureStats.from_features(stats.features[:max_real], meta=stats.meta)
    sizes = dict(stats.meta.get("sizes") or {})
    return stats, {"real": {"source": str(real), "data_hash": info.data_hash, "max_real": max_real, "sizes": sizes}}


def frechet_distance_in(
    generator,
    real,
    *,
    num_samples: int = 50_000,
    seed: int = 0,
    batch_size: int | None = None,
    show_progress: bool = False,
    state=None,
    detector: str | FeatureDetector = DINOV2,
    detector_weights: str | os.PathLike | None = None,
    allow_random_weights: bool = False,
    max_real: int | None = None,
    fid_method: str = "eigen",
    psi: float = 1.0,
    noise_mode: str = "random",
    num_workers: int = 0,
    use_cache: bool = True,
    strict_data: bool = False,
):
    """Fréchet distance between real and generated features of a DINOv2 / CLIP detector (``fd_dinov2``, ``fd_clip``).

    Args:
        generator: a :class:`~stylegan_eval.generator.Generator`, or generated images (folder, zip,
            NCHW tensor, iterable: :mod:`~stylegan_eval.metrics.image_samples`; all of them are used).
        real: image folder / zip (statistics cached under the detector's own key), a statistics
            file (.npz) of the same detector, or FeatureStats.
        num_samples: generated images (50k).
        detector: 'dinov2-vitl14', 'clip-vitb32' or a built detector.
        detector_weights, allow_random_weights: as :func:`make_modern_detector` (random weights are reported).
        max_real: use the first ``max_real`` real features (None: all; needs a folder or zip).
        fid_method: 'sqrtm' or 'eigen' (see :mod:`stylegan_eval.metrics.fid`).
        strict_data: refuse real images of another size than the generated ones (else one warning).
    """
    from .common import generator_fingerprint, resolve_state
    from .features import FeatureStats, generator_features
    from .frechet import fid_from_stats
    from .image_samples import GeneratedImages, as_generated

    generator = as_generated(generator)
    validate(generator, real, num_samples=num_samples, batch_size=batch_size, detector=detector, max_real=max_real,
             fid_method=fid_method, psi=psi, noise_mode=noise_mode, num_workers=num_workers)  # fmt: skip
    det = (
        detector
        if isinstance(detector, FeatureDetector)
        else make_modern_detector(detector, detector_weights, allow_random_weights, device=generator.device)
    )
    bs = batch_size or 64
    real_stats, real_info = real_statistics_in(
        real, det, batch_size=bs, max_real=max_real, num_workers=num_workers, use_cache=use_cache,
        device=generator.device, show_progress=show_progress,
    )  # fmt: skip
    sampling = {"num_samples": num_samples, "seed": seed, "psi": psi, "noise_mode": noise_mode}
    fingerprint = {"metric": "fd-features", **sampling, "detector": det.describe(), **generator_fingerprint(generator)}
    feats = generator_features(
        generator, det, num_samples, batch_size=bs, seed=seed, psi=psi, noise_mode=noise_mode,
        show_progress=show_progress, state=resolve_state(state, "fd", fingerprint),
    )  # fmt: skip
    if isinstance(generator, GeneratedImages):  # every image given; no sampling options
        num_samples = int(feats.shape[0])
    res = fid_from_stats(real_stats, FeatureStats.from_features(feats, keep=True), method=fid_method)  # type: ignore[arg-type]
    settings = {
        "num_samples": num_samples,
        "max_real": max_real,
        "fid_method": fid_method,
        "psi": psi,
        "noise_mode": noise_mode,
        "detector": det.name,
    }
    inputs = {"seed": seed, "detector_info": det.describe(), **real_info, **generator_fingerprint(generator)}
    warnings = res.warnings + _size_notes(real_info, generator, num_samples, det, strict_data)
    return _fd_result(det, res.fid, settings, inputs, {"warnings": warnings, "num_real": res.num_real})


def _size_notes(real_info: dict[str, Any], generator: Any, num_samples: int, det: Any, strict: bool) -> list[str]:
    """The warning on real images of other sizes than the generated ones (ArgumentError when ``strict``)."""
    from .data_sizes import generator_sizes, size_warning

    note = size_warning(real_info["real"].get("sizes"), generator_sizes(generator, num_samples), det, strict)
    return [note] if note else []


def _fd_result(det: Any, value: float, settings: dict[str, Any], inputs: dict[str, Any], extra: dict[str, Any]) -> Any:
    """The :class:`~stylegan_eval.metrics.result_simple.SimpleResult` of one FD run, named by its protocol."""
    from .result_simple import SimpleResult

    short = {DINOV2: "fd_dinov2", CLIP: "fd_clip"}.get(det.name, f"fd_{det.name}")
    n = settings["num_samples"]
    standard = n == 50_000 and settings["max_real"] is None and settings["psi"] == 1.0
    return SimpleResult(
        name=short if standard else f"{short}_{n}",
        outputs={short: value},
        settings=settings,
        random_weights=list(det.random_weights),
        inputs=inputs,
        extra=extra,
    )


# ------------------------------------------------------------------------------ registered runner
def run_registered(ctx: RunContext, outputs: tuple[str, ...], **protocol: Any) -> dict[str, Raw]:
    """The registry's runner (:mod:`stylegan_eval.metrics.context`): the Fréchet distance in the protocol's detector's features against ``ctx.options.data``."""
    opts = ctx.options
    res = frechet_distance_in(
        ctx.generator,
        opts.data,
        allow_random_weights=opts.allow_random_weights,
        fid_method=opts.fid_method,
        strict_data=opts.strict_data,
        **run_options(ctx),
        **protocol,
    )
    return raws(res, outputs, ctx.num_samples)
