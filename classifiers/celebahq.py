"""PyTorch port of NVIDIA's CelebA-HQ attribute classifiers (the linear-separability networks).

Each of the 40 published classifiers is a StyleGAN-1 / ProGAN discriminator built at 256x256
with ``label_size=0`` (one raw logit per image), equalized learning rate and leaky ReLU 0.2.
What is known of the architecture, and how each choice was made, is in
``shared/reference/celebahq-classifiers.md``; in short (sections 0, 4 and 6 there):

- ``FromRGB_lod0``: 1x1 conv, 3 -> nf(res-1), bias, lrelu.
- For each resolution 256 ... 8: ``Conv0`` (3x3, nf(res-1) -> nf(res-1), bias, lrelu), then
  optionally a [1,2,1] depthwise blur, then ``Conv1_down``: 3x3 conv (nf(res-1) -> nf(res-2))
  followed by 2x2 average pooling, then bias, then lrelu.
- 4x4 block: optional minibatch-stddev, ``Conv`` 3x3, ``Dense0`` on the NCHW-flattened
  activations (lrelu), ``Dense1`` to one logit (gain 1, no activation).
- Channels ``nf(stage) = min(int(fmap_base / 2**(stage * fmap_decay)), fmap_max)``
  (64-128-256-512-512-512-512 for the defaults 8192 / 1.0 / 512).
- Equalized lr: the stored weights are the N(0, 1) "raw" variables; the layer multiplies them
  at run time by ``gain / sqrt(fan_in)`` (gain sqrt(2), 1 for ``Dense1``). Biases are unscaled.

Two points are left open by the public material and are switches here, set at load time from
what the pickle reveals (:func:`stylegan_eval.classifiers.tf_pickle.load_tf_classifier`):
``blur_filter`` (D_basic's default ``[1, 2, 1]``; None for D_paper; the default here is the
notes' lean, blur on) and ``mbstd_group_size`` (0 = no minibatch-stddev layer; the evidence
says the classifiers have none).

``Conv1_down`` is computed in its fused form: the 3x3 kernel padded to 5x5, its four shifted
4x4 windows summed and scaled by 1/4, applied with stride 2 and padding 1. This equals
"3x3 SAME conv, then 2x2 average pooling" exactly, at 16 instead of 36 multiply-adds per
output, so the choice between TensorFlow's fused and unfused paths does not matter.

At ``lod = 0`` (a finished classifier) the progressive-growing branches (``FromRGB_lod1..6``)
have zero weight; for a non-zero ``lod`` the 'linear' structure is evaluated (lerp_clip of
each block's output with ``FromRGB_lod{k}`` applied to the box-downsampled image).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

#: Input side length of the published classifiers.
RESOLUTION = 256
LRELU_SLOPE = 0.2
DEFAULT_BLUR = (1, 2, 1)


def nf(stage: int, fmap_base: int = 8192, fmap_decay: float = 1.0, fmap_max: int = 512) -> int:
    """Feature maps at a stage (ProGAN/StyleGAN ``nf``)."""
    return min(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_max)


class _EqualizedConv(nn.Module):
    """Conv with equalized-lr weight [out, in, k, k] (raw N(0,1) values) and an unscaled bias."""

    def __init__(self, cin: int, cout: int, kernel: int, gain: float = math.sqrt(2), use_wscale: bool = True) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(cout, cin, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(cout))
        self.scale = gain / math.sqrt(cin * kernel * kernel) if use_wscale else 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.weight.shape[-1]
        return F.leaky_relu(F.conv2d(x, self.weight * self.scale, self.bias, padding=k // 2), LRELU_SLOPE)


class _EqualizedConvDown(_EqualizedConv):
    """Optional depthwise blur, 3x3 conv + 2x2 average pooling (fused), bias, lrelu."""

    def __init__(self, cin: int, cout: int, blur_filter: Sequence[float] | None, use_wscale: bool = True) -> None:
        super().__init__(cin, cout, 3, use_wscale=use_wscale)
        if blur_filter is not None:
            f = torch.as_tensor(list(blur_filter), dtype=torch.float32)
            if f.ndim != 1 or f.numel() % 2 != 1:
                raise ValueError(f"blur_filter must be a 1-D filter of odd length, got {list(blur_filter)}")
            k2 = torch.outer(f, f)
            k2 = k2 / k2.sum()
            self.register_buffer("blur_kernel", k2[None, None].repeat(cin, 1, 1, 1), persistent=False)
        else:
            self.blur_kernel = None

    def fused_weight(self) -> torch.Tensor:
        w = F.pad(self.weight * self.scale, (1, 1, 1, 1))
        return (w[:, :, 1:, 1:] + w[:, :, :-1, 1:] + w[:, :, 1:, :-1] + w[:, :, :-1, :-1]) * 0.25

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.blur_kernel is not None:
            k = self.blur_kernel
            x = F.conv2d(x, k.to(x.dtype), padding=k.shape[-1] // 2, groups=x.shape[1])
        x = F.conv2d(x, self.fused_weight(), self.bias, stride=2, padding=1)
        return F.leaky_relu(x, LRELU_SLOPE)


class _EqualizedDense(nn.Module):
    def __init__(
        self, fin: int, fout: int, gain: float = math.sqrt(2), use_wscale: bool = True, act: bool = True
    ) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(fout, fin))
        self.bias = nn.Parameter(torch.zeros(fout))
        self.scale = gain / math.sqrt(fin) if use_wscale else 1.0
        self.act = act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.scale, self.bias)
        return F.leaky_relu(x, LRELU_SLOPE) if self.act else x


def minibatch_stddev(x: torch.Tensor, group_size: int, num_features: int = 1) -> torch.Tensor:
    """StyleGAN's minibatch-stddev layer: append ``num_features`` channels of group std.

    Groups are strided (sample i = g * M + m belongs to group m), as ``tf.reshape`` to
    [G, M, ...] makes them; the batch must be divisible by ``min(group_size, N)``.
    """
    n, c, h, w = x.shape
    g = min(group_size, n)
    if n % g:
        raise ValueError(f"minibatch-stddev: batch size {n} is not a multiple of the group size {g}")
    y = x.reshape(g, n // g, num_features, c // num_features, h, w).float()
    y = y - y.mean(dim=0)
    y = (y.square().mean(dim=0) + 1e-8).sqrt()
    y = y.mean(dim=(2, 3, 4))  # [M, n]
    y = y.to(x.dtype)[:, :, None, None].repeat(g, 1, h, w)
    return torch.cat([x, y], dim=1)


class CelebAHQClassifier(nn.Module):
    """The CelebA-HQ attribute classifier network: images [N, 3, R, R] in [-1, 1] -> logits [N, 1].

    Args:
        resolution: input side length (256 for the published networks; a power of 2 >= 8).
        num_channels: input channels (3).
        fmap_base, fmap_decay, fmap_max: channel schedule, ``nf`` above.
        blur_filter: 1-D blur taps applied (normalised, separable) before each ``Conv1_down``,
            or None for no blur. Default ``(1, 2, 1)``.
        mbstd_group_size: minibatch-stddev group size; 0 or 1 disables the layer (default 0).
        mbstd_num_features: channels the minibatch-stddev layer appends.
        use_wscale: equalized learning rate (runtime weight scaling).
        lod_branches: create ``FromRGB_lod1 ... FromRGB_lod{log2(R)-2}`` (the progressive-growing
            template's extra input layers; used only when ``lod > 0``).
        lod: level of detail; 0 for a finished classifier.

    The sign convention of the published networks: a negative logit means the attribute is
    present (reported by two independent porters); the linear-separability metric is
    symmetric in it.
    """

    #: Runs channels_last on a CPU (see :mod:`stylegan_eval.networks.memory_format`).
    prefers_channels_last = True

    def __init__(
        self,
        resolution: int = RESOLUTION,
        num_channels: int = 3,
        fmap_base: int = 8192,
        fmap_decay: float = 1.0,
        fmap_max: int = 512,
        blur_filter: Sequence[float] | None = DEFAULT_BLUR,
        mbstd_group_size: int = 0,
        mbstd_num_features: int = 1,
        use_wscale: bool = True,
        lod_branches: bool = True,
        lod: float = 0.0,
    ) -> None:
        super().__init__()
        log2 = int(round(math.log2(resolution))) if resolution > 0 else 0
        if resolution < 8 or 2**log2 != resolution:
            raise ValueError(f"resolution must be a power of two >= 8, got {resolution}")
        if num_channels < 1:
            raise ValueError(f"num_channels must be positive, got {num_channels}")
        if mbstd_group_size < 0 or mbstd_num_features < 1:
            raise ValueError("mbstd_group_size must be >= 0 and mbstd_num_features >= 1")
        if not 0.0 <= lod <= log2 - 2:
            raise ValueError(f"lod must be in [0, {log2 - 2}], got {lod}")
        if lod > 0 and not lod_branches:
            raise ValueError("lod > 0 needs the FromRGB_lod* branches (lod_branches=True)")
        self.config: dict[str, Any] = dict(
            resolution=resolution,
            num_channels=num_channels,
            fmap_base=fmap_base,
            fmap_decay=fmap_decay,
            fmap_max=fmap_max,
            blur_filter=None if blur_filter is None else [float(v) for v in blur_filter],
            mbstd_group_size=mbstd_group_size,
            mbstd_num_features=mbstd_num_features,
            use_wscale=use_wscale,
            lod_branches=lod_branches,
            lod=float(lod),
        )
        self.resolution = resolution
        self.input_resolution = resolution
        self.log2 = log2
        self.lod = float(lod)
        self.mbstd_group_size = mbstd_group_size
        self.mbstd_num_features = mbstd_num_features

        def n(stage: int) -> int:
            return nf(stage, fmap_base, fmap_decay, fmap_max)

        self.fromrgb = nn.ModuleDict()
        for k in range(0, (log2 - 2) + 1 if lod_branches else 1):
            self.fromrgb[f"lod{k}"] = _EqualizedConv(num_channels, n(log2 - k - 1), 1, use_wscale=use_wscale)
        self.blocks = nn.ModuleList()
        for res in range(log2, 2, -1):
            block = nn.Module()
            block.conv0 = _EqualizedConv(n(res - 1), n(res - 1), 3, use_wscale=use_wscale)
            block.conv1_down = _EqualizedConvDown(n(res - 1), n(res - 2), blur_filter, use_wscale=use_wscale)
            self.blocks.append(block)
        extra = mbstd_num_features if mbstd_group_size > 1 else 0
        self.conv = _EqualizedConv(n(1) + extra, n(1), 3, use_wscale=use_wscale)
        self.dense0 = _EqualizedDense(n(1) * 16, n(0), use_wscale=use_wscale)
        self.dense1 = _EqualizedDense(n(0), 1, gain=1.0, use_wscale=use_wscale, act=False)

    # ------------------------------------------------------------------ TF variable layout
    def tf_variables(self) -> dict[str, tuple[torch.Tensor, tuple[int, ...]]]:
        """TF variable name -> (the parameter it fills, its TF shape), in TF creation order.

        TF conv weights are [kh, kw, in, out], dense weights [in, out]; ``lod`` is a scalar
        that :func:`load_tf_variables` checks against :attr:`lod` instead of storing.
        """
        out: dict[str, tuple[torch.Tensor, tuple[int, ...]]] = {}

        def conv(name: str, layer: nn.Module) -> None:
            o, i, kh, kw = layer.weight.shape
            out[f"{name}/weight"] = (layer.weight, (kh, kw, i, o))
            out[f"{name}/bias"] = (layer.bias, (o,))

        def dense(name: str, layer: nn.Module) -> None:
            o, i = layer.weight.shape
            out[f"{name}/weight"] = (layer.weight, (i, o))
            out[f"{name}/bias"] = (layer.bias, (o,))

        conv("FromRGB_lod0", self.fromrgb["lod0"])
        for j, block in enumerate(self.blocks):
            r = 2 ** (self.log2 - j)
            conv(f"{r}x{r}/Conv0", block.conv0)
            conv(f"{r}x{r}/Conv1_down", block.conv1_down)
            if f"lod{j + 1}" in self.fromrgb:
                conv(f"FromRGB_lod{j + 1}", self.fromrgb[f"lod{j + 1}"])
        conv("4x4/Conv", self.conv)
        dense("4x4/Dense0", self.dense0)
        dense("4x4/Dense1", self.dense1)
        return out

    @torch.no_grad()
    def load_tf_variables(self, variables: dict[str, np.ndarray], source: str = "<variables>") -> None:
        """Fill the parameters from TF variables (name -> array), strictly.

        Every TF variable must be used and every parameter filled, with exactly the expected
        shape; otherwise :class:`~stylegan_eval.errors.CheckpointError` lists the differences.
        """
        from stylegan_eval.errors import CheckpointError

        expected = self.tf_variables()
        names = set(variables)
        missing = [k for k in expected if k not in names]
        unused = [k for k in variables if k not in expected and k != "lod"]
        if missing or unused:
            parts = []
            if missing:
                parts.append("missing " + ", ".join(missing[:6]) + (" ..." if len(missing) > 6 else ""))
            if unused:
                parts.append("unexpected " + ", ".join(unused[:6]) + (" ..." if len(unused) > 6 else ""))
            raise CheckpointError(f"{source}: variables do not match the classifier architecture ({'; '.join(parts)})")
        bad = []
        for name, (param, tf_shape) in expected.items():
            value = np.asarray(variables[name])
            if tuple(value.shape) != tf_shape:
                bad.append(f"{name} {tuple(value.shape)} != {tf_shape}")
        if bad:
            raise CheckpointError(f"{source}: variable shapes differ from the architecture: " + "; ".join(bad[:6]))
        if "lod" in variables:
            lod = np.asarray(variables["lod"])
            if lod.shape != () or not np.isfinite(lod):
                raise CheckpointError(f"{source}: variable lod must be a finite scalar, got shape {lod.shape}")
            if float(lod) != self.lod:
                raise CheckpointError(
                    f"{source}: lod {float(lod)} != the module's lod {self.lod} (construct it with lod=...)"
                )
        for name, (param, tf_shape) in expected.items():
            value = torch.from_numpy(np.array(variables[name], dtype=np.float32))
            if value.ndim == 4:  # [kh, kw, in, out] -> [out, in, kh, kw]
                value = value.permute(3, 2, 0, 1)
            elif value.ndim == 2:  # [in, out] -> [out, in]
                value = value.t()
            if not torch.isfinite(value).all():
                raise CheckpointError(f"{source}: variable {name} holds non-finite values")
            param.copy_(value)

    # ------------------------------------------------------------------ forward
    def _trunk(self, x: torch.Tensor, images: torch.Tensor | None) -> torch.Tensor:
        lod = self.lod
        img = images
        for j, block in enumerate(self.blocks):
            x = block.conv1_down(block.conv0(x))
            if lod > 0 and img is not None:
                img = F.avg_pool2d(img, 2)
                t = min(max(lod - j, 0.0), 1.0)
                if t > 0:
                    y = self.fromrgb[f"lod{j + 1}"](img)
                    x = x + (y - x) * t
        return x

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """images [N, C, R, R] (about [-1, 1]) -> logits [N, 1]. ``labels`` is ignored (label_size 0)."""
        r = self.resolution
        if images.ndim != 4 or images.shape[1] != self.config["num_channels"] or images.shape[-2:] != (r, r):
            raise ValueError(
                f"classifier expects images [N, {self.config['num_channels']}, {r}, {r}], got {tuple(images.shape)}"
            )
        x = self.fromrgb["lod0"](images)
        x = self._trunk(x, images if self.lod > 0 else None)
        if self.mbstd_group_size > 1:
            x = minibatch_stddev(x, self.mbstd_group_size, self.mbstd_num_features)
        x = self.conv(x)
        x = self.dense0(x.flatten(1))
        return self.dense1(x)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.config.items())


def random_classifier(seed: int = 0, **config: Any) -> CelebAHQClassifier:
    """A classifier at random initialisation (raw weights N(0, 1), zero biases), reproducibly.

    Used only with ``--allow-random-weights``: its numbers are not comparable to published ones.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CelebAHQClassifier(**config)
