"""The custom-generator contract: shared PPL noise, validation at load, spec security, identity."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from stylegan_eval.errors import UserError
from stylegan_eval.formats import custom, load_generator
from stylegan_eval.metrics import ppl as P
from stylegan_eval.metrics.distances import make_distance


def _ppl(G, space="w", n=24, seed=0, batch_size=8):
    return P.ppl(
        G,
        space,
        "full",
        n,
        1e-2,
        False,
        distance=make_distance("l2"),
        seed=seed,
        batch_size=batch_size,
        bootstrap_resamples=0,
        lower_percentile=0.0,
        upper_percentile=100.0,
    )


# ------------------------------------------------------------------------------ PPL noise
@pytest.mark.parametrize("attr", ["PerCall", "PerSample", "KwargsExplicit", "ExplicitPlusHidden"])
def test_pairs_share_noise_whatever_the_module_does(attr):
    """Additive noise cancels when shared: PPL equals the noise-free module's, and reruns are identical."""
    ref = _ppl(load_generator(generator_spec="noisy_generators:NoNoise")).distances
    G = load_generator(generator_spec=f"noisy_generators:{attr}")
    a = _ppl(G).distances
    b = _ppl(load_generator(generator_spec=f"noisy_generators:{attr}")).distances
    assert np.array_equal(a, b)
    # unshared unit-variance noise would add ~ 2 * 192 / eps^2 ~ 4e6 per pair
    np.testing.assert_allclose(a, ref, rtol=1e-3, atol=1e-2 * ref.mean())


def test_kwargs_synthesis_gets_the_engine_noise():
    from noisy_generators import KwargsExplicit

    G = load_generator(generator_spec="noisy_generators:KwargsExplicit")
    assert G.noise_shapes == [(8, 8)] and "sampling engine" in G.info()["noise"]
    KwargsExplicit.seen.clear()
    ws = G.mapping(torch.randn(3, 6))
    a = G.synthesis(ws, noise_seed=1, indices=torch.arange(3))
    assert KwargsExplicit.seen == [(3, 1, 8, 8)]
    assert torch.equal(a, G.synthesis(ws, noise_seed=1, indices=torch.arange(3)))


def test_black_box_pairs_share_noise():
    ref = _ppl(load_generator(generator_spec="noisy_generators:black_box_clean"), space="z").distances
    got = _ppl(load_generator(generator_spec="noisy_generators:black_box"), space="z").distances
    np.testing.assert_allclose(got, ref, rtol=1e-3, atol=1e-2 * ref.mean())
    assert np.array_equal(got, _ppl(load_generator(generator_spec="noisy_generators:black_box"), space="z").distances)


@pytest.mark.parametrize("attr", ["OwnRNG", "NumpyRNG"])
def test_noise_outside_torch_rng_refuses_ppl_with_the_fix(attr):
    G = load_generator(generator_spec=f"noisy_generators:{attr}")
    with pytest.raises(UserError, match="PPL refused.*noise_shapes") as err:
        _ppl(G)
    assert "\n" not in str(err.value)


def test_ppl_leaves_the_callers_rng_alone():
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    _ppl(load_generator(generator_spec="noisy_generators:PerCall"), n=8)
    assert torch.equal(before, torch.random.get_rng_state())


def test_noise_shapes_without_a_noise_argument_is_refused():
    with pytest.raises(UserError, match="noise_shapes but synthesis"):
        load_generator(generator_spec="noisy_generators:NoiseWithoutArgument")


# ------------------------------------------------------------------------------ validation at load
def test_nhwc_output_is_refused_naming_the_layout():
    with pytest.raises(UserError, match=r"noisy_generators:NHWC.*NHWC \[2, 8, 8, 3\].*NCHW"):
        load_generator(generator_spec="noisy_generators:NHWC")


def test_zero_one_output_warns():
    with pytest.warns(custom.AdapterWarning, match=r"looks like \[0, 1\]"):
        G = load_generator(generator_spec="noisy_generators:ZeroOne")
    assert G.load_warnings and "ZeroOne" in G.load_warnings[0]


def test_non_finite_output_is_refused():
    with pytest.raises(UserError, match="NaN or infinite"):
        load_generator(generator_spec="noisy_generators:NonFinite")


def test_prints_go_to_stderr(capsys):
    G = load_generator(generator_spec="noisy_generators:Chatty")
    G.generate(torch.randn(2, 6))
    out, err = capsys.readouterr()
    assert out == "" and "loading chatty" in err and "synthesis called" in err


def test_numpy_integer_dimensions_are_accepted():
    G = load_generator(generator_spec="noisy_generators:NumpyDims")
    assert (G.z_dim, G.num_ws, G.resolution) == (6, 2, 8) and all(type(v) is int for v in (G.z_dim, G.resolution))


def test_factory_errors_are_one_line_and_name_the_adapter():
    with pytest.raises(UserError, match=r"noisy_generators:needs_path.*needs a checkpoint path"):
        load_generator(generator_spec="noisy_generators:needs_path")
    with pytest.raises(UserError, match=r"noisy_generators:raises.*RuntimeError: CUDA driver not found"):
        load_generator(generator_spec="noisy_generators:raises")
    with pytest.raises(UserError, match="cannot call with_args"):
        load_generator(generator_spec="noisy_generators:with_args", generator_args={"bogus": 1})


