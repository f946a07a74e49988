"""StyleGAN1 as implemented by rosinality/style-based-gan-pytorch, and its :class:`Generator` adapter.

The modules below reproduce the state-dict keys of rosinality's ``StyledGenerator`` exactly
(139 keys at the published channel table), so a ``g_running`` / ``generator`` state dict loads
with ``strict=True``. The arithmetic follows the original forward pass:

- equalized learning rate: weights are stored as ``weight_orig`` and multiplied at run time by
  ``sqrt(2 / fan_in)`` with ``fan_in = size(1) * prod(size[2:])`` (this includes the noise
  strength ``[1, C, 1, 1]``, whose fan_in is C),
- mapping ``style``: PixelNorm, then ``n_mlp`` x (EqualLinear, LeakyReLU 0.2),
- 9 progressive blocks (4 ... 1024 px), each conv1 -> noise1 -> lrelu -> AdaIN1 -> conv2 ->
  noise2 -> lrelu -> AdaIN2, one style and ONE noise map per block (used by both noise inputs),
- blocks 1-4 upsample by nearest x2 + 3x3 conv + blur, blocks 5-8 by a "fused" transposed conv
  (3x3 weight padded to 5x5, the four shifted copies averaged) + blur,
- ``to_rgb[i]``: 1x1 conv, no activation; output nominally in [-1, 1].

Shapes: z, w [N, code_dim]; per-block styles [N, code_dim] each; noise of block i
[N, 1, 4*2^i, 4*2^i]; images [N, img_channels, 4*2^step, 4*2^step].

``variant="tf"`` switches the same modules to NVIDIA's TensorFlow ``G_style`` arithmetic
(NVlabs/stylegan ``networks_stylegan.py``), so official pickles convert by key mapping only:

- mapping dense layers: weight * sqrt(2) / sqrt(fan_in) * lrmul and bias * lrmul
  (``mapping_lrmul``, 0.01 published),
- StyleMod: dense with gain 1 (weight / sqrt(fan_in)), ``x * (style[:, :C] + 1) + style[:, C:]``,
- instance norm eps 1e-8; noise strengths per channel without equalized-lr scaling,
- one w and one noise map per *layer* (two per block: ``num_ws = 2 * blocks``),
- the constant input has its own bias; the upsampling conv's bias is added after the blur,
- fused upsampling sums the four shifted 3x3 windows (TF) instead of averaging them,
- ToRGB 1x1 conv with gain 1; blur taps from ``blur_filter`` (None: no blur).
"""

from __future__ import annotations

import inspect
import math
import random
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..generator import Generator

#: Output channels of blocks 0..8 (4, 8, ..., 1024 px) in rosinality's Generator.
PUBLISHED_CHANNELS = (512, 512, 512, 512, 256, 128, 64, 32, 16)
#: Blocks with index >= this use the fused (transposed-conv) upsampling in StyledGenerator.
FUSED_FROM = 5
LRELU_SLOPE = 0.2
VARIANTS = ("rosinality", "tf")
SQRT2 = math.sqrt(2.0)


def default_fused(num_blocks: int) -> tuple[bool, ...]:
    """Per-block fused-upsampling flags of the published generator (blocks 5.. fused)."""
    return tuple(i >= FUSED_FROM for i in range(num_blocks))


def block_resolution(i: int) -> int:
    """Side length in pixels of the output of block ``i`` (4 * 2^i)."""
    return 4 * 2**i


def _eq_scale(weight: torch.Tensor, gain: float = SQRT2) -> float:
    fan_in = weight.shape[1] * math.prod(weight.shape[2:])
    return gain / math.sqrt(fan_in)


