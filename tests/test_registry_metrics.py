"""The metric entry points, their fingerprints and resume keys, the CLI's flag translation and list-metrics."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from compare_utils import TinyDetector, Toy32, gen_a, make_classifier  # noqa: F401 - gen_a is a --generator target

from stylegan_eval.errors import ArgumentError, UserError


def _ppl(gen=None, **kw):
    from stylegan_eval.metrics.ppl import ppl

    args = dict(num_samples=4, distance="l2", seed=0, batch_size=4)
    args.update(kw)
    return ppl(gen if gen is not None else Toy32(1.0), **args)


# ------------------------------------------------------------------------------ fingerprints
def test_ppl_fingerprint_changes_with_every_input(tmp_path):
    from stylegan_eval.metrics.distances import make_distance
    from stylegan_eval.metrics.ppl import ppl_fingerprint, resolve_settings

    base = _ppl()
    fp = base.fingerprint()
    assert base.value == base.mean and base.values() == {base.name: base.mean}
    assert fp["generator"] and fp["seed"] == 0 and fp["num_samples"] == 4
    for change in (
        dict(epsilon=2e-4),
        dict(crop=True),
        dict(space="z"),
        dict(seed=1),
        dict(num_samples=5),
        dict(gen=Toy32(2.0)),
    ):
        assert _ppl(**change).fingerprint() != fp, change
    assert _ppl().fingerprint() == fp  # deterministic
    # the distance network: its weights file (by digest) and the random-weights flag
    g, s = Toy32(1.0), resolve_settings(num_samples=4)
    d = make_distance("l2")
    ref = ppl_fingerprint(g, s, d, seed=0)
    (tmp_path / "w1.pth").write_bytes(b"one")
    (tmp_path / "w2.pth").write_bytes(b"two")
    d.weights_file = str(tmp_path / "w1.pth")
    with_w1 = ppl_fingerprint(g, s, d, seed=0)
    d.weights_file = str(tmp_path / "w2.pth")
    with_w2 = ppl_fingerprint(g, s, d, seed=0)
    d.random_weights = ["LPIPS VGG16 backbone"]
    random = ppl_fingerprint(g, s, d, seed=0)
    assert len({json.dumps(x, sort_keys=True) for x in (ref, with_w1, with_w2, random)}) == 4


def test_separability_and_fid_fingerprints_change_with_every_input(tmp_path):
    from stylegan_eval.classifiers.registry import load_custom
    from stylegan_eval.metrics.fid import fid
    from stylegan_eval.metrics.separability import separability_fingerprint

    clf = load_custom(make_classifier(tmp_path / "c.pt"))
    g = Toy32(1.0)
    ref = separability_fingerprint(g, [clf], seed=0, num_samples=20)
    other_clf = load_custom(make_classifier(tmp_path / "c2.pt", seed=1))
    for fp in (
        separability_fingerprint(g, [clf], seed=1, num_samples=20),
        separability_fingerprint(g, [clf], seed=0, num_samples=21),
        separability_fingerprint(Toy32(2.0), [clf], seed=0, num_samples=20),
        separability_fingerprint(g, [other_clf], seed=0, num_samples=20),
        separability_fingerprint(g, [clf], seed=0, num_samples=20, svm="fast"),
    ):
        assert fp != ref

    real = (np.zeros(15), np.eye(15))  # TinyDetector yields 15 features (4 pooled x 3 channels + 3 stds)
    det = TinyDetector.make()
    base = fid(g, real, num_samples=8, detector=det, method="eigen")
    assert base.name == "fid" and base.value == base.fid and set(base.values()) == {"fid"}
    assert fid(g, real, num_samples=8, detector=det, method="eigen").fingerprint() == base.fingerprint()
    det2 = TinyDetector.make()
    det2.weights_sha256 = "other"
    det3 = TinyDetector.make()
    det3.random_weights = ["Inception-v3"]
    for kw in (
        dict(seed=1),
        dict(num_samples=9),
        dict(detector=det2),
        dict(detector=det3),
        dict(real=(np.ones(15), np.eye(15))),
    ):
        args = dict(real=real, num_samples=8, detector=det, method="eigen")
        args.update(kw)
        assert fid(g, **args).fingerprint() != base.fingerprint(), kw
    assert fid(Toy32(2.0), real, num_samples=8, detector=det, method="eigen").fingerprint() != base.fingerprint()


# ------------------------------------------------------------------------------ the same fingerprint from every caller
@pytest.fixture
def recorded(monkeypatch):
    """Every (name, fingerprint) a metric entry point asks its resume state for."""
    from stylegan_eval.metrics import common
    from stylegan_eval.metrics import ppl as pplmod

    seen: list[tuple[str, dict]] = []
    orig = common.resolve_state

    def record(state, name, fingerprint):
        seen.append((name, fingerprint))
        return orig(state, name, fingerprint)

    monkeypatch.setattr(common, "resolve_state", record)
    monkeypatch.setattr(pplmod, "resolve_state", record)
    return seen


def _ppl_fp_via_command(cli, tmp_path, recorded):
    code, _, err = cli(
        "--no-config",
        "ppl",
        "--generator",
        "compare_utils:gen_a",
        "--num-samples",
        "4",
        "--preset",
        "ppl_wend",
        "--allow-random-weights",
        "--quiet",
        "--device",
        "cpu",
        "--out",
        tmp_path / "cmd",
        "--json",
    )
    assert code == 0, err
    return recorded[-1]


@pytest.mark.slow
def test_ppl_fingerprint_is_the_same_from_command_compare_and_api(cli, tmp_path, recorded):
    from stylegan_eval.api import evaluate

    name_cmd, fp_cmd = _ppl_fp_via_command(cli, tmp_path, recorded)
    code, _, err = cli(
        "--no-config",
        "compare",
        "compare_utils:gen_a",
        "--metrics",
        "ppl_wend",
        "--num-samples",
        "4",
        "--allow-random-weights",
        "--quiet",
        "--device",
        "cpu",
        "--out",
        tmp_path / "cmp",
        "--json",
    )
    assert code == 0, err
    name_cmp, fp_cmp = recorded[-1]
    from stylegan_eval.formats import load_generator

    # the same spec-loaded generator (its identity -- spec, adapter files -- is part of the fingerprint)
    evaluate(load_generator(generator_spec="compare_utils:gen_a"), "ppl_wend", num_samples=4, allow_random_weights=True)
    name_api, fp_api = recorded[-1]
    assert name_cmd == name_cmp == name_api == "ppl"
    assert fp_cmd == fp_cmp == fp_api
    assert fp_cmd["distance"] == "lpips-vgg" and fp_cmd["random_weights"] is True and fp_cmd["crop"] is True


def test_separability_fingerprint_is_the_same_from_compare_and_api(tmp_path, recorded):
    from stylegan_eval.api import evaluate
    from stylegan_eval.classifiers.registry import load_custom
    from stylegan_eval.metrics import separability as sep

    clf_path = make_classifier(tmp_path / "c.pt")
    got = evaluate(gen_a(), "ls", num_samples=20, classifiers=[clf_path], svm="fast")
    via_api = recorded[-1]
    direct = sep.separability(gen_a(), [load_custom(clf_path)], num_samples=20, svm="fast")
    assert recorded[-1] == via_api and via_api[0] == "separability"
    assert direct.fingerprint() == via_api[1]
    assert direct.values() == got


def test_fid_fingerprint_is_the_same_from_command_compare_and_api(cli, tmp_path, monkeypatch, recorded):
    from PIL import Image

    from stylegan_eval.api import evaluate
    from stylegan_eval.metrics import inception

    monkeypatch.setattr(inception, "make_detector", TinyDetector.make)
    seen = recorded
    (tmp_path / "real").mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(tmp_path / "real" / f"{i}.png")
    common_args = ["--allow-random-weights", "--quiet", "--device", "cpu", "--json"]
    code, out, err = cli(
        "--no-config",
        "fid",
        "--generator",
        "compare_utils:gen_a",
        "--data",
        tmp_path / "real",
        "--num-gen",
        "8",
        "--fid-method",
        "eigen",
        "--num-workers",
        "0",
        *common_args,
    )
    assert code == 0, err
    fp_cmd = seen[-1]
    code, out2, err = cli(
        "--no-config",
        "compare",
        "compare_utils:gen_a",
        "--metrics",
        "fid",
        "--data",
        tmp_path / "real",
        "--num-samples",
        "8",
        "--fid-method",
        "eigen",
        *common_args,
    )
    assert code == 0, err
    fp_cmp = seen[-1]
    from stylegan_eval.formats import load_generator

    # the same spec-loaded generator (its identity is part of the fingerprint)
    got = evaluate(
        load_generator(generator_spec="compare_utils:gen_a"),
        "fid",
        num_samples=8,
        data=tmp_path / "real",
        fid_method="eigen",
        allow_random_weights=True,
    )
    fp_api = seen[-1]
    assert fp_cmp == fp_api and fp_cmp[0] == "fid"
    # the command keeps the generated features (the low-rank 'eigen' route), compare does not: the
    # fingerprints say so, and differ in that one setting only
    diff = {k for k in fp_cmd[1] if fp_cmd[1][k] != fp_cmp[1].get(k)}
    assert diff == {"low_rank"}
    assert json.loads(out2)["results"][0]["value"] == got["fid"]


# ------------------------------------------------------------------------------ resume
def test_resume_with_another_fingerprint_is_refused_in_one_line(cli, tmp_path):
    from stylegan_eval.engine import ResumeState

    out = tmp_path / "out"
    out.mkdir()
    ResumeState(out, "ppl", {"metric": "ppl", "seed": 99}).save(0, torch.arange(2), {"distance": torch.zeros(2)})
    code, _, err = cli(
        "--no-config",
        "ppl",
        "--generator",
        "compare_utils:gen_a",
        "--num-samples",
        "4",
        "--distance",
        "lpips-vgg",
        "--allow-random-weights",
        "--quiet",
        "--device",
        "cpu",
        "--out",
        out,
        "--resume",
    )
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "--resume" in err and "other settings" in err


# ------------------------------------------------------------------------------ library entry points and errors
def test_entry_points_work_from_python_and_name_arguments(tmp_path):
    import stylegan_eval as se
    from stylegan_eval.classifiers.registry import load_custom
    from stylegan_eval.demo import shapes

    g = Toy32(1.0)
    with pytest.raises(ValueError, match=r"space must be 'z' or 'w', got 'x'"):
        se.ppl(g, space="x", distance="l2")
    with pytest.raises(ArgumentError, match="^epsilon must"):
        se.ppl(g, epsilon=2.0, distance="l2")
    folder = shapes.write_png_folder(tmp_path / "real", 8, seed=1)
    det = TinyDetector.make()
    res = se.fid(g, folder, num_samples=8, detector=det, num_workers=0)
    assert res.name == "fid" and np.isfinite(res.value) and list(res.to_frame()["metric"]) == ["fid"]
    k = se.kid(g, folder, num_samples=8, detector=det, num_workers=0, max_subset_size=4)
    assert k.name == "kid" and np.isfinite(k.value) and k.kid_subset_size == 4
    with pytest.raises(ValueError, match="^real .*nope: no such file or folder"):
        se.fid(g, tmp_path / "nope", num_samples=8, detector=det)
    with pytest.raises(ValueError, match="^num_samples must"):
        se.kid(g, folder, num_samples=1, detector=det)
    clf = load_custom(make_classifier(tmp_path / "c.pt"))
    with pytest.raises(ValueError, match="^spaces must"):
        se.separability(g, [clf], num_samples=20, spaces=["x"])
    r = se.separability(g, [clf], num_samples=20, svm="fast")
    assert r.name == "ls" and set(r.values()) == {"ls_z", "ls_w"} and r.value == r.scores["w"]


def test_cli_translates_arguments_to_flags_in_one_place(cli):
    from stylegan_eval.cli import flag_message, flag_of

    assert (
        flag_of("num_samples") == "--num-samples" and flag_of("class_idx") == "--class" and flag_of("real") == "--data"
    )
    assert (
        flag_message(ArgumentError("epsilon", "epsilon must be a number in (0, 1), got 2"))
        == "--epsilon must be a number in (0, 1), got 2"
    )
    assert flag_message(ArgumentError("psi", "G: truncation (psi) needs W")) == "G: truncation (--psi) needs W"
    assert flag_message(UserError("plain")) == "plain"
    code, _, err = cli(
        "--no-config", "ppl", "--generator", "compare_utils:gen_a", "--epsilon", "2", "--quiet", "--device", "cpu"
    )
    assert code == 2 and "--epsilon must be a number in (0, 1)" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------------------ registry, list-metrics, layering
def test_list_metrics_reads_the_registry(cli):
    from stylegan_eval.metrics import registry

    code, out, err = cli("list-metrics", "--json")
    assert code == 0, err
    rows = json.loads(out)["metrics"]
    assert [r["name"] for r in rows] == registry.names()
    for name in (
        "fid50k_full",
        "fid50k",
        "kid50k_full",
        "kid50k",
        "ppl_zfull",
        "ppl_wfull",
        "ppl_zend",
        "ppl_wend",
        "ppl2_wend",
        "ls",
        "fid",
        "kid",
        "ls_z",
        "ls_w",
    ):
        assert name in registry.names()
    code, out, _ = cli("list-metrics")
    assert code == 0 and all(n in out for n in registry.names())


def test_compare_accepts_every_registry_name():
    from stylegan_eval import compare as C
    from stylegan_eval.metrics import registry

    assert C.available_metrics() == registry.names()
    for name in registry.names():
        (runner,) = C.plan([name])
        assert set(runner.outputs) == set(registry.get(name).outputs)


def test_library_never_imports_the_cli_and_stats_cache_is_torch_free():
    import pathlib

    root = pathlib.Path(__file__).parents[1] / "stylegan_eval"
    for p in list(root.glob("metrics/*.py")) + list(root.glob("compare/*.py")) + [root / "api.py", root / "report.py"]:
        text = p.read_text()
        assert "from ..commands" not in text and "from .commands" not in text and "from ..cli" not in text, p
    code = (
        "import sys; import stylegan_eval.metrics.stats_cache as s; import stylegan_eval.compare; "
        "print('torch' in sys.modules, 'stylegan_eval.metrics.features' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
    stats_src = (root / "metrics" / "stats_cache.py").read_text()
    assert "from .features" not in stats_src  # the cycle is broken: features -> stats_cache only


def test_intervals_restate_the_percentile_cut_and_the_t_interval():
    from scipy import stats

    from stylegan_eval.metrics import intervals

    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 100, 1001):
        v = rng.standard_normal(n)
        s = np.sort(v)
        lo = s[int(np.floor((n - 1) * 0.01))]
        hi = s[int(np.ceil((n - 1) * 0.99))]
        assert intervals.percentile_bounds(v) == (lo, hi)
    x = [1.0, 2.0, 4.0]
    std, lo, hi = intervals.t_interval(x)
    half = stats.t.ppf(0.975, 2) * np.std(x, ddof=1) / np.sqrt(3)
    assert std == pytest.approx(np.std(x, ddof=1)) and (lo, hi) == pytest.approx((np.mean(x) - half, np.mean(x) + half))
    assert intervals.significant((0, 1), (1.5, 2)) is True and intervals.significant((0, 1), (0.5, 2)) is False
    assert intervals.significant((None, None), (0, 1)) is None


def test_ppl_command_runs_the_registry_entry_as_calc_does(cli, monkeypatch):
    """The ppl command is a thin layer over the generic runner: the same registry entry, seed and
    pair count give calc's value (its report names the spelled protocol and the preset)."""
    from stylegan_eval.metrics import ppl as ppl_metric
    from stylegan_eval.metrics.distances import SquaredL2

    monkeypatch.setattr(ppl_metric, "make_distance", lambda *a, **k: SquaredL2())  # no VGG16 to build
    common = ("--num-samples", "4", "--seed", "3", "--device", "cpu", "--quiet", "--json")
    code, out, err = cli("--no-config", "ppl", "demo", "--preset", "ppl_zend", *common)
    assert code == 0, err
    ppl_report = json.loads(out)
    code, out, err = cli("--no-config", "calc", "demo", "--metrics", "ppl_zend", *common)
    assert code == 0, err
    (row,) = ppl_report["results"]
    (calc_row,) = [r for r in json.loads(out)["results"] if r["metric"] == "ppl_zend"]
    assert row["metric"] == "ppl_z_end_crop_n4" and ppl_report["settings"]["preset"] == "ppl_zend"
    assert row["num_samples"] == calc_row["num_samples"] == 4
    assert row["ppl"] == pytest.approx(calc_row["value"], rel=1e-9)
