"""lucidrains ``stylegan2-pytorch`` checkpoints: ``models/<name>/model_<num>.pt``.

On disk (``Trainer.save``): ``{'GAN': StyleGAN2.state_dict(), 'version': str}`` (+ ``'amp'`` with
fp16); the module holds ``S``/``G`` (trained), ``SE``/``GE`` (their moving averages, used for
samples), ``D``, ``D_aug``. The sibling ``models/<name>/.config.json`` holds image_size,
network_capacity, ``lr_mlp`` (not in the weights; the package's default 0.1 when absent),
transparent, attn_layers, no_const, ...

Every dimension is read from the tensor shapes; only ``lr_mlp`` comes from the config (or the
``lr_mlp`` option). The network is :mod:`stylegan_eval.networks.lucidrains`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..checks import loads_json
from ..errors import CheckpointError, UserError
from ..networks.lucidrains import LucidrainsGenerator, LucidrainsSynthesis, StyleVectorizer
from .checks import check_no_empty, check_state_dict

NAME = "stylegan2-lucidrains"
DEFAULT_LR_MLP = 0.1  #: the package's default when .config.json has no lr_mlp
CONFIG_NAME = ".config.json"
MAX_CONFIG_BYTES = 1 << 20


def _is_gan_dict(obj: Any) -> bool:
    return (
        isinstance(obj, Mapping)
        and "GAN" in obj
        and "version" in obj
        and isinstance(obj["GAN"], Mapping)
        and any(isinstance(k, str) and k.startswith(("GE.", "G.")) for k in obj["GAN"])
    )


def detect(raw) -> bool:
    """True for torch files of the form ``{'GAN': state_dict, 'version': ...}`` with a generator inside."""
    return getattr(raw, "kind", None) == "torch" and _is_gan_dict(raw.obj)


def read_config(checkpoint: Path) -> tuple[dict[str, Any] | None, Path]:
    """The sibling ``.config.json`` as a dict (None when absent); CheckpointError when unreadable."""
    path = Path(checkpoint).parent / CONFIG_NAME
    if not path.is_file():
        return None, path
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{path}: larger than {MAX_CONFIG_BYTES} bytes; expected lucidrains' small .config.json")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: not a readable JSON config ({str(exc).splitlines()[0]})") from None
    config = loads_json(text, str(path), error=CheckpointError)
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(config).__name__}")
    return config, path


def _sub(sd: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {k[len(prefix) :]: v for k, v in sd.items() if isinstance(k, str) and k.startswith(prefix)}


def _tensor(sd: dict[str, Any], key: str, path: Any, ndim: int) -> torch.Tensor:
    t = sd.get(key)
    if not isinstance(t, torch.Tensor) or t.ndim != ndim:
        got = list(t.shape) if isinstance(t, torch.Tensor) else "missing"
        raise CheckpointError(f"{path}: lucidrains generator: {key} is {got}, expected a {ndim}-d tensor")
    return t


def build(
    s_sd: dict[str, Any], g_sd: dict[str, Any], lr_mlp: float, path: Any = "checkpoint"
) -> tuple[StyleVectorizer, LucidrainsSynthesis]:
    """Mapping and synthesis networks with the (prefix-stripped) state dicts loaded strictly."""
    check_no_empty(s_sd, path)
    check_no_empty(g_sd, path)
    depth_idx = sorted(int(m.group(1)) for k in s_sd if (m := re.fullmatch(r"net\.(\d+)\.weight", k)))
    if not depth_idx or depth_idx != list(range(0, 2 * len(depth_idx), 2)):
        raise CheckpointError(f"{path}: mapping layers net.N.weight must be numbered 0, 2, 4, ..., found {depth_idx}")
    latent_dim = _tensor(s_sd, "net.0.weight", path, 2).shape[1]
    n_blocks = sum(1 for k in g_sd if re.fullmatch(r"blocks\.\d+\.conv1\.weight", k))
    if n_blocks < 1:
        raise CheckpointError(f"{path}: lucidrains generator has no blocks.N.conv1.weight")
    filters = [_tensor(g_sd, "blocks.0.conv1.weight", path, 4).shape[1]]
    filters += [_tensor(g_sd, f"blocks.{i}.conv1.weight", path, 4).shape[0] for i in range(n_blocks)]
    out_channels = _tensor(g_sd, "blocks.0.to_rgb.conv.weight", path, 4).shape[0]
    no_const = "to_initial_block.weight" in g_sd
    attn_blocks = tuple(sorted({int(m.group(1)) for k in g_sd if (m := re.match(r"attns\.(\d+)\.", k))}))
    if attn_blocks and attn_blocks[-1] >= n_blocks:
        raise CheckpointError(f"{path}: attention layer attns.{attn_blocks[-1]} but only {n_blocks} blocks")
    S = StyleVectorizer(latent_dim, len(depth_idx), lr_mlp)
    G = LucidrainsSynthesis(filters, latent_dim, out_channels, no_const=no_const, attn_blocks=attn_blocks)
    for net, sd, what in ((S, s_sd, "mapping (SE)"), (G, g_sd, "synthesis (GE)")):
        check_state_dict(net, sd, path, f"a lucidrains stylegan2-pytorch {what}")
        net.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in sd.items()}, strict=True)
    return S, G


def load(
    raw, lr_mlp: float | None = None, ema: bool = True, resolution: int | None = None, **options: Any
) -> LucidrainsGenerator:
    """Build the (EMA) generator of a lucidrains checkpoint.

    Options: ``lr_mlp`` (overrides .config.json), ``ema`` (False: the trained S/G instead of
    SE/GE), ``resolution`` (checked against the weights).
    """
    if options:
        raise UserError(f"{NAME}: unknown option(s) {', '.join(sorted(options))}")
    path = raw.path
    if not _is_gan_dict(raw.obj):
        raise CheckpointError(
            f"{path}: expected a lucidrains stylegan2-pytorch checkpoint {{'GAN': ..., 'version': ...}}"
        )
    gan = raw.obj["GAN"]
    config, config_path = read_config(path)
    if lr_mlp is not None:
        lr_source = "option"
    elif config is not None and "lr_mlp" in config:
        lr_mlp, lr_source = config["lr_mlp"], str(config_path)
    else:
        lr_mlp, lr_source = (
            DEFAULT_LR_MLP,
            "package default (no lr_mlp in .config.json)" if config else "package default (no .config.json)",
        )
    if isinstance(lr_mlp, bool) or not isinstance(lr_mlp, (int, float)) or not 0 < float(lr_mlp) < float("inf"):
        raise CheckpointError(f"{config_path}: lr_mlp must be a positive number, got {lr_mlp!r}")
    s_prefix, g_prefix = ("SE.", "GE.") if ema else ("S.", "G.")
    s_sd, g_sd = _sub(gan, s_prefix), _sub(gan, g_prefix)
    if not s_sd or not g_sd:
        raise CheckpointError(f"{path}: the lucidrains checkpoint has no {s_prefix}* / {g_prefix}* weights")
    S, G = build(s_sd, g_sd, float(lr_mlp), path)
    if config is not None and "image_size" in config and config["image_size"] != G.image_size:
        raise CheckpointError(
            f"{config_path}: image_size {config['image_size']} but the weights are for {G.image_size} px"
        )
    if resolution is not None and int(resolution) != G.image_size:
        raise UserError(f"{path}: --resolution {resolution} given but the weights are for {G.image_size} px")
    extra = {"package_version": str(raw.obj.get("version")), "ema": bool(ema), "lr_mlp_source": lr_source}
    return LucidrainsGenerator(S, G, extra)