def test_generator_args_reach_the_factory():
    args = custom.parse_generator_args(["strength=0.5", "name=abc"])
    assert args == {"strength": 0.5, "name": "abc"}
    G = load_generator(generator_spec="noisy_generators:with_args", generator_args=args)
    assert G._obj.strength == 0.5 and G._obj.name == "abc"
    assert custom.parse_generator_args(["a=1", "b=true", "c=none", "d=[1, 2]", "e=x=y"]) == {
        "a": 1,
        "b": True,
        "c": None,
        "d": [1, 2],
        "e": "x=y",
    }
    for bad, msg in ((["novalue"], "key=value"), (["1x=2"], "identifier"), (["a=1", "a=2"], "twice")):
        with pytest.raises(UserError, match=msg):
            custom.parse_generator_args(bad)


# ------------------------------------------------------------------------------ security
def test_stdlib_and_builtin_targets_are_refused(tmp_path, monkeypatch):
    canary = tmp_path / "canary"
    command = f"touch {canary}"
    (tmp_path / "evil_adapter.py").write_text(
        textwrap.dedent("""
        import functools, os, subprocess
        run = os.system
        spawn = subprocess.run
        partial = functools.partial(os.system, "true")
        lam = (lambda: None)
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for spec in (
        "os:system",
        "builtins:exec",
        "subprocess:run",
        "posix:system",
        "evil_adapter:run",
        "evil_adapter:spawn",
        "evil_adapter:partial",
    ):
        with pytest.raises(UserError, match="refused") as err:
            load_generator(command, generator_spec=spec)
        assert "\n" not in str(err.value)
    assert not canary.exists()
    with pytest.raises(UserError):  # a lambda defined in the adapter is fine to resolve, but is no generator
        load_generator(command, generator_spec="evil_adapter:lam")
    assert not canary.exists()
    # the checks themselves (independent of what a call would do)
    with pytest.raises(UserError, match="refused"):
        custom.check_target(os.system, "x:y", "x")
    with pytest.raises(UserError, match="refused"):
        custom.check_target(subprocess.run, "mypkg.mod:run", "mypkg.mod")
    with pytest.raises(UserError, match="refused"):
        custom.check_target(functools.partial(print), "mypkg:p", "mypkg")
    del sys.modules["evil_adapter"]


# ------------------------------------------------------------------------------ identity
def _write_adapter(directory, scale: float):
    directory.mkdir()
    (directory / "my_adapter.py").write_text(
        textwrap.dedent(f"""
        import torch

        class G(torch.nn.Module):
            z_dim = w_dim = 4
            num_ws = 1
            resolution = 4
            noise_shapes = []

            def mapping(self, z, c=None):
                return z

            def synthesis(self, ws, noise=None):
                return torch.tanh({scale} * ws[:, :1, :, None].expand(-1, 3, 4, 4))
    """)
    )


def test_spec_only_identity_differs_with_another_adapter_file(tmp_path, monkeypatch):
    ids = []
    for k, scale in enumerate((0.5, 0.7)):
        d = tmp_path / f"v{k}"
        _write_adapter(d, scale)
        monkeypatch.syspath_prepend(str(d))
        sys.modules.pop("my_adapter", None)
        G = load_generator(generator_spec="my_adapter:G")
        ids.append(custom.generator_identity("my_adapter:G", None, G))
    sys.modules.pop("my_adapter", None)
    assert ids[0]["generator_spec"] == ids[1]["generator_spec"] and ids[0]["state_sha256"] == ids[1]["state_sha256"]
    assert ids[0]["adapter_files"] != ids[1]["adapter_files"]
    assert ids[0] != ids[1]


def test_identity_hashes_the_weights():
    G = load_generator(generator_spec="noisy_generators:NoNoise")
    a = custom.generator_identity("noisy_generators:NoNoise", None, G)
    assert a == custom.generator_identity("noisy_generators:NoNoise", None, G)
    with torch.no_grad():
        G._obj.map[0, 0] += 1e-6
    b = custom.generator_identity("noisy_generators:NoNoise", None, G)
    assert a["state_sha256"] != b["state_sha256"] and a["adapter_files"] == b["adapter_files"]


# ------------------------------------------------------------------------------ the README example
def test_readme_adapter_example(tmp_path):
    """tests/adapter_example.py (the README's example) adapts a package-style model; PPL shares its noise."""
    import fake_stylegan_package as pkg

    ckpt = tmp_path / "model.pt"
    torch.save(pkg.TinyStyleGAN(seed=3).state_dict(), ckpt)
    G = load_generator(ckpt, generator_spec="adapter_example:load")
    assert (G.z_dim, G.num_ws, G.resolution, G.noise_shapes) == (16, 4, 16, [(16, 16)] * 3)
    z = torch.randn(2, 16)
    a = G.generate(z, noise_seed=0, indices=torch.arange(2))
    net = pkg.TinyStyleGAN(seed=0)
    net.load_state_dict(torch.load(ckpt))
    noise = G.make_noise(2, noise_seed=0, indices=torch.arange(2))
    b = net(net.style(z)[:, None].expand(-1, 4, -1), noises=noise) * 2 - 1
    torch.testing.assert_close(a, b)
    r1 = _ppl(G, n=8).distances
    assert np.array_equal(r1, _ppl(load_generator(ckpt, generator_spec="adapter_example:load"), n=8).distances)
