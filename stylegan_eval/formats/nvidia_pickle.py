"""NVIDIA network pickles (``network-snapshot-*.pkl``) from stylegan2-ada-pytorch and the
stylegan3 repository, read WITHOUT NVIDIA's code and without executing anything.

How NVIDIA writes them (``torch_utils/persistence.py``, format version 6): every network module
pickles as ``torch_utils.persistence._reconstruct_persistent_obj(meta)`` with
``meta = {type: 'class', version: 6, module_src: <source of the defining module>,
class_name: <bare class name>, state: <the nn.Module __dict__>}``; loading normally ``exec``\\ s
``module_src``. Here :mod:`.safe_pickle` resolves that global to :func:`_reconstruct_record`,
which turns ``meta`` into a plain :class:`PersistentRecord` (parameters, persistent buffers,
children, init args and plain attributes) and never looks at the source beyond hashing it.

The StyleGAN2 generator (``G_ema``, else ``G``) is then mapped key by key onto the project's one
StyleGAN2 module (:mod:`stylegan_eval.networks.stylegan2`, rosinality's parameter layout):

====================================  ===============================================  =============
NVIDIA (``G_ema`` state)              project module (rosinality keys)                 transform
====================================  ===============================================  =============
mapping.fc{i}.weight / .bias          style.{i+1}.weight / .bias                       none [#lr]_
mapping.embed.weight / .bias          embed.weight / .bias                             none
mapping.w_avg                         adapter ``w_avg`` (truncation centre)            none
synthesis.b4.const [C,4,4]            input.input [1,C,4,4]                            unsqueeze(0)
synthesis.b{r}.conv{0,1}.weight       conv1 / convs.{k}.conv.weight                    unsqueeze(0) [#flip]_
  ... .affine.weight / .bias          ... .conv.modulation.weight / .bias              none [#aff]_
  ... .noise_strength []              ... .noise.weight [1]                            reshape(1)
  ... .bias                           ... .activate.bias                               none
  ... .noise_const [r,r]              noises.noise_{l} [1,1,r,r]                       reshape
synthesis.b{r}.torgb.weight           to_rgb1 / to_rgbs.{j}.conv.weight [1,C',C,1,1]   unsqueeze(0)
synthesis.b{r}.torgb.bias [C']        to_rgb1 / to_rgbs.{j}.bias [1,C',1,1]            reshape
*.resample_filter                     (checked equal to the module's blur kernels)     dropped
====================================  ===============================================  =============

.. [#lr] Both store ``randn / lr_mul`` and apply ``lr_mul / sqrt(fan_in)`` (bias ``* lr_mul``);
   the mapping's ``lr_multiplier`` is passed to the module as ``lr_mlp`` instead of rescaling.
.. [#flip] No spatial flip for the up-sampling conv0: NVIDIA's ``conv2d_resample(up=2,
   flip_weight=False)`` runs ``conv_transpose2d`` with the stored weight and then the FIR filter,
   which is what rosinality's transposed conv + blur does (the flip in rosinality's
   ``convert_weight.py`` is for TensorFlow pickles only). Verified numerically in
   ``tests/test_nvidia_pickle.py`` against an independent re-statement of NVIDIA's forward.
.. [#aff] The affine bias is stored with its init value 1 included, as rosinality's modulation.

StyleGAN3 generators (``synthesis.input.freqs``) go to :mod:`.nvidia_sg3` instead, whose module
uses NVIDIA's own key names.

Layers NVIDIA runs in float16 (``num_fp16_res`` highest resolutions) are evaluated in float32
here, like NVIDIA's ``force_fp32=True``. ``conv_clamp`` is applied as in NVIDIA's ``bias_act``.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from ..errors import CheckpointError, UnsafePickleError
from ..generator import Generator
from .checks import first_line
from .nvidia_kwargs import generator_args, split_init_kwargs
from .safe_pickle import FrozenType, GlobalKey, SafeCallable, safe_load

NAME = "nvidia-pkl"
FAMILY = "stylegan2-nvidia"
PERSISTENCE_VERSION = 6

SG3_REFUSAL = "StyleGAN3 generator does not match the alias-free network (T/R configs of NVlabs/stylegan3)"
DILL_REFUSAL = (
    "pickle written with dill (as some StyleGAN-XL snapshots are): dill pickles embed code and are "
    "refused; re-save the generator with plain pickle (or convert to safetensors with NVIDIA's code)"
)
TF_REFUSAL = (
    "TensorFlow StyleGAN pickle (dnnlib.tflib.network.Network) is not supported; convert it to a "
    "PyTorch pickle first (stylegan2-ada-pytorch legacy.py) or to rosinality format (convert_weight.py)"
)


# ---------------------------------------------------------------------------------- records
class EasyDict(dict, metaclass=FrozenType):
    """Stand-in for ``dnnlib.util.EasyDict``: a dict with attribute read access."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class TFNetworkStub(dict, metaclass=FrozenType):
    """Stand-in for ``dnnlib.tflib.network.Network``: keeps the pickled state as dict items."""

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, dict):
            self.update(state)


