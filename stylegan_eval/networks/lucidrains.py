"""lucidrains ``stylegan2-pytorch``'s own generator (not NVIDIA-compatible), and its :class:`Generator` adapter.

The package cannot be imported without CUDA, so its small network is re-implemented here with the
package's parameter names (those of ``StyleGAN2.SE`` / ``StyleGAN2.GE`` with the prefix removed):

- mapping ``S``: ``x / ||x||_2`` then ``depth`` x (EqualLinear(lr_mul) -> leaky ReLU 0.2); an
  EqualLinear computes ``x @ (W * lr_mul).T + b * lr_mul`` (keys ``net.{2i}.weight/bias``);
- synthesis ``G``: a learned 4x4 input (``initial_block`` [1, C0, 4, 4], or with ``no_const`` a
  4x4 transposed conv of the mean style, ``to_initial_block.weight``), a 3x3 conv
  (``initial_conv``), then ``log2(R) - 1`` blocks, one style each. Block i: bilinear 2x upsampling
  (not the first), two modulated 3x3 convs (weights ``W * (style + 1)``, demodulated, eps 1e-8;
  styles from plain ``nn.Linear`` ``to_style1/2``), each followed by per-channel noise
  ``to_noise1/2`` (``nn.Linear(1, C)`` of the noise image) and leaky ReLU 0.2; its RGB block adds
  a modulated 1x1 conv (no demodulation) to the running image and, except in the last block,
  upsamples it (bilinear 2x, then a [1, 2, 1] x [1, 2, 1] / 16 blur with reflect padding).
- noise: ONE image ``[N, R, R, 1]`` drawn U(0, 1) (the package's ``image_noise``), cropped to
  each block's size; the per-channel noise is ``to_noise(noise).permute(0, 3, 2, 1)``, i.e. the
  noise image enters transposed (H and W swapped), as in the package.
- output: the package clamps to [0, 1] for its samples; the adapter returns ``2 * clamp - 1``.

Attention layers (``attn_layers``): before block i, ``x + attn(chan_norm(x))`` (linear attention,
8 heads of 64, softmax over features for q and over positions for k, GELU) and
``x + ff(chan_norm(x))`` (1x1 conv to 2C, leaky ReLU 0.2, 1x1 conv back).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..generator import Generator, make_noise_maps


class EqualLinear(nn.Module):
    """``F.linear(x, weight * lr_mul, bias * lr_mul)``; weight [out, in]."""

    def __init__(self, dim_in: int, dim_out: int, lr_mul: float):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(dim_out, dim_in))
        self.bias = nn.Parameter(torch.zeros(dim_out))
        self.lr_mul = float(lr_mul)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.lr_mul, self.bias * self.lr_mul)


class StyleVectorizer(nn.Module):
    """z [N, D] -> w [N, D]: L2 normalisation, then ``depth`` EqualLinear + leaky ReLU(0.2) layers."""

    def __init__(self, dim: int, depth: int, lr_mul: float):
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(depth):
            layers += [EqualLinear(dim, dim, lr_mul), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(F.normalize(z, dim=1))


class Blur(nn.Module):
    """Depthwise [1, 2, 1] x [1, 2, 1] / 16 filter, reflect-padded to the same size (buffer ``f``)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("f", torch.tensor([1.0, 2.0, 1.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.f[None, :] * self.f[:, None]
        k = (k / k.sum()).to(x.dtype)
        c = x.shape[1]
        x = F.pad(x, (1, 1, 1, 1), mode="reflect")
        return F.conv2d(x, k.expand(c, 1, 3, 3), groups=c)


class Conv2DMod(nn.Module):
    """Modulated conv: weight [out, in, k, k] scaled by ``style + 1`` per input channel, optionally demodulated."""

    def __init__(self, dim_in: int, dim_out: int, kernel: int, demod: bool = True, eps: float = 1e-8):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(dim_out, dim_in, kernel, kernel))
        self.demod = demod
        self.eps = eps
        self.kernel = kernel

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        n, _, h, w = x.shape
        weights = self.weight[None] * (style[:, None, :, None, None] + 1)
        if self.demod:
            weights = weights * torch.rsqrt(weights.pow(2).sum(dim=(2, 3, 4), keepdim=True) + self.eps)
        out_c = weights.shape[1]
        out = F.conv2d(
            x.reshape(1, -1, h, w),
            weights.reshape(n * out_c, *weights.shape[2:]),
            padding=(self.kernel - 1) // 2,
            groups=n,
        )
        return out.reshape(n, out_c, h, w)


class RGBBlock(nn.Module):
    """Adds a modulated 1x1 conv of the features to the running image, then (not last) upsamples it."""

    def __init__(self, latent_dim: int, dim_in: int, upsample: bool, out_channels: int):
        super().__init__()
        self.to_style = nn.Linear(latent_dim, dim_in)
        self.conv = Conv2DMod(dim_in, out_channels, 1, demod=False)
        self.upsample = (
            nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), Blur())
            if upsample
            else None
        )

    def forward(self, x: torch.Tensor, prev_rgb: torch.Tensor | None, style: torch.Tensor) -> torch.Tensor:
        rgb = self.conv(x, self.to_style(style))
        if prev_rgb is not None:
            rgb = rgb + prev_rgb
        return self.upsample(rgb) if self.upsample is not None else rgb