class _EqualLinearCore(nn.Module):
    """nn.Linear look-alike with an equalized-lr weight: params ``weight_orig`` [out, in], ``bias`` [out].

    Runtime weight ``weight_orig * gain / sqrt(in) * lr_mul``, bias ``bias * lr_mul``.
    """

    def __init__(self, in_dim: int, out_dim: int, gain: float = SQRT2, lr_mul: float = 1.0):
        super().__init__()
        self.weight_orig = nn.Parameter(torch.randn(out_dim, in_dim))
        self.bias = nn.Parameter(torch.zeros(out_dim))
        self.gain = gain
        self.lr_mul = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = _eq_scale(self.weight_orig, self.gain) * self.lr_mul
        bias = self.bias if self.lr_mul == 1.0 else self.bias * self.lr_mul
        return F.linear(x, self.weight_orig * scale, bias)


class EqualLinear(nn.Module):
    """Keys ``linear.weight_orig`` / ``linear.bias``; [N, in] -> [N, out]."""

    def __init__(self, in_dim: int, out_dim: int, gain: float = SQRT2, lr_mul: float = 1.0):
        super().__init__()
        self.linear = _EqualLinearCore(in_dim, out_dim, gain, lr_mul)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


class _EqualConvCore(nn.Module):
    """nn.Conv2d look-alike with an equalized-lr weight ``weight_orig`` [out, in, k, k] and ``bias``."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, padding: int = 0, gain: float = SQRT2):
        super().__init__()
        self.weight_orig = nn.Parameter(torch.randn(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.padding = padding
        self.gain = gain
        #: False: the owner adds ``bias`` itself (TF adds it after the blur of an upsampling conv).
        self.apply_bias = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.bias if self.apply_bias else None
        return F.conv2d(x, self.weight_orig * _eq_scale(self.weight_orig, self.gain), bias, padding=self.padding)


class EqualConv2d(nn.Module):
    """Keys ``conv.weight_orig`` / ``conv.bias``; [N, in, H, W] -> [N, out, H', W']."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, padding: int = 0, gain: float = SQRT2):
        super().__init__()
        self.conv = _EqualConvCore(in_ch, out_ch, kernel, padding, gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class PixelNorm(nn.Module):
    """x / sqrt(mean(x^2 over dim 1) + 1e-8); [N, D] -> [N, D]."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / torch.sqrt(torch.mean(x**2, dim=1, keepdim=True) + 1e-8)


class Blur(nn.Module):
    """Depthwise blur with the normalised outer product of ``taps`` ([1,2,1] -> 3x3 / 16), 'same' padding.

    Buffers ``weight`` and ``weight_flip`` [C, 1, k, k] are part of the state dict (the flipped
    copy is only used by the original's custom backward and is identical for symmetric taps).
    Applied as a cross-correlation (as TF's depthwise_conv2d and rosinality's conv2d do); an
    even k pads one pixel more after than before, as TF's SAME padding. [N, C, H, W] -> same.
    """

    def __init__(self, channels: int, taps: Sequence[float] = (1.0, 2.0, 1.0)):
        super().__init__()
        k = torch.tensor([float(t) for t in taps])
        k = k[:, None] * k[None, :]
        k = (k / k.sum()).view(1, 1, k.shape[0], k.shape[1]).repeat(channels, 1, 1, 1)
        self.register_buffer("weight", k)
        self.register_buffer("weight_flip", torch.flip(k, [2, 3]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.weight.shape[-1]
        if k == 3:
            return F.conv2d(x, self.weight, padding=1, groups=x.shape[1])
        x = F.pad(x, ((k - 1) // 2, k // 2, (k - 1) // 2, k // 2))
        return F.conv2d(x, self.weight, groups=x.shape[1])


class FusedUpsample(nn.Module):
    """2x upsampling transposed conv. Params ``weight`` [in, out, 3, 3] (transposed-conv layout), ``bias`` [out].

    The 3x3 weight (times sqrt(2 / (in*9))) is zero-padded to 5x5 and the four copies shifted by
    one pixel are averaged into a 4x4 kernel, applied as a transposed conv with stride 2,
    padding 1: [N, in, H, W] -> [N, out, 2H, 2W].

    The transposed conv is evaluated in its polyphase form: output pixel (2m+a, 2n+b) only sees
    the kernel taps of parity (a, b), so each of the four output phases is an ordinary conv2d
    with a 2x2 sub-kernel (the flipped kernel's taps [a::2, b::2]) on the input padded by
    (1-b, b, 1-a, a). Same result up to float rounding and the same FLOPs; unlike
    ``F.conv_transpose2d`` on multi-threaded CPU, a sample's output does not depend on the batch
    it is computed in (the project's metrics rely on that).
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int = 3, padding: int = 1, window_sum: bool = False):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(in_ch, out_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.multiplier = math.sqrt(2.0 / (in_ch * kernel * kernel))
        self.padding = padding
        #: TF's upscale2d_conv2d sums the four windows (= nearest 2x + 3x3 conv); rosinality averages.
        self.window_sum = window_sum
        self.apply_bias = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = F.pad(self.weight * self.multiplier, [1, 1, 1, 1])
        w = w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]
        if not self.window_sum:
            w = w / 4
        bias = self.bias if self.apply_bias else None
        if self.padding != 1 or w.shape[-1] != 4:  # not used by rosinality's generator
            return F.conv_transpose2d(x, w, bias, stride=2, padding=self.padding)
        k = w.transpose(0, 1).flip(2, 3)  # conv2d layout [out, in, 4, 4], flipped
        n, _, h, wd = x.shape
        phases = [
            F.conv2d(F.pad(x, (1 - b, b, 1 - a, a)), k[:, :, a::2, b::2], bias) for a in (0, 1) for b in (0, 1)
        ]  # each [N, out, H, W]
        # channel order (out, a, b) for pixel_shuffle: out[..., 2m+a, 2n+b] = phase(a, b)[..., m, n]
        return F.pixel_shuffle(torch.stack(phases, dim=2).reshape(n, -1, h, wd), 2)


class ConstantInput(nn.Module):
    """Learned input ``input`` [1, C, 4, 4], repeated to the batch size of its argument.

    With ``bias`` (TF ``4x4/Const/bias``) a per-channel ``bias`` [C] parameter is added; it is
    applied by the owning block after the noise, as TF's layer epilogue does.
    """

    def __init__(self, channels: int, size: int = 4, bias: bool = False):
        super().__init__()
        self.input = nn.Parameter(torch.randn(1, channels, size, size))
        if bias:
            self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, like: torch.Tensor) -> torch.Tensor:
        return self.input.repeat(like.shape[0], 1, 1, 1)


class NoiseInjection(nn.Module):
    """x + weight_orig * sqrt(2 / C) * noise; ``weight_orig`` [1, C, 1, 1] (init 0), noise [N, 1, H, W].

    ``wscale=False`` (TF): x + weight_orig * noise, the stored per-channel strengths unscaled.
    """

    def __init__(self, channels: int, wscale: bool = True):
        super().__init__()
        self.weight_orig = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.wscale = wscale

    def forward(self, x: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        scale = _eq_scale(self.weight_orig) if self.wscale else 1.0
        return x + self.weight_orig * scale * noise


class AdaptiveInstanceNorm(nn.Module):
    """gamma * instance_norm(x, eps) + beta with (gamma, beta) = style(w).chunk(2).

    ``style`` is EqualLinear(style_dim, 2C), bias initialised to [1]*C + [0]*C. TF's StyleMod
    (``tf=True``): gain 1, gamma = style[:, :C] + 1 (bias init 0), instance-norm eps 1e-8
    instead of 1e-5. x [N, C, H, W], w [N, style_dim] -> [N, C, H, W].
    """

    def __init__(self, channels: int, style_dim: int, tf: bool = False):
        super().__init__()
        self.style = EqualLinear(style_dim, 2 * channels, gain=1.0 if tf else SQRT2)
        self.scale_offset = 1.0 if tf else 0.0
        self.eps = 1e-8 if tf else 1e-5
        with torch.no_grad():
            self.style.linear.bias[:channels] = 1.0 - self.scale_offset
            self.style.linear.bias[channels:] = 0.0

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.style(w)[:, :, None, None].chunk(2, dim=1)
        if self.scale_offset:
            gamma = gamma + self.scale_offset
        return gamma * F.instance_norm(x, eps=self.eps) + beta


class StyledConvBlock(nn.Module):
    """One progressive block: conv1 -> noise1 -> lrelu -> adain1 -> conv2 -> noise2 -> lrelu -> adain2.

    conv1 is a ConstantInput (``initial``), Sequential(Upsample nearest, EqualConv2d 3x3, Blur)
    or Sequential(FusedUpsample, Blur) (``fused``); without a blur filter the Blur is left out.
    rosinality: the same noise map and w feed both halves. ``variant="tf"``: TF's layer
    epilogue (noise, bias, lrelu, instance norm, StyleMod), the conv1 bias added after the blur
    (and the constant's own bias), separate w / noise per half (see the module docstring).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        style_dim: int,
        initial: bool = False,
        fused: bool = False,
        variant: str = "rosinality",
        blur_filter: Sequence[float] | None = (1.0, 2.0, 1.0),
    ):
        super().__init__()
        tf = variant == "tf"
        self.tf = tf
        blur: list[nn.Module] = [] if blur_filter is None else [Blur(out_ch, blur_filter)]
        if initial:
            if in_ch != out_ch:
                raise ValueError(f"the initial block needs in_ch == out_ch, got {in_ch} and {out_ch}")
            self.conv1 = ConstantInput(in_ch, bias=tf)
        elif fused:
            up = FusedUpsample(in_ch, out_ch, 3, padding=1, window_sum=tf)
            up.apply_bias = not tf
            self.conv1 = nn.Sequential(up, *blur)
        else:
            conv = EqualConv2d(in_ch, out_ch, 3, padding=1)
            conv.conv.apply_bias = not tf
            self.conv1 = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv, *blur)
        # Registration order fixes the state-dict key order of the original.
        self.noise1 = NoiseInjection(out_ch, wscale=not tf)
        self.adain1 = AdaptiveInstanceNorm(out_ch, style_dim, tf=tf)
        self.conv2 = EqualConv2d(out_ch, out_ch, 3, padding=1)
        self.noise2 = NoiseInjection(out_ch, wscale=not tf)
        self.adain2 = AdaptiveInstanceNorm(out_ch, style_dim, tf=tf)

    def _late_bias(self) -> torch.Tensor | None:
        if not self.tf:
            return None
        c1 = self.conv1
        if isinstance(c1, ConstantInput):
            return c1.bias
        first = c1[0] if isinstance(c1[0], FusedUpsample) else c1[1].conv
        return first.bias

    def forward(
        self,
        x: torch.Tensor,
        w: torch.Tensor,
        noise: torch.Tensor,
        w2: torch.Tensor | None = None,
        noise2: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``w``/``noise`` feed the first half, ``w2``/``noise2`` (default: the same) the second."""
        w2 = w if w2 is None else w2
        noise2 = noise if noise2 is None else noise2
        out = self.conv1(x)
        out = self.noise1(out, noise)
        bias = self._late_bias()
        if bias is not None:
            out = out + bias.reshape(1, -1, 1, 1)
        out = F.leaky_relu(out, LRELU_SLOPE)
        out = self.adain1(out, w)
        out = self.conv2(out)
        out = self.noise2(out, noise2)
        out = F.leaky_relu(out, LRELU_SLOPE)
        return self.adain2(out, w2)


class SynthesisSG1(nn.Module):
    """rosinality's ``Generator``: ``progression`` (styled blocks) and ``to_rgb`` (1x1 convs).

    Args:
        channels: output channels of each block (block i renders 4*2^i px); block 0's constant
            input has ``channels[0]`` channels.
        style_dim: w dimensionality.
        fused: per-block flag, True for fused transposed-conv upsampling (default blocks 5..).
        img_channels: output image channels.
        variant: "rosinality" or "tf" (NVIDIA's TF G_synthesis arithmetic, see the module docstring).
        blur_filter: blur taps after each upsampling conv ([1, 2, 1]); None = no blur.
    """

    def __init__(
        self,
        channels: Sequence[int] = PUBLISHED_CHANNELS,
        style_dim: int = 512,
        fused: Sequence[bool] | None = None,
        img_channels: int = 3,
        variant: str = "rosinality",
        blur_filter: Sequence[float] | None = (1.0, 2.0, 1.0),
    ):
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
        channels = tuple(int(c) for c in channels)
        if not channels:
            raise ValueError("at least one block is needed")
        fused = default_fused(len(channels)) if fused is None else tuple(bool(f) for f in fused)
        if len(fused) != len(channels):
            raise ValueError(f"fused has {len(fused)} flags for {len(channels)} blocks")
        self.channels = channels
        self.fused = fused
        self.style_dim = style_dim
        self.img_channels = img_channels
        self.variant = variant
        self.blur_filter = None if blur_filter is None else tuple(float(t) for t in blur_filter)
        blocks = []
        for i, out_ch in enumerate(channels):
            in_ch = channels[max(i - 1, 0)]
            blocks.append(
                StyledConvBlock(
                    in_ch,
                    out_ch,
                    style_dim,
                    initial=i == 0,
                    fused=fused[i],
                    variant=variant,
                    blur_filter=self.blur_filter,
                )
            )
        self.progression = nn.ModuleList(blocks)
        rgb_gain = 1.0 if variant == "tf" else SQRT2
        self.to_rgb = nn.ModuleList(EqualConv2d(c, img_channels, 1, gain=rgb_gain) for c in channels)

    @property
    def per_layer(self) -> bool:
        """True when each block takes two w / noise inputs (TF), False for one per block."""
        return self.variant == "tf"

    @property
    def num_blocks(self) -> int:
        return len(self.progression)

    def forward(
        self,
        styles: Sequence[torch.Tensor],
        noise: Sequence[torch.Tensor],
        step: int = 0,
        alpha: float = -1,
    ) -> torch.Tensor:
        """Run blocks 0..step with ``styles[i]`` [N, style_dim] and ``noise[i]`` [N, 1, R_i, R_i].

        With :attr:`per_layer` (TF), ``styles`` and ``noise`` hold two entries per block
        (layer 2i and 2i+1 of block i, TF's ``dlatents[:, layer]`` / ``noise{layer}``).

        With ``0 <= alpha < 1`` (and step > 0) the output is the fade-in blend
        ``(1 - alpha) * upsample_nearest(to_rgb[step-1](features of step-1)) + alpha * to_rgb[step](...)``;
        otherwise (alpha -1 or 1) just ``to_rgb[step]``. Returns [N, img_channels, 4*2^step, 4*2^step].
        """
        if not 0 <= step < self.num_blocks:
            raise ValueError(f"step must be in [0, {self.num_blocks}), got {step}")
        per = 2 if self.per_layer else 1
        if len(styles) < per * (step + 1) or len(noise) < per * (step + 1):
            raise ValueError(
                f"step {step} needs {per * (step + 1)} styles and noise maps, got {len(styles)} and {len(noise)}"
            )
        out = noise[0]
        prev = out
        for i in range(step + 1):
            prev = out
            if per == 2:
                out = self.progression[i](out, styles[2 * i], noise[2 * i], styles[2 * i + 1], noise[2 * i + 1])
            else:
                out = self.progression[i](out, styles[i], noise[i])
        rgb = self.to_rgb[step](out)
        if step > 0 and 0 <= alpha < 1:
            skip = F.interpolate(self.to_rgb[step - 1](prev), scale_factor=2, mode="nearest")
            rgb = (1 - alpha) * skip + alpha * rgb
        return rgb


class StyledGenerator(nn.Module):
    """rosinality's ``StyledGenerator``: submodules ``generator`` (:class:`SynthesisSG1`) and ``style`` (mapping).

    Args:
        code_dim: z and w dimensionality (512 published).
        n_mlp: mapping layers (8 published).
        channels: per-block output channels (default :data:`PUBLISHED_CHANNELS`); narrower
            tables keep the same key names (used by tests).
        fused: per-block fused-upsampling flags (default blocks 5.. fused).
        img_channels: output image channels.
        variant: "rosinality" (default) or "tf" (NVIDIA's TF ``G_style``; see the module docstring).
        blur_filter: taps of the blur after upsampling convs (default [1, 2, 1]); None = none.
        mapping_lr_mul: learning-rate multiplier of the mapping layers (TF ``mapping_lrmul``,
            0.01 published; rosinality 1).
    """

    def __init__(
        self,
        code_dim: int = 512,
        n_mlp: int = 8,
        channels: Sequence[int] = PUBLISHED_CHANNELS,
        fused: Sequence[bool] | None = None,
        img_channels: int = 3,
        variant: str = "rosinality",
        blur_filter: Sequence[float] | None = (1.0, 2.0, 1.0),
        mapping_lr_mul: float = 1.0,
    ):
        super().__init__()
        self.code_dim = code_dim
        self.n_mlp = n_mlp
        self.variant = variant
        self.mapping_lr_mul = float(mapping_lr_mul)
        self.generator = SynthesisSG1(channels, code_dim, fused, img_channels, variant, blur_filter)
        layers: list[nn.Module] = [PixelNorm()]
        for _ in range(n_mlp):
            layers += [EqualLinear(code_dim, code_dim, lr_mul=self.mapping_lr_mul), nn.LeakyReLU(LRELU_SLOPE)]
        self.style = nn.Sequential(*layers)

    def init_config(self) -> dict[str, Any]:
        """JSON-able constructor arguments that rebuild this network (weights aside)."""
        g = self.generator
        return {
            "code_dim": self.code_dim,
            "n_mlp": self.n_mlp,
            "channels": list(g.channels),
            "fused": list(g.fused),
            "img_channels": g.img_channels,
            "variant": self.variant,
            "blur_filter": None if g.blur_filter is None else list(g.blur_filter),
            "mapping_lr_mul": self.mapping_lr_mul,
        }

    def forward(
        self,
        input: torch.Tensor | Sequence[torch.Tensor],
        noise: Sequence[torch.Tensor] | None = None,
        step: int = 0,
        alpha: float = -1,
        mean_style: torch.Tensor | None = None,
        style_weight: float = 0,
        mixing_range: tuple[int, int] = (-1, -1),
    ) -> torch.Tensor:
        """The original call signature: z (or a list of z for style mixing) -> images.

        Styles: one z -> every block uses it; with ``mixing_range=(a, b)`` blocks a..b use the
        second z; with several z and no range, random crossover points (Python ``random``).
        Truncation: ``mean_style + style_weight * (w - mean_style)`` when ``mean_style`` is given.
        Noise defaults to ``randn`` maps of each block's size.
        """
        zs = list(input) if isinstance(input, (list, tuple)) else [input]
        styles = [self.style(z) for z in zs]
        batch = zs[0].shape[0]
        if noise is None:
            noise = [
                torch.randn(batch, 1, block_resolution(i), block_resolution(i), device=zs[0].device)
                for i in range(step + 1)
            ]
        if mean_style is not None:
            styles = [mean_style + style_weight * (s - mean_style) for s in styles]
        if len(styles) == 1:
            per_block = [styles[0]] * (step + 1)
        elif mixing_range != (-1, -1):
            per_block = [styles[1] if mixing_range[0] <= i <= mixing_range[1] else styles[0] for i in range(step + 1)]
        else:
            cuts = sorted(random.sample(range(step), len(styles) - 1)) if step else []
            per_block, k = [], 0
            for i in range(step + 1):
                while k < len(cuts) and i > cuts[k]:
                    k += 1
                per_block.append(styles[k])
        if self.generator.per_layer:  # TF variant: two layers per block
            per_block = [s for s in per_block for _ in (0, 1)]
            if len(noise) == step + 1:
                noise = [n for n in noise for _ in (0, 1)]
        return self.generator(per_block, noise, step, alpha)

    def mean_style(self, input: torch.Tensor) -> torch.Tensor:
        """Mean of style(z) over the batch, [1, code_dim]."""
        return self.style(input).mean(0, keepdim=True)


class StyleGAN1Generator(Generator):
    """:class:`Generator` adapter around a :class:`StyledGenerator` at a fixed resolution.

    rosinality variant: ``num_ws = step + 1``, one w per progressive block (both AdaINs of a
    block share it, as in rosinality, whose style mixing also switches styles per block);
    ``noise_shapes`` has one map per block (4, 8, ..., resolution) feeding both noise inputs.
    TF variant: ``num_ws = 2 * (step + 1)`` and one noise map per layer, as NVIDIA's
    ``G_synthesis`` (layer 2i / 2i+1 = block i's first / second half).
    Synthesis runs blocks 0..step with alpha = 1 (no fade-in blend).

    Args:
        net: the network, weights loaded.
        resolution: output side (a block resolution of ``net``).
        family: the ``--format`` family name.
        extra: more facts for ``info``.
        w_avg: stored truncation centre [code_dim] (TF ``dlatent_avg``), else None: estimated.
        const_noise: stored noise maps (TF ``noise{i}``, one [1, 1, R, R] per layer) or None.
        truncation_cutoff: layers [0, cutoff) are truncated by :meth:`truncate` when the caller
            gives no cutoff (TF ``G_style``: 8); None = all layers.
    """

    noise_is_explicit = True

    def __init__(
        self,
        net: StyledGenerator,
        resolution: int,
        family: str = "stylegan1-rosinality",
        extra: dict[str, Any] | None = None,
        w_avg: torch.Tensor | None = None,
        const_noise: Sequence[torch.Tensor] | None = None,
        truncation_cutoff: int | None = None,
    ):
        super().__init__()
        step = round(math.log2(resolution)) - 2
        if resolution != block_resolution(step) or not 0 <= step < net.generator.num_blocks:
            raise ValueError(
                f"resolution must be a power of two in [4, {block_resolution(net.generator.num_blocks - 1)}], got {resolution}"
            )
        self.net = net
        self.family = family
        self.step = step
        self.z_dim = net.code_dim
        self.w_dim = net.code_dim
        self.per_layer = net.generator.per_layer
        self.num_ws = (step + 1) * (2 if self.per_layer else 1)
        self.resolution = resolution
        self.img_channels = net.generator.img_channels
        self.truncation_cutoff = truncation_cutoff
        self._extra = dict(extra or {})
        if w_avg is not None:
            w_avg = torch.as_tensor(w_avg, dtype=torch.float32).reshape(-1)
            if w_avg.shape[0] != self.w_dim:
                raise ValueError(f"w_avg must have {self.w_dim} elements, got {w_avg.shape[0]}")
        self.register_buffer("stored_avg", w_avg)
        self._n_const = 0
        if const_noise is not None:
            const_noise = list(const_noise)
            if [tuple(n.shape[-2:]) for n in const_noise] != self.noise_shapes:
                raise ValueError(f"const_noise must have shapes {self.noise_shapes}")
            for k, n in enumerate(const_noise):
                self.register_buffer(
                    f"const_noise_{k}", torch.as_tensor(n, dtype=torch.float32).reshape(1, 1, *n.shape[-2:])
                )
            self._n_const = len(const_noise)

    def _map(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return self.net.style(z).unsqueeze(1).repeat(1, self.num_ws, 1)

    def _synthesize(self, ws: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        if len(noise) != self.num_ws:
            raise ValueError(f"expected {self.num_ws} noise maps, got {len(noise)}")
        noise = [n.expand(ws.shape[0], -1, -1, -1) for n in noise]
        return self.net.generator(ws.unbind(1), noise, self.step, alpha=1)

    @property
    def noise_shapes(self) -> list[tuple[int, int]]:
        per = 2 if self.per_layer else 1
        return [(block_resolution(i // per), block_resolution(i // per)) for i in range(per * (self.step + 1))]

    def stored_w_avg(self) -> torch.Tensor | None:
        return self.stored_avg

    def stored_const_noise(self) -> list[torch.Tensor] | None:
        if not self._n_const:
            return None
        return [getattr(self, f"const_noise_{k}") for k in range(self._n_const)]

    def truncation_rule(self) -> str:
        if self.truncation_cutoff is None or self.truncation_cutoff >= self.num_ws:
            return f"all {self.num_ws} layers"
        return f"layers 0..{self.truncation_cutoff - 1} of {self.num_ws} (truncation_cutoff {self.truncation_cutoff})"

    def config(self) -> dict[str, Any]:
        """``{"family", "arch": StyledGenerator kwargs, "resolution", "truncation_cutoff",
        "w_avg_stored", "const_noise_stored"}``; the weights are this module's ``state_dict()``."""
        return {
            "family": self.family,
            "arch": self.net.init_config(),
            "resolution": self.resolution,
            "truncation_cutoff": self.truncation_cutoff,
            "w_avg_stored": self.stored_avg is not None,
            "const_noise_stored": self._n_const > 0,
            "extra": {k: v for k, v in self._extra.items() if isinstance(v, (str, int, float, bool, list, type(None)))},
        }

    def extra_info(self) -> dict[str, Any]:
        w_avg = (
            "stored in the checkpoint (dlatent_avg)"
            if self.stored_avg is not None
            else "not stored in rosinality StyleGAN1 checkpoints; estimated from mapping(z) (deterministic)"
        )
        ws_per = (
            "layer (two per block, TF G_synthesis)"
            if self.per_layer
            else "block (one w per progressive block, shared by its two AdaINs)"
        )
        return {
            "channels": {str(block_resolution(i)): c for i, c in enumerate(self.net.generator.channels)},
            "n_mlp": self.net.n_mlp,
            "step": self.step,
            "ws_per": ws_per,
            "w_avg": w_avg,
            "truncation": self.truncation_rule(),
            **self._extra,
        }


def from_config(config: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> StyleGAN1Generator:
    """Rebuild a :class:`StyleGAN1Generator` from :meth:`StyleGAN1Generator.config` and its ``state_dict()``.

    Raises ValueError / KeyError on a config or state dict that does not fit (callers map them
    to CheckpointError); the state dict is loaded strictly.
    """
    net_cfg = dict(config["arch"])
    if not all(isinstance(k, str) for k in net_cfg) or set(net_cfg) - set(
        inspect.signature(StyledGenerator).parameters
    ):
        raise ValueError(f"StyleGAN1 arch has unknown fields {sorted(map(str, net_cfg))}")
    for key, value in net_cfg.items():
        values = value if isinstance(value, list) else [value]
        if not all(
            v is None or isinstance(v, (str, bool)) or (isinstance(v, (int, float)) and abs(v) <= 1 << 14)
            for v in values
        ):
            raise ValueError(f"StyleGAN1 arch field {key} has invalid value {value!r}")
    net = StyledGenerator(**net_cfg)
    res = int(config["resolution"])
    step = round(math.log2(res)) - 2
    per = 2 if net.generator.per_layer else 1
    n_noise = per * (step + 1)
    w_avg = state_dict.get("stored_avg") if config.get("w_avg_stored") else None
    const = [state_dict[f"const_noise_{k}"] for k in range(n_noise)] if config.get("const_noise_stored") else None
    gen = StyleGAN1Generator(
        net,
        res,
        str(config["family"]),
        extra=config.get("extra"),
        w_avg=w_avg,
        const_noise=const,
        truncation_cutoff=config.get("truncation_cutoff"),
    )
    gen.load_state_dict(state_dict, strict=True)
    return gen
