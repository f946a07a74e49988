"""The one StyleGAN2 network (config-f style, 'skip' generator) and its :class:`Generator` adapter.

rosinality's ``stylegan2-pytorch`` Generator and NVIDIA's stylegan2-ada / stylegan3-repo
StyleGAN2 generator compute the same function; they differ only in parameter names and
layouts. :class:`StyleGAN2` uses exactly rosinality's state-dict keys, so a rosinality
``g_ema`` loads with ``strict=True``; NVIDIA checkpoints are converted to these keys.

Shapes: z [N, z_dim]; c [N, c_dim] one-hot; w [N, style_dim]; ws [N, n_latent, style_dim];
noise: ``num_layers`` maps [N or 1, 1, R, R]; images [N, img_channels, size, size], nominally
in [-1, 1].
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import torch
from torch import nn

from ..generator import Generator
from . import ops

ARCHITECTURES = ("skip", "resnet", "orig")


def rosinality_channels(size: int, channel_multiplier: int = 2) -> dict[int, int]:
    """rosinality's channel table {4: 512, ..., 32: 512, 64: 256*cm, ..., 1024: 16*cm} up to ``size``.

    Beyond 32 px the table is ``16384 * cm / res`` (capped at 512), which also extends it to 2048.
    """
    out = {}
    res = 4
    while res <= size:
        out[res] = 512 if res <= 32 else min(512, int(16384 * channel_multiplier // res))
        res *= 2
    return out


def infer_channel_multiplier(channels: dict[int, int], size: int) -> int | None:
    """The channel multiplier whose rosinality table equals ``channels`` (2 preferred), else None."""
    for cm in (2, 1, 4, 3, 5, 6, 7, 8):
        if rosinality_channels(size, cm) == channels:
            return cm
    return None


class PixelNorm(nn.Module):
    """x / sqrt(mean(x^2 over dim 1) + 1e-8); [N, D] -> [N, D]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + 1e-8)


class EqualLinear(nn.Module):
    """Equalized-learning-rate linear layer: weight [out, in] stored /lr_mul, used * lr_mul/sqrt(in).

    With ``activation`` the output goes through fused leaky ReLU (bias, lrelu 0.2, * sqrt 2).
    """

    def __init__(
        self, in_dim: int, out_dim: int, bias_init: float = 0.0, lr_mul: float = 1.0, activation: bool = False
    ):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_dim, in_dim).div_(lr_mul))
        self.bias = nn.Parameter(torch.full((out_dim,), float(bias_init)))
        self.scale = lr_mul / math.sqrt(in_dim)
        self.lr_mul = lr_mul
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.activation:
            out = nn.functional.linear(x, self.weight * self.scale)
            return ops.fused_leaky_relu(out, self.bias * self.lr_mul)
        return nn.functional.linear(x, self.weight * self.scale, self.bias * self.lr_mul)


class Blur(nn.Module):
    """Holds the blur kernel buffer ``kernel`` [k, k] (normalised, * factor^2 after upsampling)."""

    def __init__(self, blur_kernel: Sequence[float], factor: int = 1):
        super().__init__()
        self.register_buffer("kernel", ops.make_kernel(blur_kernel) * (factor**2))


