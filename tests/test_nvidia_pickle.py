"""NVIDIA network pickles: restricted unpickling, StyleGAN2 conversion verified against an
independent re-statement of NVIDIA's forward pass, and refusals of hostile / unsupported files."""

from __future__ import annotations

import math
import pickle

import numpy as np
import nvidia_utils as nu
import pytest
import torch
import torch.nn.functional as F

from stylegan_eval import generator as genmod
from stylegan_eval.errors import CheckpointError, UnsafePickleError, UserError
from stylegan_eval.formats import detect_format, load_generator, read_checkpoint
from stylegan_eval.formats import nvidia_pickle as nvp
from stylegan_eval.formats.safe_pickle import safe_load, safe_loads

SQRT2 = math.sqrt(2.0)


# =============================================================================================
# Independent re-statement of NVIDIA's StyleGAN2 generator forward (training/networks.py with
# torch_utils/ops semantics), written against the NVIDIA-named state dict, float64, one sample
# at a time. It uses conv2d_resample's *generic* path for up=2 (zero-insert upsampling, FIR
# filter, then a true convolution because flip_weight=False), not the transposed-conv route
# the converted module takes, so the conv0 weight orientation is checked, not assumed.
# =============================================================================================
def _fc(x, sd, name, lr=1.0, act="linear"):
    w, b = sd[f"{name}.weight"].double(), sd[f"{name}.bias"].double()
    x = x @ (w * (lr / math.sqrt(w.shape[1]))).t() + b * lr
    return F.leaky_relu(x, 0.2) * SQRT2 if act == "lrelu" else x


def _norm2(x):
    return x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()


def _upfirdn(x, f, up, pad):
    """NVIDIA upfirdn2d: insert up-1 zeros after each pixel, pad [x0, x1, y0, y1], convolve f."""
    n, c, h, w = x.shape
    if up > 1:
        z = x.new_zeros(n, c, h * up, w * up)
        z[:, :, ::up, ::up] = x
        x = z
    x = F.pad(x, list(pad))
    k = f.flip([0, 1]).reshape(1, 1, *f.shape).repeat(c, 1, 1, 1)
    return F.conv2d(x, k, groups=c)


def _bias_act(x, b, act, clamp):
    x = x + b.reshape(1, -1, 1, 1)
    if act == "lrelu":
        x = F.leaky_relu(x, 0.2) * SQRT2
    return x.clamp(-clamp, clamp) if clamp is not None else x


def _synthesis_layer(x, w, sd, name, up, noise, clamp):
    styles = _fc(w, sd, f"{name}.affine")
    weight = sd[f"{name}.weight"].double()
    f = sd[f"{name}.resample_filter"].double()
    out = []
    for i in range(x.shape[0]):
        wi = weight * styles[i].reshape(1, -1, 1, 1)
        wi = wi * (wi.square().sum(dim=[1, 2, 3], keepdim=True) + 1e-8).rsqrt()
        xi = x[i : i + 1]
        if up == 2:
            # padding 1 w.r.t. the upsampled image; fw=4: px0 = 1 + 2, px1 = 1 + 1; gain up**2
            xi = _upfirdn(xi, f * 4, up=2, pad=(3, 2, 3, 2))
            out.append(F.conv2d(xi, wi.flip([2, 3])))
        else:
            out.append(F.conv2d(xi, wi, padding=1))
    x = torch.cat(out)
    x = x + noise.double() * sd[f"{name}.noise_strength"].double()
    return _bias_act(x, sd[f"{name}.bias"].double(), "lrelu", clamp)


def _torgb(x, w, sd, name, clamp):
    weight = sd[f"{name}.weight"].double()
    styles = _fc(w, sd, f"{name}.affine") / math.sqrt(weight.shape[1])
    out = torch.cat([F.conv2d(x[i : i + 1], weight * styles[i].reshape(1, -1, 1, 1)) for i in range(x.shape[0])])
    return _bias_act(out, sd[f"{name}.bias"].double(), "linear", clamp)


