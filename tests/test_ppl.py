"""Perceptual path length: closed-form answers, protocol pieces, invariances, peers, CLI."""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stylegan_eval import sampling
from stylegan_eval.errors import UserError, WeightsUnavailable
from stylegan_eval.generator import Generator
from stylegan_eval.imageops import to_uint8
from stylegan_eval.metrics import ppl as P
from stylegan_eval.metrics.distances import LPIPSVGG, NVIDIA_VGG16, SquaredL2, make_distance


# ------------------------------------------------------------------------------ generators
class LinearGenerator(Generator):
    """image = A . ws + noise, w = M^T z: every PPL variant has a closed form. Float64 throughout."""

    family = "test-linear"
    z_dim, w_dim, num_ws, resolution = 6, 5, 3, 8

    def __init__(self, noise_scale: float = 0.3) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(1)
        px = 3 * self.resolution**2
        self.M = nn.Parameter(
            torch.randn(self.z_dim, self.w_dim, generator=g, dtype=torch.float64), requires_grad=False
        )
        self.A = nn.Parameter(
            torch.randn(self.num_ws, self.w_dim, px, generator=g, dtype=torch.float64) / 10, requires_grad=False
        )
        self.register_buffer("avg", torch.randn(self.w_dim, generator=g, dtype=torch.float64))
        self.noise_scale = noise_scale

    @property
    def noise_shapes(self):
        return [(4, 4), (8, 8)]

    def stored_w_avg(self):
        return self.avg

    def _map(self, z, c):
        return (z @ self.M)[:, None, :].expand(-1, self.num_ws, -1)

    def _synthesize(self, ws, noise):
        img = torch.einsum("nlw,lwp->np", ws, self.A).reshape(-1, 3, self.resolution, self.resolution)
        # additive noise cancels in a pair's difference only if both images share it
        return img + self.noise_scale * (F.interpolate(noise[0], size=self.resolution) + noise[1])

    def pixel_matrix(self) -> np.ndarray:
        """[P, w_dim]: image pixels as a linear function of a broadcast w."""
        return self.A.sum(0).T.numpy()


class SmoothGenerator(Generator):
    """A small nonlinear float32 generator with noise, for LPIPS-based tests (no closed form)."""

    family = "test-smooth"
    z_dim, w_dim, num_ws = 8, 8, 2

    def __init__(self, resolution: int = 32, base: int = 8) -> None:
        super().__init__()
        self.resolution = resolution
        g = torch.Generator().manual_seed(2)
        self.base = base
        self.M = nn.Parameter(torch.randn(self.z_dim, self.w_dim, generator=g) / self.z_dim**0.5, requires_grad=False)
        self.A = nn.Parameter(torch.randn(self.num_ws, self.w_dim, 3 * base * base, generator=g), requires_grad=False)

    @property
    def noise_shapes(self):
        return [(self.base, self.base)]

    def _map(self, z, c):
        return torch.tanh(z @ self.M)[:, None, :].expand(-1, self.num_ws, -1)

    def _synthesize(self, ws, noise):
        x = torch.einsum("nlw,lwp->np", ws, self.A).reshape(-1, 3, self.base, self.base) + 0.1 * noise[0]
        return 0.3 * F.interpolate(x, size=self.resolution, mode="bilinear", align_corners=False)


class BlackBox(Generator):
    family = "test-black-box"
    supports_w = False
    z_dim, w_dim, num_ws, resolution = 4, 0, 0, 8

    @property
    def noise_shapes(self):
        return []

    def _map(self, z, c):
        raise AssertionError("never called")

    def _synthesize(self, ws, noise):
        raise AssertionError("never called")

    def generate(self, z, c=None, psi=1.0, noise_mode="random", noise_seed=None, indices=None):
        return torch.tanh(z.sum(1)[:, None, None, None].expand(-1, 3, 8, 8) * 0.3)