@dataclass(eq=False)
class PersistentRecord:
    """What one NVIDIA persistent module held, as plain data (no NVIDIA class, no code)."""

    class_name: str
    module_src_sha256: str
    init_args: tuple
    init_kwargs: dict
    params: "OrderedDict[str, torch.Tensor]"
    buffers: "OrderedDict[str, torch.Tensor]"
    children: "OrderedDict[str, PersistentRecord]"
    attrs: dict = field(default_factory=dict)

    def child(self, path: str) -> "PersistentRecord | None":
        node: PersistentRecord | None = self
        for part in path.split("."):
            if node is None:
                return None
            node = node.children.get(part)
        return node

    def state_dict(self, prefix: str = "") -> "OrderedDict[str, torch.Tensor]":
        """Parameters and persistent buffers of this record and its children, dotted names."""
        out: OrderedDict[str, torch.Tensor] = OrderedDict()
        for name, t in self.params.items():
            out[prefix + name] = t
        for name, t in self.buffers.items():
            out[prefix + name] = t
        for name, ch in self.children.items():
            out.update(ch.state_dict(f"{prefix}{name}."))
        return out

    def walk(self, prefix: str = ""):
        yield prefix.rstrip("."), self
        for name, ch in self.children.items():
            yield from ch.walk(f"{prefix}{name}.")


_SKIP_STATE_KEYS = {
    "training",
    "_parameters",
    "_buffers",
    "_non_persistent_buffers_set",
    "_modules",
    "_init_args",
    "_init_kwargs",
}


def _plain(value: Any) -> Any:
    """Keep attribute values that are plain data; numpy scalars become Python numbers."""
    if isinstance(value, (str, int, float, bool, type(None))):
        return value
    if hasattr(value, "item") and getattr(value, "shape", None) == ():
        try:
            return value.item()
        except Exception:
            return None
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _reconstruct_record(meta: Any) -> PersistentRecord:
    """Replacement for ``torch_utils.persistence._reconstruct_persistent_obj``: data only."""
    if not isinstance(meta, dict):
        raise CheckpointError(f"persistent object metadata is a {type(meta).__name__}, expected a dict")
    version = meta.get("version")
    if version != PERSISTENCE_VERSION:
        raise CheckpointError(
            f"unsupported NVIDIA persistence format version {version!r} (expected {PERSISTENCE_VERSION})"
        )
    if meta.get("type") != "class":
        raise CheckpointError(f"unsupported persistent object type {meta.get('type')!r} (expected 'class')")
    class_name = meta.get("class_name")
    state = meta.get("state")
    if not isinstance(class_name, str) or not isinstance(state, dict):
        raise CheckpointError("persistent object without class_name/state (not an NVIDIA network pickle)")
    src = meta.get("module_src")
    src_sha = hashlib.sha256(src.encode("utf-8", "replace")).hexdigest() if isinstance(src, str) else ""

    def tensors(name: str, allow_none: bool) -> OrderedDict:
        raw = state.get(name) or {}
        if not isinstance(raw, dict):
            raise CheckpointError(f"{class_name}.{name} is a {type(raw).__name__}, expected a dict")
        out = OrderedDict()
        for k, v in raw.items():
            if v is None and allow_none:
                continue
            if not isinstance(k, str) or not isinstance(v, torch.Tensor):
                raise CheckpointError(f"{class_name}.{name}[{k!r}] is a {type(v).__name__}, expected a tensor")
            out[k] = v.detach()
        return out

    params = tensors("_parameters", True)
    buffers = tensors("_buffers", True)
    non_persistent = state.get("_non_persistent_buffers_set") or set()
    for k in list(buffers):
        if k in non_persistent:
            del buffers[k]
    children: OrderedDict[str, PersistentRecord] = OrderedDict()
    for k, v in (state.get("_modules") or {}).items():
        if v is None:
            continue
        if not isinstance(v, PersistentRecord):
            raise CheckpointError(f"{class_name}.{k} is a {type(v).__name__}, expected a persistent module")
        children[str(k)] = v
    init_args = state.get("_init_args", ())
    init_kwargs = state.get("_init_kwargs", {})
    attrs = {k: _plain(v) for k, v in state.items() if k not in _SKIP_STATE_KEYS and not k.startswith("_")}
    return PersistentRecord(
        class_name=class_name,
        module_src_sha256=src_sha,
        init_args=tuple(init_args) if isinstance(init_args, (tuple, list)) else (),
        init_kwargs=dict(init_kwargs) if isinstance(init_kwargs, dict) else {},
        params=params,
        buffers=buffers,
        children=children,
        attrs=attrs,
    )


