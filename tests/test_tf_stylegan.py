"""Official TensorFlow StyleGAN1 / StyleGAN2(-ADA) pickles: tiny files in the exact on-disk layout,
loaded strictly without TensorFlow and without running pickled code, checked against TF-semantics
references written from the published equations (tests/tf_utils.py), plus the full-size
official variable lists (shared/reference) on the meta device, hostile files and the
classifier hardening of the shared TF reader."""

from __future__ import annotations

import math
import pickle
import re
import time
from pathlib import Path

import numpy as np
import pytest
import tf_utils as tu
import torch

from stylegan_eval.errors import CheckpointError, UnsafePickleError
from stylegan_eval.formats import (
    detect_format,
    load_generator,
    read_checkpoint,
    rosinality_sg1,
    rosinality_sg2,
    stylegan1_tf,
    stylegan2_tf,
)
from stylegan_eval.formats import tf_network as tfn
from stylegan_eval.networks.stylegan1 import AdaptiveInstanceNorm, StyledGenerator, StyleGAN1Generator

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
if not REFERENCE.exists():
    REFERENCE = Path("/work/shared/reference")


def _one_line(exc_type, fn, *args, **kw) -> str:
    with pytest.raises(exc_type) as exc:
        fn(*args, **kw)
    msg = str(exc.value)
    assert "\n" not in msg, msg
    return msg


def _double(G):
    return G.double()


