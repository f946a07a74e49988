"""The FID Inception-v3 network (the TF graph ``inception-2015-12-05`` up to pool3), in torch.

torchvision's Inception-v3 layout with the FID-specific blocks of pytorch-fid and pytorch-fid's
state-dict keys; :mod:`.inception` wraps it in the ``pytorch-fid`` detector and
:mod:`.inception_layout` maps other files' parameters onto it.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import nn

from .inception_weights import RANDOM_SEED


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

    #: Runs channels_last on a CPU (see :mod:`stylegan_eval.networks.memory_format`).
    prefers_channels_last = True

    Conv2d_1a_3x3: nn.Module
    Conv2d_2a_3x3: nn.Module
    Conv2d_2b_3x3: nn.Module
    Conv2d_3b_1x1: nn.Module
    Conv2d_4a_3x3: nn.Module
    Mixed_5b: nn.Module
    Mixed_5c: nn.Module
    Mixed_5d: nn.Module
    Mixed_6a: nn.Module
    Mixed_6b: nn.Module
    Mixed_6c: nn.Module
    Mixed_6d: nn.Module
    Mixed_6e: nn.Module
    Mixed_7a: nn.Module
    Mixed_7b: nn.Module
    Mixed_7c: nn.Module
    fc: nn.Linear

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
                assert m.running_mean is not None and m.running_var is not None  # tracked (torchvision's)
                m.weight.fill_(1.0)
                m.bias.fill_(0.0)
                m.running_mean.zero_()
                m.running_var.fill_(1.0)
            elif isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 0.01)
                m.bias.zero_()
        return self
