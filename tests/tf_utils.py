"""Tiny NVIDIA TensorFlow StyleGAN1/2 pickles in the exact on-disk layout, and TF-semantics references.

The pickles hold ``dnnlib.tflib.network.Network`` objects whose state is what dnnlib's
``Network.__getstate__`` returns (version, name, static_kwargs, components, build_module_src,
build_func_name, variables); the variable names and shapes follow NVlabs/stylegan
``G_style`` and NVlabs/stylegan2 ``G_main`` (see shared/reference/tf_sg*_variables.txt).

The reference forwards are written from the published equations and the TF code's semantics,
working on the TF variables directly (NHWC activations, HWIO conv kernels, [in, out] dense
weights, TF's conv2d_transpose as a scatter), in float64; they share nothing with the modules.
"""

from __future__ import annotations

import contextlib
import math
import pickle
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

SQRT2 = math.sqrt(2.0)


# ---------------------------------------------------------------------------------- pickling
@contextlib.contextmanager
def fake_dnnlib():
    """Make ``dnnlib.tflib.network.Network`` importable so pickle can name it when dumping."""
    names = ["dnnlib", "dnnlib.tflib", "dnnlib.tflib.network"]
    saved = {n: sys.modules.get(n) for n in names}
    mods = {n: types.ModuleType(n) for n in names}

    class Network:
        def __init__(self, state):
            self._state = state

        def __getstate__(self):
            return self._state

    Network.__module__ = "dnnlib.tflib.network"
    Network.__qualname__ = "Network"
    mods["dnnlib.tflib.network"].Network = Network
    sys.modules.update(mods)
    try:
        yield Network
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


def net_state(
    name: str,
    func: str,
    variables: dict[str, np.ndarray],
    static_kwargs: dict | None = None,
    components: dict | None = None,
    version: int = 4,
    src: str | None = None,
) -> dict[str, Any]:
    """A dnnlib Network state (components as nested states, turned into Network objects on dump)."""
    return {
        "version": version,
        "name": name,
        "static_kwargs": dict(static_kwargs or {}),
        "components": dict(components or {}),
        "build_module_src": src if src is not None else f"def {func}(*args, **kwargs):\n    pass\n",
        "build_func_name": func,
        "variables": list(variables.items()),
    }


def dump_networks(path: Path, states: list[dict] | dict, protocol: int = 3) -> Path:
    """Pickle one state (a bare Network) or a list of states (a tuple, e.g. (G, D, Gs))."""
    with fake_dnnlib() as Network:

        def make(state):
            state = dict(state)
            state["components"] = {k: make(v) for k, v in state["components"].items()}
            return Network(state)

        obj = make(states) if isinstance(states, dict) else tuple(make(s) for s in states)
        Path(path).write_bytes(pickle.dumps(obj, protocol=protocol))
    return Path(path)


def _nf(stage, base, fmax, fmin=1, decay=1.0):
    return min(max(int(base / 2.0 ** (stage * decay)), fmin), fmax)