class ChanNorm(nn.Module):
    """Normalise over channels (biased variance, eps 1e-5), then ``* g + b`` ([1, C, 1, 1] each)."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1, dim, 1, 1))
        self.b = nn.Parameter(torch.zeros(1, dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x, dim=1, unbiased=False, keepdim=True)
        return (x - mean) / (var + self.eps).sqrt() * self.g + self.b


class DepthWiseConv2d(nn.Module):
    """Depthwise k x k conv then a 1x1 conv (keys ``net.0``, ``net.1``)."""

    def __init__(self, dim_in: int, dim_out: int, kernel_size: int, padding: int = 0, bias: bool = True):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(dim_in, dim_in, kernel_size, padding=padding, groups=dim_in, bias=bias),
            nn.Conv2d(dim_in, dim_out, 1, bias=bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LinearAttention(nn.Module):
    """Linear attention over the H*W positions: softmax(q) over features, softmax(k) over positions, GELU out."""

    def __init__(self, dim: int, dim_head: int = 64, heads: int = 8):
        super().__init__()
        self.scale = dim_head**-0.5
        self.heads = heads
        inner = dim_head * heads
        self.to_q = nn.Conv2d(dim, inner, 1, bias=False)
        self.to_kv = DepthWiseConv2d(dim, inner * 2, 3, padding=1, bias=False)
        self.to_out = nn.Conv2d(inner, dim, 1)

    def forward(self, fmap: torch.Tensor) -> torch.Tensor:
        b, _, x, y = fmap.shape
        h = self.heads

        def split(t: torch.Tensor) -> torch.Tensor:  # [b, (h c), x, y] -> [(b h), (x y), c]
            return t.reshape(b, h, -1, x * y).permute(0, 1, 3, 2).reshape(b * h, x * y, -1)

        q = split(self.to_q(fmap))
        k, v = (split(t) for t in self.to_kv(fmap).chunk(2, dim=1))
        q = q.softmax(dim=-1) * self.scale
        k = k.softmax(dim=-2)
        out = q @ (k.transpose(1, 2) @ v)  # [(b h), (x y), d]
        out = out.reshape(b, h, x * y, -1).permute(0, 1, 3, 2).reshape(b, -1, x, y)
        return self.to_out(F.gelu(out))


class _Residual(nn.Module):
    def __init__(self, fn: nn.Module):
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x) + x


class _PreNorm(nn.Module):
    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.fn = fn
        self.norm = ChanNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x))


def attn_and_ff(dim: int) -> nn.Sequential:
    """The package's attention layer: x + attn(norm(x)), then x + ff(norm(x)) with a 1x1 conv MLP (2x width)."""
    ff = nn.Sequential(nn.Conv2d(dim, dim * 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(dim * 2, dim, 1))
    return nn.Sequential(_Residual(_PreNorm(dim, LinearAttention(dim))), _Residual(_PreNorm(dim, ff)))


class GeneratorBlock(nn.Module):
    def __init__(
        self, latent_dim: int, dim_in: int, filters: int, upsample: bool, upsample_rgb: bool, out_channels: int
    ):
        super().__init__()
        self.upsample = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False) if upsample else None
        self.to_style1 = nn.Linear(latent_dim, dim_in)
        self.to_noise1 = nn.Linear(1, filters)
        self.conv1 = Conv2DMod(dim_in, filters, 3)
        self.to_style2 = nn.Linear(latent_dim, filters)
        self.to_noise2 = nn.Linear(1, filters)
        self.conv2 = Conv2DMod(filters, filters, 3)
        self.to_rgb = RGBBlock(latent_dim, filters, upsample_rgb, out_channels)

    def forward(self, x, prev_rgb, style, noise):
        """noise: [N, R, R, 1] (the full-size noise image; cropped to this block's size)."""
        if self.upsample is not None:
            x = self.upsample(x)
        noise = noise[:, : x.shape[2], : x.shape[3], :]
        n1 = self.to_noise1(noise).permute(0, 3, 2, 1)
        n2 = self.to_noise2(noise).permute(0, 3, 2, 1)
        x = F.leaky_relu(self.conv1(x, self.to_style1(style)) + n1, 0.2)
        x = F.leaky_relu(self.conv2(x, self.to_style2(style)) + n2, 0.2)
        return x, self.to_rgb(x, prev_rgb, style)


