"""rosinality/stylegan2-pytorch ``.pt`` checkpoints.

On-disk layouts accepted (read with ``torch.load(weights_only=True)``, Namespace allow-listed):

- ``{'g_ema': state_dict, 'latent_avg': [512]}`` (convert_weight.py; may also hold 'g'/'d'),
- train.py snapshots ``{'g', 'd', 'g_ema', 'g_optim', 'd_optim', 'args', 'ada_aug_p'}``,
- a bare generator state dict (keys ``style.1.weight``, ``convs.0.conv.weight``, ``to_rgb1.*``).

Keys may carry a ``module.`` prefix (DataParallel). The architecture (size, n_mlp, style_dim,
channel table / multiplier, img channels, optional class embedding) is inferred from the tensor
shapes, never from file names or ``args``.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

import torch

from ..errors import CheckpointError, UserError
from ..networks.stylegan2 import StyleGAN2, StyleGAN2Generator
from .checks import check_state_dict

NAME = "stylegan2-rosinality"
_SIGNATURE = ("style.1.weight", "convs.0.conv.weight", "to_rgb1.conv.weight")


def _strip(sd: Mapping[str, Any]) -> dict[str, Any]:
    return {(k[7:] if isinstance(k, str) and k.startswith("module.") else k): v for k, v in sd.items()}


def _is_sg2_state_dict(obj: Any) -> bool:
    if not isinstance(obj, Mapping):
        return False
    keys = {k[7:] if isinstance(k, str) and k.startswith("module.") else k for k in obj}
    # size 4 networks have no convs; accept them through input/conv1/to_rgb1.
    return (
        "style.1.weight" in keys
        and "to_rgb1.conv.weight" in keys
        and ("convs.0.conv.weight" in keys or "conv1.conv.weight" in keys)
    )


def _pick_state_dict(obj: Any) -> tuple[dict[str, Any], str] | None:
    """(state dict, layout) of the generator to evaluate, or None."""
    if not isinstance(obj, Mapping):
        return None
    for key in ("g_ema", "g"):
        if key in obj and _is_sg2_state_dict(obj[key]):
            layout = "training" if "args" in obj or "g_optim" in obj else key
            return _strip(obj[key]), layout
    if _is_sg2_state_dict(obj):
        return _strip(obj), "state_dict"
    return None


def detect(raw) -> bool:
    """True for torch files holding a rosinality StyleGAN2 generator (g_ema / g / bare state dict)."""
    return getattr(raw, "kind", None) == "torch" and _pick_state_dict(raw.obj) is not None


def _shape(sd: dict[str, Any], key: str, path, ndim: int) -> tuple[int, ...]:
    t = sd.get(key)
    if not isinstance(t, torch.Tensor):
        raise CheckpointError(f"{path}: rosinality StyleGAN2 state dict lacks tensor {key!r}")
    if t.ndim != ndim:
        raise CheckpointError(f"{path}: {key} has shape {list(t.shape)}, expected {ndim} dimensions")
    return tuple(t.shape)


def infer_config(sd: dict[str, Any], path="checkpoint") -> dict[str, Any]:
    """StyleGAN2 constructor kwargs from a (prefix-stripped) rosinality state dict."""
    mlp_idx = sorted(int(m.group(1)) for k in sd if (m := re.fullmatch(r"style\.(\d+)\.weight", str(k))))
    if not mlp_idx or mlp_idx != list(range(1, len(mlp_idx) + 1)):
        raise CheckpointError(f"{path}: mapping layers style.N.weight must be numbered 1..n_mlp, found {mlp_idx}")
    n_mlp = len(mlp_idx)
    style_dim, first_in = _shape(sd, "style.1.weight", path, 2)
    c_dim = 0
    z_dim = first_in
    if "embed.weight" in sd:
        c_dim = _shape(sd, "embed.weight", path, 2)[1]
        z_dim = first_in - style_dim
    n_rgbs = sum(1 for k in sd if re.fullmatch(r"to_rgbs\.\d+\.conv\.weight", str(k)))
    size = 2 ** (n_rgbs + 2)
    c4 = _shape(sd, "input.input", path, 4)[1]
    channels = {4: c4}
    for j in range(n_rgbs):
        channels[2 ** (j + 3)] = _shape(sd, f"convs.{2 * j}.conv.weight", path, 5)[1]
    img_channels = _shape(sd, "to_rgb1.conv.weight", path, 5)[1]
    n_noise = sum(1 for k in sd if re.fullmatch(r"noises\.noise_\d+", str(k)))
    if n_noise != 2 * n_rgbs + 1:
        raise CheckpointError(
            f"{path}: {n_rgbs} to_rgbs imply {2 * n_rgbs + 1} noises.noise_* buffers, found {n_noise}"
        )
    kernel = sd.get("convs.0.conv.blur.kernel") if n_rgbs else None
    if isinstance(kernel, torch.Tensor) and tuple(kernel.shape) != (4, 4):
        raise CheckpointError(f"{path}: blur kernel has shape {list(kernel.shape)}, expected [4, 4]")
    return dict(
        size=size,
        style_dim=style_dim,
        n_mlp=n_mlp,
        z_dim=z_dim,
        c_dim=c_dim,
        channels=channels,
        img_channels=img_channels,
    )


def build(sd: dict[str, Any], path="checkpoint", channel_multiplier: int | None = None) -> StyleGAN2:
    """A :class:`StyleGAN2` with the state dict loaded strictly (CheckpointError on mismatch)."""
    cfg = infer_config(sd, path)
    channels = cfg.pop("channels")
    size = cfg.pop("size")
    style_dim = cfg.pop("style_dim")
    n_mlp = cfg.pop("n_mlp")
    try:
        net = StyleGAN2(size, style_dim, n_mlp, channels=channels, **cfg)
    except ValueError as exc:
        raise CheckpointError(f"{path}: unsupported StyleGAN2 configuration ({exc})") from None
    if channel_multiplier is not None and net.channel_multiplier != channel_multiplier:
        raise UserError(
            f"{path}: channel_multiplier={channel_multiplier} was requested but the weights have channels "
            f"{channels} (multiplier {net.channel_multiplier})"
        )
    check_state_dict(net, sd, path, "a rosinality StyleGAN2 generator")
    try:
        net.load_state_dict(sd, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(
            f"{path}: could not load the rosinality StyleGAN2 weights ({str(exc).splitlines()[0]})"
        ) from None
    return net


def load(
    raw, resolution: int | None = None, channel_multiplier: int | None = None, **options: Any
) -> StyleGAN2Generator:
    """Build the generator of a rosinality StyleGAN2 checkpoint.

    Options: ``resolution`` (checked against the weights), ``channel_multiplier`` (checked).
    """
    if options:
        raise UserError(f"{NAME}: unknown option(s) {', '.join(sorted(options))}")
    path = raw.path
    picked = _pick_state_dict(raw.obj)
    if picked is None:
        raise CheckpointError(f"{path}: expected a rosinality StyleGAN2 checkpoint (a dict with 'g_ema')")
    sd, layout = picked
    sd = {k: (v.float() if isinstance(v, torch.Tensor) and v.is_floating_point() else v) for k, v in sd.items()}
    net = build(sd, path, channel_multiplier)
    if resolution is not None and int(resolution) != net.size:
        raise UserError(f"{path}: --resolution {resolution} given but the weights are for {net.size} px")
    w_avg = None
    if isinstance(raw.obj, Mapping) and raw.obj.get("latent_avg") is not None:
        la = raw.obj["latent_avg"]
        if not isinstance(la, torch.Tensor) or la.numel() != net.style_dim:
            shape = list(la.shape) if isinstance(la, torch.Tensor) else type(la).__name__
            raise CheckpointError(f"{path}: latent_avg is {shape}, expected a tensor of {net.style_dim} elements")
        w_avg = la.detach().float().reshape(-1)
    extra = {"checkpoint_layout": layout}
    args = raw.obj.get("args") if isinstance(raw.obj, Mapping) else None
    if args is not None and hasattr(args, "__dict__"):
        extra["train_args"] = {
            k: v for k, v in vars(args).items() if isinstance(v, (int, float, str, bool)) or v is None
        }
    return StyleGAN2Generator(net, NAME, w_avg=w_avg, extra=extra)


def from_config(config: dict[str, Any], state_dict: dict[str, Any]) -> StyleGAN2Generator:
    """Rebuild the generator from ``Generator.config()`` and its ``state_dict()`` (CheckpointError on mismatch)."""
    from ..networks import stylegan2

    try:
        return stylegan2.from_config(config, state_dict)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{NAME}: config/state dict do not fit ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        ) from None