def make_gen32():
    """--generator test_ppl:make_gen32 for the CLI tests."""
    return SmoothGenerator(32)


@pytest.fixture(scope="module")
def lpips_random():
    import os

    old = os.environ.get("STYLEGAN_EVAL_OFFLINE")
    os.environ["STYLEGAN_EVAL_OFFLINE"] = "1"
    try:
        return LPIPSVGG(allow_random=True, download=False)
    finally:
        if old is None:
            os.environ.pop("STYLEGAN_EVAL_OFFLINE")


# ------------------------------------------------------------------------------ closed forms
def _ref_latents(G, n, seed):
    idx = torch.arange(n)
    z0 = sampling.normal(seed, sampling.Z, idx, (G.z_dim,)).double().numpy()
    z1 = sampling.normal(seed, sampling.Z_END, idx, (G.z_dim,)).double().numpy()
    t = sampling.uniform(seed, sampling.T, idx).double().numpy()
    return z0, z1, t


def closed_form(
    G: LinearGenerator, space: str, mode: str, n: int, seed: int, psi: float = 1.0, rows=None
) -> np.ndarray:
    """Per-sample d/eps^2 in the limit eps -> 0, with numpy, independently of the metric code."""
    z0, z1, t = _ref_latents(G, n, seed)
    if mode == "end":
        t = np.zeros(n)
    A = G.pixel_matrix() if rows is None else G.pixel_matrix()[rows]
    M = G.M.numpy()
    if space == "w":  # lerp: the image moves at the constant velocity A M^T (z1 - z0)
        vel = (z1 - z0) @ M
    else:  # slerp: z(t) = cos(t th) u + sin(t th) v, z'(t) = th (-sin(t th) u + cos(t th) v)
        u = z0 / np.linalg.norm(z0, axis=1, keepdims=True)
        b = z1 / np.linalg.norm(z1, axis=1, keepdims=True)
        cos = np.sum(u * b, axis=1, keepdims=True)
        th = np.arccos(np.clip(cos, -1, 1))
        v = b - cos * u
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        tt = t[:, None] * th
        vel = (th * (-np.sin(tt) * u + np.cos(tt) * v)) @ M
    vel = psi * vel  # truncation scales every w difference by psi
    return np.sum((vel @ A.T) ** 2, axis=1)


def _np_filtered_mean(d):
    lo = np.percentile(d, 1, method="lower")
    hi = np.percentile(d, 99, method="higher")
    return d[(d >= lo) & (d <= hi)].mean()


@pytest.mark.parametrize("space", ["z", "w"])
@pytest.mark.parametrize("mode", ["full", "end"])
def test_known_answer_linear_generator(space, mode):
    G = LinearGenerator()
    n = 300
    res = P.ppl(G, space, mode, n, 1e-4, False, distance=SquaredL2(), seed=3, batch_size=64, bootstrap_resamples=50)
    expect = closed_form(G, space, mode, n, seed=3)
    np.testing.assert_allclose(res.distances, expect, rtol=1e-3)
    assert res.mean == pytest.approx(_np_filtered_mean(expect), rel=1e-3)
    assert res.num_kept == np.count_nonzero(
        (expect >= np.percentile(expect, 1, method="lower")) & (expect <= np.percentile(expect, 99, method="higher"))
    )
    assert res.ci_low <= res.mean <= res.ci_high


def test_known_answer_truncation_and_crop():
    G = LinearGenerator()
    c = G.resolution // 8
    mask = np.zeros((3, 8, 8), bool)
    mask[:, 3 * c : 7 * c, 2 * c : 6 * c] = True
    res = P.ppl(
        G, "w", "end", 100, 1e-4, True, psi=0.5, distance=SquaredL2(), seed=5, batch_size=32, bootstrap_resamples=0
    )
    expect = closed_form(G, "w", "end", 100, seed=5, psi=0.5, rows=mask.ravel())
    np.testing.assert_allclose(res.distances, expect, rtol=1e-3)


