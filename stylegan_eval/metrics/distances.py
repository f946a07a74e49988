"""Image distances for the perceptual path length: LPIPS-VGG16 and NVIDIA's TorchScript VGG16.

Every distance takes a *pair batch*: images float NCHW in [-1, 1] whose first half holds the
first image of each pair and whose second half the second image (``[2N, 3, H, W]``), and returns
one non-negative distance per pair (``[N]``). Running both halves through the backbone as one
batch is how the metric uses them; :meth:`Distance.forward` accepts the two halves separately.

Available distances (:func:`make_distance` names):

- ``lpips-vgg``: LPIPS v0.1 (Zhang et al. 2018) with the VGG16 backbone. The linear heads ship
  with the ``lpips`` package (``lpips/weights/v0.1/vgg.pth``); the backbone is torchvision's
  ImageNet VGG16 (``vgg16-397923af.pth``) found through :mod:`stylegan_eval.weights`. Without
  that file the backbone may run at a fixed random initialisation (``allow_random=True``), and
  the distance lists itself in :attr:`Distance.random_weights` so reports carry a warning.
- ``nvidia-vgg16``: NVIDIA's TorchScript ``vgg16.pt`` (the StyleGAN2-ADA PyTorch metric
  network), called as NVIDIA's PPL does: [0, 255] float input, ``resize_images=False``,
  ``return_lpips=True``; the distance is the squared L2 norm of the feature difference. It is
  loaded with ``torch.jit.load`` only after its sha256 has been verified; there is no random
  fallback (the architecture lives in the file).
- ``l2``: sum of squared pixel differences in the [-1, 1] units of the input (tests, sanity
  checks).
"""

from __future__ import annotations

import abc
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from .. import weights
from ..errors import UserError, WeightsUnavailable

#: torchvision's ImageNet VGG16; its ``features.*`` tensors are the LPIPS backbone.
VGG16_TORCHVISION = weights.WeightSpec(
    name="VGG16 ImageNet backbone (torchvision)",
    filename="vgg16-397923af.pth",
    url="https://download.pytorch.org/models/vgg16-397923af.pth",
    sha256_prefix="397923af",
    env_var="STYLEGAN_EVAL_VGG16",
)

#: NVIDIA's TorchScript VGG16 used by the StyleGAN2-ADA PyTorch metrics (PPL, precision/recall).
NVIDIA_VGG16 = weights.WeightSpec(
    name="NVIDIA VGG16 LPIPS (TorchScript)",
    filename="vgg16.pt",
    url="https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/vgg16.pt",
    sha256="b437eb095feaeb0b83eb3fa11200ebca4548ee39a07fb944a417ddc516cc07c3",
    env_var="STYLEGAN_EVAL_NVIDIA_VGG16",
)

DISTANCES = ("lpips-vgg", "nvidia-vgg16", "l2")

#: Seed of the random backbone used when the published weights are missing and allowed so.
RANDOM_INIT_SEED = 0

# torchvision VGG16 ``features`` indices covered by the five LPIPS slices (relu1_2 ... relu5_3).
_SLICES = ((0, 4), (4, 9), (9, 16), (16, 23), (23, 30))


class Distance(nn.Module, abc.ABC):
    """A distance between the two images of each pair.

    Attributes:
        name: the :func:`make_distance` name.
        random_weights: networks inside that run at random initialisation (empty when all
            weights are the published ones).
        weights_file: the weight file used, or None.
    """

    name: str = "distance"

    def __init__(self) -> None:
        super().__init__()
        self.random_weights: list[str] = []
        self.weights_file: str | None = None

    @abc.abstractmethod
    def paired(self, images: torch.Tensor) -> torch.Tensor:
        """Pair batch [2N, 3, H, W] float in [-1, 1] (first half = first images) -> distances [N]."""

    def forward(self, x0: torch.Tensor, x1: torch.Tensor) -> torch.Tensor:
        """Distances [N] between x0[i] and x1[i]; both [N, 3, H, W] float in [-1, 1]."""
        if x0.shape != x1.shape:
            raise ValueError(f"x0 and x1 must have the same shape, got {tuple(x0.shape)} and {tuple(x1.shape)}")
        return self.paired(torch.cat([x0, x1]))

    @staticmethod
    def _check(images: torch.Tensor) -> int:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"expected a pair batch [2N, 3, H, W], got {tuple(images.shape)}")
        if images.shape[0] % 2:
            raise ValueError(f"a pair batch needs an even number of images, got {images.shape[0]}")
        return images.shape[0] // 2


class SquaredL2(Distance):
    """Sum over channels and pixels of the squared difference, in the input's [-1, 1] units."""

    name = "l2"

    def paired(self, images: torch.Tensor) -> torch.Tensor:
        n = self._check(images)
        return (images[:n] - images[n:]).square().sum(dim=(1, 2, 3))


def _unit_channels(x: torch.Tensor, eps: float = 1e-10) -> torch.Tensor:
    """Divide every feature vector (dim 1) by its L2 norm + eps, as the lpips package does."""
    return x / (x.square().sum(dim=1, keepdim=True).sqrt() + eps)


