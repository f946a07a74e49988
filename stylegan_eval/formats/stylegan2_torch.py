"""``stylegan2-torch`` (PyPI, Peter Yuen) generator state dicts, mapped onto :class:`StyleGAN2`.

The package's ``Generator`` is rosinality's StyleGAN2 with other parameter names and a
1-channel ToRGB (``to_rgbs.*.weight`` [1, 1, C, 1, 1]); the function is the same, so a file is a
key mapping into the one network (:mod:`stylegan_eval.networks.stylegan2`):

===============================  =======================================
stylegan2-torch                  StyleGAN2 (rosinality names)
===============================  =======================================
``mapping.{i}.weight/bias``      ``style.{i}.weight/bias`` (i = 1..n_mlp)
``input.input``                  ``input.input``
``convs.0.*``                    ``conv1.*``
``convs.{i}.*`` (i >= 1)         ``convs.{2i-1}.*``
``up_convs.{i}.*``               ``convs.{2i}.*``
``to_rgbs.0.*``                  ``to_rgb1.*``
``to_rgbs.{i}.*`` (i >= 1)       ``to_rgbs.{i-1}.*``
``*.affine.*``                   ``*.conv.modulation.*``
``*.weight`` (conv / ToRGB)      ``*.conv.weight``
``*.add_noise.weight``           ``*.noise.weight``
``*.leaky_relu.bias``            ``*.activate.bias``
``up_convs.{i}.blur.kernel``     ``convs.{2i}.conv.blur.kernel``
===============================  =======================================

Noise and w indices are those of rosinality (conv1 <- noise 0, up-conv i <- 2i-1, conv i <- 2i).
The package stores no noise buffers and no truncation centre: 'const' noise is the sampling
engine's fixed map and w_avg is estimated. ``lr_mlp`` (the mapping's learning-rate multiplier,
``lr_mlp_mult``, 0.01 by default) is not in the state dict and is an option.

On-disk layouts: ``torch.save(generator.state_dict())``, or a dict holding it under one of
:data:`CONTAINER_KEYS`; a ``module.`` prefix (DataParallel) is stripped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import torch

from .. import sampling
from ..errors import CheckpointError, UserError
from ..networks.stylegan2 import StyleGAN2, StyleGAN2Generator
from .checks import check_state_dict

NAME = "stylegan2-torch"
CONTAINER_KEYS = ("g_ema", "generator", "g", "G", "state_dict", "model")
DEFAULT_LR_MLP = 0.01
_SIGNATURE = ("mapping.1.weight", "input.input", "convs.0.affine.weight", "to_rgbs.0.affine.weight")


def _strip(sd: Mapping[str, Any]) -> dict[str, Any]:
    return {(k[7:] if isinstance(k, str) and k.startswith("module.") else k): v for k, v in sd.items()}


def is_state_dict(obj: Any) -> bool:
    """Whether ``obj`` has the stylegan2-torch generator's key signature."""
    if not isinstance(obj, Mapping):
        return False
    keys = set(_strip(obj))
    return all(k in keys for k in _SIGNATURE)


def _pick(obj: Any) -> tuple[dict[str, Any], str] | None:
    if is_state_dict(obj):
        return _strip(obj), "state_dict"
    if isinstance(obj, Mapping):
        for key in CONTAINER_KEYS:
            if is_state_dict(obj.get(key)):
                return _strip(obj[key]), key
    return None


def detect(raw) -> bool:
    """True for torch files holding a stylegan2-torch generator state dict."""
    return getattr(raw, "kind", None) == "torch" and _pick(raw.obj) is not None


def _block(src: str, dst: str, rest: str) -> str | None:
    """Rename the inside of a conv block (affine/weight/add_noise/leaky_relu/blur)."""
    table = {
        "affine.weight": "conv.modulation.weight",
        "affine.bias": "conv.modulation.bias",
        "weight": "conv.weight",
        "add_noise.weight": "noise.weight",
        "leaky_relu.bias": "activate.bias",
        "blur.kernel": "conv.blur.kernel",
    }
    return f"{dst}.{table[rest]}" if rest in table else None


def _rgb(dst: str, rest: str) -> str | None:
    table = {
        "affine.weight": "conv.modulation.weight",
        "affine.bias": "conv.modulation.bias",
        "weight": "conv.weight",
        "bias": "bias",
        "upsample.kernel": "upsample.kernel",
    }
    return f"{dst}.{table[rest]}" if rest in table else None