def test_noise_is_shared_within_a_pair():
    """With unshared noise the additive noise would dominate the closed form by orders of magnitude."""
    G = LinearGenerator(noise_scale=1.0)
    res = P.ppl(G, "w", "end", 20, distance=SquaredL2(), bootstrap_resamples=0)
    np.testing.assert_allclose(res.distances, closed_form(G, "w", "end", 20, seed=0), rtol=1e-6)


# ------------------------------------------------------------------------------ pieces
def test_slerp_on_sphere_and_endpoints():
    g = torch.Generator().manual_seed(0)
    a, b = (
        torch.randn(50, 7, generator=g, dtype=torch.float64) * 3,
        torch.randn(50, 7, generator=g, dtype=torch.float64),
    )
    t = torch.rand(50, generator=g, dtype=torch.float64)
    au, bu = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    out = P.slerp(a, b, t)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(50, dtype=torch.float64))
    torch.testing.assert_close(P.slerp(a, b, torch.zeros(50, dtype=torch.float64)), au)
    torch.testing.assert_close(P.slerp(a, b, torch.ones(50, dtype=torch.float64)), bu)
    theta = torch.acos((au * bu).sum(1))
    torch.testing.assert_close(torch.acos((out * au).sum(1).clamp(-1, 1)), t * theta, atol=1e-6, rtol=1e-6)
    # stays in the plane of a and b
    resid = out - (out * au).sum(1, keepdim=True) * au
    c = bu - (au * bu).sum(1, keepdim=True) * au
    torch.testing.assert_close(
        torch.linalg.matrix_rank(torch.stack([resid, c], 1), atol=1e-9), torch.ones(50, dtype=torch.int64)
    )


def test_crop_and_downsample_pick_the_right_pixels():
    h = 1024
    rows = torch.arange(h, dtype=torch.float64)[:, None] * 10_000
    cols = torch.arange(h, dtype=torch.float64)[None, :]
    img = (rows + cols)[None, None]  # gray, value encodes (row, col)
    out = P.preprocess(img, crop=True)
    assert out.shape == (1, 3, 256, 256)  # crop 512, factor computed after the crop: 2
    i, j = torch.meshgrid(torch.arange(256, dtype=torch.float64), torch.arange(256, dtype=torch.float64), indexing="ij")
    expect = (384 + 2 * i + 0.5) * 10_000 + (256 + 2 * j + 0.5)  # rows [3c,7c), cols [2c,6c), c = 128
    for ch in range(3):
        torch.testing.assert_close(out[0, ch], expect)
    full = P.preprocess(img[..., :512, :512], crop=False)
    torch.testing.assert_close(full[0, 0], ((2 * i + 0.5) * 10_000 + (2 * j + 0.5)))
    small = img[..., :64, :64]
    cropped = P.preprocess(small, crop=True)
    assert cropped.shape[-2:] == (32, 32)
    torch.testing.assert_close(cropped[0, 0, 0, 0], small[0, 0, 24, 16])
    torch.testing.assert_close(cropped[0, 0, -1, -1], small[0, 0, 55, 47])


def test_quantize_matches_nvidia_uint8_levels():
    x = torch.linspace(-1.2, 1.2, 1001).reshape(1, 1, 7, 143)
    q = P.preprocess(x, crop=False, quantize=True)[:, :1]
    torch.testing.assert_close(q, to_uint8(x).float() / 127.5 - 1)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 99, 100, 101, 150, 199, 1000, 1234])
def test_percentile_filter_equals_numpy(n):
    rng = np.random.default_rng(n)
    for v in (rng.lognormal(size=n), rng.integers(0, 5, size=n).astype(float)):  # continuous and tied
        lo, hi = P.percentile_bounds(v)
        assert lo == np.percentile(v, 1, method="lower")
        assert hi == np.percentile(v, 99, method="higher")
        kept, lo2, hi2 = P.filter_outliers(v)
        np.testing.assert_array_equal(kept, np.extract((v >= lo) & (v <= hi), v))


