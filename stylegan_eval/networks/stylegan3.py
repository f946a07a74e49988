"""The one StyleGAN3 (alias-free, configs T and R) network and its :class:`Generator` adapter.

Re-stated from the equations of Karras et al. 2021 ("Alias-Free Generative Adversarial
Networks") and the semantics of NVIDIA's pure-PyTorch reference ops; parameter and buffer names
are NVIDIA's (``mapping.fc{i}``, ``mapping.w_avg``, ``synthesis.input.*``,
``synthesis.L{idx}_{size}_{channels}.*``), so a ``G_ema`` state dict loads with ``strict=True``.

Pieces (all float32, NCHW):

- mapping: z [N, z_dim] -> normalise (x / rms(x)) -> (concat normalised class embedding) ->
  ``num_layers`` equalised-lr fully connected layers with lrelu(0.2) * sqrt(2) -> w [N, w_dim].
- input: Fourier features. ``affine(w) = (r_c, r_s, t_x, t_y)``, normalised by |(r_c, r_s)|, gives
  a rotation ``m_r`` and translation ``m_t``; ``T = m_r @ m_t @ transform`` (``transform`` is the
  user's inverse transform, identity in pickles). Frequencies ``f' = f @ T[:2, :2]``, phases
  ``p' = p + f @ T[:2, 2]``; feature ``c`` at grid point ``x`` (in units of the input layer:
  ``x = (pixel centre - size/2) / sampling_rate``) is ``sin(2 pi (x . f'_c + p'_c)) * a_c`` with
  amplitude ``a_c = clamp(1 - (|f'_c| - bandwidth) / (sampling_rate / 2 - bandwidth), 0, 1)``,
  then mixed by ``weight / sqrt(channels)``.
- layer: modulated conv (weight and styles pre-normalised by their rms, demodulated except
  ToRGB, input channels scaled by ``magnitude_ema ** -0.5``; "full" padding ``k - 1``), then the
  filtered leaky ReLU: add bias -> upsample by ``up`` (zero insertion, pad, FIR ``up_filter``,
  gain ``up**2``) -> lrelu(slope) * gain, clamp to +-conv_clamp -> FIR ``down_filter`` and keep every
  ``down``-th sample. ToRGB: 1x1, styles * 1/sqrt(in_channels), gain 1, slope 1 (linear).
- output: last layer * ``output_scale``.

The filters are buffers read from the checkpoint (R's radial down filters are 2-D, the rest
separable 1-D), so the filter design itself is not re-implemented. No noise inputs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..generator import Generator

LRELU_GAIN = math.sqrt(2.0)


# ---------------------------------------------------------------------------------- config
@dataclass(frozen=True)
class SG3Config:
    """Constructor arguments of NVIDIA's StyleGAN3 ``Generator`` that fix the architecture or the maths.

    Defaults are NVIDIA's class defaults (see ``sg3_state_keys.txt``); ``num_fp16_res`` and
    ``magnitude_ema_beta`` only matter for NVIDIA's training/fp16 path and are kept for ``info``.
    """

    z_dim: int
    c_dim: int
    w_dim: int
    img_resolution: int
    img_channels: int
    mapping_layers: int = 2
    mapping_lr_multiplier: float = 0.01
    channel_base: int = 32768
    channel_max: int = 512
    num_layers: int = 14
    num_critical: int = 2
    first_cutoff: float = 2.0
    first_stopband: float = 2**2.1
    last_stopband_rel: float = 2**0.3
    margin_size: int = 10
    output_scale: float = 0.25
    conv_kernel: int = 3
    filter_size: int = 6
    lrelu_upsampling: int = 2
    use_radial_filters: bool = False
    conv_clamp: float | None = 256.0
    num_fp16_res: int = 4
    magnitude_ema_beta: float = 0.999

    @property
    def num_ws(self) -> int:
        return self.num_layers + 2

    @property
    def name(self) -> str:
        """'stylegan3-t' / 'stylegan3-r' for NVIDIA's two published configs, else 'stylegan3'."""
        if self.conv_kernel == 3 and not self.use_radial_filters:
            return "stylegan3-t"
        if self.conv_kernel == 1 and self.use_radial_filters:
            return "stylegan3-r"
        return "stylegan3"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SG3Config:
        """Build from a JSON dict, checking every field's type (ValueError, one line)."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ValueError(f"unknown StyleGAN3 config fields: {', '.join(unknown)}")
        out: dict[str, Any] = {}
        for name, value in d.items():
            kind = known[name].type
            if "bool" in str(kind):
                ok = isinstance(value, bool)
            elif "float" in str(kind):
                ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
                    value is None and "None" in str(kind)
                )
                value = None if value is None else float(value)
            else:
                ok = isinstance(value, int) and not isinstance(value, bool)
            if not ok:
                raise ValueError(f"StyleGAN3 config field {name} has invalid value {value!r} (expected {kind})")
            out[name] = value
        cfg = cls(**out)
        cfg.validate()
        return cfg

    def validate(self) -> None:
        if min(self.z_dim, self.w_dim, self.img_channels, self.mapping_layers) < 1 or self.c_dim < 0:
            raise ValueError("StyleGAN3 config needs z_dim, w_dim, img_channels, mapping_layers >= 1 and c_dim >= 0")
        if self.img_resolution < 4 or self.img_resolution > 4096 or self.img_resolution & (self.img_resolution - 1):
            raise ValueError(f"StyleGAN3 img_resolution must be a power of two in [4, 4096], got {self.img_resolution}")
        if not 1 <= self.num_layers <= 64 or not 0 <= self.num_critical < self.num_layers:
            raise ValueError(f"StyleGAN3 num_layers {self.num_layers} / num_critical {self.num_critical} out of range")
        if (
            self.conv_kernel not in (1, 3, 5)
            or not 1 <= self.filter_size <= 32
            or self.lrelu_upsampling not in (1, 2, 4)
        ):
            raise ValueError("StyleGAN3 conv_kernel, filter_size or lrelu_upsampling out of range")
        if max(self.z_dim, self.w_dim, self.channel_max, self.c_dim) > 1 << 16 or not 0 <= self.margin_size <= 256:
            raise ValueError("StyleGAN3 config dimensions out of range")


@dataclass(frozen=True)
class LayerSpec:
    """One synthesis layer as NVIDIA's SynthesisNetwork lays it out."""

    name: str
    is_torgb: bool
    is_critical: bool
    in_channels: int
    out_channels: int
    in_size: int
    out_size: int
    in_sampling_rate: int
    out_sampling_rate: int
    conv_kernel: int
    up_factor: int
    down_factor: int
    up_taps: int
    down_taps: int
    down_radial: bool
    padding: tuple[int, int, int, int]
    use_fp16: bool
    tmp_sampling_rate: int
    in_cutoff: float
    out_cutoff: float
    in_half_width: float
    out_half_width: float


