"""NVIDIA's TensorFlow StyleGAN1 generator pickles (NVlabs/stylegan ``G_style``), loaded without TensorFlow.

File: a pickled ``(G, D, Gs)`` tuple of ``dnnlib.tflib.network.Network`` (state version 3 in the
official files; 2-4 accepted), read by :mod:`.tf_network` without running anything in it. ``Gs``
(the averaged generator) is rendered; a single pickled ``G_style`` network is accepted too.

Conversion (key mapping into :class:`~stylegan_eval.networks.stylegan1.StyledGenerator` with
``variant="tf"``; layouts only: dense [in, out] -> [out, in], conv HWIO -> OIHW, the fused
upsampling conv HWIO -> [in, out, kh, kw] as a transposed conv needs, per-channel noise
strengths -> [1, C, 1, 1]):

- ``G_mapping/Dense{i}`` -> ``style.{2i+1}.linear`` (lrmul ``mapping_lrmul``, gain sqrt 2),
- ``G_synthesis/4x4/Const/{const,bias,Noise,StyleMod}`` -> ``generator.progression.0.{conv1, noise1, adain1}``,
  ``4x4/Conv`` -> ``progression.0.{conv2, noise2, adain2}``,
- ``{R}x{R}/Conv0_up`` -> ``progression.i.{conv1.0 (fused) | conv1.1.conv (nearest+conv), noise1, adain1}``,
  ``{R}x{R}/Conv1`` -> ``progression.i.{conv2, noise2, adain2}``,
- ``ToRGB_lod{L-i}`` -> ``generator.to_rgb.i`` (every lod, as rosinality keeps them all),
- ``noise{k}`` -> stored noise for ``noise_mode='const'``; ``Gs/dlatent_avg`` -> ``w_avg``.

Every variable must be used and have the shape the ``static_kwargs`` imply. Truncation follows
``G_style``: ``truncation_cutoff`` (static_kwargs, default 8) layers of the 18 are truncated.
The official 512x384 cars model is generated as the original code does: a 512x512 image (the
training set was letterboxed into 512x512 canvases by ``dataset_tool.py create_lsun_wide``),
not cropped.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError, UserError
from ..networks.stylegan1 import StyledGenerator, StyleGAN1Generator, block_resolution
from ..networks.stylegan1 import from_config as _from_config
from . import tf_network as tfn
from .tf_network import TFNetworkState, kw_bool, kw_choice, kw_float, kw_int, kw_taps, variable

NAME = "stylegan1-tf"
BUILDER = "G_style"
MAX_RESOLUTION = 2048
DEFAULT_TRUNCATION_CUTOFF = 8
DEFAULT_TRUNCATION_PSI = 0.7


#: static_kwargs read (or known not to change the maths) per network; others are listed in ``info``.
KNOWN_KWARGS = {
    "": (
        "num_channels",
        "resolution",
        "label_size",
        "truncation_psi",
        "truncation_cutoff",
        "truncation_psi_val",
        "truncation_cutoff_val",
        "dlatent_avg_beta",
        "style_mixing_prob",
        "mapping_func",
        "synthesis_func",
    ),
    "mapping": (
        "num_channels",
        "resolution",
        "label_size",
        "latent_size",
        "dlatent_size",
        "dlatent_broadcast",
        "mapping_layers",
        "mapping_fmaps",
        "mapping_lrmul",
        "mapping_nonlinearity",
        "use_wscale",
        "normalize_latents",
        "dtype",
    ),
    "synthesis": (
        "num_channels",
        "resolution",
        "label_size",
        "dlatent_size",
        "fmap_base",
        "fmap_decay",
        "fmap_max",
        "use_styles",
        "const_input_layer",
        "use_noise",
        "randomize_noise",
        "nonlinearity",
        "use_wscale",
        "use_pixel_norm",
        "use_instance_norm",
        "dtype",
        "fused_scale",
        "blur_filter",
        "structure",
        "force_clean_graph",
    ),
}


def detect(raw: Any) -> bool:
    """True for TF pickles whose generator is built by ``G_style`` (StyleGAN1)."""
    return tfn.generator_builder(raw) == BUILDER


def nf(stage: int, fmap_base: int, fmap_decay: float, fmap_max: int) -> int:
    """Feature maps at a stage: ``min(int(fmap_base / 2**(stage * fmap_decay)), fmap_max)``."""
    return min(int(fmap_base / (2.0 ** (stage * fmap_decay))), fmap_max)


def read_config(gs: TFNetworkState, source: str) -> dict[str, Any]:
    """Validated architecture of a ``G_style`` network from its (and its components') static_kwargs."""
    if gs.build_func_name != BUILDER:
        raise CheckpointError(f"{source}: build function {gs.build_func_name!r} is not {BUILDER} (StyleGAN1)")
    mapping, synthesis = gs.components["mapping"], gs.components["synthesis"]
    if mapping.build_func_name != "G_mapping" or synthesis.build_func_name != "G_synthesis":
        raise CheckpointError(
            f"{source}: {BUILDER} components are built by {mapping.build_func_name!r} / "
            f"{synthesis.build_func_name!r}, expected G_mapping / G_synthesis"
        )
    mk, sk, gk = mapping.static_kwargs, synthesis.static_kwargs, gs.static_kwargs
    resolution = kw_int(sk, "resolution", 1024, source, 4, MAX_RESOLUTION)
    if resolution & (resolution - 1):
        raise CheckpointError(f"{source}: static_kwargs resolution={resolution} is not a power of two")
    cfg: dict[str, Any] = {
        "resolution": resolution,
        "num_channels": kw_int(sk, "num_channels", 3, source, 1, 16),
        "fmap_base": kw_int(sk, "fmap_base", 8192, source, 1, 1 << 20),
        "fmap_decay": kw_float(sk, "fmap_decay", 1.0, source, 0.0, 8.0),
        "fmap_max": kw_int(sk, "fmap_max", 512, source, 1, 4096),
        "dlatent_size": kw_int(sk, "dlatent_size", 512, source, 1, 4096),
        "fused_scale": kw_choice(sk, "fused_scale", "auto", source, ("auto", True, False)),
        "blur_filter": kw_taps(sk, "blur_filter", [1, 2, 1], source, max_len=9),
        "structure": kw_choice(sk, "structure", "auto", source, ("auto", "linear", "recursive", "fixed")),
        "latent_size": kw_int(mk, "latent_size", 512, source, 1, 4096),
        "mapping_layers": kw_int(mk, "mapping_layers", 8, source, 1, 64),
        "mapping_fmaps": kw_int(mk, "mapping_fmaps", 512, source, 1, 4096),
        "mapping_lrmul": kw_float(mk, "mapping_lrmul", 0.01, source, 1e-8, 1e3),
        "truncation_psi": kw_float(gk, "truncation_psi", DEFAULT_TRUNCATION_PSI, source, -10.0, 10.0, allow_none=True),
        "truncation_cutoff": kw_int(gk, "truncation_cutoff", DEFAULT_TRUNCATION_CUTOFF, source, 0, 64, allow_none=True),
    }
    for kw, key, expected in (
        (sk, "use_styles", True),
        (sk, "const_input_layer", True),
        (sk, "use_noise", True),
        (sk, "use_wscale", True),
        (sk, "use_pixel_norm", False),
        (sk, "use_instance_norm", True),
        (mk, "use_wscale", True),
        (mk, "normalize_latents", True),
    ):
        if kw_bool(kw, key, expected, source) != expected:
            raise CheckpointError(
                f"{source}: static_kwargs {key}={not expected} is not supported (official StyleGAN1 uses {expected})"
            )
    kw_choice(sk, "nonlinearity", "lrelu", source, ("lrelu",))
    kw_choice(mk, "mapping_nonlinearity", "lrelu", source, ("lrelu",))
    for kw in (sk, mk):
        kw_choice(kw, "dtype", "float32", source, ("float32",))
    if kw_int(mk, "label_size", 0, source, 0, 1 << 16) or kw_int(sk, "label_size", 0, source, 0, 1 << 16):
        raise CheckpointError(f"{source}: conditional StyleGAN1 (label_size > 0) is not supported")
    if mk.get("dlatent_size", cfg["dlatent_size"]) != cfg["dlatent_size"]:
        raise CheckpointError(
            f"{source}: mapping dlatent_size {mk['dlatent_size']} != synthesis dlatent_size {cfg['dlatent_size']}"
        )
    w = cfg["dlatent_size"]
    if not cfg["latent_size"] == cfg["mapping_fmaps"] == w:
        raise CheckpointError(
            f"{source}: latent_size {cfg['latent_size']}, mapping_fmaps {cfg['mapping_fmaps']} and "
            f"dlatent_size {w} differ (the port needs one width)"
        )
    if cfg["blur_filter"] is not None and len(cfg["blur_filter"]) % 2 == 0:
        raise CheckpointError(f"{source}: blur_filter {cfg['blur_filter']} has an even number of taps (odd only)")
    log2 = int(math.log2(resolution))
    cfg["channels"] = [nf(r - 1, cfg["fmap_base"], cfg["fmap_decay"], cfg["fmap_max"]) for r in range(2, log2 + 1)]
    if min(cfg["channels"]) < 1:
        raise CheckpointError(f"{source}: fmap_base {cfg['fmap_base']} leaves a block with no feature maps")
    fs = cfg["fused_scale"]
    cfg["fused"] = [i > 0 and (fs is True or (fs == "auto" and block_resolution(i) >= 128)) for i in range(log2 - 1)]
    tfn.check_budget(_num_parameters(cfg), gs, source, f"a {resolution} px StyleGAN1 generator")
    return cfg


def _num_parameters(cfg: dict[str, Any]) -> int:
    w, ch, n = cfg["dlatent_size"], cfg["channels"], cfg["num_channels"]
    total = cfg["mapping_layers"] * (w * w + w)
    for i, c in enumerate(ch):
        cin = ch[max(i - 1, 0)]
        first = 16 * c if i == 0 else 9 * cin * c
        total += first + 9 * c * c + 2 * (2 * c * w + 2 * c) + 4 * c + n * c + n
    return total


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def convert(gs: TFNetworkState, cfg: dict[str, Any], source: str) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
    """(StyledGenerator state dict without blur buffers, stored noise maps) from the TF variables.

    Every variable of the mapping and synthesis networks must be consumed exactly once.
    """
    mapping, synthesis = gs.components["mapping"], gs.components["synthesis"]
    used: dict[str, set[str]] = {"mapping": set(), "synthesis": set()}
    w = cfg["dlatent_size"]

    def var(net: str, name: str, shape) -> np.ndarray:
        used[net].add(name)
        return variable(mapping if net == "mapping" else synthesis, name, shape, source)

    sd: dict[str, torch.Tensor] = {}
    for i in range(cfg["mapping_layers"]):
        sd[f"style.{2 * i + 1}.linear.weight_orig"] = _t(var("mapping", f"Dense{i}/weight", (w, w)).T)
        sd[f"style.{2 * i + 1}.linear.bias"] = _t(var("mapping", f"Dense{i}/bias", (w,)))

    def epilogue(prefix: str, scope: str, c: int, half: int) -> None:
        sd[f"{prefix}.noise{half}.weight_orig"] = _t(
            var("synthesis", f"{scope}/Noise/weight", (c,)).reshape(1, c, 1, 1)
        )
        sd[f"{prefix}.adain{half}.style.linear.weight_orig"] = _t(
            var("synthesis", f"{scope}/StyleMod/weight", (w, 2 * c)).T
        )
        sd[f"{prefix}.adain{half}.style.linear.bias"] = _t(var("synthesis", f"{scope}/StyleMod/bias", (2 * c,)))

    def conv(key: str, scope: str, cin: int, cout: int, k: int = 3) -> None:
        sd[f"{key}.weight_orig"] = _t(var("synthesis", f"{scope}/weight", (k, k, cin, cout)).transpose(3, 2, 0, 1))
        sd[f"{key}.bias"] = _t(var("synthesis", f"{scope}/bias", (cout,)))

    ch, n_blocks = cfg["channels"], len(cfg["channels"])
    g = "generator.progression"
    c0 = ch[0]
    sd[f"{g}.0.conv1.input"] = _t(var("synthesis", "4x4/Const/const", (1, c0, 4, 4)))
    sd[f"{g}.0.conv1.bias"] = _t(var("synthesis", "4x4/Const/bias", (c0,)))
    epilogue(f"{g}.0", "4x4/Const", c0, 1)
    conv(f"{g}.0.conv2.conv", "4x4/Conv", c0, c0)
    epilogue(f"{g}.0", "4x4/Conv", c0, 2)
    for i in range(1, n_blocks):
        r = block_resolution(i)
        cin, c = ch[i - 1], ch[i]
        scope = f"{r}x{r}/Conv0_up"
        if cfg["fused"][i]:  # transposed conv: [in, out, kh, kw]
            sd[f"{g}.{i}.conv1.0.weight"] = _t(
                var("synthesis", f"{scope}/weight", (3, 3, cin, c)).transpose(2, 3, 0, 1)
            )
            sd[f"{g}.{i}.conv1.0.bias"] = _t(var("synthesis", f"{scope}/bias", (c,)))
        else:
            conv(f"{g}.{i}.conv1.1.conv", scope, cin, c)
        epilogue(f"{g}.{i}", scope, c, 1)
        conv(f"{g}.{i}.conv2.conv", f"{r}x{r}/Conv1", c, c)
        epilogue(f"{g}.{i}", f"{r}x{r}/Conv1", c, 2)
    for i, c in enumerate(ch):
        conv(f"generator.to_rgb.{i}.conv", f"ToRGB_lod{n_blocks - 1 - i}", c, cfg["num_channels"], k=1)
    noise = []
    for k in range(2 * n_blocks):
        r = block_resolution(k // 2)
        noise.append(_t(var("synthesis", f"noise{k}", (1, 1, r, r))))
    for net, state in (("synthesis", synthesis), ("mapping", mapping)):
        if "lod" in state.variables:
            used[net].add("lod")
            if np.asarray(state.variables["lod"]).shape != () or float(state.variables["lod"]) != 0.0:
                raise CheckpointError(
                    f"{source}: {state.name}/lod is {state.variables['lod']!r}; only finished "
                    "networks (lod 0) are supported"
                )
        extra = [k for k in state.variables if k not in used[net]]
        if extra:
            more = f" (+{len(extra) - 4} more)" if len(extra) > 4 else ""
            raise CheckpointError(f"{source}: unexpected variables in {state.name}: {', '.join(extra[:4])}{more}")
    return sd, noise


def _gs_w_avg(gs: TFNetworkState, w: int, source: str) -> torch.Tensor | None:
    extra = [k for k in gs.variables if k not in ("lod", "dlatent_avg")]
    if extra:
        raise CheckpointError(f"{source}: unexpected variables in {gs.name}: {', '.join(extra[:4])}")
    if "lod" in gs.variables and float(np.asarray(gs.variables["lod"]).reshape(-1)[:1].sum()) != 0.0:
        raise CheckpointError(f"{source}: {gs.name}/lod is not 0; only finished networks are supported")
    if "dlatent_avg" not in gs.variables:
        return None
    return _t(variable(gs, "dlatent_avg", (w,), source))


def build(gs: TFNetworkState, source: str, which: str = "Gs") -> StyleGAN1Generator:
    """Convert a validated ``G_style`` state into a :class:`StyleGAN1Generator` (strict)."""
    cfg = read_config(gs, source)
    sd, noise = convert(gs, cfg, source)
    w_avg = _gs_w_avg(gs, cfg["dlatent_size"], source)
    net = StyledGenerator(
        code_dim=cfg["dlatent_size"],
        n_mlp=cfg["mapping_layers"],
        channels=cfg["channels"],
        fused=cfg["fused"],
        img_channels=cfg["num_channels"],
        variant="tf",
        blur_filter=cfg["blur_filter"],
        mapping_lr_mul=cfg["mapping_lrmul"],
    )
    own = net.state_dict()
    for k, _ in net.named_buffers():  # blur kernels are buffers of the module, not TF variables
        sd.setdefault(k, own[k])
    from .checks import check_state_dict

    check_state_dict(net, sd, source, "an official StyleGAN1 generator (G_style)")
    net.load_state_dict(sd, strict=True)
    upsampling = [block_resolution(i) for i, f in enumerate(cfg["fused"]) if f]
    fused_desc = f"fused upsampling from {upsampling[0]}" if upsampling else "no fused upsampling"
    cutoff = cfg["truncation_cutoff"]
    extra = {
        "configuration": (
            f"{NAME}, {BUILDER}, {cfg['resolution']}, {fused_desc}, truncation cutoff "
            f"{cutoff if cutoff is not None else 'none (all layers)'}"
        ),
        "network": which,
        "tf_pickle_version": gs.version,
        "blur_filter": cfg["blur_filter"],
        "mapping_lrmul": cfg["mapping_lrmul"],
        "official_default_truncation_psi": cfg["truncation_psi"],
        "unrecognised_static_kwargs": tfn.unrecognised_kwargs(gs, KNOWN_KWARGS),
        "non_square_note": "images are rendered square, as G_style does (512x384 cars: 512x512 letterboxed canvas)",
    }
    return StyleGAN1Generator(
        net, cfg["resolution"], NAME, extra=extra, w_avg=w_avg, const_noise=noise, truncation_cutoff=cutoff
    )


def load(raw: Any, resolution: int | None = None, network: str | None = None, **options: Any) -> StyleGAN1Generator:
    """Build the generator of an official TF StyleGAN1 pickle.

    Options: ``resolution`` (checked against the file), ``network`` ('Gs' default, or 'G' for
    the un-averaged training copy of a ``(G, D, Gs)`` tuple).
    """
    if options:
        raise UserError(f"{NAME}: unknown option(s) {', '.join(sorted(options))}")
    path = raw.path
    obj = tfn.read_tf_pickle_cached(path)
    try:
        gs, which = _pick(obj, network, path)
        gen = build(gs, str(path), which)
    finally:
        tfn.forget(path)
    if resolution is not None and int(resolution) != gen.resolution:
        raise UserError(f"{path}: --resolution {resolution} given but the weights are for {gen.resolution} px")
    return gen


def _pick(obj: Any, network: str | None, path: Any) -> tuple[TFNetworkState, str]:
    if network is None or network == "Gs":
        gs, which = tfn.select_generator(obj, path)
    elif network == "G" and isinstance(obj, tuple) and len(obj) == 3:
        gs, which = obj[0], "G (index 0 of (G, D, Gs))"
    else:
        raise UserError(f"{path}: network must be 'Gs' or 'G' (of a (G, D, Gs) pickle), got {network!r}")
    if not {"mapping", "synthesis"} <= set(gs.components):
        raise CheckpointError(f"{path}: TF network {gs.name!r} has no mapping/synthesis components")
    return gs, which


def from_config(config: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> StyleGAN1Generator:
    """Rebuild from ``Generator.config()`` and ``state_dict()`` (see :func:`stylegan_eval.networks.stylegan1.from_config`)."""
    try:
        return _from_config(config, state_dict)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{NAME}: config/state dict do not fit ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        ) from None