def test_bootstrap_ci_is_fixed_and_sane():
    v = np.random.default_rng(0).normal(10, 2, size=500)
    a, b = P.bootstrap_ci(v), P.bootstrap_ci(v)
    assert a == b and a[0] < v.mean() < a[1]
    half = 1.96 * v.std() / np.sqrt(v.size)
    assert (a[1] - a[0]) / 2 == pytest.approx(half, rel=0.2)


def test_presets_and_overrides():
    s = P.resolve_settings("ppl_zfull")
    assert (s.space, s.sampling, s.num_samples, s.epsilon, s.crop) == ("z", "full", 100_000, 1e-4, True)
    s = P.resolve_settings("ppl2_wend", num_samples=10, crop=True)
    assert (s.space, s.sampling, s.num_samples, s.crop) == ("w", "end", 10, True)
    assert P.resolve_settings("ppl_wend", crop=False).crop is False
    with pytest.raises(UserError, match="preset"):
        P.resolve_settings("fid50k")
    with pytest.raises(UserError, match="epsilon"):
        P.resolve_settings(epsilon=0.0)
    with pytest.raises(UserError, match="space"):
        P.resolve_settings(space="x")


def test_validate_names_the_argument_and_the_runner_checks_before_building_the_distance():
    from stylegan_eval.errors import ArgumentError
    from stylegan_eval.metrics.context import EvalOptions, RunContext

    G, s = SmoothGenerator(16), P.resolve_settings(num_samples=4)
    for bad in ({"quantize": "yes"}, {"bootstrap_resamples": 2.5}, {"resize": 0}, {"psi": float("nan")}):
        with pytest.raises(ArgumentError) as exc:
            P.validate(G, s, **bad)
        assert exc.value.arg == next(iter(bad)) and str(exc.value).startswith(exc.value.arg)
    with pytest.raises(ArgumentError, match="^space must"):
        P.validate(G, P.PPLSettings(space="x"))  # type: ignore[arg-type]  # a settings object made by hand
    ctx = RunContext(G, EvalOptions(distance="lpips-vgg"), name="ppl2_wend", num_samples=4)
    with pytest.raises(ArgumentError, match="^precision must"):
        P.run_registered(ctx, ("ppl2_wend",), space="w", sampling="end", epsilon=1e-4, crop=False, precision="fp8")
    assert not ctx.options._cache  # refused before the LPIPS network was built
    # the registry's entry resolves over its preset; a caller's resolved settings are taken whole
    preset, got, rest = P.registered_protocol("ppl_zfull", 8, {"space": "z", "psi": 0.5})
    assert (preset, got, rest) == ("ppl_zfull", P.resolve_settings("ppl_zfull", num_samples=8), {"psi": 0.5})
    mine = P.resolve_settings(space="z", num_samples=3)
    assert P.registered_protocol("ppl2_wend", 8, {"settings": mine, "preset": None})[:2] == (None, mine)
    with pytest.raises(ArgumentError, match="settings is the whole protocol"):
        P.registered_protocol("ppl2_wend", 8, {"settings": mine, "crop": True})


def test_black_box_refuses_w_space_and_runs_in_z():
    G = BlackBox()
    with pytest.raises(UserError, match="black-box"):
        P.ppl(G, "w", "end", 8, distance=SquaredL2())
    res = P.ppl(G, "z", "full", 8, distance=SquaredL2(), bootstrap_resamples=0)
    assert (
        np.isfinite(res.distances).all() and res.settings["noise"] == "forked"
    )  # the pair renderer shares its noise (pairs.py)