# ---------------------------------------------------------------------------------- StyleGAN1
@pytest.mark.parametrize("fused_scale,tuple_layout,version", [("auto", True, 3), (True, False, 2), (True, True, 4)])
def test_sg1_tf_forward_matches_tf_reference(tmp_path, fused_scale, tuple_layout, version):
    path = tu.write_sg1_pickle(
        tmp_path / "karras2019stylegan-tiny.pkl",
        fused_scale=fused_scale,
        tuple_layout=tuple_layout,
        version=version,
        gs_kwargs={"truncation_cutoff": 3},
    )
    assert detect_format(read_checkpoint(path)) == "stylegan1-tf"
    G = load_generator(path)
    assert isinstance(G, StyleGAN1Generator) and G.family == "stylegan1-tf"
    assert (G.resolution, G.num_ws, G.z_dim, G.truncation_cutoff) == (32, 8, 8, 3)
    gs_v, map_v, syn_v = tu.sg1_variables(fused_scale=fused_scale)
    fused = [i > 0 and (fused_scale is True or 4 * 2**i >= 128) for i in range(4)]
    G = _double(G)
    z = torch.randn(3, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ws = G.mapping(z)
    ref_w = tu.ref_sg1_mapping(map_v, z, 2)
    assert torch.allclose(ws, ref_w[:, None].expand(-1, 8, -1), atol=1e-9, rtol=1e-9)
    # truncation: G_style's rule (cutoff 3 from static_kwargs) around the stored dlatent_avg
    assert torch.equal(G.w_avg, torch.from_numpy(gs_v["dlatent_avg"]).double())
    wt = G.truncate(ws, 0.6)
    assert torch.allclose(wt, tu.ref_truncate(ws, gs_v["dlatent_avg"], 0.6, 3), atol=1e-12)
    assert torch.equal(wt[:, 3:], ws[:, 3:]) and not torch.allclose(wt[:, :3], ws[:, :3])
    # per-layer styles and noise, as TF's dlatents[:, i] / noise{i}
    ws_mixed = wt + 0.3 * torch.randn_like(wt)
    noise = [n.double() for n in G.make_noise(3, "random", noise_seed=5)]
    img = G.synthesis(ws_mixed, noise=noise)
    ref = tu.ref_sg1_synthesis(syn_v, ws_mixed, noise, 32, fused)
    assert img.shape == (3, 3, 32, 32) and torch.isfinite(img).all()
    assert (img - ref).abs().max().item() < 1e-5 * max(1.0, ref.abs().max().item())
    # 'const' noise is the stored noise{i}
    const = G.make_noise(1, "const")
    assert all(
        torch.equal(c.double()[0, 0], torch.from_numpy(syn_v[f"noise{k}"][0, 0]).double()) for k, c in enumerate(const)
    )
    info = G.info()
    assert info["configuration"].startswith("stylegan1-tf, G_style, 32, ")
    assert ("fused upsampling from 8" in info["configuration"]) == (fused_scale is True)
    assert "truncation cutoff 3" in info["configuration"] and info["w_avg_stored"]
    assert info["unrecognised_static_kwargs"] == []


def test_sg1_tf_float32_render_is_finite_and_matches(tmp_path):
    path = tu.write_sg1_pickle(tmp_path / "g.pkl")
    G = load_generator(path)
    img = G.generate(torch.randn(2, 8), psi=0.7, noise_mode="const")
    assert img.dtype == torch.float32 and torch.isfinite(img).all()
    assert G.truncation_rule().startswith("all 8 layers")  # default cutoff 8 = every layer at 32 px


def test_stylemod_adain_against_published_equation():
    """AdaIN(x, y) = y_s * (x - mu) / sigma + y_b with y = A(w), TF's y_s = A(w)_s + 1, eps 1e-8."""
    torch.manual_seed(0)
    layer = AdaptiveInstanceNorm(5, 7, tf=True).double()
    with torch.no_grad():
        layer.style.linear.weight_orig.normal_()
        layer.style.linear.bias.normal_()
    x = torch.randn(2, 5, 6, 6, dtype=torch.float64)
    w = torch.randn(2, 7, dtype=torch.float64)
    out = layer(x, w)
    # the published equation, by hand: A(w) = w W / sqrt(fan_in) + b (gain 1)
    wt = layer.style.linear.weight_orig.detach().T.numpy()
    ref = tu.stylemod_adain(x.permute(0, 2, 3, 1), w, wt, layer.style.linear.bias.detach().numpy()).permute(0, 3, 1, 2)
    assert torch.allclose(out, ref, atol=1e-12)
    mu = x.mean((2, 3), keepdim=True)
    sigma = ((x - mu) ** 2).mean((2, 3), keepdim=True).add(1e-8).sqrt()
    a = (w @ torch.from_numpy(wt) / math.sqrt(7) + layer.style.linear.bias.detach()).reshape(2, 2, 5)
    assert torch.allclose(out, (a[:, 0, :, None, None] + 1) * (x - mu) / sigma + a[:, 1, :, None, None], atol=1e-10)


def test_truncation_cutoff_rule_and_explicit_override(tmp_path):
    G = load_generator(tu.write_sg1_pickle(tmp_path / "g.pkl", resolution=64, gs_kwargs={"truncation_cutoff": 8}))
    assert G.num_ws == 10 and G.truncation_cutoff == 8
    ws = G.mapping(torch.randn(4, 8))
    avg = G.w_avg
    out = G.truncate(ws, 0.5)
    assert torch.allclose(out[:, :8], avg + 0.5 * (ws[:, :8] - avg)) and torch.equal(out[:, 8:], ws[:, 8:])
    assert torch.equal(G.truncate(ws, 0.5, cutoff=2)[:, 2:], ws[:, 2:])
    assert "truncation_cutoff 8" in G.info()["truncation"]
    G_none = load_generator(tu.write_sg1_pickle(tmp_path / "n.pkl", gs_kwargs={"truncation_cutoff": None}))
    assert G_none.truncation_cutoff is None and "all layers" in G_none.info()["configuration"]


# ---------------------------------------------------------------------------------- StyleGAN2
@pytest.mark.parametrize(
    "architecture,ada,label_size", [("skip", False, 0), ("skip", True, 4), ("resnet", False, 0), ("orig", True, 0)]
)
def test_sg2_tf_forward_matches_tf_reference(tmp_path, architecture, ada, label_size):
    path = tu.write_sg2_pickle(
        tmp_path / "stylegan2-tiny.pkl", architecture=architecture, ada=ada, label_size=label_size
    )
    assert detect_format(read_checkpoint(path)) == "stylegan2-tf"
    G = load_generator(path)
    assert (G.family, G.resolution, G.num_ws, G.c_dim) == ("stylegan2-tf", 32, 8, label_size)
    gs_v, map_v, syn_v = tu.sg2_variables(architecture=architecture, label_size=label_size)
    G = _double(G)
    z = torch.randn(3, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    c = torch.nn.functional.one_hot(torch.tensor([0, 3, 1]), 4).double() if label_size else None
    ws = G.mapping(z, c)
    assert torch.allclose(ws[:, 0], tu.ref_sg2_mapping(map_v, z, c, 2), atol=1e-9, rtol=1e-9)
    assert torch.equal(G.w_avg, torch.from_numpy(gs_v["dlatent_avg"]).double())
    wt = G.truncate(ws, 0.5)  # G_main: all layers
    assert torch.allclose(wt, tu.ref_truncate(ws, gs_v["dlatent_avg"], 0.5, None), atol=1e-12)
    ws_mixed = wt + 0.3 * torch.randn_like(wt)
    noise = [n.double() for n in G.make_noise(3, "random", noise_seed=2)]
    img = G.synthesis(ws_mixed, noise=noise)
    ref = tu.ref_sg2_synthesis(syn_v, ws_mixed, noise, 32, architecture)
    assert img.shape == (3, 3, 32, 32) and torch.isfinite(img).all()
    assert (img - ref).abs().max().item() < 1e-5 * max(1.0, ref.abs().max().item())
    info = G.info()
    assert f"architecture {architecture}" in info["configuration"] and info["architecture"] == architecture
    assert info["flavour"] == ("StyleGAN2-ADA (TF)" if ada else "StyleGAN2 (TF)")
    assert info["truncation"] == "all layers"


def test_sg2_kernel_flip_is_needed(tmp_path):
    """Without the Conv0_up flip the converted network differs from TF's (the test can fail)."""
    path = tu.write_sg2_pickle(tmp_path / "g.pkl")
    G = load_generator(path).double()
    _, _, syn_v = tu.sg2_variables()
    z = torch.randn(2, 8, dtype=torch.float64)
    ws = G.mapping(z)
    noise = [n.double() for n in G.make_noise(2, "none")]
    ref = tu.ref_sg2_synthesis(syn_v, ws, noise, 32)
    with torch.no_grad():
        for j in range(0, len(G.net.convs), 2):
            G.net.convs[j].conv.weight.copy_(G.net.convs[j].conv.weight.flip(3, 4))
    assert (G.synthesis(ws, noise=noise) - ref).abs().max() > 1e-3


# ---------------------------------------------------------------------------------- official full-size lists
def _reference_states(txt: Path, gs_func: str, syn_func: str, kwargs: dict) -> tfn.TFNetworkState:
    """TFNetworkStates holding the variables listed in the reference file (zero-stride arrays, no memory)."""
    groups: dict[str, dict] = {"": {}, "G_synthesis/": {}, "G_mapping/": {}}
    for line in txt.read_text().splitlines():
        m = re.fullmatch(r"(\S+)\s+\[([\d, ]*)\](\s+\(non-trainable\))?", line.strip())
        if not m or line.startswith("#"):
            continue
        name, dims = m.group(1), tuple(int(d) for d in m.group(2).split(",") if d.strip())
        arr = np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), dims, [0] * len(dims))
        prefix = next((p for p in ("G_synthesis/", "G_mapping/") if name.startswith(p)), "")
        groups[prefix][name[len(prefix) :]] = arr

    def st(name, func, variables, kw, comps=None):
        return tfn.TFNetworkState(4, name, kw, func, "", variables, comps or {})

    common = {"num_channels": 3, "resolution": 1024, "label_size": 0}
    syn = st("G_synthesis", syn_func, groups["G_synthesis/"], dict(common))
    mapping = st("G_mapping", "G_mapping", groups["G_mapping/"], dict(common, dlatent_broadcast=18))
    return st("Gs", gs_func, groups[""], dict(common, **kwargs), {"synthesis": syn, "mapping": mapping})