def ref_mapping(sd, z, c, n_mlp, lr, num_ws):
    x = _norm2(z.double())
    if c is not None:
        x = torch.cat([x, _norm2(_fc(c.double(), sd, "mapping.embed"))], dim=1)
    for i in range(n_mlp):
        x = _fc(x, sd, f"mapping.fc{i}", lr, "lrelu")
    return x.unsqueeze(1).repeat(1, num_ws, 1)


def ref_synthesis(sd, ws, noise, resolution, clamp):
    ws = ws.double()
    x = img = None
    w_idx = k = 0
    for res in [2**i for i in range(2, int(math.log2(resolution)) + 1)]:
        blk = f"synthesis.b{res}"
        if res == 4:
            x = sd[f"{blk}.const"].double().unsqueeze(0).repeat(ws.shape[0], 1, 1, 1)
            x = _synthesis_layer(x, ws[:, w_idx], sd, f"{blk}.conv1", 1, noise[k], clamp)
            num_conv, k = 1, k + 1
        else:
            x = _synthesis_layer(x, ws[:, w_idx], sd, f"{blk}.conv0", 2, noise[k], clamp)
            x = _synthesis_layer(x, ws[:, w_idx + 1], sd, f"{blk}.conv1", 1, noise[k + 1], clamp)
            num_conv, k = 2, k + 2
        if img is not None:
            img = _upfirdn(img, sd[f"{blk}.resample_filter"].double() * 4, up=2, pad=(2, 1, 2, 1))
        y = _torgb(x, ws[:, w_idx + num_conv], sd, f"{blk}.torgb", clamp)
        img = y if img is None else img + y
        w_idx += num_conv
    return img


def ref_generate(sd, z, c, *, n_mlp, lr, num_ws, resolution, clamp, noise, psi=1.0):
    ws = ref_mapping(sd, z, c, n_mlp, lr, num_ws)
    if psi != 1:
        ws = sd["mapping.w_avg"].double().lerp(ws, psi)
    return ref_synthesis(sd, ws, noise, resolution, clamp)


# =============================================================================================
# fixtures
# =============================================================================================
@pytest.fixture(scope="module")
def tiny_pickle(tmp_path_factory):
    """(path, fake NVIDIA G_ema module) with conv_clamp 256 and the stylegan2-ada layout."""
    path = tmp_path_factory.mktemp("nv") / "network-snapshot-000000.pkl"
    G = nu.make_generator()
    nu.write_snapshot(path, G)
    return path, G


def _noise(gen, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 1, h, w, generator=g) for h, w in gen.noise_shapes]


def _max_diff(a, b):
    return (a.double() - b.double()).abs().max().item()


# =============================================================================================
# safe_pickle
# =============================================================================================
def test_safe_pickle_roundtrip_tensors_numpy():
    data = {
        "p": torch.nn.Parameter(torch.randn(2, 3)),
        "view": torch.arange(10.0)[2::3],
        "half": torch.ones(2, dtype=torch.float16),
        "np": np.arange(6, dtype=np.float32).reshape(2, 3),
        "scalar": np.float64(0.25),
        "set": {1, 2},
        "dtype": torch.float16,
    }
    for proto in (2, 4, 5):
        out = safe_loads(pickle.dumps(data, protocol=proto))
        assert torch.equal(out["p"], data["p"]) and isinstance(out["p"], torch.nn.Parameter)
        assert torch.equal(out["view"], torch.tensor([2.0, 5.0, 8.0]))
        assert out["half"].dtype == torch.float16
        assert np.array_equal(out["np"], data["np"]) and out["scalar"] == 0.25
        assert out["set"] == {1, 2} and out["dtype"] is torch.float16


def test_safe_pickle_accepts_numpy1_module_names():
    # numpy 1.x (and so every 2021 NVIDIA pickle) names numpy.core.multiarray, not numpy._core
    blob = pickle.dumps(np.float32(1.5), protocol=2)
    blob = blob.replace(b"numpy._core.multiarray\n", b"numpy.core.multiarray\n")
    assert b"numpy.core.multiarray\n" in blob
    assert safe_loads(blob) == np.float32(1.5)