# ------------------------------------------------------------------------------ invariances
def test_batch_size_invariance_linear():
    G = LinearGenerator()
    kw = dict(distance=SquaredL2(), seed=11, bootstrap_resamples=0)
    a = P.ppl(G, "z", "full", 23, batch_size=2, **kw).distances
    b = P.ppl(G, "z", "full", 23, batch_size=7, **kw).distances
    # float64 matmuls of other batch shapes round differently (~1e-13): nothing else may differ
    np.testing.assert_allclose(a, b, rtol=1e-10)


def test_batch_size_invariance_lpips(lpips_random):
    G = SmoothGenerator(32)
    kw = dict(distance=lpips_random, seed=4, bootstrap_resamples=0)
    a = P.ppl(G, "w", "full", 14, batch_size=2, **kw)
    b = P.ppl(G, "w", "full", 14, batch_size=7, **kw)
    # float32 convolutions may round differently for other batch shapes; nothing else differs
    np.testing.assert_allclose(a.distances, b.distances, rtol=1e-5)
    assert a.random_weights == ["LPIPS VGG16 backbone"]


def test_resume_after_interrupt_gives_the_same_distances(tmp_path):
    from stylegan_eval.engine import ResumeState

    G = LinearGenerator()
    full = P.ppl(G, "w", "full", 30, distance=SquaredL2(), batch_size=4, bootstrap_resamples=0).distances

    class Interrupting(SquaredL2):
        def __init__(self, after):
            super().__init__()
            self.calls, self.after = 0, after

        def paired(self, images):
            self.calls += 1
            if self.calls > self.after:
                raise KeyboardInterrupt
            return super().paired(images)

    state = lambda: ResumeState(tmp_path, "ppl", {"metric": "ppl", "test": 1}, save_every=0.0)  # noqa: E731
    with pytest.raises(KeyboardInterrupt):
        P.ppl(G, "w", "full", 30, distance=Interrupting(3), batch_size=4, state=state(), bootstrap_resamples=0)
    second = Interrupting(100)
    res = P.ppl(G, "w", "full", 30, distance=second, batch_size=4, state=state(), bootstrap_resamples=0)
    assert second.calls == 5  # 12 of 30 pairs were saved; 18 remain in batches of 4
    np.testing.assert_array_equal(res.distances, full)


def test_reduced_precision_runs_and_is_only_usable_at_large_eps(lpips_random):
    G = SmoothGenerator(32)
    kw = dict(distance=lpips_random, bootstrap_resamples=0)
    ref = P.ppl(G, "z", "full", 8, 1e-2, **kw)
    half = P.ppl(G, "z", "full", 8, 1e-2, precision="fp16", **kw)
    assert half.settings["precision"] == "fp16" and half.mean == pytest.approx(ref.mean, rel=0.1)
    with pytest.raises(UserError, match="precision"):
        P.ppl(G, "z", "full", 8, precision="fp8", **kw)


# ------------------------------------------------------------------------------ distances
def test_lpips_matches_the_lpips_package(lpips_random):
    import lpips

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's 'pretrained' deprecation, inside lpips
        ref = lpips.LPIPS(net="vgg", pnet_rand=True, verbose=False).eval()
    ref.net.load_state_dict(lpips_random.net.state_dict())
    g = torch.Generator().manual_seed(0)
    x0 = torch.rand(4, 3, 32, 32, generator=g) * 2 - 1
    x1 = (x0 + 0.05 * torch.randn(4, 3, 32, 32, generator=g)).clamp(-1, 1)
    with torch.inference_mode():
        torch.testing.assert_close(lpips_random(x0, x1), ref(x0, x1).flatten(), rtol=1e-5, atol=0)


def test_missing_weights_error_names_file_and_url():
    with pytest.raises(WeightsUnavailable, match=r"vgg16-397923af\.pth.*download\.pytorch\.org"):
        make_distance("lpips-vgg")
    with pytest.raises(WeightsUnavailable, match=r"vgg16\.pt.*nvlabs-fi-cdn"):
        make_distance("nvidia-vgg16", allow_random=True)


