"""The feature metrics' ``validate``: one function per metric module, run by the function and by
the registered runner before a detector is built or a real image read, naming the Python argument."""

from __future__ import annotations

import dataclasses
import inspect
import math

import pytest
from image_utils import PoolDetector, TinyGen

from stylegan_eval.errors import ArgumentError
from stylegan_eval.metrics import cmmd, fid, inception_score, kid, modern_detectors, real
from stylegan_eval.metrics.context import EvalOptions, RunContext
from stylegan_eval.metrics.feature_pipeline import FeatureOptions


@pytest.fixture
def no_work(monkeypatch):
    """Any detector build or real-data read fails the test: the checks must come first."""

    def started(*args, **kwargs):
        raise AssertionError("work started before the arguments were checked")

    monkeypatch.setattr("stylegan_eval.metrics.inception.make_detector", started)
    monkeypatch.setattr(inception_score, "make_detector", started)
    monkeypatch.setattr(modern_detectors, "make_modern_detector", started)
    monkeypatch.setattr(cmmd.CmmdDetector, "__init__", started)
    monkeypatch.setattr(real, "real_statistics", started)
    monkeypatch.setattr(real, "shared_real_statistics", started)


STATS = "no-such-real.npz"  # never read: every call below is refused first, a missing file last

CASES = [
    (fid.fid, {"num_samples": 1}, "num_samples"),
    (fid.fid, {"method": "cholesky"}, "method"),
    (fid.fid, {"batch_size": 0}, "batch_size"),
    (fid.fid, {"psi": math.nan}, "psi"),
    (fid.fid, {"noise_mode": "loud"}, "noise_mode"),
    (fid.fid, {"max_real": 0}, "max_real"),
    (fid.fid, {"detector": "inception-v4"}, "detector"),
    (fid.fid, {"resize": "bilinear"}, "resize"),
    (fid.fid, {"num_workers": -1}, "num_workers"),
    (fid.fid, {"kid": True, "kid_subsets": 0}, "kid_subsets"),
    (fid.fid, {"kid": True, "kid_subset_size": 1}, "kid_subset_size"),
    (kid.kid, {"num_samples": 1}, "num_samples"),
    (kid.kid, {"num_subsets": 0}, "num_subsets"),
    (kid.kid, {"max_subset_size": 1}, "max_subset_size"),
    (modern_detectors.frechet_distance_in, {"detector": "pytorch-fid"}, "detector"),
    (modern_detectors.frechet_distance_in, {"fid_method": "cholesky"}, "fid_method"),
    (modern_detectors.frechet_distance_in, {"max_real": 1}, "max_real"),
    (modern_detectors.frechet_distance_in, {"noise_mode": "loud"}, "noise_mode"),
    (cmmd.cmmd, {"num_samples": 1}, "num_samples"),
    (cmmd.cmmd, {"num_workers": -1}, "num_workers"),
    (fid.fid, {}, "real"),
    (kid.kid, {}, "real"),
    (modern_detectors.frechet_distance_in, {}, "real"),
    (cmmd.cmmd, {}, "real"),
]


@pytest.mark.parametrize(("entry", "kwargs", "arg"), CASES, ids=lambda x: getattr(x, "__name__", str(x)))
def test_each_feature_metric_names_the_bad_argument_before_any_work(no_work, entry, kwargs, arg):
    with pytest.raises(ArgumentError) as info:
        entry(TinyGen(), STATS, **kwargs)
    assert info.value.arg == arg and str(info.value).startswith(arg)


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [({"num_splits": 0}, "num_splits"), ({"num_samples": 5}, "num_samples"), ({"detector": "clip-vitb32"}, "detector")],
)
def test_inception_score_names_the_bad_argument_before_any_work(no_work, kwargs, arg):
    with pytest.raises(ArgumentError) as info:
        inception_score.inception_score(TinyGen(), **kwargs)
    assert info.value.arg == arg


def test_kid_needs_real_features_before_any_work(no_work):
    import numpy as np

    with pytest.raises(ArgumentError, match="needs the real images' features") as info:
        kid.kid(TinyGen(), (np.zeros(16), np.eye(16)), num_samples=8)
    assert info.value.arg == "kid"


def test_streaming_fid_refuses_its_options_at_construction(no_work):
    from stylegan_eval.metrics.streaming import StreamingFID

    with pytest.raises(ArgumentError) as info:
        StreamingFID(STATS, kid=True, kid_subset_size=1)
    assert info.value.arg == "kid_subset_size"
    with pytest.raises(ArgumentError, match="^kid_subset is not an option of fid()"):
        StreamingFID(STATS, kid_subset=5)  # a misspelt option, refused before any image is fed


def test_a_fixed_class_must_exist_in_a_conditional_generator(no_work):
    class Conditional(TinyGen):
        c_dim = 3

    with pytest.raises(ArgumentError, match=r"class_idx must be in \[0, 3\), got 3") as info:
        fid.fid(Conditional(), STATS, class_idx=3)
    assert info.value.arg == "class_idx"
    with pytest.raises(ArgumentError, match=r"^max_real"):  # an unconditional generator ignores class_idx
        fid.fid(TinyGen(), STATS, class_idx=3, max_real=0)


@pytest.mark.parametrize(
    ("runner", "outputs", "protocol", "num_samples", "arg"),
    [
        (fid.run_registered, ("fid", "kid"), {"max_real": 0}, 8, "max_real"),
        (fid.run_registered, ("fid",), {"max_real": None}, 1, "num_samples"),
        (kid.run_registered, ("kid",), {"max_real": 1_000_000}, 1, "num_samples"),
        (cmmd.run_registered, ("cmmd",), {}, 1, "num_samples"),
    ],
)
def test_registered_runners_check_before_the_shared_detector_and_real_statistics(
    no_work, runner, outputs, protocol, num_samples, arg
):
    ctx = RunContext(TinyGen(), EvalOptions(data=STATS), name=outputs[0], num_samples=num_samples)
    with pytest.raises(ArgumentError) as info:
        runner(ctx, outputs, **protocol)
    assert info.value.arg == arg


def test_feature_options_are_the_keyword_arguments_fid_and_kid_share():
    """One frozen object carries them; its defaults are the entry points' (so FeatureOptions.pick
    of a call's arguments is the call's options)."""
    names = [f.name for f in dataclasses.fields(FeatureOptions)]
    for entry in (fid.fid, kid.kid):
        params = inspect.signature(entry).parameters
        assert all(params[n].kind is inspect.Parameter.KEYWORD_ONLY for n in names)
        assert {n: params[n].default for n in names} == {f.name: f.default for f in dataclasses.fields(FeatureOptions)}
    options = FeatureOptions.pick({"seed": 3, "kid": True, "detector": PoolDetector})
    assert options.seed == 3 and options.detector is PoolDetector and options.num_samples == 50_000
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.seed = 4  # type: ignore[misc]
