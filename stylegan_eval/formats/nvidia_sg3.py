"""StyleGAN3 (T/R) generators from NVIDIA network pickles, onto :mod:`stylegan_eval.networks.stylegan3`.

The project's module uses NVIDIA's own parameter names, so the ``G_ema`` state dict (parameters
and persistent buffers, read as plain data by :mod:`.nvidia_pickle`) loads with strict key and
shape matching after the architecture is rebuilt from ``init_kwargs`` (both layouts: the
stylegan3 repo's flattened ``**synthesis_kwargs`` and a nested ``synthesis_kwargs``). Layer
attributes stored in the pickle (``padding``, ``up_factor``, ``conv_clamp``) are cross-checked
against the rebuilt layout. Non-square (StyleGAN-Human) and StyleGAN-XL generators are refused
with one line naming what is missing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError
from ..generator import Generator
from .nvidia_kwargs import generator_args, split_init_kwargs

#: init_kwargs of networks_stylegan3.SynthesisNetwork/SynthesisLayer (each the SG3Config field of
#: the same name) -> how its value is read: "int", "float", "bool" or "float|None".
SYNTHESIS_FIELDS = {
    "channel_base": "int",
    "channel_max": "int",
    "num_layers": "int",
    "num_critical": "int",
    "first_cutoff": "float",
    "first_stopband": "float",
    "last_stopband_rel": "float",
    "margin_size": "int",
    "output_scale": "float",
    "num_fp16_res": "int",
    "conv_kernel": "int",
    "filter_size": "int",
    "lrelu_upsampling": "int",
    "use_radial_filters": "bool",
    "conv_clamp": "float|None",
    "magnitude_ema_beta": "float",
}
#: mapping_kwargs the module understands (the rest belong to modified variants).
MAPPING_KWARGS = {"num_layers", "lr_multiplier", "w_avg_beta"}
XL_HINT = (
    "modified StyleGAN3 variants are not supported: StyleGAN-XL needs its superresolution stages and "
    "pretrained class embedding, StyleGAN-Human its non-square layers"
)


def _num(value: Any, what: str, path: Any, integer: bool = False) -> Any:
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise CheckpointError(f"{path}: StyleGAN3 {what} is {value!r}, expected a number")
    if integer:
        if int(value) != value:
            raise CheckpointError(f"{path}: StyleGAN3 {what} is {value!r}, expected an integer")
        return int(value)
    return float(value)


def _read_dims(rec: Any, path: Any) -> dict[str, Any]:
    """z_dim, c_dim, w_dim, img_resolution and img_channels (square generators only)."""
    vals = generator_args(rec)
    missing = [n for n, v in vals.items() if v is None]
    if missing:
        raise CheckpointError(f"{path}: StyleGAN3 generator init_kwargs lack {', '.join(missing)}")
    res = vals["img_resolution"]
    if isinstance(res, (list, tuple, np.ndarray)):
        raise CheckpointError(
            f"{path}: non-square StyleGAN3 generator (img_resolution {list(res)}, e.g. "
            "StyleGAN-Human 1024x512) is not supported: the module builds square layers"
        )
    return {n: _num(v, n, path, integer=True) for n, v in vals.items()}


def _synthesis_value(key: str, value: Any, path: Any) -> Any:
    """One synthesis init_kwarg read as :data:`SYNTHESIS_FIELDS` says."""
    kind = SYNTHESIS_FIELDS[key]
    if kind == "bool":
        return bool(value)
    if kind == "float|None":
        return None if value is None else _num(value, key, path)
    return _num(value, key, path, integer=kind == "int")


def _read_synthesis(synth_kwargs: Mapping[str, Any], path: Any) -> dict[str, Any]:
    """The SG3Config fields the synthesis kwargs set; refuses non-square and unknown kwargs."""
    if synth_kwargs.get("square", True) is False:
        raise CheckpointError(
            f"{path}: non-square StyleGAN3 generator (square=False, StyleGAN-Human 1024x512) is not "
            "supported: the module builds square layers"
        )
    unknown = sorted(set(synth_kwargs) - set(SYNTHESIS_FIELDS))
    if unknown:
        raise CheckpointError(f"{path}: StyleGAN3 init_kwargs {', '.join(unknown[:4])} are not understood ({XL_HINT})")
    return {key: _synthesis_value(key, synth_kwargs[key], path) for key in SYNTHESIS_FIELDS if key in synth_kwargs}


def _read_mapping(rec: Any, sd: Mapping[str, torch.Tensor], mapping_kwargs: Mapping[str, Any], path: Any) -> dict:
    """mapping_layers (counted in the weights) and mapping_lr_multiplier (fc0's bias gain, else the kwarg)."""
    extra_mapping = sorted(set(mapping_kwargs) - MAPPING_KWARGS)
    if extra_mapping:
        raise CheckpointError(
            f"{path}: StyleGAN3 mapping_kwargs {', '.join(extra_mapping)} are not understood ({XL_HINT})"
        )
    n_fc = 0
    while f"mapping.fc{n_fc}.weight" in sd:
        n_fc += 1
    declared = mapping_kwargs.get("num_layers")
    if n_fc == 0 or (declared is not None and int(declared) != n_fc):
        raise CheckpointError(f"{path}: StyleGAN3 mapping has {n_fc} fc layers but num_layers={declared}")
    fields: dict[str, Any] = {"mapping_layers": n_fc}
    lr = mapping_kwargs.get("lr_multiplier")
    fc0 = rec.child("mapping.fc0")
    if fc0 is not None and fc0.attrs.get("bias_gain") is not None:
        lr = fc0.attrs["bias_gain"]
    if lr is not None:
        fields["mapping_lr_multiplier"] = _num(lr, "mapping lr_multiplier", path)
    return fields


def _check_square_input(rec: Any, path: Any) -> None:
    inp = rec.child("synthesis.input")
    size = inp.attrs.get("size") if inp is not None else None
    if size is not None and np.asarray(size).size == 2 and np.asarray(size)[0] != np.asarray(size)[1]:
        raise CheckpointError(
            f"{path}: non-square StyleGAN3 input {list(np.asarray(size))} (e.g. StyleGAN-Human) "
            "is not supported: the module builds square layers"
        )


def read_sg3_config(rec, sd: Mapping[str, torch.Tensor], path: Any):
    """SG3Config from a generator record (init_kwargs, attributes), cross-checked with the weights."""
    from ..networks.stylegan3 import SG3Config

    fields = _read_dims(rec, path)
    mapping_kwargs, synth_kwargs, _layout = split_init_kwargs(rec.init_kwargs)
    fields.update(_read_synthesis(synth_kwargs, path))
    fields.update(_read_mapping(rec, sd, mapping_kwargs, path))
    _check_square_input(rec, path)
    try:
        cfg = SG3Config(**fields)
        cfg.validate()
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    return cfg


def _check_input_attrs(synth: Any, inp_spec: Any, path: Any) -> None:
    """synthesis.input's stored sampling_rate and bandwidth must be the layout's."""
    inp = synth.children.get("input")
    for attr in ("sampling_rate", "bandwidth"):
        got = inp.attrs.get(attr) if inp is not None else None
        if isinstance(got, (int, float)) and not math.isclose(float(got), getattr(inp_spec, attr), rel_tol=1e-9):
            raise CheckpointError(
                f"{path}: synthesis.input {attr} {got} differs from the layout {getattr(inp_spec, attr)}"
            )


def _check_layer(layer: Any, spec: Any, conv_clamp: float | None, path: Any) -> None:
    """One synthesis layer's stored padding, up/down factors and conv_clamp against the layout."""
    pad = layer.attrs.get("padding")
    if pad is not None and [int(v) for v in np.asarray(pad).reshape(-1)] != list(spec.padding):
        raise CheckpointError(
            f"{path}: {spec.name} padding {list(np.asarray(pad))} differs from the layout {list(spec.padding)}"
        )
    for attr, expect in (("up_factor", spec.up_factor), ("down_factor", spec.down_factor)):
        got = layer.attrs.get(attr)
        if got is not None and int(got) != expect:
            raise CheckpointError(f"{path}: {spec.name} {attr} {got} differs from the layout {expect}")
    if "conv_clamp" not in layer.attrs:
        return
    clamp = layer.attrs["conv_clamp"]
    if clamp is None or conv_clamp is None:
        same = clamp is None and conv_clamp is None
    else:
        same = math.isclose(float(clamp), conv_clamp)
    if not same:
        raise CheckpointError(f"{path}: {spec.name} conv_clamp {clamp} differs from init_kwargs {conv_clamp}")


def _check_layer_attrs(rec, inp_spec, specs, cfg, path: Any) -> None:
    """Attributes stored in the pickle's synthesis layers must match the layout rebuilt from ``cfg``."""
    synth = rec.children.get("synthesis")
    if synth is None:
        raise CheckpointError(f"{path}: StyleGAN3 generator has no synthesis network")
    _check_input_attrs(synth, inp_spec, path)
    for spec in specs:
        layer = synth.children.get(spec.name)
        if layer is None:
            names = [n for n in synth.children if n != "input"]
            raise CheckpointError(
                f"{path}: StyleGAN3 layer {spec.name} missing (the pickle has {', '.join(names[:4])}"
                f"{' ...' if len(names) > 4 else ''}); init_kwargs and weights disagree"
            )
        _check_layer(layer, spec, cfg.conv_clamp, path)


def build_stylegan3(
    rec, sd: Mapping[str, torch.Tensor], path: Any, which: str = "G_ema", resolution: int | None = None
) -> Generator:
    """The project's StyleGAN3 generator with ``rec``'s weights loaded strictly."""
    from ..networks.stylegan3 import StyleGAN3, StyleGAN3Generator, layout
    from .checks import check_state_dict, first_line

    try:
        cfg = read_sg3_config(rec, sd, path)
    except (TypeError, ValueError, ArithmeticError) as exc:  # a hyper-parameter of the wrong type
        raise CheckpointError(f"{path}: {which} init_kwargs are not usable ({first_line(exc)})") from None
    if resolution is not None and int(resolution) != cfg.img_resolution:
        raise CheckpointError(f"{path}: --resolution {resolution} does not match the pickle's {cfg.img_resolution}")
    inp_spec, specs = layout(cfg)
    _check_layer_attrs(rec, inp_spec, specs, cfg, path)
    net = StyleGAN3(cfg)
    check_state_dict(net, sd, path, f"a {cfg.name} generator ({cfg.img_resolution} px)")
    net.load_state_dict({k: v.to(torch.float32) for k, v in sd.items()}, strict=True)
    extra = {
        "source_network": which,
        "precision": "float32 (layers NVIDIA runs in float16 are evaluated in float32, as with force_fp32=True)",
        "module_src_sha256": rec.module_src_sha256[:16],
    }
    return StyleGAN3Generator(net, extra=extra)
