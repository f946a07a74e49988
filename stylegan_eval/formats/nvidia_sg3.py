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
from .nvidia_kwargs import split_init_kwargs

#: init_kwargs of networks_stylegan3.SynthesisNetwork/SynthesisLayer -> SG3Config field.
SYNTHESIS_FIELDS = {
    "channel_base": "channel_base",
    "channel_max": "channel_max",
    "num_layers": "num_layers",
    "num_critical": "num_critical",
    "first_cutoff": "first_cutoff",
    "first_stopband": "first_stopband",
    "last_stopband_rel": "last_stopband_rel",
    "margin_size": "margin_size",
    "output_scale": "output_scale",
    "num_fp16_res": "num_fp16_res",
    "conv_kernel": "conv_kernel",
    "filter_size": "filter_size",
    "lrelu_upsampling": "lrelu_upsampling",
    "use_radial_filters": "use_radial_filters",
    "conv_clamp": "conv_clamp",
    "magnitude_ema_beta": "magnitude_ema_beta",
}
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


def read_sg3_config(rec, sd: Mapping[str, torch.Tensor], path: Any):
    """SG3Config from a generator record (init_kwargs, attributes), cross-checked with the weights."""
    from ..networks.stylegan3 import SG3Config

    kw, args = rec.init_kwargs, rec.init_args
    names = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
    vals = {n: (args[i] if i < len(args) else kw.get(n, rec.attrs.get(n))) for i, n in enumerate(names)}
    missing = [n for n, v in vals.items() if v is None]
    if missing:
        raise CheckpointError(f"{path}: StyleGAN3 generator init_kwargs lack {', '.join(missing)}")
    res = vals["img_resolution"]
    if isinstance(res, (list, tuple, np.ndarray)):
        raise CheckpointError(
            f"{path}: non-square StyleGAN3 generator (img_resolution {list(res)}, e.g. "
            "StyleGAN-Human 1024x512) is not supported: the module builds square layers"
        )
    fields = {n: _num(vals[n], n, path, integer=True) for n in names}
    mapping_kwargs, synth_kwargs, _layout = split_init_kwargs(kw)
    if synth_kwargs.get("square", True) is False:
        raise CheckpointError(
            f"{path}: non-square StyleGAN3 generator (square=False, StyleGAN-Human 1024x512) is not "
            "supported: the module builds square layers"
        )
    unknown = sorted(set(synth_kwargs) - set(SYNTHESIS_FIELDS))
    if unknown:
        raise CheckpointError(f"{path}: StyleGAN3 init_kwargs {', '.join(unknown[:4])} are not understood ({XL_HINT})")
    for key, field in SYNTHESIS_FIELDS.items():
        if key not in synth_kwargs:
            continue
        value = synth_kwargs[key]
        if field == "use_radial_filters":
            fields[field] = bool(value)
        elif field == "conv_clamp":
            fields[field] = None if value is None else _num(value, key, path)
        elif field in (
            "channel_base",
            "channel_max",
            "num_layers",
            "num_critical",
            "margin_size",
            "num_fp16_res",
            "conv_kernel",
            "filter_size",
            "lrelu_upsampling",
        ):
            fields[field] = _num(value, key, path, integer=True)
        else:
            fields[field] = _num(value, key, path)
    extra_mapping = sorted(set(mapping_kwargs) - {"num_layers", "lr_multiplier", "w_avg_beta"})
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
    fields["mapping_layers"] = n_fc
    lr = mapping_kwargs.get("lr_multiplier")
    fc0 = rec.child("mapping.fc0")
    if fc0 is not None and fc0.attrs.get("bias_gain") is not None:
        lr = fc0.attrs["bias_gain"]
    if lr is not None:
        fields["mapping_lr_multiplier"] = _num(lr, "mapping lr_multiplier", path)
    inp = rec.child("synthesis.input")
    size = inp.attrs.get("size") if inp is not None else None
    if size is not None and np.asarray(size).size == 2 and np.asarray(size)[0] != np.asarray(size)[1]:
        raise CheckpointError(
            f"{path}: non-square StyleGAN3 input {list(np.asarray(size))} (e.g. StyleGAN-Human) "
            "is not supported: the module builds square layers"
        )
    try:
        cfg = SG3Config(**fields)
        cfg.validate()
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    return cfg


def _check_layer_attrs(rec, inp_spec, specs, cfg, path: Any) -> None:
    synth = rec.children.get("synthesis")
    if synth is None:
        raise CheckpointError(f"{path}: StyleGAN3 generator has no synthesis network")
    inp = synth.children.get("input")
    for attr in ("sampling_rate", "bandwidth"):
        got = inp.attrs.get(attr) if inp is not None else None
        if isinstance(got, (int, float)) and not math.isclose(float(got), getattr(inp_spec, attr), rel_tol=1e-9):
            raise CheckpointError(
                f"{path}: synthesis.input {attr} {got} differs from the layout {getattr(inp_spec, attr)}"
            )
    for spec in specs:
        layer = synth.children.get(spec.name)
        if layer is None:
            names = [n for n in synth.children if n != "input"]
            raise CheckpointError(
                f"{path}: StyleGAN3 layer {spec.name} missing (the pickle has {', '.join(names[:4])}"
                f"{' ...' if len(names) > 4 else ''}); init_kwargs and weights disagree"
            )
        pad = layer.attrs.get("padding")
        if pad is not None and [int(v) for v in np.asarray(pad).reshape(-1)] != list(spec.padding):
            raise CheckpointError(
                f"{path}: {spec.name} padding {list(np.asarray(pad))} differs from the layout {list(spec.padding)}"
            )
        for attr, expect in (("up_factor", spec.up_factor), ("down_factor", spec.down_factor)):
            got = layer.attrs.get(attr)
            if got is not None and int(got) != expect:
                raise CheckpointError(f"{path}: {spec.name} {attr} {got} differs from the layout {expect}")
        if "conv_clamp" in layer.attrs:
            clamp = layer.attrs["conv_clamp"]
            if (clamp is None) != (cfg.conv_clamp is None) or (
                clamp is not None and not math.isclose(float(clamp), cfg.conv_clamp)
            ):
                raise CheckpointError(
                    f"{path}: {spec.name} conv_clamp {clamp} differs from init_kwargs {cfg.conv_clamp}"
                )


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