# ---------------------------------------------------------------------------------- StyleGAN1
def sg1_variables(
    resolution=32,
    fmap_base=64,
    fmap_max=16,
    w=8,
    mapping_layers=2,
    num_channels=3,
    fused_scale="auto",
    seed=0,
    shapes_only=False,
):
    """(Gs, mapping, synthesis) variable dicts of G_style in TF creation order (random values)."""
    rng = np.random.default_rng(seed)

    def v(*shape, scale=1.0):
        if shapes_only:
            return (
                np.zeros(shape, np.float32)
                if np.prod(shape) < 64
                else np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), shape, [0] * len(shape))
            )
        return (scale * rng.standard_normal(shape)).astype(np.float32)

    log2 = int(math.log2(resolution))
    mapping = {}
    for i in range(mapping_layers):
        mapping[f"Dense{i}/weight"] = v(w, w, scale=100.0)  # stored ~ N(0, 1/lrmul) as TF initialises
        mapping[f"Dense{i}/bias"] = v(w, scale=10.0)
    syn = {"lod": np.array(0.0, np.float32)}
    for k in range(2 * (log2 - 1)):
        r = 2 ** (k // 2 + 2)
        syn[f"noise{k}"] = v(1, 1, r, r)

    def epi(scope, c):
        syn[f"{scope}/Noise/weight"] = v(c, scale=0.3)
        syn[f"{scope}/bias"] = v(c, scale=0.1)
        syn[f"{scope}/StyleMod/weight"] = v(w, 2 * c)
        syn[f"{scope}/StyleMod/bias"] = v(2 * c, scale=0.1)

    c = _nf(1, fmap_base, fmap_max)
    syn["4x4/Const/const"] = v(1, c, 4, 4)
    epi("4x4/Const", c)
    syn["4x4/Conv/weight"] = v(3, 3, c, c)
    epi("4x4/Conv", c)
    syn[f"ToRGB_lod{log2 - 2}/weight"] = v(1, 1, c, num_channels)
    syn[f"ToRGB_lod{log2 - 2}/bias"] = v(num_channels, scale=0.1)
    for r in range(3, log2 + 1):
        cin, c = c, _nf(r - 1, fmap_base, fmap_max)
        syn[f"{2**r}x{2**r}/Conv0_up/weight"] = v(3, 3, cin, c)
        epi(f"{2**r}x{2**r}/Conv0_up", c)
        syn[f"{2**r}x{2**r}/Conv1/weight"] = v(3, 3, c, c)
        epi(f"{2**r}x{2**r}/Conv1", c)
        syn[f"ToRGB_lod{log2 - r}/weight"] = v(1, 1, c, num_channels)
        syn[f"ToRGB_lod{log2 - r}/bias"] = v(num_channels, scale=0.1)
    gs = {"lod": np.array(0.0, np.float32), "dlatent_avg": v(w, scale=0.5)}
    return gs, mapping, syn


def sg1_kwargs(
    resolution=32, fmap_base=64, fmap_max=16, w=8, mapping_layers=2, num_channels=3, fused_scale="auto", **_
):
    common = {"num_channels": num_channels, "resolution": resolution, "label_size": 0}
    syn = dict(common, fmap_base=fmap_base, fmap_max=fmap_max, dlatent_size=w, fused_scale=fused_scale)
    mapping = dict(
        common,
        dlatent_broadcast=2 * int(math.log2(resolution)) - 2,
        latent_size=w,
        dlatent_size=w,
        mapping_layers=mapping_layers,
        mapping_fmaps=w,
    )
    return dict(common), mapping, syn


def write_sg1_pickle(path: Path, *, tuple_layout=True, version=3, gs_kwargs=None, src=None, **cfg) -> Path:
    gs_v, map_v, syn_v = sg1_variables(**cfg)
    gk, mk, sk = sg1_kwargs(**cfg)
    gk.update(gs_kwargs or {})
    mapping = net_state("G_mapping", "G_mapping", map_v, mk, version=version, src=src)
    synthesis = net_state("G_synthesis", "G_synthesis", syn_v, sk, version=version, src=src)
    gs = net_state("Gs", "G_style", gs_v, gk, {"synthesis": synthesis, "mapping": mapping}, version=version, src=src)
    if not tuple_layout:
        return dump_networks(path, gs)
    g = dict(gs, name="G")
    d = net_state("D", "D_basic", {"4x4/Conv/weight": np.zeros((3, 3, 4, 4), np.float32)}, version=version)
    return dump_networks(path, [g, d, gs])


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a), dtype=torch.float64)


def _lrelu(x):
    return torch.where(x >= 0, x, 0.2 * x)


def conv_nhwc(x, w_hwio, gain):
    """TF conv2d SAME (cross-correlation), equalized lr: kernel * gain / sqrt(kh * kw * in)."""
    k, _, cin, _ = w_hwio.shape
    w_hwio = w_hwio * (gain / math.sqrt(k * k * cin))
    p = k // 2
    xp = F.pad(x, (0, 0, p, p, p, p))
    h, wd = x.shape[1:3]
    return sum(
        torch.einsum("nhwi,io->nhwo", xp[:, a : a + h, b : b + wd], w_hwio[a, b]) for a in range(k) for b in range(k)
    )


def blur_nhwc(x, taps):
    f = _t(taps)
    k2 = torch.outer(f, f)
    k2 = k2 / k2.sum()
    k = k2.shape[0]
    p = k // 2
    xp = F.pad(x, (0, 0, p, p, p, p))
    h, wd = x.shape[1:3]
    return sum(xp[:, a : a + h, b : b + wd] * k2[a, b] for a in range(k) for b in range(k))


