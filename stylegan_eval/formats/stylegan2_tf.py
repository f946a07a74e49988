"""NVIDIA's TensorFlow StyleGAN2 / StyleGAN2-ADA generator pickles (``G_main``), loaded without TensorFlow.

File: a pickled ``(G, D, Gs)`` tuple of ``dnnlib.tflib.network.Network`` (state version 4),
read by :mod:`.tf_network` without running anything; ``Gs`` is rendered (or a single pickled
``G_main``). Builders: ``G_main`` with ``G_mapping`` and ``G_synthesis_stylegan2`` (NVlabs/stylegan2)
or ``G_synthesis`` (NVlabs/stylegan2-ada, TF; conditional models embed labels with
``LabelEmbed``). Architectures 'skip' (configs e/f), 'resnet' and 'orig'.

Conversion into the one :class:`~stylegan_eval.networks.stylegan2.StyleGAN2` (rosinality keys),
as NVIDIA's own converter (stylegan2-ada-pytorch ``legacy.py``) maps it:

- ``mapping/Dense{i}`` -> ``style.{i+1}`` (weight transposed; ``mapping_lrmul``),
  ``mapping/LabelEmbed`` -> ``embed`` (weight transposed),
- ``4x4/Const/const`` -> ``input.input``; ``4x4/Conv`` -> ``conv1``; ``4x4/ToRGB`` -> ``to_rgb1``,
- ``{R}x{R}/Conv0_up`` -> ``convs.{2j}`` with the kernel **flipped** spatially (TF's
  ``upsample_conv_2d`` flips it before its transposed conv), ``{R}x{R}/Conv1`` -> ``convs.{2j+1}``,
  ``{R}x{R}/ToRGB`` -> ``to_rgbs.{j}`` (skip) / last ToRGB -> ``to_rgb`` (resnet, orig),
  ``{R}x{R}/Skip`` -> ``skips.{j}`` (resnet),
- conv weights HWIO -> [1, O, I, kh, kw]; ``mod_weight`` transposed; ``mod_bias + 1`` -> modulation
  bias (TF adds the 1 at run time); ``noise_strength`` -> ``noise.weight``; ``bias`` ->
  ``activate.bias`` (ToRGB: [1, C, 1, 1]); ``noise{i}`` -> ``noises.noise_{i}``; ``Gs/dlatent_avg`` -> w_avg.

Every variable must be used with the shape the ``static_kwargs`` imply. Truncation as ``G_main``:
all layers unless ``truncation_cutoff`` is set.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError, UserError
from ..networks.stylegan2 import ARCHITECTURES, StyleGAN2, StyleGAN2Generator
from ..networks.stylegan2 import from_config as _from_config
from . import tf_network as tfn
from .stylegan1_tf import _pick
from .tf_network import TFNetworkState, kw_bool, kw_choice, kw_float, kw_int, kw_taps, variable

NAME = "stylegan2-tf"
BUILDER = "G_main"
SYNTHESIS_BUILDERS = ("G_synthesis_stylegan2", "G_synthesis")
MAX_RESOLUTION = 2048
DEFAULT_TRUNCATION_PSI = 0.5


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
        "return_dlatents",
        "mapping_func",
        "synthesis_func",
        "is_template_graph",
        "components",
        "w_avg_beta",
        "structure",
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
        "normalize_latents",
        "dtype",
        "label_fmaps",
        "w_avg_beta",
        "num_fp16_res",
        "conv_clamp",
    ),
    "synthesis": (
        "num_channels",
        "resolution",
        "label_size",
        "dlatent_size",
        "fmap_base",
        "fmap_decay",
        "fmap_min",
        "fmap_max",
        "randomize_noise",
        "architecture",
        "nonlinearity",
        "dtype",
        "resample_kernel",
        "fused_modconv",
        "use_noise",
        "conv_clamp",
        "num_fp16_res",
        "structure",
    ),
}


def detect(raw: Any) -> bool:
    """True for TF pickles whose generator is built by ``G_main`` (StyleGAN2 / StyleGAN2-ADA TF)."""
    return tfn.generator_builder(raw) == BUILDER


def nf(stage: int, cfg: dict[str, Any]) -> int:
    """``clip(int(fmap_base / 2**(stage * fmap_decay)), fmap_min, fmap_max)``."""
    v = int(cfg["fmap_base"] / (2.0 ** (stage * cfg["fmap_decay"])))
    return min(max(v, cfg["fmap_min"]), cfg["fmap_max"])


def read_config(gs: TFNetworkState, source: str) -> dict[str, Any]:
    """Validated architecture of a ``G_main`` network from its (and its components') static_kwargs."""
    if gs.build_func_name != BUILDER:
        raise CheckpointError(f"{source}: build function {gs.build_func_name!r} is not {BUILDER} (StyleGAN2)")
    mapping, synthesis = gs.components["mapping"], gs.components["synthesis"]
    if mapping.build_func_name != "G_mapping" or synthesis.build_func_name not in SYNTHESIS_BUILDERS:
        raise CheckpointError(
            f"{source}: {BUILDER} components are built by {mapping.build_func_name!r} / "
            f"{synthesis.build_func_name!r}, expected G_mapping / {' or '.join(SYNTHESIS_BUILDERS)}"
        )
    mk, sk, gk = mapping.static_kwargs, synthesis.static_kwargs, gs.static_kwargs
    resolution = kw_int(sk, "resolution", 1024, source, 4, MAX_RESOLUTION)
    if resolution & (resolution - 1):
        raise CheckpointError(f"{source}: static_kwargs resolution={resolution} is not a power of two")
    cfg: dict[str, Any] = {
        "resolution": resolution,
        "num_channels": kw_int(sk, "num_channels", 3, source, 1, 16),
        "fmap_base": kw_int(sk, "fmap_base", 16384, source, 1, 1 << 20),
        "fmap_decay": kw_float(sk, "fmap_decay", 1.0, source, 0.0, 8.0),
        "fmap_min": kw_int(sk, "fmap_min", 1, source, 1, 4096),
        "fmap_max": kw_int(sk, "fmap_max", 512, source, 1, 4096),
        "dlatent_size": kw_int(sk, "dlatent_size", 512, source, 1, 4096),
        "architecture": kw_choice(sk, "architecture", "skip", source, ARCHITECTURES),
        "resample_kernel": kw_taps(sk, "resample_kernel", [1, 3, 3, 1], source, max_len=8, allow_none=False),
        "conv_clamp": kw_float(sk, "conv_clamp", None, source, 1e-3, 1e6, allow_none=True),
        "num_fp16_res": kw_int(sk, "num_fp16_res", 0, source, 0, 16),
        "latent_size": kw_int(mk, "latent_size", 512, source, 0, 4096),
        "label_size": kw_int(mk, "label_size", 0, source, 0, 1 << 16),
        "mapping_layers": kw_int(mk, "mapping_layers", 8, source, 1, 64),
        "mapping_fmaps": kw_int(mk, "mapping_fmaps", 512, source, 1, 4096),
        "mapping_lrmul": kw_float(mk, "mapping_lrmul", 0.01, source, 1e-8, 1e3),
        "label_fmaps": kw_int(mk, "label_fmaps", None, source, 1, 4096, allow_none=True),
        "truncation_psi": kw_float(gk, "truncation_psi", DEFAULT_TRUNCATION_PSI, source, -10.0, 10.0, allow_none=True),
        "truncation_cutoff": kw_int(gk, "truncation_cutoff", None, source, 0, 64, allow_none=True),
    }
    kw_choice(sk, "nonlinearity", "lrelu", source, ("lrelu",))
    kw_choice(mk, "mapping_nonlinearity", "lrelu", source, ("lrelu",))
    for kw in (sk, mk):
        kw_choice(kw, "dtype", "float32", source, ("float32",))
    kw_bool(sk, "fused_modconv", True, source)  # grouped conv or not: same maths
    if not kw_bool(sk, "use_noise", True, source):
        raise CheckpointError(f"{source}: static_kwargs use_noise=False is not supported")
    if not kw_bool(mk, "normalize_latents", True, source):
        raise CheckpointError(f"{source}: static_kwargs normalize_latents=False is not supported")
    if len(cfg["resample_kernel"]) % 2:
        raise CheckpointError(
            f"{source}: resample_kernel {cfg['resample_kernel']} has an odd number of taps (even only)"
        )
    w = cfg["dlatent_size"]
    if mk.get("dlatent_size", w) != w:
        raise CheckpointError(f"{source}: mapping dlatent_size {mk['dlatent_size']} != synthesis dlatent_size {w}")
    if cfg["mapping_fmaps"] != w:
        raise CheckpointError(
            f"{source}: mapping_fmaps {cfg['mapping_fmaps']} != dlatent_size {w} (the port needs one width)"
        )
    if cfg["latent_size"] == 0 and cfg["label_size"] == 0:
        raise CheckpointError(f"{source}: latent_size and label_size are both 0")
    if cfg["architecture"] != "skip" and resolution < 8:
        raise CheckpointError(f"{source}: architecture {cfg['architecture']!r} at {resolution} px is not supported")
    log2 = int(math.log2(resolution))
    cfg["channels"] = {2**r: nf(r - 1, cfg) for r in range(2, log2 + 1)}
    tfn.check_budget(_num_parameters(cfg), gs, source, f"a {resolution} px StyleGAN2 generator")
    return cfg


def _num_parameters(cfg: dict[str, Any]) -> int:
    w, n = cfg["dlatent_size"], cfg["num_channels"]
    total = cfg["mapping_layers"] * (w * w + w) + cfg["latent_size"] * w
    prev = None
    for c in cfg["channels"].values():
        cin = c if prev is None else prev
        total += (16 * c if prev is None else 9 * cin * c + cin * w) + 9 * c * c + c * w + 4 * c + n * c + c * w
        prev = c
    return total


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


class _Converter:
    """Reads every TF variable once, with the shape the config implies, into the module's state dict.

    ``used`` records the variables read per network, so that :meth:`check_all_used` can refuse
    a file with variables the conversion does not account for.
    """

    def __init__(self, gs: TFNetworkState, cfg: dict[str, Any], source: str) -> None:
        self.nets = {"mapping": gs.components["mapping"], "synthesis": gs.components["synthesis"], "Gs": gs}
        self.used: dict[str, set[str]] = {k: set() for k in self.nets}
        self.cfg, self.source = cfg, source
        self.w, self.nch = cfg["dlatent_size"], cfg["num_channels"]
        self.sd: dict[str, torch.Tensor] = {}

    def var(self, net: str, name: str, shape: tuple) -> np.ndarray:
        self.used[net].add(name)
        return variable(self.nets[net], name, shape, self.source)

    def mapping(self) -> None:
        """``mapping/LabelEmbed`` -> ``embed`` and ``mapping/Dense{i}`` -> ``style.{i+1}`` (transposed)."""
        cfg, w, sd = self.cfg, self.w, self.sd
        z, c_dim = cfg["latent_size"], cfg["label_size"]
        first_in = z
        if c_dim:
            if "LabelConcat/weight" in self.nets["mapping"].variables:
                raise CheckpointError(
                    f"{self.source}: conditional StyleGAN2 with LabelConcat (NVlabs/stylegan2) is not supported; "
                    "StyleGAN2-ADA's LabelEmbed is"
                )
            fm = cfg["label_fmaps"] or w
            if fm != w:
                raise CheckpointError(
                    f"{self.source}: label_fmaps {fm} != dlatent_size {w} (the port embeds labels to w width)"
                )
            sd["embed.weight"] = _t(self.var("mapping", "LabelEmbed/weight", (c_dim, w)).T)
            sd["embed.bias"] = _t(self.var("mapping", "LabelEmbed/bias", (w,)))
            first_in = z + w
        for i in range(cfg["mapping_layers"]):
            sd[f"style.{i + 1}.weight"] = _t(self.var("mapping", f"Dense{i}/weight", (first_in if i == 0 else w, w)).T)
            sd[f"style.{i + 1}.bias"] = _t(self.var("mapping", f"Dense{i}/bias", (w,)))

    def modconv(self, key: str, scope: str, cin: int, cout: int, k: int, flip: bool = False) -> None:
        """HWIO weight -> [1, O, I, k, k] (``flip``: spatially, for TF's up-sampling conv)."""
        wt = self.var("synthesis", f"{scope}/weight", (k, k, cin, cout))
        if flip:
            wt = wt[::-1, ::-1]
        self.sd[f"{key}.weight"] = _t(wt.transpose(3, 2, 0, 1)[None])
        self.sd[f"{key}.modulation.weight"] = _t(self.var("synthesis", f"{scope}/mod_weight", (self.w, cin)).T)
        # TF adds the 1 to the modulation bias at run time; the module stores it included.
        self.sd[f"{key}.modulation.bias"] = _t(self.var("synthesis", f"{scope}/mod_bias", (cin,)) + 1.0)

    def layer(self, key: str, scope: str, cin: int, cout: int, flip: bool = False) -> None:
        self.modconv(f"{key}.conv", scope, cin, cout, 3, flip)
        self.sd[f"{key}.noise.weight"] = _t(self.var("synthesis", f"{scope}/noise_strength", ()).reshape(1))
        self.sd[f"{key}.activate.bias"] = _t(self.var("synthesis", f"{scope}/bias", (cout,)))

    def torgb(self, key: str, scope: str, cin: int) -> None:
        nch = self.nch
        self.modconv(f"{key}.conv", scope, cin, nch, 1)
        self.sd[f"{key}.bias"] = _t(self.var("synthesis", f"{scope}/bias", (nch,)).reshape(1, nch, 1, 1))

    def synthesis(self) -> None:
        """The const input, the conv/ToRGB/Skip layers of every block (per architecture) and the noises."""
        arch, res, ch = self.cfg["architecture"], self.cfg["resolution"], self.cfg["channels"]
        c4 = ch[4]
        self.sd["input.input"] = _t(self.var("synthesis", "4x4/Const/const", (1, c4, 4, 4)))
        self.layer("conv1", "4x4/Conv", c4, c4)
        if arch == "skip":
            self.torgb("to_rgb1", "4x4/ToRGB", c4)
        prev = c4
        for j, r in enumerate(2**i for i in range(3, int(math.log2(res)) + 1)):
            c = ch[r]
            self.layer(f"convs.{2 * j}", f"{r}x{r}/Conv0_up", prev, c, flip=True)
            self.layer(f"convs.{2 * j + 1}", f"{r}x{r}/Conv1", c, c)
            if arch == "skip":
                self.torgb(f"to_rgbs.{j}", f"{r}x{r}/ToRGB", c)
            if arch == "resnet":  # 1x1 kernel: the flip is a no-op
                self.sd[f"skips.{j}.weight"] = _t(
                    self.var("synthesis", f"{r}x{r}/Skip/weight", (1, 1, prev, c)).transpose(3, 2, 0, 1)
                )
            prev = c
        if arch != "skip":
            self.torgb("to_rgb", f"{res}x{res}/ToRGB", prev)
        n_layers = 2 * (int(math.log2(res)) - 2) + 1
        for i in range(n_layers):
            r = 2 ** ((i + 5) // 2)
            self.sd[f"noises.noise_{i}"] = _t(self.var("synthesis", f"noise{i}", (1, 1, r, r)))

    def check_all_used(self) -> None:
        """Each network's ``lod`` must be 0 (a finished network) and every other variable consumed."""
        for net, state in self.nets.items():
            if "lod" in state.variables:
                self.used[net].add("lod")
                lod = np.asarray(state.variables["lod"])
                if lod.size != 1 or float(lod.reshape(-1)[0]) != 0.0:
                    raise CheckpointError(
                        f"{self.source}: {state.name}/lod is not 0; only finished networks are supported"
                    )
            extra = [k for k in state.variables if k not in self.used[net]]
            if extra:
                more = f" (+{len(extra) - 4} more)" if len(extra) > 4 else ""
                raise CheckpointError(
                    f"{self.source}: unexpected variables in {state.name}: {', '.join(extra[:4])}{more}"
                )


def convert(
    gs: TFNetworkState, cfg: dict[str, Any], source: str
) -> tuple[dict[str, torch.Tensor], torch.Tensor | None]:
    """(StyleGAN2 state dict without FIR buffers, w_avg or None); every variable is consumed once."""
    conv = _Converter(gs, cfg, source)
    conv.mapping()
    conv.synthesis()
    w_avg = _t(conv.var("Gs", "dlatent_avg", (conv.w,))) if "dlatent_avg" in gs.variables else None
    conv.check_all_used()
    return conv.sd, w_avg


def build(gs: TFNetworkState, source: str, which: str = "Gs") -> StyleGAN2Generator:
    """Convert a validated ``G_main`` state into a :class:`StyleGAN2Generator` (strict)."""
    cfg = read_config(gs, source)
    sd, w_avg = convert(gs, cfg, source)
    try:
        net = StyleGAN2(
            cfg["resolution"],
            cfg["dlatent_size"],
            cfg["mapping_layers"],
            blur_kernel=cfg["resample_kernel"],
            lr_mlp=cfg["mapping_lrmul"],
            z_dim=cfg["latent_size"],
            c_dim=cfg["label_size"],
            channels=cfg["channels"],
            img_channels=cfg["num_channels"],
            conv_clamp=cfg["conv_clamp"],
            architecture=cfg["architecture"],
        )
    except ValueError as exc:
        raise CheckpointError(f"{source}: unsupported StyleGAN2 configuration ({exc})") from None
    own = net.state_dict()
    for k, _ in net.named_buffers():
        if not k.startswith("noises."):
            sd.setdefault(k, own[k])
    from .checks import check_state_dict

    check_state_dict(net, sd, source, "an official StyleGAN2 generator (G_main)")
    net.load_state_dict(sd, strict=True)
    cutoff = cfg["truncation_cutoff"]
    flavour = "StyleGAN2-ADA (TF)" if gs.components["synthesis"].build_func_name == "G_synthesis" else "StyleGAN2 (TF)"
    extra = {
        "configuration": (
            f"{NAME}, {BUILDER}, {cfg['resolution']}, architecture {cfg['architecture']}, "
            f"fmap_base {cfg['fmap_base']}, {'conditional ' + str(cfg['label_size']) + ' classes, ' if cfg['label_size'] else ''}"
            f"truncation cutoff {cutoff if cutoff is not None else 'none (all layers)'}"
        ),
        "flavour": flavour,
        "network": which,
        "tf_pickle_version": gs.version,
        "mapping_lrmul": cfg["mapping_lrmul"],
        "resample_kernel": cfg["resample_kernel"],
        "num_fp16_res": cfg["num_fp16_res"],
        "official_default_truncation_psi": cfg["truncation_psi"],
        "truncation_cutoff": cutoff,
        "unrecognised_static_kwargs": tfn.unrecognised_kwargs(gs, KNOWN_KWARGS),
    }
    gen = StyleGAN2Generator(net, NAME, w_avg=w_avg, extra=extra)
    gen.truncation_cutoff = cutoff
    gen._extra["truncation"] = gen.truncation_rule()
    return gen


def load(raw: Any, resolution: int | None = None, network: str | None = None, **options: Any) -> StyleGAN2Generator:
    """Build the generator of an official TF StyleGAN2 / StyleGAN2-ADA pickle.

    Options: ``resolution`` (checked against the file), ``network`` ('Gs' default, or 'G').
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


def from_config(config: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> StyleGAN2Generator:
    """Rebuild from ``Generator.config()`` and ``state_dict()``; restores the truncation cutoff from ``extra``."""
    try:
        gen = _from_config(config, state_dict)
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(
            f"{NAME}: config/state dict do not fit ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})"
        ) from None
    gen.truncation_cutoff = (config.get("extra") or {}).get("truncation_cutoff")
    return gen
