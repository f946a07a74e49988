"""The StyleGAN2 network, its pure-torch ops and the rosinality .pt loader."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from sg2_utils import expected_latent_avg, make_rosinality_checkpoint, make_sg2_net

from stylegan_eval.errors import CheckpointError
from stylegan_eval.formats import load_generator
from stylegan_eval.networks import ops
from stylegan_eval.networks.stylegan2 import StyleGAN2, StyleGAN2Generator, rosinality_channels

REFERENCE = Path("/work/shared/reference")
HERE = Path(__file__).parent


def _reference_keys(name: str) -> dict[str, list[int]]:
    for base in (HERE / "data", REFERENCE):
        f = base / name
        if f.exists():
            break
    else:
        pytest.skip(f"{name} not available")
    out = {}
    for line in f.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, shape = line.split(" ", 1)
        out[key] = [int(s) for s in shape.strip().strip("[]").split(",")]
    return out


# ---------------------------------------------------------------- architecture / keys
@pytest.mark.parametrize(
    "size,name", [(256, "sg2_rosinality_256_cm2_keys.txt"), (1024, "sg2_rosinality_1024_cm2_keys.txt")]
)
def test_full_size_keys_match_rosinality(size, name):
    ref = _reference_keys(name)
    with torch.device("meta"):
        net = StyleGAN2(size, 512, 8, 2)
    mine = {k: list(v.shape) for k, v in net.state_dict().items()}
    assert mine == ref
    assert net.n_latent == 2 * int(math.log2(size)) - 2
    assert len(net.noise_shapes) == (int(math.log2(size)) - 2) * 2 + 1


def test_channel_table():
    assert rosinality_channels(1024, 2) == {
        4: 512,
        8: 512,
        16: 512,
        32: 512,
        64: 512,
        128: 256,
        256: 128,
        512: 64,
        1024: 32,
    }
    assert rosinality_channels(256, 1)[64] == 256 and rosinality_channels(256, 1)[256] == 64


def test_conditional_embed_keys():
    with torch.device("meta"):
        net = StyleGAN2(16, 64, 2, channels={4: 8, 8: 8, 16: 8}, c_dim=10, z_dim=48)
    sd = net.state_dict()
    assert list(sd["embed.weight"].shape) == [64, 10] and list(sd["embed.bias"].shape) == [64]
    assert list(sd["style.1.weight"].shape) == [64, 48 + 64]


# ---------------------------------------------------------------- ops
def naive_upfirdn2d(x, k, up, down, pad):
    """Direct definition with loops: zero-insert, pad (neg = crop), true convolution, decimate."""
    px0, px1, py0, py1 = pad
    n, c, h, w = x.shape
    kh, kw = k.shape
    uh, uw = h * up, w * up
    u = torch.zeros(n, c, uh, uw, dtype=torch.float64)
    for i in range(h):
        for j in range(w):
            u[:, :, i * up, j * up] = x[:, :, i, j]
    ph, pw = uh + py0 + py1, uw + px0 + px1
    p = torch.zeros(n, c, ph, pw, dtype=torch.float64)
    for i in range(ph):
        for j in range(pw):
            si, sj = i - py0, j - px0
            if 0 <= si < uh and 0 <= sj < uw:
                p[:, :, i, j] = u[:, :, si, sj]
    oh, ow = ph - kh + 1, pw - kw + 1
    out = torch.zeros(n, c, oh, ow, dtype=torch.float64)
    for i in range(oh):
        for j in range(ow):
            acc = torch.zeros(n, c, dtype=torch.float64)
            for a in range(kh):
                for b in range(kw):
                    # convolution: output(i, j) = sum_a,b p(i + a, j + b) * k(kh-1-a, kw-1-b)
                    acc += p[:, :, i + a, j + b] * k[kh - 1 - a, kw - 1 - b]
            out[:, :, i, j] = acc
    return out[:, :, ::down, ::down]


@pytest.mark.parametrize(
    "up,down,pad,kshape",
    [
        (1, 1, (1, 1, 1, 1), (4, 4)),
        (2, 1, (2, 1, 2, 1), (4, 4)),
        (1, 2, (1, 1, 1, 1), (4, 4)),
        (2, 2, (0, 1, 2, 0), (3, 2)),
        (1, 1, (-1, 2, 0, -1), (2, 3)),
        (3, 1, (1, 2, 2, 1), (3, 3)),
    ],
)
def test_upfirdn2d_matches_naive(up, down, pad, kshape):
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 2, 5, 4, generator=g, dtype=torch.float64)
    k = torch.randn(*kshape, generator=g, dtype=torch.float64)  # asymmetric: checks the flip
    got = ops.upfirdn2d(x, k, up=up, down=down, pad=pad)
    want = naive_upfirdn2d(x, k, up, down, pad)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_upfirdn2d_two_element_pad_and_upsample_shape():
    x = torch.randn(1, 3, 8, 8)
    k = ops.make_kernel([1, 3, 3, 1]) * 4
    assert ops.upfirdn2d(x, k, up=2, pad=(2, 1)).shape == (1, 3, 16, 16)
    # a constant image stays constant (away from the borders) under the normalised upsampler
    y = ops.upfirdn2d(torch.ones(1, 1, 8, 8), k, up=2, pad=(2, 1))
    torch.testing.assert_close(y[..., 2:-2, 2:-2], torch.ones(1, 1, 12, 12))


def loop_modulated_conv(x, weight, styles, demodulate, upsample, blur_kernel):
    """Per-sample reference: modulate / demodulate one weight at a time, plain (transposed) conv."""
    outs = []
    k = weight.shape[-1]
    for i in range(x.shape[0]):
        w = weight * styles[i].reshape(1, -1, 1, 1)
        if demodulate:
            w = w / torch.sqrt((w**2).sum(dim=[1, 2, 3], keepdim=True) + 1e-8)
        xi = x[i : i + 1]
        if upsample:
            o = F.conv_transpose2d(xi, w.transpose(0, 1), stride=2)
            o = naive_upfirdn2d(o, blur_kernel, 1, 1, (1, 1, 1, 1))
        else:
            o = F.conv2d(xi, w, padding=k // 2)
        outs.append(o)
    return torch.cat(outs)


@pytest.mark.parametrize("demodulate,upsample,k", [(True, False, 3), (True, True, 3), (False, False, 1)])
@pytest.mark.parametrize("fused", [True, False])
def test_modulated_conv_matches_loop(demodulate, upsample, k, fused):
    g = torch.Generator().manual_seed(2)
    x = torch.randn(3, 4, 5, 5, generator=g, dtype=torch.float64)
    weight = torch.randn(6, 4, k, k, generator=g, dtype=torch.float64)
    styles = torch.randn(3, 4, generator=g, dtype=torch.float64)
    blur = (ops.make_kernel([1, 3, 3, 1]) * 4).double()
    got = ops.modulated_conv2d(
        x, weight, styles, demodulate=demodulate, upsample=upsample, blur_kernel=blur, fused=fused
    )
    want = loop_modulated_conv(x, weight, styles, demodulate, upsample, blur)
    assert got.shape == ((3, 6, 10, 10) if upsample else (3, 6, 5, 5))
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_fused_leaky_relu():
    x = torch.tensor([[-1.0, 2.0]])
    out = ops.fused_leaky_relu(x, torch.tensor([0.5, -1.0]))
    torch.testing.assert_close(out, torch.tensor([[-0.1, 1.0]]) * math.sqrt(2))


def test_conv_clamp_limits_outputs():
    from stylegan_eval.networks.stylegan2 import StyledConv

    def activation_max(net, ws):
        seen = []
        hooks = [
            m.register_forward_hook(lambda m, i, o: seen.append(o.abs().max().item()))
            for m in net.modules()
            if isinstance(m, StyledConv)
        ]
        img = net(ws, [None] * net.num_layers)
        for h in hooks:
            h.remove()
        return max(seen), img

    ws = make_sg2_net(16).mapping(torch.randn(2, 32)).unsqueeze(1).repeat(1, 6, 1)
    free_max, free_img = activation_max(make_sg2_net(16), ws)
    clamped_max, img = activation_max(make_sg2_net(16, conv_clamp=0.5), ws)
    assert free_max > 0.5 and clamped_max == pytest.approx(0.5)
    # each ToRGB output is clamped before the skip sum (3 ToRGBs; the upsampler keeps the range)
    assert img.abs().max() <= 0.5 * 3 + 1e-5 and not torch.allclose(img, free_img)


# ---------------------------------------------------------------- loader
@pytest.mark.parametrize("layout", ["g_ema", "train", "bare", "prefixed"])
def test_layouts_load_with_autodetection(tmp_path, layout):
    kw = {"layout": "g_ema", "module_prefix": True} if layout == "prefixed" else {"layout": layout}
    path = make_rosinality_checkpoint(tmp_path / "g.pt", size=16, **kw)
    G = load_generator(path)
    assert isinstance(G, StyleGAN2Generator) and G.family == "stylegan2-rosinality"
    assert (G.resolution, G.z_dim, G.w_dim, G.num_ws, G.img_channels, G.c_dim) == (16, 32, 32, 6, 3, 0)
    assert G.noise_shapes == [(4, 4), (8, 8), (8, 8), (16, 16), (16, 16)]
    info = G.info()
    assert info["n_mlp"] == 2 and info["channels"] == {"4": 16, "8": 16, "16": 8}
    # weights equal the generator that was saved
    ref = make_sg2_net(16)
    for k, v in ref.state_dict().items():
        assert torch.equal(G.net.state_dict()[k], v), k
    if layout in ("g_ema", "prefixed"):
        torch.testing.assert_close(G.stored_w_avg(), expected_latent_avg())
    else:
        assert G.stored_w_avg() is None
    if layout == "train":
        assert info["train_args"]["size"] == 16
    z = torch.randn(2, 32, generator=torch.Generator().manual_seed(0))
    img = G.generate(z, noise_seed=3)
    assert img.shape == (2, 3, 16, 16) and torch.isfinite(img).all()


def test_multiplier_inferred_for_rosinality_table(tmp_path):
    path = make_rosinality_checkpoint(
        tmp_path / "g.pt", size=64, style_dim=16, n_mlp=1, channels=rosinality_channels(64, 1)
    )
    G = load_generator(path)
    assert G.info()["channel_multiplier"] == 1 and G.resolution == 64 and G.num_ws == 10


def test_batch_size_invariance(tmp_path):
    G = load_generator(make_rosinality_checkpoint(tmp_path / "g.pt", size=32))
    idx = torch.arange(8, dtype=torch.int64)
    z = torch.randn(8, 32, generator=torch.Generator().manual_seed(5))
    full = G.generate(z, noise_seed=7, indices=idx, psi=0.7)
    for bs in (1, 3):
        parts = [G.generate(z[i : i + bs], noise_seed=7, indices=idx[i : i + bs], psi=0.7) for i in range(0, 8, bs)]
        noise = [G.make_noise(len(idx[i : i + bs]), noise_seed=7, indices=idx[i : i + bs]) for i in range(0, 8, bs)]
        # the noise of sample i depends on (seed, i) alone, bit for bit ...
        for layer, full_noise in enumerate(G.make_noise(8, noise_seed=7, indices=idx)):
            assert torch.equal(torch.cat([n[layer] for n in noise]), full_noise)
        # ... while BLAS / oneDNN pick other kernels for other batch shapes: float32 rounding only
        torch.testing.assert_close(torch.cat(parts), full, rtol=0, atol=5e-5)


def test_noise_modes(tmp_path):
    G = load_generator(make_rosinality_checkpoint(tmp_path / "g.pt"))
    ws = G.mapping(torch.randn(2, 32, generator=torch.Generator().manual_seed(1)))
    const = G.make_noise(2, "const")
    for n, buf in zip(const, G.net.const_noise()):
        assert torch.equal(n[0], buf[0]) and torch.equal(n[1], buf[0])
    explicit = G.synthesis(ws, noise=[b.expand(2, -1, -1, -1) for b in G.net.const_noise()])
    assert torch.equal(G.synthesis(ws, "const"), explicit)
    none = G.synthesis(ws, "none")
    rand = G.synthesis(ws, "random", noise_seed=0)
    assert (none - rand).abs().max() > 1e-3
    assert torch.equal(rand, G.synthesis(ws, "random", noise_seed=0))
    assert (G.synthesis(ws, "random", noise_seed=1) - rand).abs().max() > 1e-3


def test_truncation_psi0_gives_latent_avg(tmp_path):
    G = load_generator(make_rosinality_checkpoint(tmp_path / "g.pt"))
    ws = G.truncate(G.mapping(torch.randn(4, 32)), psi=0.0)
    torch.testing.assert_close(ws, expected_latent_avg().expand(4, G.num_ws, 32))


def test_mapping_is_pixelnorm_then_mlp():
    net = make_sg2_net(8, style_dim=16, n_mlp=2)
    z = torch.randn(3, 16)
    x = z / torch.sqrt((z**2).mean(1, keepdim=True) + 1e-8)
    for i in (1, 2):
        lin = net.style[i]
        x = F.leaky_relu(x @ (lin.weight * 0.01 / 4).T + lin.bias * 0.01, 0.2) * math.sqrt(2)
    torch.testing.assert_close(net.mapping(z), x)


def test_conditional_mapping():
    net = make_sg2_net(8, style_dim=16, n_mlp=1, c_dim=3, z_dim=8)
    c = F.one_hot(torch.tensor([0, 2]), 3).float()
    z = torch.randn(2, 8)
    w = net.mapping(z, c)
    assert w.shape == (2, 16)
    assert (w[0] - net.mapping(z, c.flip(0))[0]).abs().max() > 1e-4
    G = StyleGAN2Generator(net, "stylegan2-nvidia")
    assert G.c_dim == 3 and G.generate(z, c, noise_mode="none").shape == (2, 3, 8, 8)


# ---------------------------------------------------------------- bad input
def test_shape_mismatch_is_checkpoint_error(tmp_path):
    path = make_rosinality_checkpoint(tmp_path / "g.pt")
    obj = torch.load(path, weights_only=True)
    obj["g_ema"]["convs.1.conv.weight"] = torch.zeros(1, 5, 16, 3, 3)
    obj["g_ema"]["extra.thing"] = torch.zeros(1)
    del obj["g_ema"]["conv1.noise.weight"]
    torch.save(obj, path)
    with pytest.raises(CheckpointError) as e:
        load_generator(path)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg
    assert "conv1.noise.weight" in msg and "extra.thing" in msg and "convs.1.conv.weight" in msg


def test_bad_latent_avg_and_wrong_format(tmp_path):
    path = make_rosinality_checkpoint(tmp_path / "g.pt")
    obj = torch.load(path, weights_only=True)
    obj["latent_avg"] = torch.zeros(7)
    torch.save(obj, path)
    with pytest.raises(CheckpointError, match="latent_avg"):
        load_generator(path)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(CheckpointError):
        load_generator(other, format="stylegan2-rosinality")


def test_resolution_option_checked(tmp_path):
    path = make_rosinality_checkpoint(tmp_path / "g.pt")
    assert load_generator(path, resolution=16).resolution == 16
    with pytest.raises(Exception, match="32"):
        load_generator(path, resolution=32)


def test_unfused_modconv_path_matches_fused():
    net = make_sg2_net(16)
    ws = torch.randn(3, net.n_latent, 32)
    noise = [torch.randn(3, 1, h, w) for h, w in net.noise_shapes]
    fused = net(ws, noise)
    net.set_fused_modconv(False)
    torch.testing.assert_close(net(ws, noise), fused, rtol=1e-4, atol=1e-5)