@pytest.mark.parametrize(
    "module,name,args",
    [
        ("os", "system", "touch {m}"),
        ("posix", "system", "touch {m}"),
        ("builtins", "exec", "open({m!r}, 'w').write('x')"),
        ("builtins", "eval", "open({m!r}, 'w')"),
        ("builtins", "getattr", "x"),
        ("subprocess", "getoutput", "touch {m}"),
        ("torch", "load", "{m}"),
        ("numpy", "load", "{m}"),
        ("torch.storage", "_load_from_bytes_real", "x"),
    ],
)
def test_safe_pickle_refuses_code_globals(tmp_path, module, name, args):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(nu.raw_reduce_pickle(module, name, args.format(m=str(marker))))
    with pytest.raises(UnsafePickleError) as exc:
        safe_load(path)
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg and f"{module}.{name}" in msg
    assert not marker.exists()


def test_safe_pickle_refuses_build_on_allowed_class():
    # GLOBAL dnnlib.util EasyDict; BUILD with slot state -> would setattr on the class itself
    blob = b"cdnnlib.util\nEasyDict\n(N}Vget\nI1\nstb."
    with pytest.raises(CheckpointError):
        safe_loads(blob, extra_globals=nvp.NVIDIA_GLOBALS)
    assert nvp.EasyDict.get is dict.get
    # the same against a wrapped torch function (its real attributes must stay untouched)
    blob = b"ctorch._utils\n_rebuild_tensor_v2\n(N}V_fn\nI1\nstb."
    with pytest.raises(CheckpointError):
        safe_loads(blob)
    blob = b"ctorch._utils\n_rebuild_tensor_v2\n}V__defaults__\n(I1\ntsb."
    with pytest.raises(CheckpointError):
        safe_loads(blob)


@pytest.mark.parametrize("blob", [b"\x80\x04\x95garbage", b"\x80\x04}q\x00(X\x01\x00\x00\x00a", b"\x80"])
def test_safe_pickle_garbage_and_truncated(tmp_path, blob):
    path = tmp_path / "bad.pkl"
    path.write_bytes(blob)
    with pytest.raises(CheckpointError) as exc:
        safe_load(path)
    assert "\n" not in str(exc.value) and str(path) in str(exc.value)


# =============================================================================================
# reading NVIDIA pickles
# =============================================================================================
def test_reader_records_and_detection(tiny_pickle):
    path, G = tiny_pickle
    raw = read_checkpoint(path)
    assert raw.kind == "pickle" and detect_format(raw) == "nvidia-pkl"
    data = nvp.read_network_pickle(path)
    assert set(data) == {"G", "D", "G_ema", "augment_pipe", "training_set_kwargs"}
    rec = data["G_ema"]
    assert isinstance(rec, nvp.PersistentRecord) and rec.class_name == "Generator"
    assert isinstance(rec.init_kwargs["synthesis_kwargs"], nvp.EasyDict)
    assert rec.init_kwargs["synthesis_kwargs"].channel_base == 128
    assert data["training_set_kwargs"].resolution == 16
    assert rec.children["synthesis"].children["b8"].attrs["use_fp16"] is True
    assert isinstance(rec.children["mapping"].children["fc0"].attrs["weight_gain"], float)
    sd = rec.state_dict()
    ref = nu.state_dict(G)
    assert set(sd) == set(ref)
    for k in ref:
        assert torch.equal(sd[k], ref[k]), k


