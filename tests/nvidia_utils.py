"""Build tiny NVIDIA-format network pickles for tests, without NVIDIA's code.

NVIDIA's ``torch_utils.persistence`` makes every network module pickle as
``torch_utils.persistence._reconstruct_persistent_obj(meta)`` with
``meta = dict(type='class', version=6, module_src=..., class_name=<bare name>, state=<__dict__>)``.
The modules here mirror the structure of stylegan2-ada-pytorch's ``training/networks.py``
(same parameter/buffer names, shapes, attributes and init_kwargs) and reduce the same way; a
stand-in ``torch_utils.persistence`` / ``dnnlib.util`` is put into ``sys.modules`` only while
pickling, so the stream names exactly the globals real pickles name.

Nothing here has a forward pass: the tests re-state NVIDIA's forward functionally on the
state dict (``test_nvidia_pickle.py``).
"""

from __future__ import annotations

import contextlib
import copy
import math
import pickle
import sys
import types
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

#: Source text embedded as module_src; it must never run (it exits and writes a marker file).
DEFAULT_MODULE_SRC = (
    "# stand-in for training/networks.py -- a loader must never execute this\n"
    "raise SystemExit('module_src was executed')\n"
)
_state = {"module_src": DEFAULT_MODULE_SRC}


def hostile_module_src(marker: Path) -> str:
    return f"import pathlib\npathlib.Path({str(marker)!r}).write_text('module_src was executed')\nraise SystemExit(3)\n"


# ---------------------------------------------------------------------------------- stand-ins
def _reconstruct_persistent_obj(meta):  # pragma: no cover - never called
    raise RuntimeError("stand-in used only to name the global while pickling")


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
_reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"


class EasyDict(dict):
    """Same pickled identity as dnnlib.util.EasyDict."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value


EasyDict.__module__ = "dnnlib.util"


class Network:
    """Same pickled identity as dnnlib.tflib.network.Network (TensorFlow StyleGAN pickles)."""

    def __init__(self, name: str, variables: list, components: dict | None = None):
        self._state = dict(
            version=4,
            name=name,
            static_kwargs=EasyDict(resolution=16),
            components=EasyDict(components or {}),
            build_module_src="def G_main(): pass\n",
            build_func_name="G_main",
            variables=variables,
        )

    def __getstate__(self):
        return self._state

    def __setstate__(self, state):  # pragma: no cover
        self._state = state


Network.__module__ = "dnnlib.tflib.network"


@contextlib.contextmanager
def fake_nvidia_modules():
    """Register torch_utils.persistence, dnnlib.util, dnnlib.tflib.network while pickling."""
    names = ["torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util", "dnnlib.tflib", "dnnlib.tflib.network"]
    saved = {n: sys.modules.get(n) for n in names}
    mods = {n: types.ModuleType(n) for n in names}
    mods["torch_utils.persistence"]._reconstruct_persistent_obj = _reconstruct_persistent_obj
    mods["dnnlib.util"].EasyDict = EasyDict
    mods["dnnlib.tflib.network"].Network = Network
    mods["torch_utils"].persistence = mods["torch_utils.persistence"]
    mods["dnnlib"].util = mods["dnnlib.util"]
    mods["dnnlib"].tflib = mods["dnnlib.tflib"]
    mods["dnnlib.tflib"].network = mods["dnnlib.tflib.network"]
    sys.modules.update(mods)
    try:
        yield
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


def dump(obj: Any, path: Path | None = None, module_src: str | None = None) -> bytes:
    """Pickle ``obj`` as NVIDIA's training loop does (plain pickle); optionally write it to ``path``."""
    _state["module_src"] = module_src or DEFAULT_MODULE_SRC
    try:
        with fake_nvidia_modules():
            data = pickle.dumps(obj, protocol=pickle.DEFAULT_PROTOCOL)
    finally:
        _state["module_src"] = DEFAULT_MODULE_SRC
    if path is not None:
        Path(path).write_bytes(data)
    return data


