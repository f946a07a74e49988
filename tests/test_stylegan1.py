"""rosinality StyleGAN1 (.model): architecture keys, loader layouts, resolution handling, and
equality with an independent functional re-statement of the original forward pass."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
import torch
from sg1_utils import CODE_DIM, TINY, make_net, save_checkpoint

from stylegan_eval import sampling
from stylegan_eval.errors import CheckpointError
from stylegan_eval.formats import (
    RawCheckpoint,
    detect_format,
    load_generator,
    read_checkpoint,
    rosinality_sg1,
    rosinality_sg2,
)
from stylegan_eval.networks.stylegan1 import PUBLISHED_CHANNELS, StyledGenerator, StyleGAN1Generator

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny nets: intra-op threads only add overhead

HERE = Path(__file__).parent
KEYS_FILE = "sg1_rosinality_styledgenerator_keys.txt"
# Reference comparisons: the re-statement computes instance norm by hand, and sums the fused
# kernel in another order, so agreement is to float rounding (images are O(1)).
REF_TOL = dict(rtol=1e-4, atol=1e-4)


def _lrelu(x):
    return torch.where(x >= 0, x, 0.2 * x)


def _eq(w: torch.Tensor) -> torch.Tensor:
    """Equalized-lr weight: w * sqrt(2 / fan_in), fan_in = in-channels x kernel area."""
    return w * math.sqrt(2.0 / (w.shape[1] * w[0][0].numel()))


def ref_forward(sd, zs, noise, step, alpha=-1.0, mean_style=None, style_weight=0.0, mixing_range=(-1, -1)):
    """Independent functional re-statement of rosinality's StyledGenerator forward, from a state dict.

    zs: list of z [N, D] (1 or 2); noise: list of [N, 1, 4*2^i, 4*2^i]; returns [N, 3, R, R].
    """
    g = lambda k: sd["generator." + k]  # noqa: E731
    styles = []
    for z in zs:
        x = z / torch.sqrt((z * z).mean(1, keepdim=True) + 1e-8)
        i = 1
        while f"style.{i}.linear.weight_orig" in sd:
            x = _lrelu(
                torch.nn.functional.linear(x, _eq(sd[f"style.{i}.linear.weight_orig"]), sd[f"style.{i}.linear.bias"])
            )
            i += 2
        styles.append(x)
    if mean_style is not None:
        styles = [mean_style + style_weight * (s - mean_style) for s in styles]

    def adain(x, w, key):
        st = torch.nn.functional.linear(w, _eq(g(key + ".style.linear.weight_orig")), g(key + ".style.linear.bias"))
        c = x.shape[1]
        gamma, beta = st[:, :c, None, None], st[:, c:, None, None]
        mu = x.mean((2, 3), keepdim=True)
        var = ((x - mu) ** 2).mean((2, 3), keepdim=True)
        return gamma * (x - mu) / torch.sqrt(var + 1e-5) + beta

    def noise_add(x, n, key):
        w = g(key + ".weight_orig")
        return x + w * math.sqrt(2.0 / w.shape[1]) * n

    def conv(x, key, pad):
        return torch.nn.functional.conv2d(x, _eq(g(key + ".conv.weight_orig")), g(key + ".conv.bias"), padding=pad)

    def blur(x, key):
        return torch.nn.functional.conv2d(x, g(key + ".weight"), padding=1, groups=x.shape[1])

    out = prev = None
    for i in range(step + 1):
        if len(styles) == 1:
            w = styles[0]
        else:
            w = styles[1] if mixing_range[0] <= i <= mixing_range[1] else styles[0]
        p = f"progression.{i}"
        prev = out
        if i == 0:
            h = g(p + ".conv1.input").repeat(noise[0].shape[0], 1, 1, 1)
        elif f"generator.{p}.conv1.0.weight" in sd:  # fused: transposed conv with 4 shifted 3x3 copies
            wt = g(p + ".conv1.0.weight")
            wt = wt * math.sqrt(2.0 / (wt.shape[0] * 9))
            k4 = (
                sum(
                    torch.nn.functional.pad(wt, pads)
                    for pads in ([0, 1, 0, 1], [1, 0, 0, 1], [0, 1, 1, 0], [1, 0, 1, 0])
                )
                / 4
            )
            h = torch.nn.functional.conv_transpose2d(out, k4, g(p + ".conv1.0.bias"), stride=2, padding=1)
            h = blur(h, p + ".conv1.1")
        else:
            up = out.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
            h = blur(conv(up, p + ".conv1.1", 1), p + ".conv1.2")
        h = adain(_lrelu(noise_add(h, noise[i], p + ".noise1")), w, p + ".adain1")
        h = conv(h, p + ".conv2", 1)
        h = adain(_lrelu(noise_add(h, noise[i], p + ".noise2")), w, p + ".adain2")
        out = h
    rgb = torch.nn.functional.conv2d(out, _eq(g(f"to_rgb.{step}.conv.weight_orig")), g(f"to_rgb.{step}.conv.bias"))
    if step > 0 and 0 <= alpha < 1:
        skip = torch.nn.functional.conv2d(
            prev, _eq(g(f"to_rgb.{step - 1}.conv.weight_orig")), g(f"to_rgb.{step - 1}.conv.bias")
        )
        skip = skip.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
        rgb = (1 - alpha) * skip + alpha * rgb
    return rgb


def _noise(n, step, seed=3):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 1, 4 * 2**i, 4 * 2**i, generator=g) for i in range(step + 1)]


def _reference_keys() -> list[tuple[str, list[int]]]:
    for base in (HERE / "data", Path("/work/shared/reference")):
        if (base / KEYS_FILE).exists():
            lines = (base / KEYS_FILE).read_text().splitlines()
            break
    else:
        pytest.skip(f"{KEYS_FILE} not available")
    out = []
    for line in lines:
        if line.strip() and not line.startswith("#"):
            key, shape = line.split(" ", 1)
            out.append((key, [int(s) for s in shape.strip().strip("[]").split(",")]))
    return out


# ---------------------------------------------------------------- architecture
def test_published_architecture_keys_roundtrip_and_loader():
    ref = _reference_keys()
    assert len(ref) == 139
    net = StyledGenerator()
    sd = net.state_dict()
    assert [(k, list(v.shape)) for k, v in sd.items()] == ref
    # Round trip through torch.save / weights_only load into a fresh model, strictly.
    buf = io.BytesIO()
    torch.save(sd, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)
    fresh = StyledGenerator()
    fresh.load_state_dict(loaded, strict=True)
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in sd.items())
    # The loader infers the published table; a fresh (untrained) model has no inferable resolution.
    cfg = rosinality_sg1.infer_config(sd)
    assert cfg == dict(
        code_dim=512, n_mlp=8, channels=PUBLISHED_CHANNELS, fused=(False,) * 5 + (True,) * 4, img_channels=3
    )
    raw = RawCheckpoint(Path("fresh.model"), "torch", {"g_running": loaded})
    assert rosinality_sg1.detect(raw) and not rosinality_sg2.detect(raw)
    with pytest.raises(CheckpointError, match="fresh.model.*initial weights.*--resolution"):
        rosinality_sg1.load(raw)
    G = rosinality_sg1.load(raw, resolution=8)
    assert (G.z_dim, G.w_dim, G.num_ws, G.resolution) == (512, 512, 2, 8)
    z = torch.randn(2, 512)
    noise = _noise(2, 1)
    with torch.no_grad():
        img = G.synthesis(G.mapping(z), noise=noise)
        ref_img = ref_forward(loaded, [z], noise, step=1)
    torch.testing.assert_close(img, ref_img, **REF_TOL)


def test_blur_and_noise_scaling_facts():
    net = make_net(trained_up_to=1)
    blk = net.generator.progression[1]
    k = torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16
    assert torch.equal(blk.conv1[2].weight[0, 0], k) and torch.equal(blk.conv1[2].weight_flip[0, 0], k)
    # noise strength is equal-lr scaled with fan_in = C
    x = torch.zeros(1, TINY[1], 4, 4)
    n = torch.ones(1, 1, 4, 4)
    got = blk.noise1(x, n)[0, :, 0, 0]
    assert torch.allclose(got, blk.noise1.weight_orig.flatten() * math.sqrt(2 / TINY[1]))
    assert not torch.allclose(got, blk.noise1.weight_orig.flatten())


def test_fused_upsample_equals_transposed_conv_and_is_batch_invariant():
    """The polyphase evaluation equals rosinality's averaged-kernel conv_transpose2d, and a sample's
    output does not depend on its batch, also with several intra-op threads."""
    from stylegan_eval.networks.stylegan1 import FusedUpsample

    g = torch.Generator().manual_seed(2)
    m = FusedUpsample(6, 4)
    with torch.no_grad():
        m.weight.copy_(torch.randn(m.weight.shape, generator=g))
        m.bias.copy_(torch.randn(m.bias.shape, generator=g))
    x = torch.randn(8, 6, 16, 16, generator=g)
    w = m.weight * math.sqrt(2 / (6 * 9))
    k4 = sum(torch.nn.functional.pad(w, p) for p in ([0, 1, 0, 1], [1, 0, 0, 1], [0, 1, 1, 0], [1, 0, 1, 0])) / 4
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with torch.no_grad():
            ref = torch.nn.functional.conv_transpose2d(x, k4, m.bias, stride=2, padding=1)
            out = m(x)
            part = m(x[2:5])
    finally:
        torch.set_num_threads(old)
    assert out.shape == (8, 4, 32, 32)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    assert torch.equal(part, out[2:5])


@pytest.mark.parametrize("step,alpha", [(2, -1.0), (5, 1.0), (5, 0.3), (6, 0.0)])
def test_network_forward_matches_reference(step, alpha):
    """Covers nearest+conv+blur blocks, fused blocks, and the fade-in blend."""
    net = make_net()
    z = torch.randn(2, CODE_DIM, generator=torch.Generator().manual_seed(1))
    noise = _noise(2, step)
    with torch.no_grad():
        out = net(z, noise=noise, step=step, alpha=alpha)
        ref = ref_forward(net.state_dict(), [z], noise, step, alpha=alpha)
    assert out.shape == (2, 3, 4 * 2**step, 4 * 2**step)
    torch.testing.assert_close(out, ref, **REF_TOL)
    if 0 <= alpha < 1:  # the blend really changes the picture
        assert not torch.allclose(out, net(z, noise=noise, step=step, alpha=1.0), atol=1e-3)


# ---------------------------------------------------------------- loader + adapter
@pytest.mark.parametrize(
    "layout,prefix,legacy",
    [
        ("full", False, False),
        ("full", True, False),
        ("generator_only", False, False),
        ("bare", False, True),
        ("bare", True, False),
    ],
)
def test_layouts_load_and_match_reference(tmp_path, layout, prefix, legacy):
    path, sd = save_checkpoint(tmp_path / "ckpt.model", layout, module_prefix=prefix, legacy=legacy)
    assert detect_format(read_checkpoint(path)) == "stylegan1-rosinality"
    G = load_generator(path, resolution=128)
    assert isinstance(G, StyleGAN1Generator) and G.family == "stylegan1-rosinality"
    assert (G.num_ws, G.resolution, G.z_dim) == (6, 128, CODE_DIM)
    assert G.noise_shapes == [(4, 4), (8, 8), (16, 16), (32, 32), (64, 64), (128, 128)]
    expected_layout = {"full": "g_running", "generator_only": "generator", "bare": "state_dict"}[layout]
    assert G.info()["checkpoint_layout"] == expected_layout
    # The evaluated weights are g_running's (or generator's when there is no g_running).
    assert all(torch.equal(G.net.state_dict()[k], v) for k, v in sd.items())
    idx = torch.arange(3)
    z = sampling.normal(5, sampling.Z, idx, (CODE_DIM,))
    psi = 0.7
    with torch.no_grad():
        img = G.generate(z, psi=psi, noise_seed=9, indices=idx)
        noise = G.make_noise(3, noise_seed=9, indices=idx)
        ref = ref_forward(sd, [z], noise, step=5, alpha=1, mean_style=G.w_avg, style_weight=psi)
    assert img.shape == (3, 3, 128, 128) and torch.isfinite(img).all()
    torch.testing.assert_close(img, ref, **REF_TOL)
    assert "not stored" in G.extra_info()["w_avg"] and G.stored_w_avg() is None


def test_batch_size_invariance(tmp_path):
    path, _ = save_checkpoint(tmp_path / "g.model", "bare")
    G = load_generator(path, resolution=64)
    seed, nseed = 11, 12
    with torch.no_grad():

        def gen(idx):
            idx = torch.as_tensor(idx, dtype=torch.int64)
            z = sampling.normal(seed, sampling.Z, idx, (G.z_dim,))
            return G.generate(z, psi=0.8, noise_seed=nseed, indices=idx)

        full = gen(range(8))
        three = gen([2, 3, 4])
        singles = [gen([k]) for k in range(8)]
    assert torch.isfinite(full).all() and full.shape == (8, 3, 64, 64)
    # BLAS / oneDNN pick other kernels for other batch shapes: equal up to float32 rounding
    torch.testing.assert_close(three, full[2:5], rtol=0, atol=5e-5)
    for k in range(8):
        torch.testing.assert_close(singles[k][0], full[k], rtol=0, atol=5e-5)
    assert not torch.allclose(full[0], full[1])


def test_style_mixing_per_block(tmp_path):
    path, sd = save_checkpoint(tmp_path / "g.model", "full")
    G = load_generator(path, resolution=32)  # step 3: 4 ws
    z1, z2 = torch.randn(2, 2, CODE_DIM, generator=torch.Generator().manual_seed(4))
    noise = G.make_noise(2, noise_seed=1)
    feats = {}
    hooks = [
        blk.register_forward_hook(lambda m, a, o, i=i: feats.__setitem__(i, o.clone()))
        for i, blk in enumerate(G.net.generator.progression)
    ]
    try:
        with torch.no_grad():
            ws1, ws2 = G.mapping(z1), G.mapping(z2)
            G.synthesis(ws1, noise=noise)
            base = dict(feats)
            mixed_ws = torch.cat([ws1[:, :2], ws2[:, 2:]], dim=1)
            mixed = G.synthesis(mixed_ws, noise=noise)
            after = dict(feats)
            ref = ref_forward(sd, [z1, z2], noise, step=3, alpha=1, mixing_range=(2, 3))
            ref_net = G.net([z1, z2], noise=noise, step=3, alpha=1, mixing_range=(2, 3))
    finally:
        for h in hooks:
            h.remove()
    # blocks before the crossover see identical features; blocks from it on differ
    assert torch.equal(after[0], base[0]) and torch.equal(after[1], base[1])
    assert not torch.allclose(after[2], base[2]) and not torch.allclose(after[3], base[3])
    torch.testing.assert_close(mixed, ref, **REF_TOL)
    assert torch.equal(mixed, ref_net)
    with torch.no_grad():
        assert not torch.allclose(mixed, G.synthesis(ws2, noise=noise), atol=1e-3)


def test_truncation_matches_rosinality_mean_style(tmp_path):
    path, sd = save_checkpoint(tmp_path / "g.model", "bare")
    G = load_generator(path, resolution=16)
    assert torch.equal(G.w_avg, G.w_avg)  # cached, deterministic
    z = torch.randn(2, CODE_DIM, generator=torch.Generator().manual_seed(8))
    noise = G.make_noise(2, noise_mode="const")
    with torch.no_grad():
        ws = G.truncate(G.mapping(z), 0.0)
        assert torch.allclose(ws, G.w_avg.expand_as(ws))
        img = G.synthesis(G.truncate(G.mapping(z), 0.5), noise=noise)
        ref = ref_forward(sd, [z], noise, step=2, mean_style=G.w_avg[None], style_weight=0.5)
        untrunc = G.synthesis(G.mapping(z), noise=noise)
    torch.testing.assert_close(img, ref, **REF_TOL)
    assert not torch.allclose(img, untrunc, atol=1e-3)


# ---------------------------------------------------------------- resolution handling
@pytest.mark.parametrize("top,res", [(1, 8), (3, 32), (5, 128), (7, 512)])
def test_resolution_inferred_from_trained_blocks(tmp_path, top, res):
    path, _ = save_checkpoint(tmp_path / "g.model", "full", trained_up_to=top)
    G = load_generator(path)
    assert G.resolution == res and G.num_ws == top + 1
    assert G.info()["resolution_source"].startswith("inferred")
    with torch.no_grad():
        img = G.generate(torch.zeros(1, CODE_DIM), noise_mode="none")
    assert img.shape == (1, 3, res, res) and torch.isfinite(img).all()


@pytest.mark.parametrize("top,match", [(None, "initial weights"), (8, "all 9 blocks"), (0, "only the 4 px")])
def test_ambiguous_resolution_is_checkpoint_error(tmp_path, top, match):
    path, _ = save_checkpoint(tmp_path / "g.model", "bare", trained_up_to=top)
    with pytest.raises(CheckpointError, match=f"g.model.*{match}.*--resolution"):
        load_generator(path)
    assert load_generator(path, resolution=16).resolution == 16  # the option resolves it


def test_gap_in_trained_blocks_is_checkpoint_error(tmp_path):
    net = make_net(trained_up_to=4)
    sd = net.state_dict()
    sd["generator.progression.2.noise1.weight_orig"].zero_()
    sd["generator.progression.2.noise2.weight_orig"].zero_()
    c = TINY[2]
    init = torch.cat([torch.ones(c), torch.zeros(c)])
    sd["generator.progression.2.adain1.style.linear.bias"].copy_(init)
    sd["generator.progression.2.adain2.style.linear.bias"].copy_(init)
    torch.save(sd, tmp_path / "gap.model")
    with pytest.raises(CheckpointError, match=r"\[16\] px look untrained"):
        load_generator(tmp_path / "gap.model")


@pytest.mark.parametrize("bad", [48, 4, 2048, 0, 100])
def test_bad_resolution_option(tmp_path, bad):
    path, _ = save_checkpoint(tmp_path / "g.model", "bare")
    with pytest.raises(CheckpointError, match=r"g.model.*--resolution.*power of two in \[8, 1024\]"):
        load_generator(path, resolution=bad)


# ---------------------------------------------------------------- detection and bad files
def test_detection_does_not_claim_other_files(tmp_path):
    sg1 = make_net().state_dict()
    assert rosinality_sg1.detect(RawCheckpoint(Path("x"), "torch", {"module." + k: v for k, v in sg1.items()}))
    assert not rosinality_sg1.detect(RawCheckpoint(Path("x"), "pickle"))
    assert not rosinality_sg1.detect(
        RawCheckpoint(Path("x"), "torch", {"g_ema": {"style.1.weight": torch.zeros(2, 2)}})
    )
    assert not rosinality_sg1.detect(RawCheckpoint(Path("x"), "torch", {"generator.progression.0.x": torch.zeros(1)}))
    assert not rosinality_sg1.detect(RawCheckpoint(Path("x"), "torch", [1, 2]))
    assert not rosinality_sg2.detect(RawCheckpoint(Path("x"), "torch", {"g_running": sg1}))


def test_missing_unexpected_and_mismatched_keys(tmp_path):
    sd = make_net().state_dict()
    del sd["generator.progression.3.noise2.weight_orig"]
    sd["generator.progression.3.extra"] = torch.zeros(1)
    torch.save({"g_running": sd}, tmp_path / "bad.model")
    with pytest.raises(
        CheckpointError,
        match=r"bad.model.*missing keys: generator.progression.3.noise2.weight_orig.*"
        r"unexpected keys: generator.progression.3.extra",
    ):
        load_generator(tmp_path / "bad.model", resolution=8)
    sd = make_net().state_dict()
    sd["generator.progression.2.conv2.conv.weight_orig"] = torch.zeros(5, 5, 3, 3)
    torch.save(sd, tmp_path / "shape.model")
    with pytest.raises(CheckpointError, match=r"shape.model.*shape mismatches: generator.progression.2.conv2"):
        load_generator(tmp_path / "shape.model", resolution=8)
    sd = make_net().state_dict()
    del sd["style.5.linear.weight_orig"], sd["style.5.linear.bias"]
    sd["style.7.linear.weight_orig"] = torch.zeros(CODE_DIM, CODE_DIM)
    torch.save(sd, tmp_path / "mlp.model")
    with pytest.raises(CheckpointError, match=r"mlp.model.*numbered 1, 3, 5"):
        load_generator(tmp_path / "mlp.model", resolution=8)


def test_cli_info_and_exit_code(tmp_path, cli):
    path, _ = save_checkpoint(tmp_path / "g.model", "full", trained_up_to=3)
    code, out, err = cli("info", path)
    assert code == 0, err
    assert "stylegan1-rosinality" in out and "| resolution | 32 |" in out and "| num_ws | 4 |" in out
    code, out, err = cli("info", path, "--resolution", "64")
    assert code == 0 and "| resolution | 64 |" in out
    all_trained, _ = save_checkpoint(tmp_path / "all.model", "bare", trained_up_to=8)
    code, out, err = cli("info", all_trained)
    assert code == 2 and "--resolution" in err and len(err.strip().splitlines()) == 1