def test_key_mapping_names_and_strict_load(tiny_pickle):
    path, G = tiny_pickle
    rec = nvp.read_network_pickle(path)["G_ema"]
    sd = rec.state_dict()
    cfg = nvp.read_config(rec, sd, path)
    assert cfg.channels == {4: 32, 8: 16, 16: 8} and cfg.n_mlp == 2 and cfg.conv_clamp == 256
    assert cfg.fp16_resolutions == [8, 16] and cfg.layout == "stylegan2-ada-pytorch"
    converted, w_avg, used = nvp.convert_state_dict(sd, cfg, path)
    from stylegan_eval.networks.stylegan2 import StyleGAN2

    net = StyleGAN2(16, 16, 2, z_dim=12, channels=cfg.channels)
    own = net.state_dict()
    kernels = {k for k in own if k.endswith(".kernel")}
    assert set(converted) == set(own) - kernels
    assert converted["input.input"].shape == (1, 32, 4, 4)
    assert converted["convs.0.conv.weight"].shape == (1, 16, 32, 3, 3)
    assert converted["noises.noise_4"].shape == (1, 1, 16, 16)
    assert converted["to_rgbs.1.bias"].shape == (1, 3, 1, 1)
    assert torch.equal(converted["convs.2.noise.weight"], sd["synthesis.b16.conv0.noise_strength"].reshape(1))
    assert torch.equal(converted["style.2.weight"], sd["mapping.fc1.weight"])
    assert torch.equal(w_avg, sd["mapping.w_avg"])
    assert set(sd) - set(used) == {k for k in sd if k.endswith("resample_filter")}
    gen = load_generator(path)
    assert gen.family == "stylegan2-nvidia"
    assert (gen.resolution, gen.z_dim, gen.w_dim, gen.num_ws, gen.c_dim) == (16, 12, 16, 6, 0)
    info = gen.info()
    assert info["fp16_resolutions"] == [8, 16] and "float32" in info["precision"]
    assert torch.equal(gen.stored_w_avg(), sd["mapping.w_avg"])


# =============================================================================================
# verified equal to NVIDIA's forward
# =============================================================================================
@pytest.mark.parametrize("layout,conv_clamp,lr", [("ada", 256, 0.01), ("stylegan3", 0.7, 0.01), ("ada", None, 0.1)])
def test_matches_reference_forward(tmp_path, layout, conv_clamp, lr):
    G = nu.make_generator(layout=layout, conv_clamp=conv_clamp, lr_multiplier=lr, seed=3)
    path = nu.write_snapshot(tmp_path / "g.pkl", G)
    gen = load_generator(path)
    info = gen.info()
    assert info["init_kwargs_layout"] == ("stylegan2-ada-pytorch" if layout == "ada" else "stylegan3-repo")
    assert info["conv_clamp"] == conv_clamp
    sd = nu.state_dict(G)
    n = 3
    g = torch.Generator().manual_seed(1)
    z = torch.randn(n, 12, generator=g)
    # mapping
    ws_ref = ref_mapping(sd, z, None, 2, lr, 6)
    with torch.no_grad():
        ws = gen.mapping(z)
    assert _max_diff(ws, ws_ref) < 1e-4
    # synthesis with distinct per-layer ws (checks the w index of every layer) and explicit noise
    ws_mixed = torch.randn(n, 6, 16, generator=g)
    noise = _noise(gen, n, seed=2)
    with torch.no_grad():
        img = gen.synthesis(ws_mixed, noise=noise)
    ref = ref_synthesis(sd, ws_mixed, noise, 16, conv_clamp)
    assert img.shape == (n, 3, 16, 16) and torch.isfinite(img).all()
    assert ref.abs().max() > 0.1
    diff = _max_diff(img, ref)
    assert diff < 1e-4, diff
    if conv_clamp is not None and conv_clamp < 1:
        assert (ref.abs() > conv_clamp).any()  # the skip sum exceeds one layer's clamp: clamping was exercised
    # full generate with the stored const noise and truncation towards the stored w_avg
    with torch.no_grad():
        img = gen.generate(z, psi=0.6, noise_mode="const")
    const = [sd[k].reshape(1, 1, *sd[k].shape) for k in sd if k.endswith("noise_const")]
    ref = ref_generate(sd, z, None, n_mlp=2, lr=lr, num_ws=6, resolution=16, clamp=conv_clamp, noise=const, psi=0.6)
    assert _max_diff(img, ref) < 1e-4