def fused_upconv_nhwc(x, w_hwio, gain):
    """TF SG1 upscale2d_conv2d (fused): 3x3 kernel -> [k,k,out,in], padded to 5x5, four windows summed,
    conv2d_transpose stride 2 SAME, written as the scatter out[2i + a - 1, 2j + b - 1] += x[i, j] . f[a, b]."""
    cin = w_hwio.shape[2]
    w = (w_hwio * (gain / math.sqrt(9 * cin))).permute(0, 1, 3, 2)
    w = F.pad(w, (0, 0, 0, 0, 1, 1, 1, 1))
    f = w[1:, 1:] + w[:-1, 1:] + w[1:, :-1] + w[:-1, :-1]  # [4, 4, out, in]
    n, h, wd, _ = x.shape
    buf = x.new_zeros(n, 2 * h + 2, 2 * wd + 2, f.shape[2])
    for a in range(4):
        for b in range(4):
            buf[:, a : a + 2 * h : 2, b : b + 2 * wd : 2] += torch.einsum("nhwi,oi->nhwo", x, f[a, b])
    return buf[:, 1 : 2 * h + 1, 1 : 2 * wd + 1]


def ref_sg1_mapping(map_v, z, mapping_layers, lrmul=0.01):
    x = _t(z)
    x = x * torch.rsqrt((x * x).mean(1, keepdim=True) + 1e-8)
    for i in range(mapping_layers):
        wt = _t(map_v[f"Dense{i}/weight"])
        x = _lrelu(x @ (wt * (SQRT2 / math.sqrt(wt.shape[0]) * lrmul)) + _t(map_v[f"Dense{i}/bias"]) * lrmul)
    return x


def ref_truncate(ws, avg, psi, cutoff):
    """G_style / G_main truncation: layers < cutoff (all when cutoff is None) move towards avg."""
    ws = ws.clone()
    n = ws.shape[1] if cutoff is None else cutoff
    ws[:, :n] = _t(avg) + (ws[:, :n] - _t(avg)) * psi
    return ws


def stylemod_adain(x, w, style_w, style_b, eps=1e-8):
    """StyleGAN1 AdaIN as published: instance-normalise, then x * (ys + 1) + yb, (ys, yb) = A(w)."""
    x = x - x.mean((1, 2), keepdim=True)
    x = x * torch.rsqrt((x * x).mean((1, 2), keepdim=True) + eps)
    sw = _t(style_w)
    s = (w @ (sw / math.sqrt(sw.shape[0])) + _t(style_b)).reshape(w.shape[0], 2, -1)
    return x * (s[:, 0, None, None, :] + 1) + s[:, 1, None, None, :]


def ref_sg1_synthesis(syn_v, ws, noise, resolution, fused, blur=(1, 2, 1)):
    """ws [N, L, w] float64, noise: per layer [N, 1, H, W] -> images NCHW."""
    log2 = int(math.log2(resolution))

    def epi(x, scope, layer):
        nz = _t(noise[layer]).permute(0, 2, 3, 1)
        x = x + nz * _t(syn_v[f"{scope}/Noise/weight"])
        x = _lrelu(x + _t(syn_v[f"{scope}/bias"]))
        return stylemod_adain(x, ws[:, layer], syn_v[f"{scope}/StyleMod/weight"], syn_v[f"{scope}/StyleMod/bias"])

    x = _t(syn_v["4x4/Const/const"]).permute(0, 2, 3, 1).repeat(ws.shape[0], 1, 1, 1)
    x = epi(x, "4x4/Const", 0)
    x = epi(conv_nhwc(x, _t(syn_v["4x4/Conv/weight"]), SQRT2), "4x4/Conv", 1)
    for r in range(3, log2 + 1):
        s = f"{2**r}x{2**r}"
        wt = _t(syn_v[f"{s}/Conv0_up/weight"])
        if fused[r - 2]:
            x = fused_upconv_nhwc(x, wt, SQRT2)
        else:
            x = conv_nhwc(x.repeat_interleave(2, 1).repeat_interleave(2, 2), wt, SQRT2)
        if blur is not None:
            x = blur_nhwc(x, blur)
        x = epi(x, f"{s}/Conv0_up", 2 * r - 4)
        x = epi(conv_nhwc(x, _t(syn_v[f"{s}/Conv1/weight"]), SQRT2), f"{s}/Conv1", 2 * r - 3)
    y = conv_nhwc(x, _t(syn_v["ToRGB_lod0/weight"]), 1.0) + _t(syn_v["ToRGB_lod0/bias"])
    return y.permute(0, 3, 1, 2)