@dataclass(frozen=True)
class InputSpec:
    channels: int
    size: int
    sampling_rate: float
    bandwidth: float


def layout(cfg: SG3Config) -> tuple[InputSpec, list[LayerSpec]]:
    """The input layer and the ``num_layers + 1`` synthesis layers (geometric cutoff/stopband schedule)."""
    n = cfg.num_layers
    last_cutoff = cfg.img_resolution / 2
    last_stopband = last_cutoff * cfg.last_stopband_rel
    exponents = np.minimum(np.arange(n + 1) / (n - cfg.num_critical), 1)
    cutoffs = cfg.first_cutoff * (last_cutoff / cfg.first_cutoff) ** exponents
    stopbands = cfg.first_stopband * (last_stopband / cfg.first_stopband) ** exponents
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, cfg.img_resolution))))
    sizes = rates + cfg.margin_size * 2
    sizes[-2:] = cfg.img_resolution
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    channels = np.rint(np.minimum((cfg.channel_base / 2) / cutoffs, cfg.channel_max))
    channels[-1] = cfg.img_channels
    inp = InputSpec(int(channels[0]), int(sizes[0]), float(rates[0]), float(cutoffs[0]))
    layers = []
    for idx in range(n + 1):
        prev = max(idx - 1, 0)
        torgb = idx == n
        critical = idx >= n - cfg.num_critical
        in_rate, out_rate = int(rates[prev]), int(rates[idx])
        in_size, out_size = int(sizes[prev]), int(sizes[idx])
        kernel = 1 if torgb else cfg.conv_kernel
        tmp_rate = max(in_rate, out_rate) * (1 if torgb else cfg.lrelu_upsampling)
        up = int(np.rint(tmp_rate / in_rate))
        down = int(np.rint(tmp_rate / out_rate))
        up_taps = cfg.filter_size * up if up > 1 and not torgb else 1
        down_taps = cfg.filter_size * down if down > 1 and not torgb else 1
        total = (out_size - 1) * down + 1 - (in_size + kernel - 1) * up + up_taps + down_taps - 2
        lo = (total + up) // 2
        hi = total - lo
        layers.append(
            LayerSpec(
                name=f"L{idx}_{out_size}_{int(channels[idx])}",
                is_torgb=torgb,
                is_critical=critical,
                in_channels=int(channels[prev]),
                out_channels=int(channels[idx]),
                in_size=in_size,
                out_size=out_size,
                in_sampling_rate=in_rate,
                out_sampling_rate=out_rate,
                conv_kernel=kernel,
                up_factor=up,
                down_factor=down,
                up_taps=up_taps,
                down_taps=down_taps,
                down_radial=cfg.use_radial_filters and not critical,
                padding=(int(lo), int(hi), int(lo), int(hi)),
                use_fp16=bool(rates[idx] * 2**cfg.num_fp16_res > cfg.img_resolution),
                tmp_sampling_rate=int(tmp_rate),
                in_cutoff=float(cutoffs[prev]),
                out_cutoff=float(cutoffs[idx]),
                in_half_width=float(half_widths[prev]),
                out_half_width=float(half_widths[idx]),
            )
        )
    return inp, layers