#: Globals of NVIDIA pickles beyond :data:`.safe_pickle.DEFAULT_GLOBALS`.
NVIDIA_GLOBALS: dict[GlobalKey, Any] = {
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): SafeCallable(
        _reconstruct_record, "torch_utils.persistence._reconstruct_persistent_obj"
    ),
    ("dnnlib.util", "EasyDict"): EasyDict,
    ("dnnlib", "EasyDict"): EasyDict,
    ("dnnlib.tflib.network", "Network"): TFNetworkStub,
}


def read_network_pickle(path: str | Path) -> Any:
    """Unpickle an NVIDIA network pickle into plain data (dicts, :class:`PersistentRecord`)."""
    # Old pickles may have been written by Python 2 tooling; 'latin1' keeps numpy bytes intact.
    try:
        return safe_load(path, extra_globals=NVIDIA_GLOBALS, encoding="latin1")
    except UnsafePickleError as exc:
        if "global dill." in str(exc):
            raise UnsafePickleError(f"{path}: {DILL_REFUSAL}") from None
        raise


def _is_tf(obj: Any) -> bool:
    if isinstance(obj, TFNetworkStub):
        return True
    if isinstance(obj, (tuple, list)):
        return any(isinstance(o, TFNetworkStub) for o in obj)
    if isinstance(obj, dict):
        return any(isinstance(o, TFNetworkStub) for o in obj.values())
    return False


def select_generator(data: Any, path: str | Path) -> tuple[PersistentRecord, str]:
    """The generator record of a snapshot: 'G_ema', else 'G' (or a bare pickled generator)."""
    if _is_tf(data):
        raise CheckpointError(f"{path}: {TF_REFUSAL}")
    if isinstance(data, PersistentRecord):
        return data, "(pickled module)"
    if isinstance(data, dict):
        for key in ("G_ema", "G"):
            if isinstance(data.get(key), PersistentRecord):
                return data[key], key
        keys = ", ".join(sorted(map(str, data))[:8])
        raise CheckpointError(f"{path}: NVIDIA pickle without a generator (keys: {keys}); expected 'G_ema' or 'G'")
    raise CheckpointError(f"{path}: NVIDIA pickle holds a {type(data).__name__}, expected a dict with 'G_ema' or 'G'")


# ---------------------------------------------------------------------------------- config
def is_stylegan3(rec: PersistentRecord, sd: Mapping[str, torch.Tensor] | None = None) -> bool:
    sd = rec.state_dict() if sd is None else sd
    if "synthesis.input.freqs" in sd or any(re.match(r"synthesis\.L\d+_", k) for k in sd):
        return True
    synth = rec.children.get("synthesis")
    return (
        synth is not None
        and "input" in synth.children
        and synth.children["input"].class_name.endswith("SynthesisInput")
    )