def test_reference_detects_a_flipped_upsampling_kernel(tiny_pickle):
    """The comparison is sensitive to the conv0 orientation (so the no-flip mapping is verified)."""
    path, G = tiny_pickle
    gen = load_generator(path)
    sd = nu.state_dict(G)
    flipped = dict(sd)
    for k in sd:
        if k.endswith("conv0.weight"):
            flipped[k] = sd[k].flip([2, 3])
    ws = torch.randn(2, 6, 16, generator=torch.Generator().manual_seed(5))
    noise = _noise(gen, 2)
    with torch.no_grad():
        img = gen.synthesis(ws, noise=noise)
    assert _max_diff(img, ref_synthesis(sd, ws, noise, 16, 256)) < 1e-4
    assert _max_diff(img, ref_synthesis(flipped, ws, noise, 16, 256)) > 1e-2


def test_batch_size_invariance(tiny_pickle):
    path, _ = tiny_pickle
    gen = load_generator(path)
    outs = {}
    for n in (1, 3, 8):
        idx = torch.arange(n)
        z = genmod.latents(gen, 7, idx)
        with torch.no_grad():
            outs[n] = gen.generate(z, psi=0.8, noise_mode="random", noise_seed=11, indices=idx)
        assert outs[n].shape == (n, 3, 16, 16) and torch.isfinite(outs[n]).all()
    assert _max_diff(outs[1], outs[8][:1]) < 1e-5
    assert _max_diff(outs[3], outs[8][:3]) < 1e-5
    assert _max_diff(outs[8][0], outs[8][1]) > 1e-3


def test_conditional_generator(tmp_path):
    G = nu.make_generator(c_dim=4, seed=4)
    path = nu.write_snapshot(tmp_path / "cond.pkl", G)
    gen = load_generator(path)
    assert gen.c_dim == 4 and gen.info()["conditional"]
    z = torch.randn(2, 12, generator=torch.Generator().manual_seed(0))
    with pytest.raises(UserError, match="--class"):
        gen.generate(z, noise_mode="none")
    c = genmod.labels(gen, 0, torch.arange(2), class_idx=2)
    sd = nu.state_dict(G)
    with torch.no_grad():
        img = gen.generate(z, c, noise_mode="const")
        other = gen.generate(z, genmod.labels(gen, 0, torch.arange(2), class_idx=0), noise_mode="const")
    const = [sd[k].reshape(1, 1, *sd[k].shape) for k in sd if k.endswith("noise_const")]
    ref = ref_generate(sd, z, c, n_mlp=2, lr=0.01, num_ws=6, resolution=16, clamp=256, noise=const)
    assert _max_diff(img, ref) < 1e-4
    assert _max_diff(img, other) > 1e-3


def test_falls_back_to_G_without_G_ema(tmp_path):
    G = nu.make_generator(seed=6)
    data = nu.snapshot(G, with_g_ema=False)
    path = tmp_path / "g_only.pkl"
    nu.dump(data, path)
    gen = load_generator(path)
    assert gen.info()["source_network"] == "G"
    ws = torch.randn(1, 6, 16, generator=torch.Generator().manual_seed(0))
    noise = _noise(gen, 1)
    with torch.no_grad():
        img = gen.synthesis(ws, noise=noise)
    assert _max_diff(img, ref_synthesis(nu.state_dict(G), ws, noise, 16, 256)) < 1e-4


# =============================================================================================
# refusals
# =============================================================================================
def _one_line_error(exc_type, path, **kw):
    with pytest.raises(exc_type) as exc:
        load_generator(path, **kw)
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg
    return msg


def test_module_src_is_never_executed(tmp_path):
    marker = tmp_path / "executed"
    path = nu.write_snapshot(tmp_path / "g.pkl", module_src=nu.hostile_module_src(marker))
    assert b"raise SystemExit" in path.read_bytes()
    gen = load_generator(path)  # would raise SystemExit / write the marker if exec'd
    assert gen.resolution == 16 and not marker.exists()