# ---------------------------------------------------------------------------------- ops
def upfirdn2d(
    x: torch.Tensor,
    f: torch.Tensor | None,
    up: int = 1,
    down: int = 1,
    padding: tuple[int, int, int, int] = (0, 0, 0, 0),
    gain: float = 1.0,
) -> torch.Tensor:
    """Upsample (zero insertion), pad/crop ``(x0, x1, y0, y1)``, convolve with FIR ``f``, keep every ``down``-th sample.

    ``f``: None (identity), 1-D [k] (separable, applied along x then y, each scaled by
    ``sqrt(gain)``) or 2-D [k, k] (scaled by ``gain``); a true convolution (the filter is
    flipped for cross-correlation). x: [N, C, H, W] -> [N, C, H', W'] with
    ``H' = (H * up + y0 + y1 - k) // down + 1``.

    Computed without multiplying the inserted zeros: a separable upsampling runs as a strided
    transposed depthwise convolution per axis followed by the same pad/crop, the downsampling
    as a strided depthwise convolution (depthwise kernels are the fast CPU path).
    """
    n, c, h, w = x.shape
    px0, px1, py0, py1 = padding
    if f is not None and f.ndim == 1 and up > 1:
        k = f.shape[0]
        f = (f * gain**0.5).to(x.dtype)
        x = F.conv_transpose2d(x, f.reshape(1, 1, 1, k).expand(c, 1, 1, k), stride=(1, up), groups=c)
        s, out = k - 1 - px0, w * up + px0 + px1 - k + 1
        x = F.pad(x, [-s, s + out - x.shape[3], 0, 0])
        x = F.conv_transpose2d(x, f.reshape(1, 1, k, 1).expand(c, 1, k, 1), stride=(up, 1), groups=c)
        s, out = k - 1 - py0, h * up + py0 + py1 - k + 1
        x = F.pad(x, [0, 0, -s, s + out - x.shape[2]])
        return x[:, :, ::down, ::down] if down > 1 else x
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    x = F.pad(x, [px0, px1, py0, py1])
    if f is None:
        return x[:, :, ::down, ::down] if down > 1 else x
    if f.ndim == 2:
        return F.conv2d(
            x, (f * gain).to(x.dtype).flip([0, 1])[None, None].expand(c, 1, *f.shape), stride=down, groups=c
        )
    k = f.shape[0]
    f = (f * gain**0.5).to(x.dtype).flip([0])
    x = F.conv2d(x, f.reshape(1, 1, 1, k).expand(c, 1, 1, k), stride=(1, down), groups=c)
    return F.conv2d(x, f.reshape(1, 1, k, 1).expand(c, 1, k, 1), stride=(down, 1), groups=c)