@pytest.mark.parametrize("family", ["sg1", "sg2"])
def test_official_1024_variable_names_and_shapes(family, monkeypatch):
    txt = REFERENCE / f"tf_{family}_ffhq1024_variables.txt"
    if not txt.exists():
        pytest.skip("shared/reference not available")
    if family == "sg1":
        gs = _reference_states(txt, "G_style", "G_synthesis", {})
        assert len(gs.components["synthesis"].variables) == 1 + 18 + 9 * 10 + 18  # lod, noise, layers, ToRGB_lod*
        mod, what = stylegan1_tf, "StyleGAN1"
    else:
        gs = _reference_states(txt, "G_main", "G_synthesis_stylegan2", {})
        mod, what = stylegan2_tf, "StyleGAN2"
    cfg = mod.read_config(gs, "ffhq-1024")
    monkeypatch.setattr(mod, "_t", lambda a: torch.empty(a.shape, device="meta"))
    converted = mod.convert(gs, cfg, "ffhq-1024")  # consumes every listed variable, shapes checked
    sd = converted[0]
    from stylegan_eval.formats import check_state_dict
    from stylegan_eval.networks.stylegan2 import StyleGAN2

    with torch.device("meta"):
        if family == "sg1":
            net = StyledGenerator(512, 8, cfg["channels"], cfg["fused"], 3, variant="tf", mapping_lr_mul=0.01)
            assert cfg["channels"] == [512, 512, 512, 512, 256, 128, 64, 32, 16]
            assert cfg["fused"] == [False] * 5 + [True] * 4  # fused upsampling from 128 px
            assert cfg["truncation_cutoff"] == 8 and cfg["truncation_psi"] == 0.7
            n_train = 26219627
        else:
            net = StyleGAN2(1024, 512, 8, channels=cfg["channels"], architecture="skip")
            assert net.channel_multiplier == 2 and cfg["truncation_cutoff"] is None
            n_train = 30370060
    sd.update({k: b for k, b in net.named_buffers() if k not in sd})
    check_state_dict(net, sd, "ffhq-1024", f"the {what} network")
    params = sum(p.numel() for p in net.parameters())
    assert params == n_train, (params, n_train)  # the reference's trainable-parameter count


