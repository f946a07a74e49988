"""Toy generators, a tiny classifier checkpoint and a cheap detector shared by the compare, registry,
report, resume and distributed tests (``compare_utils:gen_a`` / ``gen_b`` are --generator targets)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from stylegan_eval.generator import Generator


class Toy32(Generator):
    """A small smooth 32x32 generator with noise; ``scale`` changes how fast images vary with w."""

    family = "toy32"
    z_dim, w_dim, num_ws, resolution = 8, 8, 2, 32

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(2)
        self.M = nn.Parameter(torch.randn(8, 8, generator=g) / 8**0.5, requires_grad=False)
        self.A = nn.Parameter(scale * torch.randn(2, 8, 3 * 8 * 8, generator=g), requires_grad=False)

    @property
    def noise_shapes(self):
        return [(8, 8)]

    def _map(self, z, c):
        return torch.tanh(z @ self.M)[:, None, :].expand(-1, self.num_ws, -1)

    def _synthesize(self, ws, noise):
        x = torch.einsum("nlw,lwp->np", ws, self.A).reshape(-1, 3, 8, 8) + 0.1 * noise[0]
        return torch.tanh(0.3 * F.interpolate(x, size=32, mode="bilinear", align_corners=False))


def gen_a():
    """The baseline toy generator (a --generator target: compare_utils:gen_a)."""
    return Toy32(1.0)


def gen_b():
    """A generator whose images change faster with w: larger PPL than gen_a."""
    return Toy32(3.0)


def make_classifier(path, seed: int = 0):
    """A custom 32x32 attribute classifier checkpoint: random weights, bias set so that gen_b's labels are mixed."""
    from stylegan_eval.classifiers.simple import SimpleClassifier, save_checkpoint
    from stylegan_eval.generator import latents

    torch.manual_seed(seed)
    clf = SimpleClassifier(input_resolution=32, base_channels=4, max_channels=8)
    with torch.no_grad():
        g = gen_b()
        idx = torch.arange(64)
        logits = clf(g.synthesis(g.mapping(latents(g, 99, idx), None), noise_mode="const"))[:, 0]
        clf.head.bias -= logits.median()
    return save_checkpoint(clf, path, "smile")


class TinyDetector:
    """A cheap stand-in for Inception (compare's FID/KID wiring is under test, not the network)."""

    @staticmethod
    def make(name="pytorch-fid", weights_path=None, allow_random=False, resize="detector", device="cpu", download=True):
        from stylegan_eval.metrics.feature_detector import FeatureDetector

        class Tiny(FeatureDetector):
            name = "tiny"
            feature_dim = 12

            def forward(self, images):
                self._check(images)
                x = images.float() / 255
                return torch.cat([F.adaptive_avg_pool2d(x, 2).flatten(1), x.std(dim=(2, 3))], 1)

        det = Tiny(resize)
        det.weights_sha256 = "tiny"
        return det