def test_nvidia_vgg16_refuses_unverified_file(tmp_path, monkeypatch):
    bogus = tmp_path / "vgg16.pt"
    bogus.write_bytes(b"not the torchscript file")
    loaded = []
    monkeypatch.setattr(torch.jit, "load", lambda *a, **k: loaded.append(a))
    with pytest.raises(WeightsUnavailable, match="sha256"):
        make_distance("nvidia-vgg16", weights_path=bogus)
    assert not loaded and NVIDIA_VGG16.sha256.startswith("b437eb09")


def test_lpips_backbone_loads_torchvision_state_dict(tmp_path, lpips_random):
    # a torchvision-style VGG16 state dict (features.* plus a classifier) with fresh values
    g = torch.Generator().manual_seed(9)
    state = {"classifier.0.weight": torch.zeros(2, 2)}
    for name, module in _vgg_features(lpips_random).named_children():
        if isinstance(module, nn.Conv2d):
            state[f"features.{name}.weight"] = torch.randn(module.weight.shape, generator=g)
            state[f"features.{name}.bias"] = torch.randn(module.bias.shape, generator=g)
    path = tmp_path / "vgg16-397923af.pth"
    torch.save(state, path)
    d = LPIPSVGG(allow_random=True, download=False)
    assert d.random_weights == ["LPIPS VGG16 backbone"]
    d.load_backbone(path)
    assert d.random_weights == [] and d.weights_file == str(path)
    torch.testing.assert_close(getattr(d.net.slice5, "28").weight, state["features.28.weight"])
    torch.testing.assert_close(getattr(d.net.slice1, "0").bias, state["features.0.bias"])
    del state["features.28.bias"]
    torch.save(state, path)
    with pytest.raises(WeightsUnavailable, match="features"):
        d.load_backbone(path)


def _vgg_features(distance: LPIPSVGG) -> nn.Sequential:
    """The LPIPS slices as one torchvision-style ``features`` Sequential (modules 0..29), copied."""
    import copy

    layers = {}
    for k in range(1, 6):
        for name, module in getattr(distance.net, f"slice{k}").named_children():
            layers[int(name)] = copy.deepcopy(module)
    return nn.Sequential(*(layers[i] for i in range(30)))


# ------------------------------------------------------------------------------ peers
#: Step used side by side with the peers. Their pipelines order the float32 operations
#: differently ([-1,1] -> [0,255] -> [-1,1] round trip, resize after instead of before the LPIPS
#: scaling layer); the rounding differences (~1e-7 per pixel) are divided by eps^2 and reach
#: ~1e-3 relative at eps = 1e-4 for this generator, 1e-4 at 1e-3 and <1e-5 at 1e-2. The protocols
#: themselves are identical at any eps, so the comparison uses 1e-2 on both sides.
EPS_PEERS = 1e-2


def _peer_generator(G, z0, z1, out):
    class Wrap(nn.Module):
        """Peers' generator contract around ours: sample() hands out our z0, then our z1."""

        def __init__(self):
            super().__init__()
            self.G, self.queue = G, [z0, z1]

        def sample(self, num_samples):
            return self.queue.pop(0)

        def forward(self, z):
            img = self.G.generate(z)
            return to_uint8(img) if out == "uint8" else (img + 1) * 127.5

    return Wrap()