# ---------------------------------------------------------------------------------- hostile / malformed
def test_build_module_src_never_executed(tmp_path):
    canary = tmp_path / "canary"
    src = f"import os\nopen({str(canary)!r}, 'w').write('x')\ndef G_style(*a, **k):\n    pass\n"
    path = tu.write_sg1_pickle(tmp_path / "src.pkl", src=src)
    G = load_generator(path)
    assert torch.isfinite(G.generate(torch.randn(1, 8))).all()
    assert not canary.exists()


class _Evil:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        import os

        return (os.system, (self.cmd,))


def test_unknown_globals_refused_nothing_runs(tmp_path):
    canary = tmp_path / "canary"
    gs_v, map_v, syn_v = tu.sg1_variables()
    map_v["Dense0/bias"] = _Evil(f"touch {canary}")
    mk = tu.net_state("G_mapping", "G_mapping", map_v, tu.sg1_kwargs()[1])
    sk = tu.net_state("G_synthesis", "G_synthesis", syn_v, tu.sg1_kwargs()[2])
    gs = tu.net_state("Gs", "G_style", gs_v, {}, {"synthesis": sk, "mapping": mk})
    path = tu.dump_networks(tmp_path / "evil.pkl", [gs, gs, gs])
    msg = _one_line(UnsafePickleError, load_generator, path)
    assert "system" in msg and not canary.exists()


@pytest.mark.parametrize(
    "which,kwargs,expect",
    [
        ("synthesis", {"fmap_base": 2**40}, "fmap_base"),
        ("synthesis", {"fmap_base": "abc"}, "fmap_base"),
        ("synthesis", {"fmap_decay": "x"}, "fmap_decay"),
        ("synthesis", {"resolution": 48}, "power of two"),
        ("synthesis", {"fmap_max": 4096, "fmap_base": 1 << 20}, "refusing to allocate"),
        ("synthesis", {"blur_filter": "121"}, "blur_filter"),
        ("synthesis", {"use_instance_norm": False}, "use_instance_norm"),
        ("mapping", {"label_size": 3}, "conditional"),
        ("mapping", {"mapping_lrmul": float("nan")}, "mapping_lrmul"),
        ("gs", {"truncation_cutoff": "8"}, "truncation_cutoff"),
    ],
)
def test_sg1_bad_static_kwargs_one_line(tmp_path, which, kwargs, expect):
    gs_v, map_v, syn_v = tu.sg1_variables()
    gk, mk, sk = tu.sg1_kwargs()
    {"gs": gk, "mapping": mk, "synthesis": sk}[which].update(kwargs)
    m = tu.net_state("G_mapping", "G_mapping", map_v, mk)
    s = tu.net_state("G_synthesis", "G_synthesis", syn_v, sk)
    path = tu.dump_networks(
        tmp_path / "bad.pkl", [tu.net_state("Gs", "G_style", gs_v, gk, {"synthesis": s, "mapping": m})] * 3
    )
    assert expect in _one_line(CheckpointError, load_generator, path)


