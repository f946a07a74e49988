"""Third-party StyleGAN files: stylegan2-torch and lucidrains loaders, named refusals for the rest.

The checkpoints are built here in each package's on-disk layout (its key names and shapes), without
importing the packages. Where a package's source is importable (``stylegan2_torch``; lucidrains'
``stylegan2_pytorch`` with kornia and einops), its own forward is compared with the loader's; both
packages refuse to import on a machine without CUDA, so the comparison stubs the CUDA-only pieces
(stylegan2-torch's compiled ops by the toolkit's reference ops, lucidrains' ``assert
torch.cuda.is_available()`` and its training-only imports).
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import types

import pytest
import torch
import torch.nn.functional as F
from third_party_utils import LR, lucidrains_state, sg2torch_state

from stylegan_eval.errors import CheckpointError
from stylegan_eval.formats import load_generator
from stylegan_eval.networks import ops


# ------------------------------------------------------------------------------ stylegan2-torch
@pytest.fixture
def sg2torch_file(tmp_path):
    sd = sg2torch_state()
    path = tmp_path / "generator.pt"
    torch.save(sd, path)
    return sd, path


def test_stylegan2_torch_loads_and_renders_one_channel(sg2torch_file):
    sd, path = sg2torch_file
    G = load_generator(path)
    assert G.family == "stylegan2-torch" and (G.resolution, G.img_channels, G.num_ws, G.z_dim) == (16, 1, 6, 8)
    img = G.generate(torch.randn(3, 8), noise_seed=0, indices=torch.arange(3))
    assert img.shape == (3, 1, 16, 16) and torch.isfinite(img).all()
    # the mapping, restated: pixel norm, then lrelu(x W^T * lr / sqrt(in) + b * lr, 0.2) * sqrt 2
    z = torch.randn(5, 8)
    x = z * torch.rsqrt(z.pow(2).mean(1, keepdim=True) + 1e-8)
    for i in (1, 2):
        x = (
            F.leaky_relu(x @ (sd[f"mapping.{i}.weight"] * LR / math.sqrt(8)).T + sd[f"mapping.{i}.bias"] * LR, 0.2)
            * 2**0.5
        )
    torch.testing.assert_close(G.mapping(z)[:, 0], x)


def test_stylegan2_torch_noise_order(tmp_path):
    """Only up_convs.0 (the package's noises_[1]) has noise weight: noise map 1 matters, map 2 does not."""
    sd = sg2torch_state()
    for key in sd:
        if key.endswith("add_noise.weight"):
            sd[key] = torch.zeros(1)
    sd["up_convs.0.add_noise.weight"] = torch.ones(1)
    torch.save(sd, tmp_path / "g.pt")
    G = load_generator(tmp_path / "g.pt")
    ws = G.mapping(torch.randn(2, 8))
    zeros = G.make_noise(2, "none")
    base = G.synthesis(ws, noise=zeros)
    for k, expect_change in ((1, True), (2, False), (0, False)):
        noise = list(zeros)
        noise[k] = torch.randn_like(noise[k])
        assert (not torch.allclose(G.synthesis(ws, noise=noise), base)) == expect_change, k


def _import_stylegan2_torch(monkeypatch):
    if importlib.util.find_spec("stylegan2_torch") is None:
        pytest.skip("stylegan2_torch (PyPI stylegan2-torch) is not installed")
    fused = types.ModuleType("stylegan2_torch.op.fused_act")

    class FusedLeakyReLU(torch.nn.Module):
        def __init__(self, channel, bias=True, negative_slope=0.2, scale=2**0.5):
            super().__init__()
            self.bias = torch.nn.Parameter(torch.zeros(channel))

        def forward(self, x):
            return ops.fused_leaky_relu(x, self.bias)

    fused.FusedLeakyReLU = FusedLeakyReLU
    fused.fused_leaky_relu = lambda x, bias=None, negative_slope=0.2, scale=2**0.5: ops.fused_leaky_relu(x, bias, scale)
    up = types.ModuleType("stylegan2_torch.op.upfirdn2d")
    up.upfirdn2d = lambda x, kernel, up=1, down=1, pad=(0, 0): ops.upfirdn2d(x, kernel, up=up, down=down, pad=pad)
    gradfix = types.ModuleType("torch_conv_gradfix")
    gradfix.conv2d, gradfix.conv_transpose2d = F.conv2d, F.conv_transpose2d
    gradfix.no_weight_grad = lambda: __import__("contextlib").nullcontext()
    for name, mod in (
        ("stylegan2_torch.op.fused_act", fused),
        ("stylegan2_torch.op.upfirdn2d", up),
        ("torch_conv_gradfix", gradfix),
    ):
        monkeypatch.setitem(sys.modules, name, mod)
    from stylegan2_torch.generator import Generator

    return Generator


def test_stylegan2_torch_matches_the_package(sg2torch_file, monkeypatch):
    Generator = _import_stylegan2_torch(monkeypatch)
    sd, path = sg2torch_file
    net = Generator(16, latent_dim=8, n_mlp=2, lr_mlp_mult=LR, channels={4: 8, 8: 8, 16: 4})
    net.load_state_dict(sd)
    G = load_generator(path)
    z = torch.randn(3, 8)
    noise = G.make_noise(3, noise_seed=1, indices=torch.arange(3))
    with torch.no_grad():
        ref = net([z], noises=noise)
    torch.testing.assert_close(G.generate(z, noise_seed=1, indices=torch.arange(3)), ref, atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------------------ lucidrains
@pytest.fixture
def lucidrains_file(tmp_path):
    gan = lucidrains_state()
    d = tmp_path / "models" / "default"
    d.mkdir(parents=True)
    torch.save({"GAN": gan, "version": "1.9.0"}, d / "model_3.pt")
    (d / ".config.json").write_text(
        json.dumps(
            {
                "image_size": 16,
                "network_capacity": 2,
                "lr_mlp": 0.2,
                "transparent": False,
                "fq_layers": [],
                "fq_dict_size": 256,
                "attn_layers": [],
                "no_const": False,
            }
        )
    )
    return gan, d / "model_3.pt"


def _lucid_mapping(gan, prefix, z, lr):
    x = F.normalize(z, dim=1)
    for i in (0, 2):
        x = F.leaky_relu(F.linear(x, gan[f"{prefix}.net.{i}.weight"] * lr, gan[f"{prefix}.net.{i}.bias"] * lr), 0.2)
    return x


def test_lucidrains_loads_ema_with_lr_mlp_from_the_config(lucidrains_file):
    gan, path = lucidrains_file
    G = load_generator(path)
    assert G.family == "stylegan2-lucidrains" and (G.resolution, G.num_ws, G.z_dim, G.img_channels) == (16, 3, 8, 3)
    z = torch.randn(4, 8)
    torch.testing.assert_close(G.mapping(z)[:, 2], _lucid_mapping(gan, "SE", z, 0.2))
    img = G.generate(z, noise_seed=0, indices=torch.arange(4))
    assert img.shape == (4, 3, 16, 16) and img.min() >= -1 and img.max() <= 1 and img.std() > 0
    noise = G.make_noise(4, noise_seed=0, indices=torch.arange(4))
    assert (
        noise[0].shape == (4, 1, 16, 16)
        and 0 < noise[0].min()
        and noise[0].max() < 1
        and abs(noise[0].mean() - 0.5) < 0.05
    )
    assert not torch.equal(img, G.generate(z, noise_seed=1, indices=torch.arange(4)))
    (path.parent / ".config.json").unlink()
    G2 = load_generator(path)
    torch.testing.assert_close(G2.mapping(z)[:, 0], _lucid_mapping(gan, "SE", z, 0.1))
    assert "package default" in G2.info()["lr_mlp_source"]
    G3 = load_generator(path, ema=False)
    torch.testing.assert_close(G3.mapping(z)[:, 0], _lucid_mapping(gan, "S", z, 0.1))


def test_lucidrains_attention_and_no_const_load(tmp_path):
    gan = lucidrains_state(attn_blocks=(1,))
    torch.save({"GAN": gan, "version": "1.9.0"}, tmp_path / "model_1.pt")
    G = load_generator(tmp_path / "model_1.pt")
    assert G.G.attns[1] is not None and G.G.attns[0] is None
    z = torch.randn(2, 8)
    with_attn = G.generate(z, noise_seed=0, indices=torch.arange(2))
    with torch.no_grad():
        G.G.attns[1][0].fn.fn.to_out.weight.zero_()
        G.G.attns[1][0].fn.fn.to_out.bias.zero_()
    assert not torch.allclose(with_attn, G.generate(z, noise_seed=0, indices=torch.arange(2)))
    torch.save({"GAN": lucidrains_state(no_const=True), "version": "1.9.0"}, tmp_path / "model_3.pt")
    G = load_generator(tmp_path / "model_3.pt")
    assert G.G.no_const and G.generate(z, noise_seed=0, indices=torch.arange(2)).shape == (2, 3, 16, 16)
    bad = dict(gan)
    del bad["GE.attns.1.0.fn.fn.to_q.weight"]
    torch.save({"GAN": bad, "version": "1.9.0"}, tmp_path / "model_2.pt")
    with pytest.raises(CheckpointError, match="to_q.weight"):
        load_generator(tmp_path / "model_2.pt")


def _import_lucidrains(monkeypatch):
    for name in ("stylegan2_pytorch", "kornia", "einops"):
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is not installed")
    for name in ("aim", "fire", "vector_quantize_pytorch", "contrastive_learner"):
        stub = types.ModuleType(name)
        stub.VectorQuantize = object
        monkeypatch.setitem(sys.modules, name, stub)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # its import asserts CUDA; G runs on CPU
    import stylegan2_pytorch.stylegan2_pytorch as pkg

    return pkg


@pytest.mark.parametrize("variant", ["plain", "attn", "no_const"])
def test_lucidrains_matches_the_package(lucidrains_file, monkeypatch, variant):
    pkg = _import_lucidrains(monkeypatch)
    gan, path = lucidrains_file
    if variant != "plain":  # the package's attn_layers=[2] puts attention before block num_layers - 2 = 1
        gan = lucidrains_state(attn_blocks=(1,) if variant == "attn" else (), no_const=variant == "no_const")
        torch.save({"GAN": gan, "version": "1.9.0"}, path)
    S = pkg.StyleVectorizer(8, 2, lr_mul=0.2)
    S.load_state_dict({k[3:]: v for k, v in gan.items() if k.startswith("SE.")})
    Gp = pkg.Generator(
        16, 8, network_capacity=2, attn_layers=[2] if variant == "attn" else [], no_const=variant == "no_const"
    )
    Gp.load_state_dict({k[3:]: v for k, v in gan.items() if k.startswith("GE.")})
    G = load_generator(path)
    z = torch.randn(3, 8)
    noise = G.make_noise(3, noise_seed=2, indices=torch.arange(3))
    with torch.no_grad():
        w = S(z)
        ref = Gp(w[:, None].expand(-1, 3, -1), noise[0].permute(0, 2, 3, 1)).clamp(0, 1) * 2 - 1
    torch.testing.assert_close(G.generate(z, noise_seed=2, indices=torch.arange(3)), ref, atol=1e-5, rtol=1e-5)


# ------------------------------------------------------------------------------ named refusals
def test_g_ema_with_other_keys_names_the_difference(tmp_path):
    torch.save(
        {"g_ema": {"synthesis.b4.conv.weight": torch.zeros(1), "mapping.fc0.weight": torch.zeros(1)}}, tmp_path / "x.pt"
    )
    with pytest.raises(CheckpointError) as err:
        load_generator(tmp_path / "x.pt")
    msg = str(err.value)
    assert "not rosinality StyleGAN2's" in msg and "style.1.weight" in msg and "mapping.fc0.weight" in msg
    assert "expected" not in msg.split("rosinality StyleGAN2's")[0]


def test_genforce_and_mmgeneration_are_recognised(tmp_path):
    torch.save({"generator": {"a": torch.zeros(1)}, "generator_smooth": {"a": torch.zeros(1)}}, tmp_path / "gf.pth")
    with pytest.raises(CheckpointError, match="genforce"):
        load_generator(tmp_path / "gf.pth")
    torch.save(
        {"meta": {}, "state_dict": {"generator_ema.style_mapping.0.weight": torch.zeros(1)}}, tmp_path / "mm.pth"
    )
    with pytest.raises(CheckpointError, match="MMGeneration"):
        load_generator(tmp_path / "mm.pth")


def test_file_needing_code_names_the_package_and_global_in_full(tmp_path, monkeypatch):
    """A gan-lab style .tar stores module objects: refused naming the package and the full global."""
    pkg = types.ModuleType("gan_lab_fake")
    sub = types.ModuleType("gan_lab_fake.models.stylegan_generator_with_a_long_module_name")

    class StyleGeneratorWithAVeryLongClassNameThatUsedToBeCutOff(torch.nn.Module):
        pass

    cls = StyleGeneratorWithAVeryLongClassNameThatUsedToBeCutOff
    cls.__module__ = sub.__name__
    cls.__qualname__ = cls.__name__
    setattr(sub, cls.__name__, cls)
    monkeypatch.setitem(sys.modules, "gan_lab_fake", pkg)
    monkeypatch.setitem(sys.modules, sub.__name__, sub)
    torch.save({"gen_model": cls(), "epoch": 3}, tmp_path / "model.tar")
    monkeypatch.delitem(sys.modules, sub.__name__)
    with pytest.raises(CheckpointError) as err:
        load_generator(tmp_path / "model.tar")
    msg = str(err.value)
    assert f"{sub.__name__}.{cls.__name__}" in msg and "'gan_lab_fake'" in msg and "--generator" in msg
    assert "\n" not in msg