def test_matches_torchmetrics(lpips_random):
    from torchmetrics.functional.image.lpips import _LPIPS
    from torchmetrics.image.perceptual_path_length import PerceptualPathLength

    G, n = SmoothGenerator(128, base=16), 16
    idx = torch.arange(n)
    z0, z1 = sampling.normal(0, sampling.Z, idx, (G.z_dim,)), sampling.normal(0, sampling.Z_END, idx, (G.z_dim,))
    net = _LPIPS(pretrained=True, net="vgg", resize=64, pnet_rand=True)  # v0.1 heads ship with torchmetrics
    net.net.load_state_dict(lpips_random.net.state_dict())
    Gq = NoNoise(G)
    metric = PerceptualPathLength(
        num_samples=n,
        epsilon=EPS_PEERS,
        interpolation_method="lerp",
        resize=64,
        lower_discard=None,
        upper_discard=None,
        sim_net=net,
    )
    metric.update(_peer_generator(Gq, z0, z1, "float"))
    _, _, theirs = metric.compute()
    ours = P.ppl(
        Gq,
        "z",
        "end",
        n,
        EPS_PEERS,
        False,
        distance=lpips_random,
        z_interpolation="lerp",
        resize=64,
        batch_size=n,
        bootstrap_resamples=0,
    )
    np.testing.assert_allclose(ours.distances, theirs.double().numpy(), rtol=1e-4)


def test_matches_torch_fidelity(lpips_random, monkeypatch):
    import types

    import torch_fidelity
    import torch_fidelity.metric_ppl as tf_ppl
    import torch_fidelity.sample_similarity_lpips as tf_lpips
    from torch_fidelity import GenerativeModelModuleWrapper

    G, n = NoNoise(SmoothGenerator(128, base=16)), 40
    idx = torch.arange(n)
    z0, z1 = sampling.normal(0, sampling.Z, idx, (G.z_dim,)), sampling.normal(0, sampling.Z_END, idx, (G.z_dim,))
    heads = torch.load(__import__("lpips").__path__[0] + "/weights/v0.1/vgg.pth", map_location="cpu")

    def vgg16_like_ours(**kwargs):  # their VGG16features only reads ``.features``
        return types.SimpleNamespace(features=_vgg_features(lpips_random))

    monkeypatch.setattr(tf_lpips, "load_state_dict_from_url", lambda *a, **k: heads)
    monkeypatch.setattr(tf_lpips, "torchvision_load_pretrained_vgg16", vgg16_like_ours)
    queue = [z0, z1]
    monkeypatch.setattr(tf_ppl, "sample_random", lambda rng, shape, z_type: queue.pop(0))
    model = GenerativeModelModuleWrapper(_peer_generator(G, z0, z1, "uint8"), G.z_dim, "normal", 0)
    common = dict(
        input1=model,
        input1_model_num_samples=n,
        ppl=True,
        cuda=False,
        verbose=False,
        batch_size=n,
        ppl_z_interp_mode="lerp",
        ppl_epsilon=EPS_PEERS,
        save_cpu_ram=True,
    )
    raw = torch_fidelity.calculate_metrics(
        **common, ppl_reduction="none", ppl_discard_percentile_lower=None, ppl_discard_percentile_higher=None
    )
    ours = P.ppl(
        G,
        "z",
        "end",
        n,
        EPS_PEERS,
        False,
        distance=lpips_random,
        z_interpolation="lerp",
        resize=64,
        quantize=True,
        batch_size=n,
        bootstrap_resamples=0,
    )
    theirs = np.asarray(raw["perceptual_path_length_raw"], dtype=np.float64)
    assert theirs.max() > 0  # uint8 quantisation makes these large, but not all zero
    np.testing.assert_allclose(ours.distances, theirs, rtol=1e-4, atol=1e-6 * theirs.max())

    # torch-fidelity 0.4.0 calls np.percentile(..., interpolation=...), which numpy 2.x removed
    # (TypeError); a shim forwards it as method=... so its default 1/99 filter can run.
    class NumpyShim:
        def __getattr__(self, name):
            return getattr(np, name)

        @staticmethod
        def percentile(a, q, interpolation="linear", **kw):
            return np.percentile(a, q, method=interpolation, **kw)

    monkeypatch.setattr(tf_ppl, "np", NumpyShim())
    queue[:] = [z0, z1]
    filtered = torch_fidelity.calculate_metrics(**common)  # defaults: 1 / 99 percentiles, NVIDIA's methods
    assert ours.mean == pytest.approx(filtered["perceptual_path_length_mean"], rel=1e-4)