# ---------------------------------------------------------------------------------- modules
class Persistent(nn.Module):
    """Reduces like a @persistence.persistent_class object."""

    def __init__(self, *args, **kwargs):
        super().__init__()
        self._init_args = copy.deepcopy(args)
        self._init_kwargs = copy.deepcopy(kwargs)

    def __reduce__(self):
        meta = dict(
            type="class",
            version=6,
            module_src=_state["module_src"],
            class_name=type(self).__name__,
            state=dict(self.__dict__),
        )
        return (_reconstruct_persistent_obj, (meta,))


def setup_filter(taps=(1, 3, 3, 1)) -> torch.Tensor:
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f)
    return f / f.sum()


def _rand(g: torch.Generator, *shape, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(*shape, generator=g) * scale


class FullyConnectedLayer(Persistent):
    def __init__(self, in_features, out_features, bias=True, activation="linear", lr_multiplier=1, bias_init=0, *, g):
        super().__init__(
            in_features,
            out_features,
            bias=bias,
            activation=activation,
            lr_multiplier=lr_multiplier,
            bias_init=bias_init,
        )
        self.activation = activation
        self.weight = nn.Parameter(_rand(g, out_features, in_features) / lr_multiplier)
        # trained-looking biases: init value plus noise (stored / lr_multiplier like the weight)
        self.bias = nn.Parameter(
            torch.full([out_features], float(bias_init)) + _rand(g, out_features, scale=0.1 / lr_multiplier)
        )
        self.weight_gain = lr_multiplier / np.sqrt(in_features)  # numpy float, as NVIDIA's
        self.bias_gain = lr_multiplier


class MappingNetwork(Persistent):
    def __init__(self, z_dim, c_dim, w_dim, num_ws, num_layers=8, lr_multiplier=0.01, w_avg_beta=0.995, *, g):
        super().__init__(
            z_dim=z_dim,
            c_dim=c_dim,
            w_dim=w_dim,
            num_ws=num_ws,
            num_layers=num_layers,
            lr_multiplier=lr_multiplier,
            w_avg_beta=w_avg_beta,
        )
        self.z_dim, self.c_dim, self.w_dim, self.num_ws = z_dim, c_dim, w_dim, num_ws
        self.num_layers, self.w_avg_beta = num_layers, w_avg_beta
        embed = w_dim if c_dim else 0
        feats = [z_dim + embed] + [w_dim] * num_layers
        if c_dim:
            self.embed = FullyConnectedLayer(c_dim, embed, g=g)
        for i in range(num_layers):
            setattr(
                self,
                f"fc{i}",
                FullyConnectedLayer(feats[i], feats[i + 1], activation="lrelu", lr_multiplier=lr_multiplier, g=g),
            )
        if w_avg_beta is not None:
            self.register_buffer("w_avg", _rand(g, w_dim, scale=0.5))


class SynthesisLayer(Persistent):
    def __init__(
        self,
        in_channels,
        out_channels,
        w_dim,
        resolution,
        kernel_size=3,
        up=1,
        use_noise=True,
        activation="lrelu",
        resample_filter=(1, 3, 3, 1),
        conv_clamp=None,
        *,
        g,
    ):
        super().__init__(
            in_channels,
            out_channels,
            w_dim=w_dim,
            resolution=resolution,
            up=up,
            resample_filter=list(resample_filter),
            conv_clamp=conv_clamp,
        )
        self.resolution, self.up, self.use_noise, self.activation = resolution, up, use_noise, activation
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.padding = kernel_size // 2
        self.act_gain = math.sqrt(2)
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1, g=g)
        self.weight = nn.Parameter(_rand(g, out_channels, in_channels, kernel_size, kernel_size))
        if use_noise:
            self.register_buffer("noise_const", _rand(g, resolution, resolution))
            self.noise_strength = nn.Parameter(_rand(g, (), scale=0.3))
        self.bias = nn.Parameter(_rand(g, out_channels, scale=0.2))