@dataclass
class SG2Config:
    z_dim: int
    c_dim: int
    w_dim: int
    resolution: int
    img_channels: int
    channels: dict[int, int]
    n_mlp: int
    lr_mlp: float
    conv_clamp: float | None
    fp16_resolutions: list[int]
    blur_kernel: tuple[float, ...]
    layout: str  # 'stylegan2-ada-pytorch' (nested kwargs) or 'stylegan3-repo' (flattened)

    @property
    def num_ws(self) -> int:
        return 2 * int(math.log2(self.resolution)) - 2

    @property
    def block_resolutions(self) -> list[int]:
        return [2**i for i in range(2, int(math.log2(self.resolution)) + 1)]


def _int(value: Any, what: str, path: Any) -> int:
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise CheckpointError(f"{path}: generator {what} is {value!r}, expected an integer") from None
    if out != value:
        raise CheckpointError(f"{path}: generator {what} is {value!r}, expected an integer")
    return out


#: The synthesis layers of one block whose attributes are read (torgb has a linear activation).
_BLOCK_LAYERS = ("conv0", "conv1", "torgb")


def _read_dims(rec: PersistentRecord, path: Any) -> tuple[int, int, int, int, int]:
    """(z_dim, c_dim, w_dim, img_resolution, img_channels) from init args, kwargs or attributes."""
    vals = generator_args(rec)
    missing = [n for n, v in vals.items() if v is None]
    if missing:
        raise CheckpointError(
            f"{path}: generator init_kwargs lack {', '.join(missing)} (not a StyleGAN2 generator pickle)"
        )
    z_dim, c_dim, w_dim, res, img_channels = (_int(v, n, path) for n, v in vals.items())
    if res < 4 or res & (res - 1):
        raise CheckpointError(f"{path}: img_resolution {res} is not a power of two >= 4")
    if z_dim <= 0:
        raise CheckpointError(f"{path}: generators without a z input (z_dim={z_dim}) are not supported")
    return z_dim, c_dim, w_dim, res, img_channels


def _read_blocks(
    rec: PersistentRecord, block_res: list[int], path: Any
) -> tuple[PersistentRecord, dict[int, PersistentRecord]]:
    """The mapping network and the synthesis blocks by resolution (all of b4..b{res} required)."""
    synth = rec.children.get("synthesis")
    mapping = rec.children.get("mapping")
    if synth is None or mapping is None:
        raise CheckpointError(f"{path}: generator has no mapping/synthesis sub-networks (not a StyleGAN2 generator)")
    blocks = {}
    for r in block_res:
        b = synth.children.get(f"b{r}")
        if b is None:
            raise CheckpointError(f"{path}: synthesis block b{r} missing (expected blocks b4..b{block_res[-1]})")
        blocks[r] = b
    return mapping, blocks


def _check_architecture(
    blocks: dict[int, PersistentRecord], synth_kwargs: Mapping[str, Any], sd: Mapping[str, torch.Tensor], path: Any
) -> None:
    """Only 'skip' (StyleGAN2's generator default) maps onto the module."""
    archs = {str(b.attrs.get("architecture", synth_kwargs.get("architecture", "skip"))) for b in blocks.values()}
    if archs != {"skip"}:
        raise CheckpointError(
            f"{path}: generator architecture {'/'.join(sorted(archs))!r} is not supported (only 'skip', the StyleGAN2 default)"
        )
    if any(k.endswith(".skip.weight") for k in sd):
        raise CheckpointError(f"{path}: generator has resnet skip layers; only the 'skip' architecture is supported")