def test_kwargs_not_a_dict_and_bad_state_types(tmp_path):
    gs_v, map_v, syn_v = tu.sg2_variables()
    gk, mk, sk = tu.sg2_kwargs()
    m = tu.net_state("G_mapping", "G_mapping", map_v, mk)
    s = dict(tu.net_state("G_synthesis", "G_synthesis_stylegan2", syn_v, sk), static_kwargs=[("resolution", 32)])
    path = tu.dump_networks(
        tmp_path / "list.pkl", [tu.net_state("Gs", "G_main", gs_v, gk, {"synthesis": s, "mapping": m})] * 3
    )
    assert "static_kwargs must be a dict" in _one_line(CheckpointError, load_generator, path)
    s = dict(tu.net_state("G_synthesis", "G_synthesis_stylegan2", syn_v, sk), version="4")
    path = tu.dump_networks(
        tmp_path / "ver.pkl", [tu.net_state("Gs", "G_main", gs_v, gk, {"synthesis": s, "mapping": m})] * 3
    )
    assert "version" in _one_line(CheckpointError, load_generator, path)


@pytest.mark.parametrize("mutation", ["extra", "missing", "shape", "lod"])
def test_sg2_strict_variables(tmp_path, mutation):
    gs_v, map_v, syn_v = tu.sg2_variables()
    if mutation == "extra":
        syn_v["64x64/Conv1/weight"] = np.zeros((3, 3, 4, 4), np.float32)
    elif mutation == "missing":
        del syn_v["16x16/Conv1/noise_strength"]
    elif mutation == "shape":
        syn_v["8x8/ToRGB/bias"] = np.zeros(4, np.float32)
    else:
        gs_v["lod"] = np.array(1.0, np.float32)
    gk, mk, sk = tu.sg2_kwargs()
    m = tu.net_state("G_mapping", "G_mapping", map_v, mk)
    s = tu.net_state("G_synthesis", "G_synthesis_stylegan2", syn_v, sk)
    path = tu.dump_networks(
        tmp_path / "m.pkl", [tu.net_state("Gs", "G_main", gs_v, gk, {"synthesis": s, "mapping": m})] * 3
    )
    msg = _one_line(CheckpointError, load_generator, path)
    assert {"extra": "unexpected variables", "missing": "lacks variable", "shape": "has shape", "lod": "lod"}[
        mutation
    ] in msg


def test_tf_pickles_without_generator_components_still_reach_nvidia_loader(tmp_path):
    import nvidia_utils as nu

    path = nu.write_tf_pickle(tmp_path / "x.pkl")
    assert detect_format(read_checkpoint(path)) == "nvidia-pkl"


# ---------------------------------------------------------------------------------- config round trips
def _roundtrip(G, from_config):
    import json

    cfg = json.loads(json.dumps(G.config()))
    G2 = from_config(cfg, G.state_dict()).eval()
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(3))
    c = torch.eye(G.c_dim)[:2] if G.c_dim else None
    a = G.generate(z, c, psi=0.7, noise_mode="const")
    b = G2.generate(z, c, psi=0.7, noise_mode="const")
    assert torch.equal(a, b)
    assert G2.truncation_cutoff == G.truncation_cutoff and G2.family == G.family
    return cfg


def test_config_roundtrip_tf_families(tmp_path):
    G1 = load_generator(tu.write_sg1_pickle(tmp_path / "a.pkl", fused_scale=True, gs_kwargs={"truncation_cutoff": 3}))
    cfg = _roundtrip(G1, stylegan1_tf.from_config)
    assert cfg["family"] == "stylegan1-tf" and cfg["arch"]["variant"] == "tf" and cfg["truncation_cutoff"] == 3
    G2 = load_generator(
        tu.write_sg2_pickle(
            tmp_path / "b.pkl", ada=True, label_size=3, architecture="resnet", gs_kwargs={"truncation_cutoff": 4}
        )
    )
    cfg = _roundtrip(G2, stylegan2_tf.from_config)
    assert cfg["arch"]["architecture"] == "resnet" and cfg["w_avg_stored"]