# ---------------------------------------------------------------------------------- StyleGAN2
def sg2_variables(
    resolution=32,
    fmap_base=64,
    fmap_max=16,
    w=8,
    mapping_layers=2,
    num_channels=3,
    architecture="skip",
    label_size=0,
    z=None,
    seed=0,
    shapes_only=False,
    **_,
):
    """(Gs, mapping, synthesis) variable dicts of G_main in TF creation order (random values)."""
    rng = np.random.default_rng(seed)
    z = w if z is None else z

    def v(*shape, scale=1.0):
        if shapes_only:
            return np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), shape, [0] * len(shape))
        return (scale * rng.standard_normal(shape)).astype(np.float32)

    log2 = int(math.log2(resolution))
    mapping = {}
    if label_size:
        mapping["LabelEmbed/weight"] = v(label_size, w)
        mapping["LabelEmbed/bias"] = v(w, scale=0.1)
    for i in range(mapping_layers):
        fin = (z + (w if label_size else 0)) if i == 0 else w
        mapping[f"Dense{i}/weight"] = v(fin, w, scale=100.0)
        mapping[f"Dense{i}/bias"] = v(w, scale=10.0)
    syn = {}
    for k in range(2 * log2 - 3):
        r = 2 ** ((k + 5) // 2)
        syn[f"noise{k}"] = v(1, 1, r, r)

    def modconv(scope, cin, cout, k):
        syn[f"{scope}/weight"] = v(k, k, cin, cout)
        syn[f"{scope}/mod_weight"] = v(w, cin)
        syn[f"{scope}/mod_bias"] = v(cin, scale=0.1)

    def layer(scope, cin, cout):
        modconv(scope, cin, cout, 3)
        syn[f"{scope}/noise_strength"] = v(scale=0.3)
        syn[f"{scope}/bias"] = v(cout, scale=0.1)

    def torgb(scope, cin):
        modconv(scope, cin, num_channels, 1)
        syn[f"{scope}/bias"] = v(num_channels, scale=0.1)

    c = _nf(1, fmap_base, fmap_max)
    syn["4x4/Const/const"] = v(1, c, 4, 4)
    layer("4x4/Conv", c, c)
    if architecture == "skip":
        torgb("4x4/ToRGB", c)
    for r in range(3, log2 + 1):
        s = f"{2**r}x{2**r}"
        cin, c = c, _nf(r - 1, fmap_base, fmap_max)
        layer(f"{s}/Conv0_up", cin, c)
        layer(f"{s}/Conv1", c, c)
        if architecture == "resnet":
            syn[f"{s}/Skip/weight"] = v(1, 1, cin, c)
        if architecture == "skip" or r == log2:
            torgb(f"{s}/ToRGB", c)
    gs = {"lod": np.array(0.0, np.float32), "dlatent_avg": v(w, scale=0.5)}
    return gs, mapping, syn


def sg2_kwargs(
    resolution=32,
    fmap_base=64,
    fmap_max=16,
    w=8,
    mapping_layers=2,
    num_channels=3,
    architecture="skip",
    label_size=0,
    z=None,
    ada=False,
    **_,
):
    common = {"num_channels": num_channels, "resolution": resolution, "label_size": label_size}
    syn = dict(common, fmap_base=fmap_base, fmap_max=fmap_max, dlatent_size=w, architecture=architecture)
    mapping = dict(
        common,
        dlatent_broadcast=2 * int(math.log2(resolution)) - 2,
        latent_size=w if z is None else z,
        dlatent_size=w,
        mapping_layers=mapping_layers,
        mapping_fmaps=w,
    )
    if ada:
        syn.update(conv_clamp=None, num_fp16_res=0)
    return dict(common), mapping, syn


def write_sg2_pickle(path: Path, *, tuple_layout=True, version=4, ada=False, gs_kwargs=None, **cfg) -> Path:
    gs_v, map_v, syn_v = sg2_variables(**cfg)
    gk, mk, sk = sg2_kwargs(ada=ada, **cfg)
    gk.update(gs_kwargs or {})
    mapping = net_state("G_mapping", "G_mapping", map_v, mk, version=version)
    synthesis = net_state("G_synthesis", "G_synthesis" if ada else "G_synthesis_stylegan2", syn_v, sk, version=version)
    gs = net_state("Gs", "G_main", gs_v, gk, {"mapping": mapping, "synthesis": synthesis}, version=version)
    if not tuple_layout:
        return dump_networks(path, gs)
    d = net_state("D", "D_stylegan2", {"Output/weight": np.zeros((4, 1), np.float32)}, version=version)
    return dump_networks(path, [dict(gs, name="G"), d, gs])


def ref_sg2_mapping(map_v, z, c, mapping_layers, lrmul=0.01):
    def norm(v):
        return v * torch.rsqrt((v * v).mean(1, keepdim=True) + 1e-8)

    x = norm(_t(z))
    if c is not None:
        ew = _t(map_v["LabelEmbed/weight"])
        y = _t(c) @ (ew / math.sqrt(ew.shape[0])) + _t(map_v["LabelEmbed/bias"])
        x = torch.cat([x, norm(y)], dim=1)
    for i in range(mapping_layers):
        wt = _t(map_v[f"Dense{i}/weight"])
        x = _lrelu(x @ (wt * (lrmul / math.sqrt(wt.shape[0]))) + _t(map_v[f"Dense{i}/bias"]) * lrmul) * SQRT2
    return x


def _fir_nhwc(x, k2, pad0, pad1):
    """TF upfirdn_2d without up/down: pad (pad0 before, pad1 after), then a true convolution with k2."""
    xp = F.pad(x, (0, 0, pad0, pad1, pad0, pad1))
    k = k2.flip(0, 1)
    kh = k.shape[0]
    h, wd = xp.shape[1] - kh + 1, xp.shape[2] - kh + 1
    return sum(xp[:, a : a + h, b : b + wd] * k[a, b] for a in range(kh) for b in range(kh))


def _taps2(taps, gain):
    f = _t(taps)
    k2 = torch.outer(f, f)
    return k2 / k2.sum() * gain


def ref_modconv(x, w, syn_v, scope, demod=True, up=False, taps=(1, 3, 3, 1)):
    """StyleGAN2 modulated conv, TF semantics: s = A(w) + mod_bias + 1; up: flip, conv2d_transpose VALID, FIR."""
    wt = _t(syn_v[f"{scope}/weight"])
    k, _, cin, _ = wt.shape
    wt = wt / math.sqrt(k * k * cin)
    mw = _t(syn_v[f"{scope}/mod_weight"])
    s = w @ (mw / math.sqrt(mw.shape[0])) + _t(syn_v[f"{scope}/mod_bias"]) + 1
    ww = wt[None] * s[:, None, None, :, None]  # [N, k, k, I, O]
    if demod:
        ww = ww * torch.rsqrt((ww * ww).sum((1, 2, 3)) + 1e-8)[:, None, None, None, :]
    n, h, wd, _ = x.shape
    if not up:
        p = k // 2
        xp = F.pad(x, (0, 0, p, p, p, p))
        return sum(
            torch.einsum("nhwi,nio->nhwo", xp[:, a : a + h, b : b + wd], ww[:, a, b])
            for a in range(k)
            for b in range(k)
        )
    wf = ww.flip(1, 2)
    buf = x.new_zeros(n, 2 * (h - 1) + k, 2 * (wd - 1) + k, ww.shape[-1])
    for a in range(k):
        for b in range(k):
            buf[:, a : a + 2 * h : 2, b : b + 2 * wd : 2] += torch.einsum("nhwi,nio->nhwo", x, wf[:, a, b])
    p = (len(taps) - 2) - (k - 1)
    return _fir_nhwc(buf, _taps2(taps, 4.0), (p + 1) // 2 + 1, p // 2 + 1)


def ref_upsample_img(y, taps=(1, 3, 3, 1)):
    """TF upsample_2d: zero insertion (x2), pad ((p+1)//2 + 1, p//2) with p = len - 2, FIR * 4."""
    n, h, wd, c = y.shape
    z = y.new_zeros(n, 2 * h, 2 * wd, c)
    z[:, ::2, ::2] = y
    p = len(taps) - 2
    return _fir_nhwc(z, _taps2(taps, 4.0), (p + 1) // 2 + 1, p // 2)


def ref_sg2_synthesis(syn_v, ws, noise, resolution, architecture="skip", taps=(1, 3, 3, 1)):
    log2 = int(math.log2(resolution))

    def layer(x, scope, idx, up=False):
        x = ref_modconv(x, ws[:, idx], syn_v, scope, up=up, taps=taps)
        x = x + _t(noise[idx]).permute(0, 2, 3, 1) * _t(syn_v[f"{scope}/noise_strength"])
        return _lrelu(x + _t(syn_v[f"{scope}/bias"])) * SQRT2

    def torgb(x, scope, idx):
        return ref_modconv(x, ws[:, idx], syn_v, scope, demod=False) + _t(syn_v[f"{scope}/bias"])

    x = _t(syn_v["4x4/Const/const"]).permute(0, 2, 3, 1).repeat(ws.shape[0], 1, 1, 1)
    x = layer(x, "4x4/Conv", 0)
    y = torgb(x, "4x4/ToRGB", 1) if architecture == "skip" else None
    for r in range(3, log2 + 1):
        s = f"{2**r}x{2**r}"
        t = x
        x = layer(x, f"{s}/Conv0_up", 2 * r - 5, up=True)
        x = layer(x, f"{s}/Conv1", 2 * r - 4)
        if architecture == "resnet":
            sk = _t(syn_v[f"{s}/Skip/weight"])
            sk = sk / math.sqrt(sk.shape[2])
            n, h, wd, _ = t.shape
            buf = t.new_zeros(n, 2 * h - 1, 2 * wd - 1, sk.shape[-1])
            buf[:, ::2, ::2] = torch.einsum("nhwi,io->nhwo", t, sk[0, 0])
            p = len(taps) - 2
            t = _fir_nhwc(buf, _taps2(taps, 4.0), (p + 1) // 2 + 1, p // 2 + 1)
            x = (x + t) * (1 / SQRT2)
        if architecture == "skip":
            y = ref_upsample_img(y, taps)
        if architecture == "skip" or r == log2:
            t2 = torgb(x, f"{s}/ToRGB", 2 * r - 3)
            y = t2 if y is None else y + t2
    return y.permute(0, 3, 1, 2)


# ---------------------------------------------------------------------------------- TF classifier pickles
def write_tf_pickle(path: Path, variables, static_kwargs=None, build_func_name="D_basic", src="", version=4):
    state = {
        "version": version,
        "name": "D",
        "static_kwargs": dict(static_kwargs or {}),
        "components": {},
        "build_module_src": src,
        "build_func_name": build_func_name,
        "variables": [(k, v) for k, v in variables],
    }
    with fake_dnnlib() as Network, open(path, "wb") as f:
        pickle.dump(Network(state), f, protocol=4)
    return path


def nf(stage, base, fmax):
    return min(int(base / 2.0**stage), fmax)


def reference_variables(resolution=256, fmap_base=8192, fmap_max=512, lod_branches=True, mbstd=False, seed=0, lod=0.0):
    """The variable list of the notes' section 3 table, in TF creation order, random values."""
    rng = np.random.default_rng(seed)
    log2 = int(math.log2(resolution))
    out = [("lod", np.array(lod, dtype=np.float32))]

    def add(name, shape, bias=True):
        out.append((f"{name}/weight", rng.standard_normal(shape).astype(np.float32)))
        out.append((f"{name}/bias", (0.1 * rng.standard_normal(shape[-1])).astype(np.float32)))

    add("FromRGB_lod0", (1, 1, 3, nf(log2 - 1, fmap_base, fmap_max)))
    for k, res in enumerate(range(log2, 2, -1)):
        r = 2**res
        cin, cout = nf(res - 1, fmap_base, fmap_max), nf(res - 2, fmap_base, fmap_max)
        add(f"{r}x{r}/Conv0", (3, 3, cin, cin))
        add(f"{r}x{r}/Conv1_down", (3, 3, cin, cout))
        if lod_branches:
            add(f"FromRGB_lod{k + 1}", (1, 1, 3, cout))
    c1 = nf(1, fmap_base, fmap_max)
    add("4x4/Conv", (3, 3, c1 + (1 if mbstd else 0), c1))
    add("4x4/Dense0", (c1 * 16, nf(0, fmap_base, fmap_max)))
    add("4x4/Dense1", (nf(0, fmap_base, fmap_max), 1))
    return out