def test_hostile_globals_inside_a_snapshot(tmp_path):
    import os

    marker = tmp_path / "pwned"

    class Shell:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    class Exec:
        def __reduce__(self):
            return (exec, (f"open({str(marker)!r}, 'w').write('x')",))

    for i, payload in enumerate((Shell(), Exec())):
        data = nu.snapshot(nu.make_generator())
        data["training_set_kwargs"]["hook"] = payload
        path = tmp_path / f"evil{i}.pkl"
        nu.dump(data, path)
        assert read_checkpoint(path).kind == "pickle"
        msg = _one_line_error(UnsafePickleError, path)
        assert ("system" in msg) if i == 0 else ("builtins.exec" in msg)
        assert not marker.exists()


def test_stylegan3_goes_to_the_sg3_module(tmp_path):
    path = tmp_path / "sg3.pkl"
    nu.dump(nu.snapshot(nu.SG3Generator()), path)
    assert load_generator(path).family == "stylegan3-t"  # details: tests/test_stylegan3.py


def test_tensorflow_pickle_refused(tmp_path):
    path = nu.write_tf_pickle(tmp_path / "karras2019stylegan-ffhq-1024x1024.pkl")
    assert detect_format(read_checkpoint(path)) == "nvidia-pkl"
    msg = _one_line_error(CheckpointError, path)
    assert "TensorFlow" in msg


def test_resnet_architecture_refused(tmp_path):
    path = nu.write_snapshot(tmp_path / "resnet.pkl", architecture="resnet")
    assert "architecture" in _one_line_error(CheckpointError, path)


def test_wrong_persistence_version_and_missing_generator(tmp_path):
    G = nu.make_generator()
    orig = nu.Persistent.__reduce__

    def v5(self):
        fn, (meta,) = orig(self)
        return fn, (dict(meta, version=5),)

    nu.Persistent.__reduce__ = v5
    try:
        nu.dump({"G_ema": G}, tmp_path / "v5.pkl")
    finally:
        nu.Persistent.__reduce__ = orig
    assert "version 5" in _one_line_error(CheckpointError, tmp_path / "v5.pkl")
    nu.dump({"D": nu.Discriminator(0, 16, 3, g=torch.Generator())}, tmp_path / "d_only.pkl")
    assert "G_ema" in _one_line_error(CheckpointError, tmp_path / "d_only.pkl")


def test_truncated_nvidia_pickle(tiny_pickle, tmp_path):
    path, _ = tiny_pickle
    cut = tmp_path / "cut.pkl"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    _one_line_error(CheckpointError, cut)


def test_resolution_option_checked(tiny_pickle):
    path, _ = tiny_pickle
    assert load_generator(path, resolution=16).resolution == 16
    assert "resolution" in _one_line_error(CheckpointError, path, resolution=32)


# =============================================================================================
# CLI
# =============================================================================================
def test_cli_info_generate_and_refusal(cli, tmp_path):
    path = nu.write_snapshot(tmp_path / "cond.pkl", c_dim=3)
    code, out, err = cli("info", path, "--device", "cpu", "--json")
    assert code == 0, err
    assert '"stylegan2-nvidia"' in out and '"c_dim": 3' in out
    grid = tmp_path / "grid.png"
    code, out, err = cli(
        "generate", path, "--seeds", "0-1", "--class", "2", "--device", "cpu", "--out-file", grid, "--quiet"
    )
    assert code == 0, err
    assert grid.is_file()
    code, out, err = cli(
        "generate", path, "--seeds", "0", "--class", "7", "--device", "cpu", "--out-file", grid, "--quiet", "--force"
    )
    assert code == 2 and "--class" in err
    sg3 = tmp_path / "sg3.pkl"
    nu.dump(nu.snapshot(nu.SG3Generator()), sg3)
    code, out, err = cli("info", sg3, "--device", "cpu")
    assert code == 0 and "stylegan3-t" in out, err