def test_config_roundtrip_rosinality_families(tmp_path):
    torch.manual_seed(0)
    net = StyledGenerator(8, 2, channels=(8, 8, 4), fused=(False, False, True))
    G = StyleGAN1Generator(net, 16, "stylegan1-rosinality")
    cfg = _roundtrip(G, rosinality_sg1.from_config)
    assert cfg["arch"]["variant"] == "rosinality" and not cfg["w_avg_stored"]
    from stylegan_eval.networks.stylegan2 import StyleGAN2, StyleGAN2Generator

    G2 = StyleGAN2Generator(
        StyleGAN2(16, 8, 2, channels={4: 8, 8: 8, 16: 4}), "stylegan2-rosinality", w_avg=torch.randn(8)
    )
    _roundtrip(G2, rosinality_sg2.from_config)
    with pytest.raises(CheckpointError):
        rosinality_sg2.from_config(G2.config(), {})


# ---------------------------------------------------------------------------------- classifier hardening
def _classifier_pickle(tmp_path, static_kwargs, name="c.pkl", src=""):
    return tu.write_tf_pickle(tmp_path / name, tu.reference_variables(32, 64, 16), static_kwargs, src=src)


@pytest.mark.parametrize(
    "kwargs,expect",
    [
        ({"resolution": 32, "fmap_base": 64, "fmap_max": 16, "label_size": "abc"}, "label_size"),
        ({"resolution": 32, "fmap_base": 64, "fmap_max": 16, "fmap_decay": "x"}, "fmap_decay"),
        ({"resolution": 32, "fmap_base": 64, "fmap_max": "16"}, "fmap_max"),
        ({"resolution": 32, "fmap_base": 64, "fmap_max": 16, "mbstd_group_size": 2.5}, "mbstd_group_size"),
        ({"resolution": 32, "fmap_base": 64, "fmap_max": 16, "blur_filter": ["a"]}, "blur_filter"),
        ({"resolution": 2**30}, "resolution"),
        ({"resolution": 32, "fmap_base": 2**40}, "fmap_base"),
        ({"resolution": 32, "fmap_base": 2**20, "fmap_max": 4096}, "refusing to allocate"),
    ],
)
def test_classifier_bad_kwargs_one_line(tmp_path, kwargs, expect):
    from stylegan_eval.classifiers.tf_pickle import load_tf_classifier

    path = _classifier_pickle(tmp_path, kwargs)
    assert expect in _one_line(CheckpointError, load_tf_classifier, path)


def test_classifier_kwargs_as_list_and_tiny_huge_pickle(tmp_path):
    from stylegan_eval.classifiers.tf_pickle import load_tf_classifier

    with tu.fake_dnnlib() as Network:
        (tmp_path / "list.pkl").write_bytes(
            pickle.dumps(
                Network(
                    {
                        "version": 4,
                        "name": "D",
                        "static_kwargs": [["resolution", 256]],
                        "components": {},
                        "build_module_src": "",
                        "build_func_name": "D_basic",
                        "variables": [],
                    }
                )
            )
        )
        (tmp_path / "huge.pkl").write_bytes(
            pickle.dumps(
                Network(
                    {
                        "version": 4,
                        "name": "D",
                        "static_kwargs": {"resolution": 256, "fmap_base": 2**40, "fmap_max": 2**30},
                        "components": {},
                        "build_module_src": "",
                        "build_func_name": "D_basic",
                        "variables": [("4x4/Dense1/bias", np.zeros(1, np.float32))],
                    }
                )
            )
        )
    assert "static_kwargs must be a dict" in _one_line(CheckpointError, load_tf_classifier, tmp_path / "list.pkl")
    assert (tmp_path / "huge.pkl").stat().st_size < 2048
    assert "fmap" in _one_line(CheckpointError, load_tf_classifier, tmp_path / "huge.pkl")


def test_build_source_scan_is_linear_time():
    from stylegan_eval.classifiers.tf_pickle import infer_blur

    src = "def D_basic(x,\n" * 70_000  # ~1 MB of unclosed signatures (a backtracking regex takes hours)
    src += "def D_basic(images, blur_filter=[1, 3, 1], **kw):\n    return blur2d(images)\n"
    assert len(src) > 1_000_000
    state = tfn.TFNetworkState(4, "D", {}, "D_basic", src, {})
    t0 = time.perf_counter()
    sig, body = tfn.function_source(src, "D_basic")
    taps, why = infer_blur(state)
    assert time.perf_counter() - t0 < 2.0
    assert taps == [1.0, 3.0, 1.0] and "blur_filter=[1, 3, 1]" in why
    assert sig.startswith("images, blur_filter") and body.endswith("blur2d(images)\n")
    assert tfn.function_source("def D_basic(a,\n" * 1000, "D_basic") == ("", "")
