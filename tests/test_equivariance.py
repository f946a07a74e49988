"""Equivariance metrics: an exactly equivariant toy scores high, a fixed pattern low; the operators by hand."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

from stylegan_eval.errors import UserError
from stylegan_eval.metrics.equivariance import (
    bandlimit_filter,
    equivariance,
    fractional_translation,
    integer_translation,
    rotation_matrix,
    sinc,
)

sys.path.insert(0, str(Path(__file__).parent))
from eq_toys import BandLimitedGenerator, FixedPatternGenerator, NoTransformGenerator

ALL = ("int", "frac", "rot")


def test_equivariant_generator_scores_above_60_db():
    res = equivariance(BandLimitedGenerator(32), num_samples=8, batch_size=4, kinds=ALL)
    assert res.values()["eqt50k_int"] > 60  # exact up to float rounding (inf when bit-exact)
    assert res.values()["eqt50k_frac"] > 60
    assert res.values()["eqr50k"] > 60


def test_fixed_pattern_scores_low():
    res = equivariance(FixedPatternGenerator(32), num_samples=8, batch_size=4, kinds=ALL)
    assert all(v < 30 for v in res.values().values())


def test_batch_size_does_not_change_the_value():
    g = FixedPatternGenerator(16)
    a = equivariance(g, num_samples=6, batch_size=2, kinds=("frac", "rot")).values()
    b = equivariance(g, num_samples=6, batch_size=3, kinds=("frac", "rot")).values()
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-7)  # per-sample transforms; float32 kernels may round per shape


def test_generator_without_input_transform_is_refused():
    with pytest.raises(UserError, match="input transform") as exc:
        equivariance(NoTransformGenerator(16), num_samples=4)
    assert "\n" not in str(exc.value) and exc.value.arg == "generator"  # type: ignore[attr-defined]


def test_unknown_kind_is_refused_by_the_registered_runner_too():
    from stylegan_eval.errors import ArgumentError
    from stylegan_eval.metrics.context import EvalOptions, RunContext
    from stylegan_eval.metrics.equivariance import run_registered, validate

    with pytest.raises(ArgumentError, match="^kinds must be a non-empty subset"):
        validate(BandLimitedGenerator(16), kinds=("int", "shear"))
    ctx = RunContext(BandLimitedGenerator(16), EvalOptions(), name="eqt50k_int", num_samples=4)
    with pytest.raises(ArgumentError, match="^kinds must"):
        run_registered(ctx, ("eqt50k_int",), kinds=())


def test_integer_translation_by_hand():
    x = torch.arange(2 * 1 * 5 * 6, dtype=torch.float32).reshape(2, 1, 5, 6)
    z, m = integer_translation(x, torch.tensor([2 / 6, -1 / 6]), torch.tensor([1 / 5, 0.0]))
    assert (
        torch.equal(z[0, 0, 1:, 2:], x[0, 0, :4, :4])
        and z[0, 0, 0].abs().sum() == 0
        and z[0, 0, :, :2].abs().sum() == 0
    )
    assert torch.equal(z[1, 0, :, :5], x[1, 0, :, 1:])
    assert m[0, 0].sum() == 4 * 4 and m[1, 0].sum() == 5 * 5 and m[1, 0, :, 5].sum() == 0


def test_fractional_translation_is_a_lanczos_interpolation():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 2, 12, 14, generator=g)
    # integer shifts: the filter is a unit impulse, the result the integer shift
    z, m = fractional_translation(x, torch.tensor([3 / 14]), torch.tensor([-2 / 12]))
    zi, _ = integer_translation(x, torch.tensor([3 / 14]), torch.tensor([-2 / 12]))
    assert torch.allclose(z * m, zi * m, atol=1e-6) and m.sum() > 0
    # a fractional shift by hand: z[Y, X] = sum_m w(Y - ty - m) w'(X - tx - m') x[m, m'], normalised 6-tap Lanczos-3
    tx, ty = 1.3, 0.6
    z, m = fractional_translation(x, torch.tensor([tx / 14]), torch.tensor([ty / 12]))

    def weights(t, n):
        taps = torch.arange(n, dtype=torch.float32)
        w = torch.stack([sinc(p - t - taps) * sinc((p - t - taps) / 3) * ((p - t - taps).abs() < 3) for p in range(n)])
        return w / w.sum(1, keepdim=True)  # support: the 6 nearest taps

    wy, wx = weights(ty, 12), weights(tx, 14)
    ref = torch.einsum("ym,cmn,xn->cyx", wy, x[0], wx)
    assert torch.allclose(z[0] * m[0], ref * m[0], atol=1e-5)


def test_bandlimit_filter_phases_sum_to_one():
    f = bandlimit_filter(rotation_matrix(torch.tensor([0.3, -2.0])), a=3, amax=6, up=4)
    assert f.shape == (2, 47, 47)
    assert torch.allclose(f.sum((1, 2)) * 1.0, torch.full((2,), 1.0), atol=1e-4)
    # point symmetry of the oriented filter: f(-x, -y) = f(x, y)
    assert torch.allclose(f, f.flip([1, 2]), atol=1e-6)
    assert math.isclose(float(rotation_matrix(torch.tensor([0.5]))[0, 0, 1]), math.sin(0.5), rel_tol=1e-6)