def map_key(key: str) -> str | None:
    """The :class:`StyleGAN2` key of a stylegan2-torch key, or None when it has no counterpart."""
    if m := re.fullmatch(r"mapping\.(\d+)\.(weight|bias)", key):
        return f"style.{m.group(1)}.{m.group(2)}"
    if key == "input.input":
        return key
    if m := re.fullmatch(r"convs\.(\d+)\.(.+)", key):
        i = int(m.group(1))
        return _block(key, "conv1" if i == 0 else f"convs.{2 * i - 1}", m.group(2))
    if m := re.fullmatch(r"up_convs\.(\d+)\.(.+)", key):
        return _block(key, f"convs.{2 * int(m.group(1))}", m.group(2))
    if m := re.fullmatch(r"to_rgbs\.(\d+)\.(.+)", key):
        i = int(m.group(1))
        return _rgb("to_rgb1" if i == 0 else f"to_rgbs.{i - 1}", m.group(2))
    return None


def convert(sd: dict[str, Any], path: Any = "checkpoint") -> dict[str, Any]:
    """stylegan2-torch state dict -> :class:`StyleGAN2` state dict (without the noise buffers)."""
    out: dict[str, Any] = {}
    unknown = []
    for key, value in sd.items():
        new = map_key(str(key))
        if new is None:
            unknown.append(str(key))
            continue
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: stylegan2-torch entry {key!r} is not a tensor")
        out[new] = value.float() if value.is_floating_point() else value
    if unknown:
        more = f" (+{len(unknown) - 4} more)" if len(unknown) > 4 else ""
        raise CheckpointError(
            f"{path}: stylegan2-torch generator has keys without a StyleGAN2 counterpart: "
            f"{', '.join(unknown[:4])}{more}"
        )
    return out


def _shape(sd: dict[str, Any], key: str, path: Any, ndim: int) -> tuple[int, ...]:
    t = sd.get(key)
    if not isinstance(t, torch.Tensor) or t.ndim != ndim:
        got = list(t.shape) if isinstance(t, torch.Tensor) else "missing"
        raise CheckpointError(f"{path}: stylegan2-torch state dict: {key} is {got}, expected a {ndim}-d tensor")
    return tuple(t.shape)


def build(sd: dict[str, Any], path: Any = "checkpoint", lr_mlp: float = DEFAULT_LR_MLP) -> StyleGAN2:
    """A :class:`StyleGAN2` holding the (package-named) state dict ``sd``; CheckpointError on mismatch."""
    mlp = sorted(int(m.group(1)) for k in sd if (m := re.fullmatch(r"mapping\.(\d+)\.weight", str(k))))
    if not mlp or mlp != list(range(1, len(mlp) + 1)):
        raise CheckpointError(f"{path}: mapping layers mapping.N.weight must be numbered 1..n_mlp, found {mlp}")
    latent_dim, z_dim = _shape(sd, "mapping.1.weight", path, 2)
    n_up = sum(1 for k in sd if re.fullmatch(r"up_convs\.\d+\.weight", str(k)))
    size = 2 ** (n_up + 2)
    channels = {4: _shape(sd, "input.input", path, 4)[1]}
    for i in range(n_up):
        channels[2 ** (i + 3)] = _shape(sd, f"up_convs.{i}.weight", path, 5)[1]
    img_channels = _shape(sd, "to_rgbs.0.weight", path, 5)[1]
    try:
        net = StyleGAN2(
            size, latent_dim, len(mlp), lr_mlp=float(lr_mlp), z_dim=z_dim, channels=channels, img_channels=img_channels
        )
    except ValueError as exc:
        raise CheckpointError(f"{path}: unsupported stylegan2-torch configuration ({exc})") from None
    converted = convert(sd, path)
    zero = torch.zeros(1, dtype=torch.int64)
    for layer, (h, w) in enumerate(net.noise_shapes):  # no stored noise: the engine's fixed maps
        converted[f"noises.noise_{layer}"] = sampling.normal(
            sampling.CONST_NOISE_SEED, sampling.NOISE + layer, zero, (1, h, w)
        )
    check_state_dict(net, converted, path, "a stylegan2-torch generator (mapped to StyleGAN2)")
    net.load_state_dict(converted, strict=True)
    return net


def load(raw, lr_mlp: float = DEFAULT_LR_MLP, resolution: int | None = None, **options: Any) -> StyleGAN2Generator:
    """Build the generator of a stylegan2-torch state dict.

    Options: ``lr_mlp`` (the package's ``lr_mlp_mult``; not stored in the file, default 0.01),
    ``resolution`` (checked against the weights).
    """
    if options:
        raise UserError(f"{NAME}: unknown option(s) {', '.join(sorted(options))}")
    picked = _pick(raw.obj)
    if picked is None:
        raise CheckpointError(
            f"{raw.path}: expected a stylegan2-torch generator state dict (keys {', '.join(_SIGNATURE)})"
        )
    sd, layout = picked
    net = build(sd, raw.path, lr_mlp)
    if resolution is not None and int(resolution) != net.size:
        raise UserError(f"{raw.path}: --resolution {resolution} given but the weights are for {net.size} px")
    return StyleGAN2Generator(
        net,
        NAME,
        extra={"checkpoint_layout": layout, "lr_mlp": float(lr_mlp), "const_noise": "sampling engine (none stored)"},
    )