def _read_channels(
    sd: Mapping[str, torch.Tensor], synth_kwargs: Mapping[str, Any], block_res: list[int], path: Any
) -> dict[int, int]:
    """Channels per resolution from the weights (authoritative), cross-checked against channel_base/max."""
    channels = {r: int(sd[f"synthesis.b{r}.conv1.weight"].shape[0]) for r in block_res}
    base = synth_kwargs.get("channel_base")
    cmax = synth_kwargs.get("channel_max")
    if base is not None and cmax is not None:
        expect = {r: min(int(base) // r, int(cmax)) for r in block_res}
        if expect != channels:
            raise CheckpointError(
                f"{path}: channel widths {channels} disagree with channel_base={base}, channel_max={cmax}"
            )
    return channels


def _mapping_lr(mapping: PersistentRecord, mapping_kwargs: Mapping[str, Any], path: Any) -> float:
    """The mapping's lr_multiplier: fc0's bias gain (authoritative) or the kwarg, default 0.01."""
    lr_mlp = mapping_kwargs.get("lr_multiplier")
    fc0 = mapping.children.get("fc0")
    if fc0 is not None and fc0.attrs.get("bias_gain") is not None:
        lr_attr = float(fc0.attrs["bias_gain"])
        if lr_mlp is not None and not math.isclose(float(lr_mlp), lr_attr, rel_tol=1e-6):
            raise CheckpointError(f"{path}: mapping lr_multiplier {lr_mlp} disagrees with layer gain {lr_attr}")
        lr_mlp = lr_attr
    return 0.01 if lr_mlp is None else float(lr_mlp)


def _read_mapping(
    sd: Mapping[str, torch.Tensor],
    mapping: PersistentRecord,
    mapping_kwargs: Mapping[str, Any],
    dims: tuple[int, int, int],
    path: Any,
) -> tuple[int, float]:
    """(n_mlp, lr_mlp) of the mapping network; ``dims`` is (z_dim, c_dim, w_dim)."""
    z_dim, c_dim, w_dim = dims
    n_mlp = 0
    while f"mapping.fc{n_mlp}.weight" in sd:
        n_mlp += 1
    declared = mapping_kwargs.get("num_layers", mapping.attrs.get("num_layers"))
    if n_mlp == 0 or (declared is not None and int(declared) != n_mlp):
        raise CheckpointError(f"{path}: mapping network has {n_mlp} fc layers but num_layers={declared}")
    lr_mlp = _mapping_lr(mapping, mapping_kwargs, path)
    for i in range(n_mlp):
        fc = mapping.children.get(f"fc{i}")
        act = fc.attrs.get("activation", "lrelu") if fc is not None else "lrelu"
        if act != "lrelu":
            raise CheckpointError(f"{path}: mapping activation {act!r} is not supported (expected 'lrelu')")
        w = sd[f"mapping.fc{i}.weight"]
        in_f = z_dim + (w_dim if c_dim else 0) if i == 0 else w_dim
        if tuple(w.shape) != (w_dim, in_f):
            raise CheckpointError(
                f"{path}: mapping.fc{i}.weight has shape {list(w.shape)}, expected {[w_dim, in_f]} "
                "(layer_features/embed_features other than w_dim are not supported)"
            )
    if c_dim and "mapping.embed.weight" not in sd:
        raise CheckpointError(f"{path}: conditional generator (c_dim={c_dim}) without mapping.embed")
    return n_mlp, lr_mlp


def _read_conv_clamp(blocks: dict[int, PersistentRecord], synth_kwargs: Mapping[str, Any], path: Any) -> float | None:
    """The one conv_clamp of every synthesis layer; layer attributes are authoritative (defaults
    differ between the repos). Also refuses a synthesis activation other than lrelu."""
    clamps = set()
    for b in blocks.values():
        for name in _BLOCK_LAYERS:
            layer = b.children.get(name)
            if layer is None:
                continue
            clamps.add(layer.attrs.get("conv_clamp", synth_kwargs.get("conv_clamp")))
            act = layer.attrs.get("activation", "lrelu")
            if name != "torgb" and act != "lrelu":
                raise CheckpointError(f"{path}: synthesis activation {act!r} is not supported (expected 'lrelu')")
    if len(clamps) > 1:
        raise CheckpointError(f"{path}: layers use different conv_clamp values {sorted(map(str, clamps))}")
    conv_clamp = clamps.pop() if clamps else None
    return None if conv_clamp is None else float(conv_clamp)


def _fp16_resolutions(blocks: dict[int, PersistentRecord], synth_kwargs: Mapping[str, Any], res: int) -> list[int]:
    """Block resolutions NVIDIA runs in float16: the blocks' use_fp16, else the num_fp16_res highest."""
    fp16 = [r for r, b in blocks.items() if b.attrs.get("use_fp16")]
    if not fp16 and synth_kwargs.get("num_fp16_res"):
        n16 = int(synth_kwargs["num_fp16_res"])
        fp16_res = max(2 ** (int(math.log2(res)) + 1 - n16), 8)
        fp16 = [r for r in blocks if r >= fp16_res]
    return sorted(fp16)


def _blur_kernel(synth_kwargs: Mapping[str, Any], path: Any) -> tuple[float, ...]:
    kernel = synth_kwargs.get("resample_filter", [1, 3, 3, 1])
    try:
        return tuple(float(v) for v in kernel)
    except TypeError:
        raise CheckpointError(f"{path}: resample_filter {kernel!r} is not a 1-D list of taps") from None


def read_config(rec: PersistentRecord, sd: Mapping[str, torch.Tensor], path: Any = "<pickle>") -> SG2Config:
    """StyleGAN2 hyper-parameters from init_kwargs and attributes, cross-checked with shapes.

    Raises CheckpointError (one line naming ``path``) for a generator the module cannot run.
    """
    z_dim, c_dim, w_dim, res, img_channels = _read_dims(rec, path)
    mapping_kwargs, synth_kwargs, layout = split_init_kwargs(rec.init_kwargs)
    block_res = [2**i for i in range(2, int(math.log2(res)) + 1)]
    mapping, blocks = _read_blocks(rec, block_res, path)
    _check_architecture(blocks, synth_kwargs, sd, path)
    channels = _read_channels(sd, synth_kwargs, block_res, path)
    n_mlp, lr_mlp = _read_mapping(sd, mapping, mapping_kwargs, (z_dim, c_dim, w_dim), path)
    conv_clamp = _read_conv_clamp(blocks, synth_kwargs, path)
    return SG2Config(
        z_dim=z_dim,
        c_dim=c_dim,
        w_dim=w_dim,
        resolution=res,
        img_channels=img_channels,
        channels=channels,
        n_mlp=n_mlp,
        lr_mlp=lr_mlp,
        conv_clamp=conv_clamp,
        fp16_resolutions=_fp16_resolutions(blocks, synth_kwargs, res),
        blur_kernel=_blur_kernel(synth_kwargs, path),
        layout=layout,
    )


# ---------------------------------------------------------------------------------- key mapping
def _nv_layer_names(cfg: SG2Config) -> list[tuple[str, str, int]]:
    """(NVIDIA prefix, module prefix, resolution) of every modulated conv, in noise order."""
    out = [("synthesis.b4.conv1", "conv1", 4)]
    for j, r in enumerate(cfg.block_resolutions[1:]):
        out.append((f"synthesis.b{r}.conv0", f"convs.{2 * j}", r))
        out.append((f"synthesis.b{r}.conv1", f"convs.{2 * j + 1}", r))
    return out


def convert_state_dict(
    sd: Mapping[str, torch.Tensor], cfg: SG2Config, path: Any = "<pickle>"
) -> tuple["OrderedDict[str, torch.Tensor]", torch.Tensor | None, list[str]]:
    """NVIDIA ``G`` state dict -> (module state dict without the FIR kernel buffers, w_avg, consumed keys).

    Raises CheckpointError for a missing key or a shape that does not fit.
    """
    out: OrderedDict[str, torch.Tensor] = OrderedDict()
    used: list[str] = []

    def take(key: str, shape: tuple | None = None) -> torch.Tensor:
        if key not in sd:
            raise CheckpointError(f"{path}: generator parameter {key} missing")
        t = sd[key]
        if shape is not None and tuple(t.shape) != tuple(shape):
            raise CheckpointError(f"{path}: {key} has shape {list(t.shape)}, expected {list(shape)}")
        used.append(key)
        return t.detach().to(torch.float32).clone()

    W = cfg.w_dim
    for i in range(cfg.n_mlp):
        out[f"style.{i + 1}.weight"] = take(f"mapping.fc{i}.weight")
        out[f"style.{i + 1}.bias"] = take(f"mapping.fc{i}.bias", (W,))
    if cfg.c_dim:
        out["embed.weight"] = take("mapping.embed.weight", (W, cfg.c_dim))
        out["embed.bias"] = take("mapping.embed.bias", (W,))
    w_avg = take("mapping.w_avg", (W,)) if "mapping.w_avg" in sd else None

    ch = cfg.channels
    out["input.input"] = take("synthesis.b4.const", (ch[4], 4, 4)).unsqueeze(0)
    for l, (nv, mine, r) in enumerate(_nv_layer_names(cfg)):
        c_out = ch[r]
        c_in = ch[r // 2] if nv.endswith("conv0") else ch[r]
        out[f"{mine}.conv.weight"] = take(f"{nv}.weight", (c_out, c_in, 3, 3)).unsqueeze(0)
        out[f"{mine}.conv.modulation.weight"] = take(f"{nv}.affine.weight", (c_in, W))
        out[f"{mine}.conv.modulation.bias"] = take(f"{nv}.affine.bias", (c_in,))
        out[f"{mine}.activate.bias"] = take(f"{nv}.bias", (c_out,))
        if f"{nv}.noise_strength" in sd:
            strength = take(f"{nv}.noise_strength")
            if strength.numel() != 1:
                raise CheckpointError(
                    f"{path}: {nv}.noise_strength has shape {list(strength.shape)}, expected a scalar"
                )
            out[f"{mine}.noise.weight"] = strength.reshape(1)
            out[f"noises.noise_{l}"] = take(f"{nv}.noise_const", (r, r)).reshape(1, 1, r, r)
        else:  # use_noise=False: a zero noise strength reproduces it exactly
            out[f"{mine}.noise.weight"] = torch.zeros(1)
            out[f"noises.noise_{l}"] = torch.zeros(1, 1, r, r)
    C = cfg.img_channels
    for j, r in enumerate(cfg.block_resolutions):
        nv = f"synthesis.b{r}.torgb"
        mine = "to_rgb1" if r == 4 else f"to_rgbs.{j - 1}"
        out[f"{mine}.conv.weight"] = take(f"{nv}.weight", (C, ch[r], 1, 1)).unsqueeze(0)
        out[f"{mine}.conv.modulation.weight"] = take(f"{nv}.affine.weight", (ch[r], W))
        out[f"{mine}.conv.modulation.bias"] = take(f"{nv}.affine.bias", (ch[r],))
        out[f"{mine}.bias"] = take(f"{nv}.bias", (C,)).reshape(1, C, 1, 1)
    return out, w_avg, used


def _check_filters(sd: Mapping[str, torch.Tensor], cfg: SG2Config, path: Any) -> list[str]:
    """NVIDIA's resample_filter buffers must be the normalised outer product of the blur taps."""
    k = torch.tensor(cfg.blur_kernel, dtype=torch.float32)
    expect = torch.outer(k, k) / torch.outer(k, k).sum()
    used = []
    for key, t in sd.items():
        if key.endswith("resample_filter"):
            if tuple(t.shape) != tuple(expect.shape) or not torch.allclose(t.float(), expect, atol=1e-6):
                raise CheckpointError(f"{path}: {key} is not the normalised FIR filter {list(cfg.blur_kernel)}")
            used.append(key)
    return used


# ---------------------------------------------------------------------------------- format API
def detect(raw: Any) -> bool:
    return getattr(raw, "kind", None) == "pickle"


def load(raw: Any, **options: Any) -> Generator:
    """Build the project's StyleGAN2 generator from an NVIDIA pickle (read by :func:`read_checkpoint`).

    Options: ``resolution`` (checked against the file when given); ``network`` ('G_ema' or 'G').
    """
    path = raw.path
    data = read_network_pickle(path)
    network = options.get("network")
    if network is not None:
        if not isinstance(data, dict) or not isinstance(data.get(network), PersistentRecord):
            raise CheckpointError(f"{path}: no network {network!r} in this pickle")
        rec, which = data[network], network
    else:
        rec, which = select_generator(data, path)
    return build_generator(rec, path, which=which, resolution=options.get("resolution"))


def build_generator(
    rec: PersistentRecord, path: Any = "<pickle>", which: str = "G_ema", resolution: int | None = None
) -> Generator:
    from ..checks import unusable_number

    problem = unusable_number(rec.init_kwargs)
    if problem is not None:
        raise CheckpointError(f"{path}: {which} init_kwargs {problem} (expected finite numbers up to 2^31)")
    sd = rec.state_dict()
    if is_stylegan3(rec, sd):
        from .nvidia_sg3 import build_stylegan3

        return build_stylegan3(rec, sd, path, which=which, resolution=resolution)
    const = sd.get("synthesis.b4.const")
    if const is not None and const.ndim == 3 and const.shape[1] != const.shape[2]:
        raise CheckpointError(
            f"{path}: non-square generator (const {list(const.shape)}, e.g. StyleGAN-Human 1024x512) is not "
            "supported: the StyleGAN2 module builds square layers"
        )
    if "synthesis.b4.const" not in sd:
        raise CheckpointError(
            f"{path}: {which} ({rec.class_name}) is not a StyleGAN2 generator (no synthesis.b4.const)"
        )
    try:
        cfg = read_config(rec, sd, path)
    except (TypeError, ValueError, ArithmeticError) as exc:  # a hyper-parameter of the wrong type
        raise CheckpointError(f"{path}: {which} init_kwargs are not usable ({first_line(exc)})") from None
    if resolution is not None and int(resolution) != cfg.resolution:
        raise CheckpointError(f"{path}: --resolution {resolution} does not match the pickle's {cfg.resolution}")
    converted, w_avg, used = convert_state_dict(sd, cfg, path)
    used += _check_filters(sd, cfg, path)
    leftover = sorted(set(sd) - set(used))
    if leftover:
        raise CheckpointError(
            f"{path}: unexpected generator parameters {', '.join(leftover[:4])}"
            f"{' ...' if len(leftover) > 4 else ''} (not a standard StyleGAN2 generator)"
        )
    return _instantiate(cfg, converted, w_avg, path, which, rec)


def _instantiate(cfg: SG2Config, converted, w_avg, path, which, rec) -> Generator:
    try:
        from ..networks.stylegan2 import StyleGAN2, StyleGAN2Generator
    except ImportError as exc:  # pragma: no cover - only while the module is missing
        raise CheckpointError(f"{path}: StyleGAN2 network module unavailable ({exc})") from None
    net = StyleGAN2(
        cfg.resolution,
        style_dim=cfg.w_dim,
        n_mlp=cfg.n_mlp,
        blur_kernel=cfg.blur_kernel,
        lr_mlp=cfg.lr_mlp,
        z_dim=cfg.z_dim,
        c_dim=cfg.c_dim,
        channels=dict(cfg.channels),
        img_channels=cfg.img_channels,
        conv_clamp=cfg.conv_clamp,
    )
    own = net.state_dict()
    full = OrderedDict()
    for key, t in own.items():
        if key in converted:
            full[key] = converted[key]
        elif key.endswith(".kernel"):  # FIR kernel buffers: the module's own (checked above)
            full[key] = t
        else:
            raise CheckpointError(f"{path}: converted state lacks {key} (internal key mapping error)")
    extra = sorted(set(converted) - set(own))
    if extra:
        raise CheckpointError(f"{path}: converted state has keys the module lacks: {', '.join(extra[:4])}")
    for key, t in full.items():
        if tuple(t.shape) != tuple(own[key].shape):
            raise CheckpointError(f"{path}: {key} has shape {list(t.shape)}, module expects {list(own[key].shape)}")
    net.load_state_dict(full, strict=True)
    info = {
        "source_network": which,
        "init_kwargs_layout": cfg.layout,
        "mapping_lr_multiplier": cfg.lr_mlp,
        "fp16_resolutions": cfg.fp16_resolutions,
        "precision": (
            "float32 (layers NVIDIA runs in float16 are evaluated in float32, as with force_fp32=True)"
            if cfg.fp16_resolutions
            else "float32"
        ),
        "module_src_sha256": rec.module_src_sha256[:16],
    }
    return StyleGAN2Generator(net, FAMILY, w_avg=w_avg, extra=info)