class LucidrainsSynthesis(nn.Module):
    """The package's ``Generator``: styles [N, num_layers, D] and noise [N, R, R, 1] -> images [N, 3 or 4, R, R] (~[0, 1]).

    Args:
        filters: channels [C0, C1, ..., C_{L}] (C0 = the 4x4 input, C_i the output of block i).
        latent_dim: D.
        out_channels: 3 (RGB) or 4 (the package's ``transparent``).
        no_const: input from a transposed conv of the mean style instead of a learned constant.
        attn_blocks: indices of the blocks preceded by an attention layer (the package's
            ``attn_layers`` [k, ...] put one before block ``num_layers - k``).
    """

    def __init__(
        self,
        filters: list[int],
        latent_dim: int,
        out_channels: int = 3,
        no_const: bool = False,
        attn_blocks: tuple[int, ...] = (),
    ):
        super().__init__()
        self.num_layers = len(filters) - 1
        self.image_size = 2 ** (self.num_layers + 1)
        self.latent_dim = latent_dim
        self.no_const = no_const
        if no_const:
            self.to_initial_block = nn.ConvTranspose2d(latent_dim, filters[0], 4, 1, 0, bias=False)
        else:
            self.initial_block = nn.Parameter(torch.randn(1, filters[0], 4, 4))
        self.initial_conv = nn.Conv2d(filters[0], filters[0], 3, padding=1)
        self.blocks = nn.ModuleList(
            GeneratorBlock(
                latent_dim,
                c_in,
                c_out,
                upsample=i != 0,
                upsample_rgb=i != self.num_layers - 1,
                out_channels=out_channels,
            )
            for i, (c_in, c_out) in enumerate(pairwise(filters))
        )
        self.attns = nn.ModuleList()  # None entries (no attention) hold no keys, as in the package
        for i, c_in in enumerate(filters[:-1]):
            self.attns.append(attn_and_ff(c_in) if i in attn_blocks else None)

    def forward(self, styles: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        n = styles.shape[0]
        if self.no_const:
            x = self.to_initial_block(styles.mean(dim=1)[:, :, None, None])
        else:
            x = self.initial_block.expand(n, -1, -1, -1)
        x = self.initial_conv(x)
        rgb = None
        for style, block, attn in zip(styles.transpose(0, 1), self.blocks, self.attns):
            if attn is not None:
                x = attn(x)
            x, rgb = block(x, rgb, style, noise)
        return rgb


class LucidrainsGenerator(Generator):
    """:class:`Generator` adapter: w = S(z) for every block, the package's uniform noise image, [-1, 1] output.

    Noise: one input, handed to :meth:`_synthesize` as [N, 1, R, R] (the engine's layout) and
    given to the network as [N, R, R, 1]; drawn U(0, 1) (``noise_dist = 'uniform'``).
    """

    family = "stylegan2-lucidrains"
    noise_dist = "uniform"

    def __init__(self, S: StyleVectorizer, G: LucidrainsSynthesis, extra: dict[str, Any] | None = None):
        super().__init__()
        self.S = S
        self.G = G
        self.z_dim = self.w_dim = G.latent_dim
        self.num_ws = G.num_layers
        self.resolution = G.image_size
        self.img_channels = G.blocks[0].to_rgb.conv.weight.shape[0]
        self._extra = dict(extra or {})

    @property
    def noise_shapes(self) -> list[tuple[int, int]]:
        return [(self.resolution, self.resolution)]

    def make_noise(self, n, noise_mode="random", noise_seed=None, indices=None, device=None):  # type: ignore[override]
        return make_noise_maps(self, self.noise_shapes, "uniform", n, noise_mode, noise_seed, indices, device)

    def _map(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return self.S(z)[:, None, :].expand(-1, self.num_ws, -1)

    def _synthesize(self, ws: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        if len(noise) != 1 or noise[0].shape[1:] != (1, self.resolution, self.resolution):
            shapes = [list(m.shape) for m in noise]
            raise ValueError(f"expected one noise map [N, 1, {self.resolution}, {self.resolution}], got {shapes}")
        return self.G(ws, noise[0].permute(0, 2, 3, 1)).clamp(0.0, 1.0) * 2.0 - 1.0

    def extra_info(self) -> dict[str, Any]:
        return {
            "noise": "one U(0, 1) image [N, R, R, 1] (sampling engine)",
            "lr_mlp": self.S.net[0].lr_mul,
            "filters": [self.G.blocks[0].conv1.weight.shape[1]] + [b.conv1.weight.shape[0] for b in self.G.blocks],
            "no_const": self.G.no_const,
            **self._extra,
        }