class NoNoise(Generator):
    """Wraps a generator with its noise inputs fixed to zero: peers cannot share noise within a pair."""

    def __init__(self, inner: Generator) -> None:
        super().__init__()
        self.inner = inner
        self.family, self.z_dim, self.w_dim, self.num_ws, self.resolution = (
            inner.family,
            inner.z_dim,
            inner.w_dim,
            inner.num_ws,
            inner.resolution,
        )

    @property
    def noise_shapes(self):
        return []

    def _map(self, z, c):
        return self.inner._map(z, c)

    def _synthesize(self, ws, noise):
        zeros = [torch.zeros(ws.shape[0], 1, h, w, dtype=ws.dtype) for h, w in self.inner.noise_shapes]
        return self.inner._synthesize(ws, zeros)


# ------------------------------------------------------------------------------ CLI
def test_cli_report_histogram_distances(cli, tmp_path):
    code, out, err = cli(
        "ppl",
        "--generator",
        "test_ppl:make_gen32",
        "--space",
        "z",
        "--sampling",
        "full",
        "--num-samples",
        "12",
        "--allow-random-weights",
        "--out",
        tmp_path,
        "--save-distances",
        "--json",
        "--quiet",
        "--batch-size",
        "5",
    )
    assert code == 0, err
    rep = json.loads(out)
    row = rep["results"][0]
    assert row["metric"] == "ppl_z_full_nocrop_n12" and row["num_samples"] == 12 and row["kept"] <= 12
    assert row["ci95_low"] <= row["ppl"] <= row["ci95_high"]
    assert rep["meta"]["random_weights"] == ["LPIPS VGG16 backbone"] and "NOT comparable" in rep["warning"]
    assert rep["settings"]["space"] == "z" and rep["settings"]["epsilon"] == 1e-4 and rep["settings"]["crop"] is False
    d = np.load(tmp_path / "ppl_distances.npy")
    assert d.shape == (12,)
    assert (tmp_path / "ppl_hist.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(rep["files"]) == [
        *("mixing.pdf", "mixing.png", "ppl.html", "ppl_distances.npy"),
        *("ppl_hist.pdf", "ppl_hist.png", "ppl_hist.svg", "samples.pdf", "samples.png"),
    ]
    assert (tmp_path / "ppl.html").read_text().count("data:image/png;base64,") == 3  # histogram, grid, mixing
    # a preset with an explicit override, and the same samples give the same distances (the
    # default batch size differs from 5: float32 rounding of the image pair, amplified by
    # 1/epsilon^2, moves the mean by ~1e-4 relative)
    code, out, err = cli(
        "ppl",
        "--generator",
        "test_ppl:make_gen32",
        "--preset",
        "ppl_zfull",
        "--no-crop",
        "--num-samples",
        "12",
        "--allow-random-weights",
        "--json",
        "--quiet",
    )
    assert code == 0, err
    assert json.loads(out)["results"][0]["ppl"] == pytest.approx(row["ppl"], rel=2e-3)


def test_cli_errors(cli):
    code, _, err = cli("ppl", "--generator", "test_ppl:make_gen32", "--num-samples", "4", "--quiet")
    assert code == 2 and "vgg16-397923af.pth" in err and "https://download.pytorch.org/models/vgg16-397923af.pth" in err
    code, _, err = cli(
        "ppl",
        "--generator",
        "test_ppl:BlackBox",
        "--space",
        "w",
        "--num-samples",
        "4",
        "--allow-random-weights",
        "--quiet",
    )
    assert code == 2 and "black-box" in err and "--space z" in err
    code, _, err = cli(
        "ppl", "--generator", "test_ppl:make_gen32", "--save-distances", "--allow-random-weights", "--quiet"
    )
    assert code == 2 and "--out" in err


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))
