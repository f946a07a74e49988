"""StyleGAN3 (T/R): published architecture keys, NVIDIA pickle loading, hostile pickles, and
independent re-statements of the Fourier input and the filtered leaky ReLU from the equations."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import nvidia_utils as nu
import pytest
import torch
import torch.nn.functional as F

from stylegan_eval.errors import CheckpointError, UnsafePickleError
from stylegan_eval.formats import load_generator
from stylegan_eval.formats import nvidia_pickle as nvp
from stylegan_eval.networks import stylegan3 as sg3

KEYS = Path("/work/shared/reference/sg3_state_keys.txt")
HERE = Path(__file__).parent


pytestmark = pytest.mark.usefixtures("one_thread")


def _reference_section(name: str) -> str | None:
    for path in (HERE / "data" / KEYS.name, KEYS):
        if path.is_file():
            return path.read_text().split(f"## {name}")[1].split("\n## ")[0]
    return None


def _gen(tmp_path, config="t", **kw):
    path = nu.write_sg3_snapshot(tmp_path / f"sg3-{config}.pkl", config=config, **kw)
    return load_generator(path), path


# ---------------------------------------------------------------- published architectures
@pytest.mark.parametrize(
    "name,kwargs",
    [
        ("stylegan3-t 1024", {}),
        (
            "stylegan3-r 1024",
            {"channel_base": 65536, "channel_max": 1024, "conv_kernel": 1, "use_radial_filters": True},
        ),
    ],
)
def test_published_configs_have_exact_keys_and_shapes(name, kwargs):
    section = _reference_section(name)
    if section is None:
        pytest.skip("sg3_state_keys.txt not available")
    expected = {}
    for line in section.split("state_dict (P")[1].splitlines()[1:]:
        m = re.match(r"(\S+)\s+\[([^\]]*)\]\s+[PB]$", line.strip())
        if m:
            expected[m.group(1)] = [int(v) for v in m.group(2).split(",") if v.strip()]
    params = int(re.search(r"parameters (\d+)", section).group(1))
    with torch.device("meta"):
        net = sg3.StyleGAN3(sg3.SG3Config(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3, **kwargs))
    got = {k: list(v.shape) for k, v in net.state_dict().items()}
    assert got == expected
    assert sum(p.numel() for p in net.parameters()) == params
    assert net.cfg.num_ws == 16 and net.cfg.name == name.split()[0]
    pads = re.findall(r"^(L\d+_\S+) \|.*\| \[([-\d, ]+)\]$", section, re.MULTILINE)
    _, layers = sg3.layout(net.cfg)
    assert [(s.name, list(s.padding)) for s in layers] == [(n, [int(v) for v in p.split(",")]) for n, p in pads]


# ---------------------------------------------------------------- loading
@pytest.mark.parametrize("config,layout", [("t", "stylegan3"), ("r", "stylegan3"), ("t", "ada")])
def test_tiny_pickles_load_strictly_and_render(tmp_path, config, layout):
    G, _ = _gen(tmp_path, config, layout=layout)
    ref = nu.SG3Generator(config=config, layout=layout)
    assert G.family == f"stylegan3-{config}" and G.supports_input_transform and G.noise_shapes == []
    own = G.net.state_dict()
    assert set(own) == set(ref.state_dict())
    for k, v in ref.state_dict().items():
        assert torch.equal(own[k], v.float()), k
    assert torch.equal(G.w_avg, ref.mapping.w_avg)
    z = torch.randn(3, G.z_dim, generator=torch.Generator().manual_seed(0))
    img = G.generate(z, noise_mode="random")
    assert img.shape == (3, 3, 32, 32) and torch.isfinite(img).all() and img.abs().max() < 10
    info = G.info()
    assert info["configuration"].startswith(f"stylegan3-{config}, 32x32, 6 ws") and info["w_avg_stored"]


def test_conditional_and_batch_invariance(tmp_path):
    G, _ = _gen(tmp_path, c_dim=3)
    z = torch.randn(4, G.z_dim, generator=torch.Generator().manual_seed(1))
    c = F.one_hot(torch.tensor([0, 1, 2, 0]), 3).float()
    with pytest.raises(Exception, match="conditional"):
        G.generate(z)
    full = G.generate(z, c)
    part = torch.cat([G.generate(z[:1], c[:1]), G.generate(z[1:], c[1:])])
    assert torch.allclose(full, part, atol=1e-5)


def test_transform_hook_identity_and_per_sample(tmp_path):
    G, _ = _gen(tmp_path, "r")
    ws = G.mapping(torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(2)))
    assert torch.allclose(G.synthesis_transformed(ws, torch.eye(3)), G.synthesis(ws), atol=1e-6)
    a = math.radians(30)
    rot = torch.tensor([[math.cos(a), math.sin(a), 0.0], [-math.sin(a), math.cos(a), 0.0], [0, 0, 1]])
    both = G.synthesis_transformed(ws, torch.stack([torch.eye(3), rot]))
    assert torch.allclose(both[1:], G.synthesis_transformed(ws[1:], rot), atol=1e-5)
    assert not torch.allclose(both[1], G.synthesis(ws)[1], atol=1e-3)


# ---------------------------------------------------------------- re-statements
def _fourier_reference(inp, w, transform):
    """The Fourier features written from the paper: x_in = M x_out, sin(2 pi (f . x_in + p)) * amplitude."""
    t = F.linear(w, inp.affine.weight / math.sqrt(w.shape[1]), inp.affine.bias)
    t = t / torch.sqrt(t[:, 0] ** 2 + t[:, 1] ** 2)[:, None]
    out = []
    for k in range(w.shape[0]):
        c, s, tx, ty = (float(v) for v in t[k])
        rot = torch.tensor([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
        tr = torch.tensor([[1, 0, -tx], [0, 1, -ty], [0, 0, 1.0]])
        m = rot @ tr @ transform[k]
        size, rate, bw = inp.size, inp.sampling_rate, inp.bandwidth
        coords = (torch.arange(size, dtype=torch.float32) + 0.5 - size / 2) / rate  # pixel centres
        ys, xs = torch.meshgrid(coords, coords, indexing="ij")
        pts = torch.stack([xs, ys, torch.ones_like(xs)], -1) @ m.T  # [H, W, 3] input coords
        f = inp.freqs
        amp = (1 - (torch.linalg.norm(f @ m[:2, :2], dim=1) - bw) / (rate / 2 - bw)).clamp(0, 1)
        feat = torch.sin(2 * math.pi * (pts[..., :2] @ f.T + inp.phases)) * amp  # [H, W, C]
        out.append((feat @ inp.weight.T / math.sqrt(inp.channels)).permute(2, 0, 1))
    return torch.stack(out)


def test_fourier_input_matches_equations_and_translation_shifts(tmp_path):
    G, _ = _gen(tmp_path)
    inp = G.net.synthesis.input
    w = G.mapping(torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(3)))[:, 0]
    a = math.radians(17)
    m = torch.tensor([[math.cos(a), -math.sin(a), 0.1], [math.sin(a), math.cos(a), -0.05], [0, 0, 1]])
    transform = torch.stack([torch.eye(3), m])
    assert torch.allclose(inp(w, transform), _fourier_reference(inp, w, transform), atol=1e-5)
    # Translating by (dx, dy) pixels of the input grid shifts the features by exactly that many pixels.
    dx, dy = 3, 2
    shift = torch.eye(3).clone()
    shift[0, 2], shift[1, 2] = dx / inp.sampling_rate, dy / inp.sampling_rate
    base = inp(w, torch.eye(3).expand(2, 3, 3))
    moved = inp(w, shift.expand(2, 3, 3))
    assert torch.allclose(moved[:, :, :-dy, :-dx], base[:, :, dy:, dx:], atol=1e-5)
    assert not torch.allclose(moved, base, atol=1e-3)


def _explicit_filtered_lrelu(x, fu, fd, b, up, down, pad, gain, slope, clamp):
    """Written out: bias, zero-insert upsampling, pad/crop, 2-D FIR (outer product for separable
    taps, * up^2), leaky ReLU * gain, clamp, 2-D FIR down filter, keep every down-th sample."""
    x = x + b[None, :, None, None]
    n, c, h, w = x.shape
    big = torch.zeros(n, c, h * up, w * up)
    big[:, :, ::up, ::up] = x
    x0, x1, y0, y1 = pad
    big = F.pad(big, [max(x0, 0), max(x1, 0), max(y0, 0), max(y1, 0)])
    big = big[:, :, max(-y0, 0) : big.shape[2] - max(-y1, 0), max(-x0, 0) : big.shape[3] - max(-x1, 0)]
    k_up = torch.outer(fu, fu) * up**2
    big = F.conv2d(big.reshape(n * c, 1, *big.shape[2:]), k_up.flip([0, 1])[None, None])
    big = F.leaky_relu(big, slope) * gain
    if clamp is not None:
        big = big.clamp(-clamp, clamp)
    k_down = fd if fd.ndim == 2 else torch.outer(fd, fd)
    out = F.conv2d(big, k_down.flip([0, 1])[None, None])[:, :, ::down, ::down]
    return out.reshape(n, c, *out.shape[2:])


@pytest.mark.parametrize("config", ["t", "r"])
def test_filtered_lrelu_matches_explicit_sequence(tmp_path, config):
    G, _ = _gen(tmp_path, config)
    g = torch.Generator().manual_seed(4)
    checked = set()
    for name in G.net.synthesis.layer_names[:-1]:
        layer = getattr(G.net.synthesis, name)
        s = layer.spec
        x = (
            torch.randn(2, s.out_channels, s.in_size + s.conv_kernel - 1, s.in_size + s.conv_kernel - 1, generator=g)
            * 3
        )
        got = sg3.filtered_lrelu(
            x,
            layer.up_filter,
            layer.down_filter,
            layer.bias,
            s.up_factor,
            s.down_factor,
            s.padding,
            math.sqrt(2),
            0.2,
            1.5,
        )
        want = _explicit_filtered_lrelu(
            x,
            layer.up_filter,
            layer.down_filter,
            layer.bias,
            s.up_factor,
            s.down_factor,
            s.padding,
            math.sqrt(2),
            0.2,
            1.5,
        )
        assert got.shape == want.shape == (2, s.out_channels, s.out_size, s.out_size)
        assert torch.allclose(got, want, atol=1e-5), name
        checked.add((s.up_factor, layer.down_filter.ndim))
    assert (4, 1 if config == "t" else 2) in checked  # a 4x upsampling layer (and R's radial filter) covered


def test_modulated_conv_equals_grouped_weight_demodulation():
    """NVIDIA's grouped-conv formulation (batch-wide style normalisation, per-sample weights)."""
    g = torch.Generator().manual_seed(5)
    x, w, s = torch.randn(3, 4, 9, 9, generator=g), torch.randn(5, 4, 3, 3, generator=g), torch.randn(3, 4, generator=g)
    gain = torch.tensor(0.7)
    wn = w * w.square().mean([1, 2, 3], keepdim=True).rsqrt()
    sn = s * s.square().mean().rsqrt()
    ww = wn[None] * sn[:, None, :, None, None]
    ww = ww * (ww.square().sum([2, 3, 4], keepdim=True) + 1e-8).rsqrt() * gain
    ref = F.conv2d(x.reshape(1, -1, 9, 9), ww.reshape(-1, 4, 3, 3), padding=2, groups=3).reshape(3, 5, 11, 11)
    got = sg3.modulated_conv2d(x, w, s, demodulate=True, padding=2, input_gain=gain)
    assert torch.allclose(got, ref, atol=1e-5)