def filtered_lrelu(
    x: torch.Tensor,
    fu: torch.Tensor | None,
    fd: torch.Tensor | None,
    b: torch.Tensor,
    up: int,
    down: int,
    padding: tuple[int, int, int, int],
    gain: float,
    slope: float,
    clamp: float | None,
) -> torch.Tensor:
    """bias -> upsample (pad, ``fu``, gain up**2) -> lrelu(slope) * gain, clamp -> ``fd`` and downsample."""
    x = x + b.to(x.dtype).reshape(1, -1, 1, 1)
    x = upfirdn2d(x, fu, up=up, padding=padding, gain=up**2)
    x = F.leaky_relu(x, slope) * gain if slope != 1 else x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return upfirdn2d(x, fd, down=down)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    demodulate: bool,
    padding: int,
    input_gain: torch.Tensor | None,
) -> torch.Tensor:
    """x [N, I, H, W], weight [O, I, k, k], styles [N, I] -> [N, O, H', W'].

    Computed by modulating activations (same function as NVIDIA's grouped convolution): the
    weight and, per sample, the styles are pre-normalised by their rms (a scale demodulation
    cancels), ``dcoef[n, o] = (sum_{i,k} (w[o,i,k] s[n,i])^2 + 1e-8)^-1/2``, and the input
    gain multiplies the input channels after demodulation.
    """
    if demodulate:
        weight = weight * weight.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean(dim=1, keepdim=True).rsqrt()
    scale = styles
    if input_gain is not None:
        scale = scale * input_gain
    out = F.conv2d(x * scale.to(x.dtype).reshape(*scale.shape, 1, 1), weight.to(x.dtype), padding=padding)
    if demodulate:
        dcoefs = (torch.einsum("ni,oi->no", styles.square(), weight.square().sum(dim=[2, 3])) + 1e-8).rsqrt()
        out = out * dcoefs.reshape(*dcoefs.shape, 1, 1)
    return out


# ---------------------------------------------------------------------------------- modules
class FullyConnectedLayer(nn.Module):
    """weight [out, in] stored / lr_multiplier, used * lr_multiplier / sqrt(in); bias * lr_multiplier."""

    def __init__(self, in_features: int, out_features: int, activation: str = "linear", lr_multiplier: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.activation = activation
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.weight_gain, self.bias * self.bias_gain)
        return F.leaky_relu(x, 0.2) * LRELU_GAIN if self.activation == "lrelu" else x


def _normalize(x: torch.Tensor) -> torch.Tensor:
    return x * (x.square().mean(1, keepdim=True) + 1e-8).rsqrt()


class MappingNetwork(nn.Module):
    """z [N, z_dim] (+ one-hot c) -> w [N, w_dim]; buffer ``w_avg`` [w_dim] is the truncation centre."""

    def __init__(self, cfg: SG3Config):
        super().__init__()
        self.c_dim = cfg.c_dim
        self.num_layers = cfg.mapping_layers
        if cfg.c_dim:
            self.embed = FullyConnectedLayer(cfg.c_dim, cfg.w_dim)
        feats = [cfg.z_dim + (cfg.w_dim if cfg.c_dim else 0)] + [cfg.w_dim] * cfg.mapping_layers
        for i in range(cfg.mapping_layers):
            setattr(self, f"fc{i}", FullyConnectedLayer(feats[i], feats[i + 1], "lrelu", cfg.mapping_lr_multiplier))
        self.register_buffer("w_avg", torch.zeros(cfg.w_dim))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        x = _normalize(z.to(torch.float32))
        if self.c_dim:
            x = torch.cat([x, _normalize(self.embed(c.to(torch.float32)))], dim=1)
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        return x