class ToRGBLayer(Persistent):
    def __init__(self, in_channels, out_channels, w_dim, kernel_size=1, conv_clamp=None, *, g):
        super().__init__(in_channels, out_channels, w_dim=w_dim, conv_clamp=conv_clamp)
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1, g=g)
        self.weight = nn.Parameter(_rand(g, out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(_rand(g, out_channels, scale=0.2))
        self.weight_gain = 1 / np.sqrt(in_channels * kernel_size**2)


class SynthesisBlock(Persistent):
    def __init__(
        self,
        in_channels,
        out_channels,
        w_dim,
        resolution,
        img_channels,
        is_last,
        architecture="skip",
        resample_filter=(1, 3, 3, 1),
        conv_clamp=None,
        use_fp16=False,
        *,
        g,
    ):
        super().__init__(
            in_channels,
            out_channels,
            w_dim=w_dim,
            resolution=resolution,
            img_channels=img_channels,
            is_last=is_last,
            architecture=architecture,
            conv_clamp=conv_clamp,
            use_fp16=use_fp16,
        )
        self.in_channels, self.w_dim, self.resolution = in_channels, w_dim, resolution
        self.img_channels, self.is_last, self.architecture = img_channels, is_last, architecture
        self.use_fp16, self.channels_last = use_fp16, False
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.num_conv = self.num_torgb = 0
        if in_channels == 0:
            self.const = nn.Parameter(_rand(g, out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(
                in_channels,
                out_channels,
                w_dim,
                resolution,
                up=2,
                resample_filter=resample_filter,
                conv_clamp=conv_clamp,
                g=g,
            )
            self.num_conv += 1
        self.conv1 = SynthesisLayer(
            out_channels, out_channels, w_dim, resolution, resample_filter=resample_filter, conv_clamp=conv_clamp, g=g
        )
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp, g=g)
            self.num_torgb += 1
        if in_channels and architecture == "resnet":
            self.skip = FullyConnectedLayer(1, 1, g=g)  # shape irrelevant: only the key matters


class SynthesisNetwork(Persistent):
    def __init__(
        self,
        w_dim,
        img_resolution,
        img_channels,
        channel_base=32768,
        channel_max=512,
        num_fp16_res=0,
        *,
        g,
        **block_kwargs,
    ):
        super().__init__(
            w_dim=w_dim,
            img_resolution=img_resolution,
            img_channels=img_channels,
            channel_base=channel_base,
            channel_max=channel_max,
            num_fp16_res=num_fp16_res,
            **block_kwargs,
        )
        self.w_dim, self.img_resolution, self.img_channels = w_dim, img_resolution, img_channels
        log2 = int(np.log2(img_resolution))
        self.img_resolution_log2 = log2
        self.block_resolutions = [2**i for i in range(2, log2 + 1)]
        ch = {r: min(channel_base // r, channel_max) for r in self.block_resolutions}
        fp16_res = max(2 ** (log2 + 1 - num_fp16_res), 8)
        self.num_ws = 0
        for r in self.block_resolutions:
            block = SynthesisBlock(
                ch[r // 2] if r > 4 else 0,
                ch[r],
                w_dim,
                r,
                img_channels,
                is_last=(r == img_resolution),
                use_fp16=(r >= fp16_res),
                g=g,
                **block_kwargs,
            )
            self.num_ws += block.num_conv + (block.num_torgb if r == img_resolution else 0)
            setattr(self, f"b{r}", block)


class Generator(Persistent):
    """stylegan2-ada-pytorch layout: ``Generator(z_dim, c_dim, w_dim, img_resolution, img_channels,
    mapping_kwargs={}, synthesis_kwargs={})``; ``layout='stylegan3'`` records the stylegan3 repo's
    ``networks_stylegan2.Generator(..., mapping_kwargs={}, **synthesis_kwargs)`` init_kwargs."""

    def __init__(
        self,
        z_dim,
        c_dim,
        w_dim,
        img_resolution,
        img_channels,
        mapping_kwargs=None,
        synthesis_kwargs=None,
        *,
        layout="ada",
        seed=0,
    ):
        mapping_kwargs = EasyDict(mapping_kwargs or {})
        synthesis_kwargs = EasyDict(synthesis_kwargs or {})
        common = dict(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels)
        if layout == "ada":
            super().__init__(**common, mapping_kwargs=mapping_kwargs, synthesis_kwargs=synthesis_kwargs)
        else:
            super().__init__(**common, mapping_kwargs=mapping_kwargs, **synthesis_kwargs)
        g = torch.Generator().manual_seed(seed)
        self.z_dim, self.c_dim, self.w_dim = z_dim, c_dim, w_dim
        self.img_resolution, self.img_channels = img_resolution, img_channels
        self.synthesis = SynthesisNetwork(w_dim, img_resolution, img_channels, g=g, **synthesis_kwargs)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, self.num_ws, g=g, **mapping_kwargs)


class Discriminator(Persistent):
    def __init__(self, c_dim, img_resolution, img_channels, *, g):
        super().__init__(c_dim=c_dim, img_resolution=img_resolution, img_channels=img_channels)
        self.fromrgb = FullyConnectedLayer(img_channels, 4, activation="lrelu", g=g)
        self.out = FullyConnectedLayer(4, 1, g=g)


class AugmentPipe(Persistent):
    def __init__(self):
        super().__init__(xflip=1, rotate90=1)
        self.xflip, self.rotate90 = 1.0, 1.0
        self.register_buffer("p", torch.zeros([]))
        self.register_buffer("Hz_geom", setup_filter((1, 3, 3, 1)))


# ---------------------------------------------------------------------------------- StyleGAN3
def design_lowpass_filter(numtaps, cutoff, width, fs, radial=False):
    """Kaiser-windowed low-pass filter as NVIDIA designs it (firwin, or a windowed jinc for radial)."""
    import scipy.signal
    import scipy.special

    if numtaps == 1:
        return None
    if not radial:
        return torch.as_tensor(
            scipy.signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs), dtype=torch.float32
        )
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    f = scipy.special.j1(2 * cutoff * (np.pi * r)) / (np.pi * r)
    beta = scipy.signal.kaiser_beta(scipy.signal.kaiser_atten(numtaps, width / (fs / 2)))
    w = np.kaiser(numtaps, beta)
    f *= np.outer(w, w)
    f /= np.sum(f)
    return torch.as_tensor(f, dtype=torch.float32)


class SynthesisInput(Persistent):
    def __init__(self, w_dim, channels, size, sampling_rate, bandwidth, *, g):
        super().__init__(w_dim=w_dim, channels=channels, size=size, sampling_rate=sampling_rate, bandwidth=bandwidth)
        self.w_dim, self.channels, self.sampling_rate, self.bandwidth = w_dim, channels, sampling_rate, bandwidth
        self.size = np.broadcast_to(np.asarray(size), [2])  # numpy attributes as in SG3
        freqs = _rand(g, channels, 2)
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * bandwidth
        self.weight = nn.Parameter(_rand(g, channels, channels))
        self.affine = FullyConnectedLayer(w_dim, 4, bias_init=0, g=g)
        with torch.no_grad():  # trained-looking: bias near (1, 0, 0, 0), small weights
            self.affine.weight.mul_(0.1)
            self.affine.bias.add_(torch.tensor([1.0, 0, 0, 0]))
        self.register_buffer("transform", torch.eye(3))
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", torch.rand(channels, generator=g) - 0.5)


class SG3SynthesisLayer(Persistent):
    def __init__(self, w_dim, spec, radial, conv_clamp, magnitude_ema_beta, *, g):
        super().__init__(
            w_dim=w_dim,
            is_torgb=spec.is_torgb,
            is_critically_sampled=spec.is_critical,
            use_fp16=spec.use_fp16,
            in_channels=spec.in_channels,
            out_channels=spec.out_channels,
            in_size=spec.in_size,
            out_size=spec.out_size,
            conv_kernel=spec.conv_kernel,
            use_radial_filters=radial,
            conv_clamp=conv_clamp,
            magnitude_ema_beta=magnitude_ema_beta,
        )
        self.is_torgb, self.conv_kernel, self.conv_clamp = spec.is_torgb, spec.conv_kernel, conv_clamp
        self.in_size = np.broadcast_to(np.asarray(spec.in_size), [2])
        self.out_size = np.broadcast_to(np.asarray(spec.out_size), [2])
        self.up_factor, self.down_factor = spec.up_factor, spec.down_factor
        self.padding = list(spec.padding)
        self.affine = FullyConnectedLayer(w_dim, spec.in_channels, bias_init=1, g=g)
        self.weight = nn.Parameter(_rand(g, spec.out_channels, spec.in_channels, spec.conv_kernel, spec.conv_kernel))
        self.bias = nn.Parameter(_rand(g, spec.out_channels, scale=0.2))
        self.register_buffer("magnitude_ema", torch.rand([], generator=g) * 1.5 + 0.5)
        self.register_buffer(
            "up_filter",
            design_lowpass_filter(spec.up_taps, spec.in_cutoff, spec.in_half_width * 2, spec.tmp_sampling_rate),
        )
        self.register_buffer(
            "down_filter",
            design_lowpass_filter(
                spec.down_taps,
                spec.out_cutoff,
                spec.out_half_width * 2,
                spec.tmp_sampling_rate,
                radial=spec.down_radial,
            ),
        )


SG3SynthesisLayer.__name__ = "SynthesisLayer"


class SG3SynthesisNetwork(Persistent):
    def __init__(self, w_dim, img_resolution, img_channels, *, g, cfg, **kwargs):
        from stylegan_eval.networks.stylegan3 import layout

        super().__init__(w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels, **kwargs)
        self.w_dim, self.img_resolution, self.num_ws = w_dim, img_resolution, cfg.num_ws
        self.output_scale = cfg.output_scale
        inp, layers = layout(cfg)
        self.input = SynthesisInput(w_dim, inp.channels, inp.size, inp.sampling_rate, inp.bandwidth, g=g)
        self.layer_names = []
        for spec in layers:
            setattr(
                self,
                spec.name,
                SG3SynthesisLayer(w_dim, spec, cfg.use_radial_filters, cfg.conv_clamp, cfg.magnitude_ema_beta, g=g),
            )
            self.layer_names.append(spec.name)


SG3SynthesisNetwork.__name__ = "SynthesisNetwork"

#: A tiny StyleGAN3: 32 px, 4 layers (2 critical), channels <= 16.
SG3_TINY = dict(z_dim=8, c_dim=0, w_dim=12, img_resolution=32, img_channels=3)
SG3_TINY_SYNTHESIS = dict(
    channel_base=128, channel_max=16, num_layers=4, num_critical=2, margin_size=4, magnitude_ema_beta=0.999
)


class SG3Generator(Persistent):
    """stylegan3 repo layout ``Generator(z_dim, c_dim, w_dim, img_resolution, img_channels, mapping_kwargs={},
    **synthesis_kwargs)``; ``layout='ada'`` nests the synthesis kwargs (as stylegan2-ada-pytorch's layout)."""

    def __init__(
        self,
        z_dim=8,
        c_dim=0,
        w_dim=12,
        img_resolution=32,
        img_channels=3,
        *,
        config="t",
        seed=0,
        layout="stylegan3",
        **overrides,
    ):
        from stylegan_eval.networks.stylegan3 import SG3Config

        kw = dict(SG3_TINY_SYNTHESIS, **({"conv_kernel": 1, "use_radial_filters": True} if config == "r" else {}))
        kw.update(overrides)
        common = dict(z_dim=z_dim, c_dim=c_dim, w_dim=w_dim, img_resolution=img_resolution, img_channels=img_channels)
        mapping_kwargs = EasyDict(num_layers=2)
        if layout == "ada":
            super().__init__(**common, mapping_kwargs=mapping_kwargs, synthesis_kwargs=EasyDict(kw))
        else:
            super().__init__(**common, mapping_kwargs=mapping_kwargs, **kw)
        cfg = SG3Config(**common, mapping_layers=2, **{k: v for k, v in kw.items()})
        g = torch.Generator().manual_seed(seed)
        self.z_dim, self.c_dim, self.w_dim, self.img_resolution = z_dim, c_dim, w_dim, img_resolution
        self.synthesis = SG3SynthesisNetwork(w_dim, img_resolution, img_channels, g=g, cfg=cfg, **kw)
        self.num_ws = cfg.num_ws
        self.mapping = MappingNetwork(z_dim, c_dim, w_dim, self.num_ws, num_layers=2, w_avg_beta=0.998, g=g)


SG3Generator.__name__ = "Generator"


def write_sg3_snapshot(path: Path, module_src: str | None = None, **kwargs) -> Path:
    G = SG3Generator(**kwargs)
    G_train = SG3Generator(**dict(kwargs, seed=kwargs.get("seed", 0) + 100))
    dump(snapshot(G, G_train), path, module_src=module_src)
    return Path(path)


# ---------------------------------------------------------------------------------- snapshots
#: A tiny StyleGAN2: 16 px, channels {4: 32, 8: 16, 16: 8}, z 12 != w 16, 2 mapping layers.
TINY = dict(z_dim=12, c_dim=0, w_dim=16, img_resolution=16, img_channels=3)
TINY_MAPPING = dict(num_layers=2, lr_multiplier=0.01)
TINY_SYNTHESIS = dict(channel_base=128, channel_max=32, num_fp16_res=2, conv_clamp=256, architecture="skip")


def make_generator(
    layout: str = "ada",
    c_dim: int = 0,
    conv_clamp: float | None = 256,
    seed: int = 0,
    architecture: str = "skip",
    **overrides,
) -> Generator:
    kw = dict(TINY, c_dim=c_dim)
    synth = dict(TINY_SYNTHESIS, conv_clamp=conv_clamp, architecture=architecture)
    mapping = dict(TINY_MAPPING)
    for k, v in overrides.items():
        if k in synth or k in ("resample_filter",):
            synth[k] = v
        elif k in mapping or k in ("w_avg_beta",):
            mapping[k] = v
        else:
            kw[k] = v
    return Generator(**kw, mapping_kwargs=mapping, synthesis_kwargs=synth, layout=layout, seed=seed)


def snapshot(G: nn.Module, G_train: nn.Module | None = None, *, with_g_ema: bool = True, seed: int = 1) -> dict:
    """The dict NVIDIA's training loop pickles: G_ema is ``G``, 'G' is ``G_train`` (default: G)."""
    g = torch.Generator().manual_seed(seed)
    c_dim = getattr(G, "c_dim", 0)
    res = getattr(G, "img_resolution", 16)
    data = {
        "G": G if G_train is None else G_train,
        "D": Discriminator(c_dim, res, 3, g=g),
        "augment_pipe": AugmentPipe(),
        "training_set_kwargs": EasyDict(
            class_name="training.dataset.ImageFolderDataset",
            path="/data/tiny.zip",
            use_labels=bool(c_dim),
            max_size=100,
            xflip=False,
            resolution=res,
        ),
    }
    if with_g_ema:
        data["G_ema"] = G
    return data


def write_snapshot(path: Path, G: nn.Module | None = None, module_src: str | None = None, **kwargs) -> Path:
    """A snapshot whose G_ema is ``G`` (default ``make_generator(**kwargs)``) and whose 'G' differs."""
    if G is None:
        G = make_generator(**kwargs)
        G_train = make_generator(**dict(kwargs, seed=kwargs.get("seed", 0) + 100))
    else:
        G_train = None
    dump(snapshot(G, G_train), path, module_src=module_src)
    return Path(path)


def write_tf_pickle(path: Path) -> Path:
    var = [("G_synthesis/4x4/Const/const", np.zeros((1, 8, 4, 4), np.float32))]
    syn = Network("G_synthesis", var)
    G = Network("G", [], components={"synthesis": syn})
    D = Network("D", [("D/Output/weight", np.zeros((4, 1), np.float32))])
    Gs = Network("Gs", [], components={"synthesis": syn})
    dump((G, D, Gs), path)
    return Path(path)


def raw_reduce_pickle(module: str, name: str, *args: str) -> bytes:
    """A protocol-0 stream calling ``module.name(*args)`` (string args), as an attacker writes it."""
    parts = [f"c{module}\n{name}\n(".encode()]
    for a in args:
        parts.append(b"V" + a.encode("raw_unicode_escape") + b"\n")
    parts.append(b"tR.")
    return b"".join(parts)


def state_dict(G: nn.Module) -> "OrderedDict[str, torch.Tensor]":
    """NVIDIA-named state dict of a fake generator (persistent buffers included)."""
    return OrderedDict((k, v.detach().clone()) for k, v in G.state_dict().items())
