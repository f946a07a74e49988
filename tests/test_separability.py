"""Linear separability: known answers, the entropy arithmetic, the samples file, the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from stylegan_eval.generator import Generator
from stylegan_eval.metrics import separability as sep


class LatentImageGenerator(Generator):
    """A 4x4 RGB generator whose image holds w in its first w_dim pixels (rest zero).

    ``mapping='identity'``: w = z; ``'nonlinear'``: w = 2 sin(3 z A) + 0.1 z (fixed A).
    """

    family = "test-latent-image"
    z_dim = 16
    w_dim = 16
    num_ws = 3
    resolution = 4

    def __init__(self, mapping: str = "identity") -> None:
        super().__init__()
        g = torch.Generator().manual_seed(1)
        self.register_buffer("A", torch.randn(16, 16, generator=g) / 4)
        self.kind = mapping

    def _map(self, z, c):
        w = z if self.kind == "identity" else 2 * torch.sin(3 * (z @ self.A)) + 0.1 * z
        return w[:, None].repeat(1, self.num_ws, 1)

    def _synthesize(self, ws, noise):
        n = ws.shape[0]
        flat = torch.zeros(n, 48, device=ws.device)
        flat[:, :16] = ws[:, -1]
        return flat.reshape(n, 3, 4, 4) + 0.0 * noise[0]

    @property
    def noise_shapes(self):
        return [(4, 4)]


class LinearW(nn.Module):
    """logit = v . w (read back from the image): linear in w."""

    input_resolution = 4

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        self.register_buffer("v", torch.randn(16, generator=torch.Generator().manual_seed(seed)))

    def forward(self, images):
        return images.flatten(1)[:, :16] @ self.v


class AbsZ0(nn.Module):
    """logit = |w_0| - 0.67: a band, not a half-space."""

    input_resolution = 4

    def forward(self, images):
        return (images.flatten(1)[:, 0].abs() - 0.67)[:, None]


def test_label_linear_in_w_is_separable_in_w():
    G = LatentImageGenerator("nonlinear")
    res = sep.separability(G, {"lin0": LinearW(0), "lin1": LinearW(1)}, num_samples=3000, svm="fast", seed=3)
    df = res.per_attribute
    hw = df[df.space == "w"].conditional_entropy_bits
    assert (hw < 0.05).all(), df
    assert (df[df.space == "w"].svm_accuracy > 0.99).all()
    assert res.scores["w"] == pytest.approx(2 ** hw.sum())
    # the same labels through a non-linear mapping are worse separated in Z
    hz = df[df.space == "z"].conditional_entropy_bits
    assert hz.sum() > hw.sum()
    assert (df.kept == 1500).all()


def test_nonlinear_label_gives_large_entropy_in_z():
    G = LatentImageGenerator("identity")
    res = sep.separability(G, {"band": AbsZ0()}, num_samples=3000, spaces=["z"], svm="fast", seed=0)
    row = res.per_attribute.iloc[0]
    assert row.conditional_entropy_bits > 0.5, row
    assert 0.2 < row.label_balance < 0.8
    assert list(res.scores) == ["z"]


def test_conditional_entropy_and_score_hand_values():
    joint = np.array([[0.4, 0.1], [0.1, 0.4]])
    h = -(0.8 * math.log2(0.8) + 0.2 * math.log2(0.2))  # H(Y|X) = H_b(0.2)
    assert sep.conditional_entropy(joint) == pytest.approx(h, abs=1e-12)
    assert sep.conditional_entropy(np.array([[0.5, 0.0], [0.0, 0.5]])) == 0.0
    assert sep.conditional_entropy(np.array([[0.25, 0.25], [0.25, 0.25]])) == pytest.approx(1.0)
    # X independent of Y with P(Y=1) = 0.3 -> H(Y|X) = H(Y)
    p = np.outer([0.6, 0.4], [0.7, 0.3])
    assert sep.conditional_entropy(p) == pytest.approx(-(0.7 * math.log2(0.7) + 0.3 * math.log2(0.3)))
    assert sep.conditional_entropy(np.array([[4, 1], [1, 4]])) == pytest.approx(h)  # counts normalised
    assert sep.score([h, 0.0, 1.0]) == pytest.approx(2 ** (h + 1))
    j = sep.joint_distribution(np.array([0, 0, 1, 1, 1]), np.array([0, 1, 1, 1, 0]))
    np.testing.assert_allclose(j, [[0.2, 0.2], [0.2, 0.4]])


def test_labels_confidence_and_stable_selection():
    logits = np.array([[2.0], [-3.0], [0.0], [-2.0], [30.0], [40.0]], dtype=np.float32)
    label, conf = sep.labels_and_confidence(logits)
    assert label[:, 0].tolist() == [0, 1, 0, 1, 0, 0]  # l >= 0 -> class 0 (argmax tie -> 0)
    np.testing.assert_allclose(conf[:2, 0], [1 / (1 + math.exp(-4)), 1 / (1 + math.exp(-6))], rtol=1e-6)
    # 30 and 40 both saturate to 1.0 in float32: the tie keeps sample order (4 before 5)
    kept = sep.confident_indices(conf, 4)[:, 0]
    assert kept.tolist() == [4, 5, 1, 0]


def test_single_class_is_predicted_perfectly_and_reference_reports_convergence():
    x = np.random.default_rng(0).normal(size=(50, 3))
    pred, conv, iters = sep.fit_svm(x, np.ones(50, dtype=int), "reference")
    assert conv and iters == 0 and (pred == 1).all()
    y = (x[:, 0] > 0).astype(int)
    pred, conv, _ = sep.fit_svm(x, y, "reference")
    assert conv and (pred == y).mean() > 0.95
    # an overlapping problem with a tiny iteration budget must be reported as unconverged
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    yn = (x[:, 0] + x[:, 1] ** 2 > 0.5).astype(int)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        LinearSVC(dual=True, max_iter=2, random_state=0).fit(x, yn)
    assert any(issubclass(w.category, ConvergenceWarning) for w in rec)


def test_reference_and_fast_agree_and_jobs_do_not_change_results(tmp_path):
    G = LatentImageGenerator("nonlinear")
    clfs = {"lin0": LinearW(0), "band": AbsZ0()}
    samples = sep.collect_samples(G, clfs, 1200, seed=5, batch_size=100)
    # batch size never changes the samples (up to BLAS blocking in the matmuls)
    again = sep.collect_samples(G, clfs, 1200, seed=5, batch_size=333)
    np.testing.assert_array_equal(samples.z, again.z)
    np.testing.assert_allclose(samples.logits, again.logits, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(samples.w, again.w, rtol=1e-5, atol=1e-6)
    ref = sep.fit_separability(samples, svm="reference")
    fast = sep.fit_separability(samples, svm="fast")
    fast2 = sep.fit_separability(samples, svm="fast", jobs=2)
    pd_a = fast.per_attribute.drop(columns=["svm_seconds"])
    pd_b = fast2.per_attribute.drop(columns=["svm_seconds"])
    assert pd_a.equals(pd_b)
    assert fast.per_attribute.converged.all()
    np.testing.assert_allclose(
        ref.per_attribute.conditional_entropy_bits, fast.per_attribute.conditional_entropy_bits, atol=0.03
    )
    frame = fast.to_frame()
    score_rows = frame[frame.attribute == "score"]
    assert sorted(score_rows.space) == ["w", "z"]
    for space in ("z", "w"):
        row = score_rows[score_rows.space == space].iloc[0]
        assert row.score == pytest.approx(
            2 ** frame[(frame.space == space) & (frame.attribute != "score")].conditional_entropy_bits.sum()
        )


def test_samples_roundtrip_and_select(tmp_path):
    G = LatentImageGenerator("identity")
    s = sep.collect_samples(G, {"a": LinearW(0), "b": AbsZ0()}, 64, seed=1, fingerprint={"seed": 1})
    p = s.save(tmp_path / sep.SAMPLES_FILE)
    t = sep.SeparabilitySamples.load(p)
    np.testing.assert_array_equal(s.z, t.z)
    np.testing.assert_array_equal(s.w, t.w)
    np.testing.assert_array_equal(s.logits, t.logits)
    assert t.attributes == ["a", "b"] and t.fingerprint == {"seed": 1} and t.key() == s.key()
    sub = t.select(["b"], 32)
    assert sub.logits.shape == (32, 1)
    np.testing.assert_array_equal(sub.logits[:, 0], s.logits[:32, 1])
    with pytest.raises(Exception, match="no logits for c"):
        t.select(["c"])


def test_validation_errors():
    from stylegan_eval.cli import flag_message
    from stylegan_eval.errors import ArgumentError, UserError

    G = LatentImageGenerator()
    s = sep.collect_samples(G, {"a": LinearW(0)}, 20)
    for kwargs, flag in (
        ({"keep": 0.0}, "--keep must be a fraction"),
        ({"keep": 0.05}, "--keep 0.05 of 20 samples keeps 1: need at least 2"),
        ({"spaces": ["x"]}, "--space must be a list"),
        ({"spaces": ["z", "Z"]}, "--space lists a space twice"),
        ({"svm": "nope"}, "--svm must be one of reference, fast"),
        ({"jobs": 0}, "--jobs must be an integer >= 1"),
    ):
        with pytest.raises(ArgumentError) as exc:
            sep.fit_separability(s, **kwargs)
        # the library names the Python argument, the command line its flag
        assert str(exc.value).startswith(exc.value.arg) and flag_message(exc.value).startswith(flag)

    class Big(nn.Module):
        input_resolution = 8

        def forward(self, x):
            return x.mean((1, 2, 3))

    with pytest.raises(UserError, match="integer multiple"):
        sep.collect_samples(G, {"big": Big()}, 10)


def test_the_registered_runner_checks_before_loading_classifiers(tmp_path):
    from stylegan_eval.errors import ArgumentError
    from stylegan_eval.metrics.context import EvalOptions, RunContext

    class BlackBox(LatentImageGenerator):
        supports_w = False

    # no classifier exists in classifier_dir: loading any would fail, so the refusal comes first
    opts = EvalOptions(svm="nope", classifier_dir=tmp_path)
    with pytest.raises(ArgumentError, match="^svm must"):
        sep.run_registered(RunContext(LatentImageGenerator(), opts, name="ls", num_samples=20), ("ls_z", "ls_w"))
    assert not opts._cache
    opts = EvalOptions(classifier_dir=tmp_path)
    with pytest.raises(ArgumentError, match="W space needs a generator with a mapping network") as exc:
        sep.run_registered(RunContext(BlackBox(), opts, name="ls", num_samples=20), ("ls_z", "ls_w"))
    assert exc.value.arg == "spaces" and not opts._cache
    with pytest.raises(ArgumentError, match="^keep 0.5 of 3 samples keeps 1"):
        sep.separability(LatentImageGenerator(), {"a": LinearW(0)}, num_samples=3)
    with pytest.raises(ArgumentError, match="pass need_w=False") as exc:
        sep.collect_samples(BlackBox(), {"a": LinearW(0)}, 4)
    assert exc.value.arg == "need_w"


def _patch_generator(monkeypatch, gen):
    import stylegan_eval.formats as formats

    monkeypatch.setattr(formats, "load_generator", lambda *a, **k: gen)


def test_cli_runs_with_custom_classifier_and_reuses_samples(cli, monkeypatch, tmp_path):
    """End to end: a recipe checkpoint as --classifier, then reuse of the stored samples."""
    from stylegan_eval.classifiers.simple import SimpleClassifier, save_checkpoint

    torch.manual_seed(0)
    clf_path = save_checkpoint(SimpleClassifier(4, base_channels=4, max_channels=8), tmp_path / "clf.pt", "bright")
    _patch_generator(monkeypatch, LatentImageGenerator("nonlinear"))
    out = tmp_path / "out"
    args = [
        "separability",
        "dummy.pt",
        "--classifier",
        clf_path,
        "--num-samples",
        "400",
        "--svm",
        "fast",
        "--out",
        out,
        "--json",
        "--quiet",
    ]
    code, stdout, err = cli(*args)
    assert code == 0, err
    rep = json.loads(stdout)
    rows = {(r["space"], r["attribute"]): r for r in rep["results"]}
    assert set(rows) == {("z", "bright"), ("w", "bright"), ("z", "score"), ("w", "score")}
    assert rows[("w", "bright")]["kept"] == 200
    assert not rep["meta"]["random_weights"] and rep["warning"] is None
    assert (out / sep.SAMPLES_FILE).is_file() and (out / "separability.json").is_file()
    assert rep["meta"]["samples"]["reused"] is False

    code, stdout2, err = cli(*args)
    assert code == 0, err
    rep2 = json.loads(stdout2)
    assert rep2["meta"]["samples"]["reused"] is True
    assert rep2["results"] == rep["results"] or [r["conditional_entropy_bits"] for r in rep2["results"]] == [
        r["conditional_entropy_bits"] for r in rep["results"]
    ]
    # the SVM stage alone, from the stored file, without a checkpoint
    code, stdout3, err = cli(
        "separability",
        "--from-samples",
        out / sep.SAMPLES_FILE,
        "--space",
        "w",
        "--attr",
        "Bright",
        "--json",
        "--quiet",
    )
    assert code == 0, err
    rep3 = json.loads(stdout3)
    assert [r["space"] for r in rep3["results"]] == ["w", "w"]
    code, _, err = cli("separability", "--from-samples", out / sep.SAMPLES_FILE, "--attr", "smiling", "--quiet")
    assert code == 2 and "no logits for smiling" in err


def test_cli_random_weights_banner_and_missing_weights(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("STYLEGAN_EVAL_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("STYLEGAN_EVAL_WEIGHTS", raising=False)

    class Gen256(LatentImageGenerator):
        resolution = 256

        def _synthesize(self, ws, noise):
            img = super()._synthesize(ws, noise)
            return img.repeat_interleave(64, dim=2).repeat_interleave(64, dim=3)

        @property
        def noise_shapes(self):
            return [(4, 4)]

    _patch_generator(monkeypatch, Gen256())
    code, out, err = cli("separability", "dummy.pt", "--attr", "Smiling", "--num-samples", "8")
    assert code == 2
    assert "celebahq-classifier-01-smiling.pkl" in err and "nvlabs-fi-cdn.nvidia.com" in err
    code, out, err = cli(
        "separability", "dummy.pt", "--attr", "smiling", "--classifier-dir", tmp_path, "--num-samples", "8"
    )
    assert code == 2 and "celebahq-classifier-01-smiling.pkl" in err and "https://" in err
    code, out, err = cli(
        "separability",
        "dummy.pt",
        "--attr",
        "smiling",
        "--num-samples",
        "8",
        "--keep",
        "0.5",
        "--allow-random-weights",
        "--svm",
        "fast",
        "--json",
        "--batch-size",
        "4",
        "--quiet",
    )
    assert code == 0, err
    rep = json.loads(out)
    assert rep["meta"]["random_weights"] == ["celebahq-classifier-01-smiling"]
    assert "NOT comparable" in rep["warning"] and "NOT comparable" in err
    code, out, err = cli("separability", "dummy.pt", "--attr", "frowning", "--num-samples", "8")
    assert code == 2 and "frowning" in err


def test_resume_state_is_used_by_the_generation_pass(tmp_path):
    """Partial outputs saved by one run are picked up; a finished run recomputes nothing."""
    from stylegan_eval.engine import ResumeState

    G = LatentImageGenerator("nonlinear")
    fp = sep.sample_fingerprint({"family": G.family}, 0, "random", None, {"lin0": LinearW(0)})
    state = ResumeState(tmp_path, "separability", fp, save_every=0.0)
    first = sep.collect_samples(G, {"lin0": LinearW(0)}, 200, batch_size=50, state=state)
    assert list(tmp_path.glob(".partial-separability-*"))

    class MustNotRun(nn.Module):
        input_resolution = 4

        def forward(self, images):
            raise AssertionError("classifier called although every sample was saved")

    again = sep.collect_samples(
        G, {"lin0": MustNotRun()}, 200, batch_size=50, state=ResumeState(tmp_path, "separability", fp, save_every=0.0)
    )
    np.testing.assert_array_equal(first.logits, again.logits)
    np.testing.assert_array_equal(first.w, again.w)