class SynthesisInput(nn.Module):
    """Fourier features [N, C, size, size] at the layer's grid, rotated/translated by ``affine(w)`` and ``transform``."""

    def __init__(self, w_dim: int, spec: InputSpec):
        super().__init__()
        self.channels, self.size = spec.channels, spec.size
        self.sampling_rate, self.bandwidth = spec.sampling_rate, spec.bandwidth
        self.weight = nn.Parameter(torch.zeros(spec.channels, spec.channels))
        self.affine = FullyConnectedLayer(w_dim, 4)
        self.register_buffer("transform", torch.eye(3))
        self.register_buffer("freqs", torch.zeros(spec.channels, 2))
        self.register_buffer("phases", torch.zeros(spec.channels))

    def grid(self, device: torch.device) -> torch.Tensor:
        """Sample positions [size, size, 2] (x, y), in input units: (pixel centre - size/2) / sampling_rate."""
        t = (torch.arange(self.size, device=device, dtype=torch.float32) + 0.5 - self.size / 2) / self.sampling_rate
        gy, gx = torch.meshgrid(t, t, indexing="ij")
        return torch.stack([gx, gy], dim=-1)

    def forward(self, w: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        n = w.shape[0]
        user = self.transform.expand(n, 3, 3) if transform is None else transform.to(w.dtype)
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        eye = torch.eye(3, device=w.device, dtype=w.dtype).expand(n, 3, 3)
        m_r = eye.clone()
        m_r[:, 0, 0], m_r[:, 0, 1], m_r[:, 1, 0], m_r[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
        m_t = eye.clone()
        m_t[:, 0, 2], m_t[:, 1, 2] = -t[:, 2], -t[:, 3]
        m = m_r @ m_t @ user
        freqs = self.freqs.unsqueeze(0)  # [1, C, 2]
        phases = self.phases.unsqueeze(0) + (freqs @ m[:, :2, 2:]).squeeze(2)  # [N, C]
        freqs = freqs @ m[:, :2, :2]  # [N, C, 2]
        amps = (1 - (freqs.norm(dim=2) - self.bandwidth) / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)
        g = self.grid(w.device)  # [H, W, 2]
        x = torch.einsum("hwd,ncd->nhwc", g, freqs) + phases[:, None, None, :]
        x = torch.sin(x * (2 * math.pi)) * amps[:, None, None, :]
        x = x @ (self.weight / math.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2).contiguous()


class SynthesisLayer(nn.Module):
    """Modulated conv + filtered leaky ReLU (or the linear ToRGB layer)."""

    def __init__(self, w_dim: int, spec: LayerSpec, conv_clamp: float | None):
        super().__init__()
        self.spec = spec
        self.conv_clamp = conv_clamp
        k = spec.conv_kernel
        self.affine = FullyConnectedLayer(w_dim, spec.in_channels)
        self.weight = nn.Parameter(torch.zeros(spec.out_channels, spec.in_channels, k, k))
        self.bias = nn.Parameter(torch.zeros(spec.out_channels))
        self.register_buffer("magnitude_ema", torch.ones([]))
        self.register_buffer("up_filter", torch.zeros(spec.up_taps) if spec.up_taps > 1 else None)
        shape = [spec.down_taps, spec.down_taps] if spec.down_radial else [spec.down_taps]
        self.register_buffer("down_filter", torch.zeros(shape) if spec.down_taps > 1 else None)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        s = self.spec
        styles = self.affine(w)
        if s.is_torgb:
            styles = styles / math.sqrt(s.in_channels * s.conv_kernel**2)
        x = modulated_conv2d(
            x,
            self.weight,
            styles,
            demodulate=not s.is_torgb,
            padding=s.conv_kernel - 1,
            input_gain=self.magnitude_ema.rsqrt(),
        )
        return filtered_lrelu(
            x,
            self.up_filter,
            self.down_filter,
            self.bias,
            s.up_factor,
            s.down_factor,
            s.padding,
            gain=1.0 if s.is_torgb else LRELU_GAIN,
            slope=1.0 if s.is_torgb else 0.2,
            clamp=self.conv_clamp,
        )


class SynthesisNetwork(nn.Module):
    def __init__(self, cfg: SG3Config):
        super().__init__()
        self.output_scale = cfg.output_scale
        inp, layers = layout(cfg)
        self.input = SynthesisInput(cfg.w_dim, inp)
        self.layer_names = [spec.name for spec in layers]
        for spec in layers:
            setattr(self, spec.name, SynthesisLayer(cfg.w_dim, spec, cfg.conv_clamp))

    def forward(self, ws: torch.Tensor, transform: torch.Tensor | None = None) -> torch.Tensor:
        ws = ws.to(torch.float32).unbind(dim=1)
        x = self.input(ws[0], transform)
        for name, w in zip(self.layer_names, ws[1:]):
            x = getattr(self, name)(x, w)
        return x * self.output_scale if self.output_scale != 1 else x


class StyleGAN3(nn.Module):
    """NVIDIA-keyed StyleGAN3 generator: ``mapping.*`` and ``synthesis.*`` (parameters are zeros until loaded)."""

    def __init__(self, cfg: SG3Config):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        self.synthesis = SynthesisNetwork(cfg)
        self.mapping = MappingNetwork(cfg)


# ---------------------------------------------------------------------------------- adapter
class StyleGAN3Generator(Generator):
    """:class:`Generator` adapter: ws [N, num_ws, w_dim] -> images [N, C, R, R] in [-1, 1]; no noise inputs."""

    noise_is_explicit = True

    supports_input_transform = True

    def __init__(self, net: StyleGAN3, extra: dict[str, Any] | None = None):
        super().__init__()
        cfg = net.cfg
        self.net = net
        self.family = cfg.name
        self.z_dim, self.c_dim, self.w_dim = cfg.z_dim, cfg.c_dim, cfg.w_dim
        self.num_ws, self.resolution, self.img_channels = cfg.num_ws, cfg.img_resolution, cfg.img_channels
        self._extra = dict(extra or {})

    def _map(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        return self.net.mapping(z, c).unsqueeze(1).repeat(1, self.num_ws, 1)

    def _synthesize(self, ws: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        return self.net.synthesis(ws)

    def _synthesize_transformed(
        self, ws: torch.Tensor, noise: list[torch.Tensor], transform: torch.Tensor
    ) -> torch.Tensor:
        return self.net.synthesis(ws, transform)

    @property
    def noise_shapes(self) -> list[tuple[int, int]]:
        return []

    def stored_w_avg(self) -> torch.Tensor | None:
        return self.net.mapping.w_avg

    def extra_info(self) -> dict[str, Any]:
        cfg = self.net.cfg
        _, layers = layout(cfg)
        chans = [spec.out_channels for spec in layers[:-1]]
        return {
            "configuration": (
                f"{cfg.name}, {cfg.img_resolution}x{cfg.img_resolution}, {cfg.num_ws} ws, {len(layers)} synthesis layers, "
                f"channels {chans[0]}..{chans[-1]}, conv_kernel {cfg.conv_kernel}, radial filters {cfg.use_radial_filters}"
            ),
            "mapping_layers": cfg.mapping_layers,
            "conv_clamp": cfg.conv_clamp,
            "output_scale": cfg.output_scale,
            "noise_inputs": 0,
            **self._extra,
        }

    def config(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "module": "stylegan3",
            "arch": self.net.cfg.to_dict(),
            "w_avg": "state:net.mapping.w_avg",
            "stored_noise": None,
            "truncation": "w_avg + psi * (w - w_avg) on all num_ws layers",
            "info": self._extra,
        }


def from_config(config: dict[str, Any], state_dict: dict[str, torch.Tensor] | None) -> StyleGAN3Generator:
    """Rebuild from :meth:`StyleGAN3Generator.config` and its ``state_dict()`` (strict keys and shapes)."""
    arch = config.get("arch")
    if not isinstance(arch, dict):
        raise TypeError("StyleGAN3 config lacks the 'arch' object")
    info = config.get("info") or {}
    if not isinstance(info, dict):
        raise TypeError("StyleGAN3 config 'info' must be an object")
    gen = StyleGAN3Generator(StyleGAN3(SG3Config.from_dict(arch)), extra=info)
    if state_dict is not None:  # None: build only (the loader's meta-device shape probe)
        load_exact(gen, {k: v for k, v in state_dict.items() if k != "w_avg"})
    return gen


def load_exact(module: nn.Module, state_dict: dict[str, torch.Tensor]) -> None:
    """``load_state_dict(strict=True)`` after checking keys and shapes (ValueError, one line)."""
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    extra = sorted(set(state_dict) - set(own))
    wrong = sorted(k for k in own if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape))
    if missing or extra or wrong:
        raise ValueError(
            f"state does not match the network: missing {missing[:3]}, unexpected {extra[:3]}, wrong shapes {wrong[:3]}"
        )
    module.load_state_dict(state_dict, strict=True)
