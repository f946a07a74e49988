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
    resize to 299x299 (``align_corners=False``, no antialias), then ``2x - 1``.

``nvidia``
    NVIDIA's TorchScript ``inception-2015-12-05.pt`` (StyleGAN2-ADA / StyleGAN3 metrics), loaded
    with ``torch.jit.load`` only once the file has been found locally, called on uint8 NCHW
    images with ``return_features=True``; it resizes to 299 inside (TensorFlow-style bilinear).
    Its architecture lives in the file, so it has no random-initialisation fallback.

``resize='clean'`` replaces either detector's resize with a clean-fid-style one: the uint8
image, as float in [0, 255], is resized to 299x299 with antialiased bicubic interpolation
(torch's ``antialias=True`` kernel, which follows PIL's ``BICUBIC`` resampling), clipped to
[0, 255] and not re-quantised; the detector then sees 299x299 input and does not resize again
(NVIDIA's network is entered at its ``layers`` after ``(x - 128) / 128``, as clean-fid does).
"""

from __future__ import annotations

import os
import warnings

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import WeightsUnavailable
from .feature_detector import FeatureDetector
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


def clean_resize(images: torch.Tensor, size: int = INPUT_SIZE) -> torch.Tensor:
    """uint8 NCHW -> float32 NCHW in [0, 255], ``size`` x ``size``, antialiased bicubic (clean-fid style)."""
    x = images.float()
    if x.shape[-2:] != (size, size):
        x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True)
    return x.clamp(0, 255)


# ------------------------------------------------------------------------------ FID Inception
def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """TensorFlow's 3x3 'SAME' average pool: zero padding is not counted in the mean."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


def _fid_blocks():
    """torchvision's Inception blocks with the pooling of the TF graph (pytorch-fid PR #16)."""
    from torchvision.models import inception as tv

    class BlockA(tv.InceptionA):
        def _forward(self, x):
            b5 = self.branch5x5_2(self.branch5x5_1(x))
            b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
            return [self.branch1x1(x), b5, b3, self.branch_pool(_tf_avg_pool(x))]

    class BlockC(tv.InceptionC):
        def _forward(self, x):
            b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
            d = x
            for layer in (
                self.branch7x7dbl_1,
                self.branch7x7dbl_2,
                self.branch7x7dbl_3,
                self.branch7x7dbl_4,
                self.branch7x7dbl_5,
            ):
                d = layer(d)
            return [self.branch1x1(x), b7, d, self.branch_pool(_tf_avg_pool(x))]

    class BlockE(tv.InceptionE):
        max_pool = False  # the graph's last block (Mixed_7c) max-pools

        def _forward(self, x):
            b3 = self.branch3x3_1(x)
            b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
            d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
            d = torch.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
            pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _tf_avg_pool(x)
            return [self.branch1x1(x), b3, d, self.branch_pool(pooled)]

    class BlockEMax(BlockE):
        max_pool = True

    return BlockA, BlockC, BlockE, BlockEMax


class FIDInceptionV3(nn.Module):
    """Inception-v3 of the FID graph up to pool3; state dict keys as pytorch-fid's ``fid_inception_v3``.

    ``forward`` takes float NCHW images in [-1, 1] at 299x299 and returns [N, 2048] features.
    """

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import inception_v3

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = inception_v3(weights=None, aux_logits=False, init_weights=False, num_classes=1008)
        A, C, E, EMax = _fid_blocks()
        net.Mixed_5b, net.Mixed_5c, net.Mixed_5d = A(192, 32), A(256, 64), A(288, 64)
        net.Mixed_6b, net.Mixed_6c, net.Mixed_6d, net.Mixed_6e = C(768, 128), C(768, 160), C(768, 160), C(768, 192)
        net.Mixed_7b, net.Mixed_7c = E(1280), EMax(2048)
        names = [
            "Conv2d_1a_3x3",
            "Conv2d_2a_3x3",
            "Conv2d_2b_3x3",
            "Conv2d_3b_1x1",
            "Conv2d_4a_3x3",
            "Mixed_5b",
            "Mixed_5c",
            "Mixed_5d",
            "Mixed_6a",
            "Mixed_6b",
            "Mixed_6c",
            "Mixed_6d",
            "Mixed_6e",
            "Mixed_7a",
            "Mixed_7b",
            "Mixed_7c",
            "fc",
        ]
        for name in names:  # the same attribute names, hence the same state dict keys
            setattr(self, name, getattr(net, name))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (
            self.Mixed_5b,
            self.Mixed_5c,
            self.Mixed_5d,
            self.Mixed_6a,
            self.Mixed_6b,
            self.Mixed_6c,
            self.Mixed_6d,
            self.Mixed_6e,
            self.Mixed_7a,
            self.Mixed_7b,
            self.Mixed_7c,
        ):
            x = block(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)

    @torch.no_grad()
    def randomize(self, seed: int = RANDOM_SEED) -> "FIDInceptionV3":
        """Deterministic random weights that keep activations of order one through the depth.

        He-normal convolutions, identity batch norms (scale 1, shift 0, running stats 0/1) and a
        small random ``fc``; drawn from a private generator so torch's global RNG is untouched.
        """
        g = torch.Generator().manual_seed(seed)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.fill_(1.0)
                m.bias.fill_(0.0)
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
            elif isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 0.01)
                m.bias.zero_()
        return self


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
        super().__init__(locate("pytorch-fid", weights_path, allow_random, resize, download, verify))
        self._device = torch.device(device)
        self._net: FIDInceptionV3 | None = None

    @property
    def net(self) -> FIDInceptionV3:
        if self._net is None:
            net = FIDInceptionV3()
            if self.weights_file is None:
                net.randomize(RANDOM_SEED)
            else:
                try:
                    net.load_state_dict(torch.load(self.weights_file, map_location="cpu", weights_only=True))
                except Exception as exc:  # noqa: BLE001 - any unreadable or mismatched file is bad input
                    raise WeightsUnavailable(
                        f"{self.weights_file}: not a pytorch-fid Inception state dict ({str(exc).splitlines()[0][:200]})"
                    ) from None
            self._net = net.eval().requires_grad_(False).to(self._device)
        return self._net

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self._check(images)
        if self.resize == "clean":
            x = clean_resize(images) / 255
        else:
            x = F.interpolate(images.float() / 255, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return self.net(2 * x - 1)

    def logits_unbiased(self, images: torch.Tensor) -> torch.Tensor:
        """[N, 1008] class logits without the fc bias (the Inception Score's; NVIDIA's ``no_output_bias``)."""
        return self.forward(images) @ self.net.fc.weight.T


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
        try:
            from ..warnings_capture import captured_warnings

            with captured_warnings():  # torch's jit deprecation notices stay off stderr
                self.net = torch.jit.load(self.weights_file, map_location=torch.device(device)).eval()
        except Exception as exc:  # noqa: BLE001
            raise WeightsUnavailable(
                f"{self.weights_file}: not a TorchScript Inception ({str(exc).splitlines()[0][:200]})"
            ) from None

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