class Upsample(nn.Module):
    """2x FIR upsampling of the skip image: upfirdn2d(up=2) with pads ((p+1)//2 + 1, p//2), p = k - 2."""

    def __init__(self, blur_kernel: Sequence[float], factor: int = 2):
        super().__init__()
        self.factor = factor
        self.register_buffer("kernel", ops.make_kernel(blur_kernel) * (factor**2))
        p = len(blur_kernel) - factor
        self.pad = ((p + 1) // 2 + factor - 1, p // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ops.upfirdn2d(x, self.kernel, up=self.factor, pad=self.pad)


class ModulatedConv2d(nn.Module):
    """Keys: ``weight`` [1, out, in, k, k], ``modulation.{weight [in, style_dim], bias [in]}``,
    ``blur.kernel`` [4, 4] when upsampling."""

    def __init__(
        self,
        in_channel: int,
        out_channel: int,
        kernel_size: int,
        style_dim: int,
        demodulate: bool = True,
        upsample: bool = False,
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
    ):
        super().__init__()
        self.in_channel, self.out_channel, self.kernel_size = in_channel, out_channel, kernel_size
        self.upsample = upsample
        self.demodulate = demodulate
        self.fused = True
        if upsample:
            self.blur = Blur(blur_kernel, factor=2)
        self.scale = 1.0 / math.sqrt(in_channel * kernel_size**2)
        self.weight = nn.Parameter(torch.randn(1, out_channel, in_channel, kernel_size, kernel_size))
        self.modulation = EqualLinear(style_dim, in_channel, bias_init=1.0)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """x [N, in, H, W], w [N, style_dim] -> [N, out, H, W] (or 2H x 2W when upsampling)."""
        styles = self.modulation(w)
        return ops.modulated_conv2d(
            x,
            self.scale * self.weight[0],
            styles,
            demodulate=self.demodulate,
            upsample=self.upsample,
            blur_kernel=self.blur.kernel if self.upsample else None,
            fused=self.fused,
        )


class NoiseInjection(nn.Module):
    """x + weight * noise, with a scalar learned ``weight`` [1] and noise [N or 1, 1, H, W]."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        if noise is None:
            return x
        return x + self.weight * noise.to(x.dtype)


class FusedLeakyReLU(nn.Module):
    """Bias [C] + leaky ReLU(0.2) * sqrt(2); key ``bias``."""

    def __init__(self, channel: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channel))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ops.fused_leaky_relu(x, self.bias)


class ConstantInput(nn.Module):
    """The learned 4x4 input ``input`` [1, C, 4, 4], repeated over the batch."""

    def __init__(self, channel: int, size: int = 4):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channel, size, size))

    def forward(self, n: int) -> torch.Tensor:
        return self.input.repeat(n, 1, 1, 1)


class SkipUp(nn.Module):
    """Residual branch of the 'resnet' architecture (TF ``Skip``): 1x1 conv (gain 1, no bias) with 2x FIR upsampling.

    Keys ``weight`` [out, in, 1, 1] and buffer ``kernel`` [k, k] (normalised taps * 4). Computed as
    TF's ``upsample_conv_2d``: stride-2 transposed conv, then the FIR filter. [N, in, H, W] -> [N, out, 2H, 2W].
    """

    def __init__(self, in_channel: int, out_channel: int, blur_kernel: Sequence[float] = (1, 3, 3, 1)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channel, in_channel, 1, 1))
        self.register_buffer("kernel", ops.make_kernel(blur_kernel) * 4)
        self.scale = 1.0 / math.sqrt(in_channel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = nn.functional.conv_transpose2d(x, (self.weight * self.scale).transpose(0, 1), stride=2)
        return ops.upfirdn2d(out, self.kernel, pad=ops.upsample_blur_pad(self.kernel.shape[0], 1))


class StyledConv(nn.Module):
    """Modulated conv -> noise -> bias + lrelu * sqrt 2 (-> clamp to +-conv_clamp when set)."""

    def __init__(
        self,
        in_channel: int,
        out_channel: int,
        kernel_size: int,
        style_dim: int,
        upsample: bool = False,
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
        conv_clamp: float | None = None,
    ):
        super().__init__()
        self.conv = ModulatedConv2d(
            in_channel, out_channel, kernel_size, style_dim, upsample=upsample, blur_kernel=blur_kernel
        )
        self.noise = NoiseInjection()
        self.activate = FusedLeakyReLU(out_channel)
        self.conv_clamp = conv_clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        out = self.activate(self.noise(self.conv(x, w), noise))
        if self.conv_clamp is not None:
            out = out.clamp(-self.conv_clamp, self.conv_clamp)
        return out


class ToRGB(nn.Module):
    """1x1 modulated conv (no demodulation) + bias [1, C, 1, 1] (-> clamp), plus the upsampled skip."""

    def __init__(
        self,
        in_channel: int,
        style_dim: int,
        upsample: bool = True,
        blur_kernel: Sequence[float] = (1, 3, 3, 1),
        img_channels: int = 3,
        conv_clamp: float | None = None,
    ):
        super().__init__()
        if upsample:
            self.upsample = Upsample(blur_kernel)
        self.conv = ModulatedConv2d(in_channel, img_channels, 1, style_dim, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, img_channels, 1, 1))
        self.conv_clamp = conv_clamp

    def forward(self, x: torch.Tensor, w: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.conv(x, w) + self.bias
        if self.conv_clamp is not None:
            out = out.clamp(-self.conv_clamp, self.conv_clamp)
        if skip is not None:
            out = out + self.upsample(skip)
        return out


class StyleGAN2(nn.Module):
    """StyleGAN2 generator with rosinality's parameter names.

    Args:
        size: output resolution (power of two >= 4).
        style_dim: w dimensionality (and mapping layer width).
        n_mlp: number of mapping layers (``style.1`` .. ``style.{n_mlp}``).
        channel_multiplier: rosinality's channel multiplier (ignored when ``channels`` is given).
        blur_kernel: FIR taps for upsampling.
        lr_mlp: learning-rate multiplier of the mapping layers (affects the stored weight scale).
        z_dim: z dimensionality (default style_dim; 0 allowed for purely class-driven mapping).
        c_dim: number of classes; > 0 adds ``embed`` (weight [style_dim, c_dim]) as NVIDIA does.
        channels: channel table {4: C4, 8: C8, ..., size: Csize}.
        img_channels: output channels.
        conv_clamp: NVIDIA's activation clamp (synthesis layers and ToRGB), None = off.
        architecture: 'skip' (configs e/f: a ToRGB per resolution, summed upsampled images;
            rosinality's layout), 'resnet' (one ToRGB ``to_rgb`` at the end, each block's output
            ``(convs + skips[j](input)) / sqrt(2)``) or 'orig' (one ToRGB at the end, no skips).
    """

    def __init__(
        self,
        size: int,
        style_dim: int = 512,
        n_mlp: int = 8,
        channel_multiplier: int = 2,
        blur_kernel=(1, 3, 3, 1),
        lr_mlp: float = 0.01,
        *,
        z_dim: int | None = None,
        c_dim: int = 0,
        channels: dict[int, int] | None = None,
        img_channels: int = 3,
        conv_clamp: float | None = None,
        architecture: str = "skip",
    ):
        super().__init__()
        if architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
        if architecture != "skip" and size < 8:
            raise ValueError(f"architecture {architecture!r} needs size >= 8, got {size}")
        self.architecture = architecture
        log_size = int(math.log2(size)) if size > 0 else 0
        if size < 4 or 2**log_size != size:
            raise ValueError(f"StyleGAN2 size must be a power of two >= 4, got {size}")
        self.size = size
        self.log_size = log_size
        self.style_dim = style_dim
        self.n_mlp = n_mlp
        self.z_dim = style_dim if z_dim is None else int(z_dim)
        self.c_dim = int(c_dim)
        self.img_channels = img_channels
        self.conv_clamp = None if conv_clamp is None else float(conv_clamp)
        self.lr_mlp = lr_mlp
        blur_kernel = tuple(blur_kernel)
        self.blur_kernel = tuple(float(k) for k in blur_kernel)
        if channels is None:
            channels = rosinality_channels(size, channel_multiplier)
            self.channel_multiplier: int | None = channel_multiplier
        else:
            channels = {int(k): int(v) for k, v in channels.items()}
            missing = [2**i for i in range(2, log_size + 1) if 2**i not in channels]
            if missing:
                raise ValueError(f"channels table lacks resolutions {missing}")
            channels = {2**i: channels[2**i] for i in range(2, log_size + 1)}
            self.channel_multiplier = infer_channel_multiplier(channels, size)
        self.channels = channels
        if self.z_dim < 0 or (self.z_dim == 0 and self.c_dim == 0):
            raise ValueError("StyleGAN2 needs z_dim > 0 or c_dim > 0")
        if n_mlp < 1:
            raise ValueError("StyleGAN2 needs n_mlp >= 1")

        if self.c_dim > 0:
            self.embed = EqualLinear(self.c_dim, style_dim)
        first_in = self.z_dim + (style_dim if self.c_dim > 0 else 0)
        layers: list[nn.Module] = [PixelNorm()]
        for i in range(n_mlp):
            layers.append(EqualLinear(first_in if i == 0 else style_dim, style_dim, lr_mul=lr_mlp, activation=True))
        self.style = nn.Sequential(*layers)

        c4 = channels[4]
        self.input = ConstantInput(c4)
        self.conv1 = StyledConv(c4, c4, 3, style_dim, blur_kernel=blur_kernel, conv_clamp=self.conv_clamp)
        if architecture == "skip":
            self.to_rgb1 = ToRGB(c4, style_dim, upsample=False, img_channels=img_channels, conv_clamp=self.conv_clamp)

        self.num_layers = (log_size - 2) * 2 + 1
        self.n_latent = log_size * 2 - 2
        self.convs = nn.ModuleList()
        self.upsamples = nn.ModuleList()  # empty; kept for rosinality's module layout
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for layer_idx in range(self.num_layers):
            res = (layer_idx + 5) // 2
            self.noises.register_buffer(f"noise_{layer_idx}", torch.randn(1, 1, 2**res, 2**res))
        in_channel = c4
        for i in range(3, log_size + 1):
            out_channel = channels[2**i]
            self.convs.append(
                StyledConv(
                    in_channel,
                    out_channel,
                    3,
                    style_dim,
                    upsample=True,
                    blur_kernel=blur_kernel,
                    conv_clamp=self.conv_clamp,
                )
            )
            self.convs.append(
                StyledConv(out_channel, out_channel, 3, style_dim, blur_kernel=blur_kernel, conv_clamp=self.conv_clamp)
            )
            if architecture == "skip":
                self.to_rgbs.append(
                    ToRGB(
                        out_channel,
                        style_dim,
                        blur_kernel=blur_kernel,
                        img_channels=img_channels,
                        conv_clamp=self.conv_clamp,
                    )
                )
            in_channel = out_channel
        if architecture == "resnet":
            self.skips = nn.ModuleList(
                SkipUp(channels[2 ** (i - 1)], channels[2**i], blur_kernel) for i in range(3, log_size + 1)
            )
        if architecture != "skip":
            self.to_rgb = ToRGB(
                in_channel, style_dim, upsample=False, img_channels=img_channels, conv_clamp=self.conv_clamp
            )

    def init_config(self) -> dict[str, Any]:
        """JSON-able constructor arguments that rebuild this network (weights aside)."""
        return {
            "size": self.size,
            "style_dim": self.style_dim,
            "n_mlp": self.n_mlp,
            "blur_kernel": list(self.blur_kernel),
            "lr_mlp": self.lr_mlp,
            "z_dim": self.z_dim,
            "c_dim": self.c_dim,
            "channels": {str(k): v for k, v in self.channels.items()},
            "img_channels": self.img_channels,
            "conv_clamp": self.conv_clamp,
            "architecture": self.architecture,
        }

    # ------------------------------------------------------------------ helpers
    @property
    def noise_shapes(self) -> list[tuple[int, int]]:
        """(H, W) of noise input l: 2**((l + 5) // 2), i.e. 4, 8, 8, 16, 16, ..., size, size."""
        return [(2 ** ((l + 5) // 2),) * 2 for l in range(self.num_layers)]

    def const_noise(self) -> list[torch.Tensor]:
        """The stored noise buffers ``noises.noise_{l}``, each [1, 1, R, R]."""
        return [getattr(self.noises, f"noise_{l}") for l in range(self.num_layers)]

    def set_fused_modconv(self, fused: bool) -> None:
        """Choose the grouped-conv (True, default) or activation-modulating (False) modconv path."""
        for m in self.modules():
            if isinstance(m, ModulatedConv2d):
                m.fused = fused

    # ------------------------------------------------------------------ mapping / synthesis
    def mapping(self, z: torch.Tensor | None, c: torch.Tensor | None = None) -> torch.Tensor:
        """z [N, z_dim] (and one-hot c [N, c_dim] when c_dim > 0) -> w [N, style_dim]."""
        parts = []
        if self.z_dim > 0:
            if z is None:
                raise ValueError("mapping needs z")
            parts.append(self.style[0](z))
        if self.c_dim > 0:
            if c is None:
                raise ValueError(f"conditional StyleGAN2 ({self.c_dim} classes) needs c")
            parts.append(self.style[0](self.embed(c.to(self.embed.weight.dtype))))
        x = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        for layer in self.style[1:]:
            x = layer(x)
        return x

    def forward(self, ws: torch.Tensor, noise: Sequence[torch.Tensor | None]) -> torch.Tensor:
        """ws [N, n_latent, style_dim] and ``num_layers`` noise maps -> images [N, img_channels, size, size].

        Noise entry l is [N or 1, 1, R_l, R_l] (see :attr:`noise_shapes`) or None (no noise).
        Layer/w assignment as rosinality: conv1 <- ws[:,0]; to_rgb1 <- ws[:,1]; block j's
        up-conv, conv, to_rgb <- ws[:, 2j+1], ws[:, 2j+2], ws[:, 2j+3].
        """
        if ws.ndim != 3 or ws.shape[1] != self.n_latent or ws.shape[2] != self.style_dim:
            raise ValueError(f"ws must be [N, {self.n_latent}, {self.style_dim}], got {tuple(ws.shape)}")
        if len(noise) != self.num_layers:
            raise ValueError(f"expected {self.num_layers} noise maps, got {len(noise)}")
        out = self.input(ws.shape[0])
        out = self.conv1(out, ws[:, 0], noise[0])
        if self.architecture != "skip":
            return self._forward_single_rgb(out, ws, noise)
        skip = self.to_rgb1(out, ws[:, 1])
        i = 1
        for conv_up, conv, n1, n2, to_rgb in zip(
            self.convs[::2], self.convs[1::2], noise[1::2], noise[2::2], self.to_rgbs
        ):
            out = conv_up(out, ws[:, i], n1)
            out = conv(out, ws[:, i + 1], n2)
            skip = to_rgb(out, ws[:, i + 2], skip)
            i += 2
        return skip

    def _forward_single_rgb(
        self, out: torch.Tensor, ws: torch.Tensor, noise: Sequence[torch.Tensor | None]
    ) -> torch.Tensor:
        """'resnet' / 'orig': blocks without per-resolution ToRGB; the last ToRGB takes ws[:, -1]."""
        i = 1
        for j, (conv_up, conv) in enumerate(zip(self.convs[::2], self.convs[1::2])):
            t = out
            out = conv_up(out, ws[:, i], noise[2 * j + 1])
            out = conv(out, ws[:, i + 1], noise[2 * j + 2])
            if self.architecture == "resnet":
                out = (out + self.skips[j](t)) * (1.0 / math.sqrt(2.0))
            i += 2
        return self.to_rgb(out, ws[:, i])

    synthesis = forward


class StyleGAN2Generator(Generator):
    """:class:`Generator` adapter around :class:`StyleGAN2`.

    Args:
        net: the network (weights loaded).
        family: e.g. "stylegan2-rosinality" or "stylegan2-nvidia".
        w_avg: the checkpoint's truncation centre [style_dim] (rosinality ``latent_avg``, NVIDIA
            ``mapping.w_avg``), or None to estimate it.
        extra: more facts for ``info`` (e.g. the checkpoint layout).
    """

    noise_is_explicit = True

    def __init__(
        self, net: StyleGAN2, family: str, w_avg: torch.Tensor | None = None, extra: dict[str, Any] | None = None
    ):
        super().__init__()
        self.net = net
        self.family = family
        self.z_dim = net.z_dim
        self.w_dim = net.style_dim
        self.num_ws = net.n_latent
        self.resolution = net.size
        self.img_channels = net.img_channels
        self.c_dim = net.c_dim
        self._extra = dict(extra or {})
        if w_avg is not None:
            w_avg = torch.as_tensor(w_avg, dtype=torch.float32).reshape(-1)
            if w_avg.shape[0] != net.style_dim:
                raise ValueError(f"w_avg must have {net.style_dim} elements, got {w_avg.shape[0]}")
        self.register_buffer("latent_avg", w_avg)  # in state_dict() only when stored

    def config(self) -> dict[str, Any]:
        """``{"family", "arch": StyleGAN2 kwargs, "w_avg_stored", "extra"}``; weights: this module's ``state_dict()``
        (``net.*`` and, when stored, ``latent_avg``). Rebuild with :func:`from_config`."""
        return {
            "family": self.family,
            "arch": self.net.init_config(),
            "w_avg_stored": self.latent_avg is not None,
            "extra": {k: v for k, v in self._extra.items() if isinstance(v, (str, int, float, bool, list, type(None)))},
        }

    def _map(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return self.net.mapping(z, c).unsqueeze(1).repeat(1, self.num_ws, 1)

    def _synthesize(self, ws: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        return self.net(ws, noise)

    @property
    def noise_shapes(self) -> list[tuple[int, int]]:
        return self.net.noise_shapes

    def stored_w_avg(self) -> torch.Tensor | None:
        return self.latent_avg

    def stored_const_noise(self) -> list[torch.Tensor] | None:
        return self.net.const_noise()

    def extra_info(self) -> dict[str, Any]:
        n = self.net
        return {
            "configuration": (
                f"stylegan2 ({n.architecture}), {n.size}x{n.size}, {n.n_latent} ws, {n.n_mlp} mapping layers, "
                f"channels {n.channels[4]}..{n.channels[n.size]}"
            ),
            "channel_multiplier": self.net.channel_multiplier,
            "channels": {str(k): v for k, v in self.net.channels.items()},
            "n_mlp": self.net.n_mlp,
            "conv_clamp": self.net.conv_clamp,
            "architecture": self.net.architecture,
            **self._extra,
        }


_ARCH_TYPES: dict[str, Any] = {
    "size": int,
    "style_dim": int,
    "n_mlp": int,
    "lr_mlp": (int, float),
    "blur_kernel": list,
    "z_dim": int,
    "c_dim": int,
    "channels": dict,
    "img_channels": int,
    "conv_clamp": (int, float, type(None)),
    "architecture": str,
}


def from_config(config: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> StyleGAN2Generator:
    """Rebuild a :class:`StyleGAN2Generator` from :meth:`StyleGAN2Generator.config` and its ``state_dict()``.

    The config comes from untrusted files (``.safetensors``): every field is type- and
    range-checked before a network is built. Raises ValueError / KeyError / RuntimeError when
    they do not fit (callers map them to CheckpointError); the state dict is loaded strictly.
    """
    a = dict(config["arch"])
    if set(a) != set(_ARCH_TYPES):
        raise ValueError(f"StyleGAN2 arch must have the fields {sorted(_ARCH_TYPES)}, got {sorted(a)}")
    for key, kind in _ARCH_TYPES.items():
        if not isinstance(a[key], kind) or isinstance(a[key], bool):
            raise ValueError(f"StyleGAN2 arch field {key} has invalid value {a[key]!r}")
    if not all(isinstance(v, (int, float)) for v in a["blur_kernel"]) or not all(
        isinstance(v, int) and 0 < v <= 1 << 14 for v in a["channels"].values()
    ):
        raise ValueError("StyleGAN2 arch blur_kernel must be numbers and channels positive integers")
    if not 4 <= a["size"] <= 4096 or not 0 < a["style_dim"] <= 1 << 14 or not 0 < a["n_mlp"] <= 64:
        raise ValueError("StyleGAN2 arch size, style_dim or n_mlp out of range")
    a["channels"] = {int(k): int(v) for k, v in a["channels"].items()}
    size, style_dim, n_mlp = a.pop("size"), a.pop("style_dim"), a.pop("n_mlp")
    blur, lr_mlp = tuple(a.pop("blur_kernel")), float(a.pop("lr_mlp"))
    net = StyleGAN2(size, style_dim, n_mlp, blur_kernel=blur, lr_mlp=lr_mlp, **a)
    w_avg = state_dict.get("latent_avg") if config.get("w_avg_stored") else None
    gen = StyleGAN2Generator(net, str(config["family"]), w_avg=w_avg, extra=config.get("extra"))
    gen.load_state_dict(state_dict, strict=True)
    return gen