class LPIPSVGG(Distance):
    """LPIPS v0.1, VGG16 backbone; input [-1, 1] floats, never quantised.

    Computes, per pair, sum over the five layers relu1_2 ... relu5_3 of the spatial mean of
    ``w_l . (f0/|f0| - f1/|f1|)^2`` with the v0.1 linear weights ``w_l``, exactly the quantity of
    ``lpips.LPIPS(net='vgg')`` (the spatial mean is taken before the 1x1 linear layer, which is
    the same number). The backbone runs once on the pair batch, in channels-last layout.

    Args:
        backbone_weights: path to torchvision's ``vgg16-397923af.pth`` (default: looked up by
            :mod:`stylegan_eval.weights`).
        allow_random: run the backbone at random initialisation (seed
            :data:`RANDOM_INIT_SEED`) when the weights are not available instead of raising.
        download: try to download missing weights.
    """

    name = "lpips-vgg"

    def __init__(
        self, backbone_weights: str | os.PathLike | None = None, allow_random: bool = False, download: bool = True
    ) -> None:
        super().__init__()
        import lpips

        with warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
            warnings.simplefilter("ignore")  # torchvision's 'pretrained' deprecation notice
            torch.manual_seed(RANDOM_INIT_SEED)
            ref = lpips.LPIPS(net="vgg", pretrained=True, pnet_rand=True, verbose=False)
        self.scaling_layer = ref.scaling_layer
        self.net = ref.net
        # [5] heads of shape [C_l]: the 1x1 convolutions of the v0.1 linear layers.
        self.heads = nn.ParameterList(
            [nn.Parameter(lin.model[-1].weight.detach().flatten().clone(), requires_grad=False) for lin in ref.lins]
        )
        try:
            path = weights.fetch(VGG16_TORCHVISION, backbone_weights, download=download)
        except WeightsUnavailable:
            # random weights stand in for a file that is nowhere, never for one that was named
            # (option, environment variable) or found and failed its check
            named = backbone_weights is not None or bool(os.environ.get(VGG16_TORCHVISION.env_var or ""))
            if not allow_random or named or weights.find(VGG16_TORCHVISION) is not None:
                raise
            self.random_weights = ["LPIPS VGG16 backbone"]
        else:
            self.load_backbone(path)
        self.eval().requires_grad_(False)
        self.to(memory_format=torch.channels_last)

    def load_backbone(self, path: str | os.PathLike) -> None:
        """Load torchvision VGG16 ``features.*`` tensors into the five LPIPS slices."""
        try:
            state = torch.load(Path(path), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise WeightsUnavailable(f"{path}: not a readable torchvision VGG16 state dict ({exc})") from None
        mapped = {}
        for k, (lo, hi) in enumerate(_SLICES, start=1):
            for i in range(lo, hi):
                for p in ("weight", "bias"):
                    key = f"features.{i}.{p}"
                    if key in state:
                        mapped[f"slice{k}.{i}.{p}"] = state[key]
        expected = set(self.net.state_dict())
        if set(mapped) != expected:
            raise WeightsUnavailable(
                f"{path}: expected torchvision VGG16 features.* tensors, found {len(mapped)} of {len(expected)}"
            )
        self.net.load_state_dict(mapped)
        self.weights_file = str(path)
        self.random_weights = []

    def paired(self, images: torch.Tensor) -> torch.Tensor:
        n = self._check(images)
        x = self.scaling_layer(images).contiguous(memory_format=torch.channels_last)
        total = None
        for feat, head in zip(self.net(x), self.heads):
            f = _unit_channels(feat.float())
            diff = (f[:n] - f[n:]).square().mean(dim=(2, 3))  # [N, C_l]
            term = diff @ head.to(diff.dtype)
            total = term if total is None else total + term
        assert total is not None  # the backbone yields at least one feature map
        return total


class NvidiaVGG16(Distance):
    """NVIDIA's TorchScript VGG16 LPIPS features; distance = squared L2 of the feature difference.

    Input [-1, 1] is mapped to [0, 255] floats (never quantised) before the call
    ``net(x, resize_images=False, return_lpips=True)``.

    Args:
        path: the ``vgg16.pt`` file (default: looked up by :mod:`stylegan_eval.weights`);
            always checked against its sha256 before ``torch.jit.load``.
        download: try to download the file when it is missing.
    """

    name = "nvidia-vgg16"

    def __init__(self, path: str | os.PathLike | None = None, download: bool = True) -> None:
        super().__init__()
        found = weights.fetch(NVIDIA_VGG16, path, download=download)  # verifies the sha256
        weights.check_torchscript(NVIDIA_VGG16, found)
        from ..warnings_capture import captured_warnings

        with captured_warnings():  # torch's jit deprecation notices stay off stderr
            self.net = torch.jit.load(str(found), map_location="cpu").eval()
        self.weights_file = str(found)

    def paired(self, images: torch.Tensor) -> torch.Tensor:
        n = self._check(images)
        feats = self.net((images.float() + 1) * 127.5, resize_images=False, return_lpips=True)
        return (feats[:n] - feats[n:]).square().sum(dim=1)


def make_distance(
    name: str,
    weights_path: str | os.PathLike | None = None,
    allow_random: bool = False,
    download: bool = True,
) -> Distance:
    """Build a distance by name ('lpips-vgg', 'nvidia-vgg16', 'l2').

    ``allow_random`` applies to 'lpips-vgg' only; 'nvidia-vgg16' has no random fallback and
    raises :class:`~stylegan_eval.errors.WeightsUnavailable` without its verified file.
    """
    if name == "lpips-vgg":
        return LPIPSVGG(weights_path, allow_random=allow_random, download=download)
    if name == "nvidia-vgg16":
        try:
            return NvidiaVGG16(weights_path, download=download)
        except WeightsUnavailable as exc:
            if allow_random:
                raise WeightsUnavailable(
                    f"{exc} (nvidia-vgg16 cannot run at random initialisation: its architecture is in the file; use --distance lpips-vgg)"
                ) from None
            raise
    if name == "l2":
        return SquaredL2()
    raise UserError(f"--distance must be one of {', '.join(DISTANCES)}, got {name!r}")
