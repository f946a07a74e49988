"""Pure-PyTorch versions of the custom ops that StyleGAN2 implementations compile as CUDA extensions.

Nothing here needs a compiler: every op is a composition of standard ``torch`` / ``F`` calls, so it
runs on any device torch supports. All tensors are float NCHW unless stated otherwise.

- :func:`upfirdn2d`: upsample (zero insertion), pad, FIR filter, downsample — the semantics of
  rosinality's ``op.upfirdn2d`` / NVIDIA's ``torch_utils.ops.upfirdn2d`` (the kernel is applied as
  a true convolution, i.e. flipped relative to ``F.conv2d``'s cross-correlation).
- :func:`fused_leaky_relu`: ``leaky_relu(x + bias, 0.2) * sqrt(2)``.
- :func:`modulated_conv2d`: StyleGAN2's weight modulation / demodulation, optionally with the
  2x upsampling (transposed conv + blur) of rosinality's ``ModulatedConv2d``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F

LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)
DEMOD_EPS = 1e-8


def make_kernel(k: Sequence[float] | torch.Tensor) -> torch.Tensor:
    """A normalised 2-D FIR kernel [kh, kw] (sum 1) from 1-D taps (outer product) or a 2-D array."""
    k = torch.as_tensor(k, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


def _pair(v: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(v, int):
        return v, v
    a, b = v
    return int(a), int(b)


def upfirdn2d(
    x: torch.Tensor,
    kernel: torch.Tensor,
    up: int | Sequence[int] = 1,
    down: int | Sequence[int] = 1,
    pad: Sequence[int] = (0, 0),
) -> torch.Tensor:
    """Upsample, pad, FIR-filter and downsample a batch of images.

    Args:
        x: [N, C, H, W].
        kernel: [kh, kw] FIR filter, applied as a convolution (flipped w.r.t. cross-correlation).
        up: integer upsampling factor (or (up_x, up_y)); inserts ``up - 1`` zeros after each sample.
        down: integer downsampling factor (or (down_x, down_y)); keeps every ``down``-th sample
            starting with the first.
        pad: (pad0, pad1) used on both axes, or (pad_x0, pad_x1, pad_y0, pad_y1); negative
            values crop.

    Returns:
        [N, C, H', W'] with ``H' = (H * up_y + pad_y0 + pad_y1 - kh) // down_y + 1`` (same for W).
    """
    up_x, up_y = _pair(up)
    down_x, down_y = _pair(down)
    if len(pad) == 2:
        px0, px1, py0, py1 = pad[0], pad[1], pad[0], pad[1]
    else:
        px0, px1, py0, py1 = pad
    n, c, h, w = x.shape
    kh, kw = kernel.shape
    out = x
    if up_x > 1 or up_y > 1:
        out = out.reshape(n, c, h, 1, w, 1)
        out = F.pad(out, [0, up_x - 1, 0, 0, 0, up_y - 1])
        out = out.reshape(n, c, h * up_y, w * up_x)
    out = F.pad(out, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    out = out[
        :,
        :,
        max(-py0, 0) : out.shape[2] - max(-py1, 0),
        max(-px0, 0) : out.shape[3] - max(-px1, 0),
    ]
    # One depthwise conv over the C channels: oneDNN's depthwise kernel is several times faster
    # on a CPU than a single-channel conv over a batch of N * C maps, with the same sums.
    weight = torch.flip(kernel, [0, 1]).to(out.dtype).reshape(1, 1, kh, kw).expand(c, 1, kh, kw)
    out = F.conv2d(out, weight, groups=c)
    if down_x > 1 or down_y > 1:
        out = out[:, :, ::down_y, ::down_x]
    return out


def fused_leaky_relu(x: torch.Tensor, bias: torch.Tensor | None = None, gain: float = LRELU_GAIN) -> torch.Tensor:
    """``leaky_relu(x + bias, 0.2) * gain``; ``bias`` [C] is added along dim 1 of x ([N, C, ...])."""
    if bias is not None:
        x = x + bias.reshape(1, -1, *([1] * (x.ndim - 2)))
    return F.leaky_relu(x, LRELU_SLOPE) * gain


def upsample_blur_pad(kernel_len: int, kernel_size: int, factor: int = 2) -> tuple[int, int]:
    """Padding of the blur that follows a stride-``factor`` transposed conv (rosinality's formula)."""
    p = (kernel_len - factor) - (kernel_size - 1)
    return (p + 1) // 2 + factor - 1, p // 2 + 1


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    demodulate: bool = True,
    upsample: bool = False,
    blur_kernel: torch.Tensor | None = None,
    fused: bool = True,
    eps: float = DEMOD_EPS,
) -> torch.Tensor:
    """StyleGAN2 modulated convolution for a whole batch at once (no per-sample loop).

    Args:
        x: input activations [N, I, H, W].
        weight: the *scaled* conv weight [O, I, k, k] (equalized-lr scale already applied).
        styles: per-sample input-channel scales [N, I] (the modulation layer's output).
        demodulate: divide each sample's output channel by the L2 norm of its modulated weight
            (``rsqrt(sum(w^2) + eps)``).
        upsample: 2x upsampling conv: transposed conv (stride 2, no padding) of the modulated
            weight followed by a blur with ``blur_kernel`` ([kh, kw], already multiplied by 4).
            Without it the conv is 'same' padded (``k // 2``).
        fused: True = one grouped conv with per-sample weights (rosinality / NVIDIA inference
            path); False = modulate the activations, one shared-weight conv, scale the output
            (mathematically identical; faster for big batches on some devices).

    Returns:
        [N, O, H, W], or [N, O, 2H, 2W] with ``upsample``.
    """
    n, in_ch, h, w = x.shape
    out_ch, _, kh, kw = weight.shape
    dcoefs = None
    if fused:
        wt = weight.unsqueeze(0) * styles.reshape(n, 1, in_ch, 1, 1)  # [N, O, I, k, k]
        if demodulate:
            wt = wt * torch.rsqrt(wt.pow(2).sum([2, 3, 4]) + eps).reshape(n, out_ch, 1, 1, 1)
        xin = x.reshape(1, n * in_ch, h, w)
        if upsample:
            wt = wt.transpose(1, 2).reshape(n * in_ch, out_ch, kh, kw)
            out = F.conv_transpose2d(xin, wt, stride=2, padding=0, groups=n)
        else:
            out = F.conv2d(xin, wt.reshape(n * out_ch, in_ch, kh, kw), padding=kh // 2, groups=n)
        out = out.reshape(n, out_ch, out.shape[2], out.shape[3])
    else:
        if demodulate:
            wt = weight.unsqueeze(0) * styles.reshape(n, 1, in_ch, 1, 1)
            dcoefs = torch.rsqrt(wt.pow(2).sum([2, 3, 4]) + eps)  # [N, O]
        xin = x * styles.reshape(n, in_ch, 1, 1)
        if upsample:
            out = F.conv_transpose2d(xin, weight.transpose(0, 1), stride=2, padding=0)
        else:
            out = F.conv2d(xin, weight, padding=kh // 2)
        if dcoefs is not None:
            out = out * dcoefs.reshape(n, out_ch, 1, 1)
    if upsample:
        if blur_kernel is None:
            raise ValueError("upsampling modulated conv needs a blur kernel")
        out = upfirdn2d(out, blur_kernel, pad=upsample_blur_pad(blur_kernel.shape[0], kh))
    return out