# ---------------------------------------------------------------- hostile / unsupported
def test_module_src_never_runs(tmp_path):
    marker = tmp_path / "executed.txt"
    G, _ = _gen(tmp_path, module_src=nu.hostile_module_src(marker))
    G.generate(torch.randn(1, G.z_dim))
    assert not marker.exists()


class _Evil:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_unknown_global_refused_nothing_runs(tmp_path):
    marker = tmp_path / "canary"
    data = nu.snapshot(nu.SG3Generator())
    data["augment_pipe"] = _Evil(marker)
    path = tmp_path / "evil.pkl"
    nu.dump(data, path)
    with pytest.raises(UnsafePickleError, match="system") as exc:
        load_generator(path)
    assert len(str(exc.value).splitlines()) == 1 and not marker.exists()


def test_dill_pickle_refused_with_hint(tmp_path):
    blob = nu.dump(nu.snapshot(nu.SG3Generator()))
    # A stream naming dill's type loader (as StyleGAN-XL's dill snapshots do), after the NVIDIA markers.
    path = tmp_path / "xl.pkl"
    path.write_bytes(blob[:-1] + b"0cdill._dill\n_load_type\n(Vfunction\ntR0.")
    with pytest.raises(UnsafePickleError, match="dill"):
        load_generator(path)


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda G: delattr(G.synthesis, G.synthesis.layer_names[1]), "layer L1_"),
        (lambda G: G._init_kwargs.update(superres=True), "StyleGAN-XL"),
        (lambda G: setattr(G.synthesis.input, "size", np.array([24, 12])), "non-square"),
        (lambda G: G.synthesis.input.register_buffer("freqs", torch.zeros(3, 2)), "shape mismatches"),
    ],
)
def test_malformed_sg3_is_one_line_error(tmp_path, mutate, match):
    G = nu.SG3Generator()
    mutate(G)
    path = tmp_path / "bad.pkl"
    nu.dump(nu.snapshot(G), path)
    with pytest.raises(CheckpointError, match=match) as exc:
        load_generator(path)
    assert len(str(exc.value).splitlines()) == 1


def test_cli_info_names_configuration(tmp_path, cli):
    _, path = _gen(tmp_path, "r")
    code, out, err = cli("info", path, "--json", "--device", "cpu")
    assert code == 0, err
    assert "stylegan3-r, 32x32" in out
    assert nvp.FAMILY == "stylegan2-nvidia"  # the SG2 path keeps its family name


def test_non_square_stylegan2_refused(tmp_path):
    """StyleGAN-Human's StyleGAN2 pickles have a 4x2 constant (1024x512 images)."""
    G = nu.make_generator()
    G.synthesis.b4.const = torch.nn.Parameter(torch.randn(G.synthesis.b4.const.shape[0], 4, 2))
    path = tmp_path / "human.pkl"
    nu.dump(nu.snapshot(G), path)
    with pytest.raises(CheckpointError, match="non-square") as exc:
        load_generator(path)
    assert len(str(exc.value).splitlines()) == 1
