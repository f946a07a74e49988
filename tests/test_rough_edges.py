"""What a new user hits in the first hour: aliases, messages, help texts and small API conveniences."""

from __future__ import annotations

import json

import pytest
import torch

import stylegan_eval as se


def _lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def test_num_gen_alias_everywhere(cli):
    for command in ("ppl", "separability", "demo", "fid", "calc"):
        code, out, err = cli(command, "--help")
        assert code == 0 and "--num-gen" in out, command


def test_info_prints_dash_for_missing_values(cli):
    code, out, err = cli("--no-config", "info", "demo", "--device", "cpu")
    assert code == 0, err
    assert "None" not in out and "| -" in out


def test_unknown_metric_and_demo_attribute_suggest_the_near_name(cli):
    code, out, err = cli("--no-config", "calc", "demo", "--metrics", "ppl2_wedn")
    (line,) = _lines(err)
    assert code == 2 and "did you mean ppl2_wend" in line and "ppl_zfull" not in line
    code, out, err = cli("--no-config", "separability", "demo", "--attr", "shpe", "--num-samples", "64")
    (line,) = _lines(err)
    assert code == 2 and "did you mean shape" in line and "position" in line


def test_help_offers_only_what_a_command_uses(cli):
    for command in ("generate", "info", "mix"):
        code, out, err = cli(command, "--help")
        assert code == 0 and "--allow-random-weights" not in out, command
    code, out, err = cli("generate", "--help")
    assert ".json/.csv/.md" not in out
    code, out, err = cli("--help")
    (row,) = [line for line in out.splitlines() if line.strip().startswith("list-metrics")]
    assert len(row.split()) > 2  # a summary follows the name
    code, out, err = cli("separability", "--help")
    assert "[z,w|z|w]" in out


def test_ctrl_c_names_the_partial_results_and_resume(tmp_path, cli, monkeypatch):
    import stylegan_eval.metrics.ppl as ppl_metric

    def interrupted(*args, state=None, **kwargs):
        st = state("ppl", {"test": 1})
        st.save(0, torch.arange(2), {"distances": torch.zeros(2)})
        raise KeyboardInterrupt

    monkeypatch.setattr(ppl_metric, "ppl", interrupted)  # the registry runner's entry point
    monkeypatch.setattr(ppl_metric, "make_distance", lambda *a, **k: None)  # the distance network is not reached
    code, out, err = cli("--no-config", "ppl", "demo", "--num-samples", "8", "--out", tmp_path, "--device", "cpu")
    (line,) = _lines(err)
    assert code == 130 and "--resume" in line and str(tmp_path) in line and "kept" in line


def test_passing_gate_says_how_many_rules_passed(cli, monkeypatch):
    import stylegan_eval.compare as compare_pkg

    monkeypatch.setattr(
        compare_pkg,
        "evaluate",
        lambda *a, **k: {"ppl_wend": compare_pkg.aggregate("ppl_wend", [compare_pkg.Raw(3.0)])},
    )
    code, out, err = cli(
        "--no-config",
        "calc",
        "demo",
        "--metrics",
        "ppl_wend",
        "--fail-if",
        "ppl_wend > 5",
        "--fail-if",
        "ppl_wend < 1",
        "--quiet",
    )
    assert code == 0, err
    assert "stylegan-eval: 2 rules passed" in err


def test_results_convert_to_float():
    from stylegan_eval.compare import Raw, aggregate
    from stylegan_eval.metrics.fid import FeatureMetricResult

    assert float(FeatureMetricResult("fid", 7.5, None, None, None, 10, 10)) == 7.5
    assert float(aggregate("fid", [Raw(2.0), Raw(4.0)])) == 3.0


def test_generate_ends_with_done_in(tmp_path, cli):
    code, out, err = cli("--no-config", "generate", "demo", "--seeds", "0", "--out", tmp_path, "--device", "cpu")
    assert code == 0, err
    assert _lines(err)[-1].startswith("stylegan-eval: done in")


def test_default_batch_follows_the_generator_size(tmp_path):
    from stylegan_eval.demo import default_checkpoint
    from stylegan_eval.runtime import default_batch_size, generator_batch_size, num_parameters

    cpu = torch.device("cpu")
    for stage in ("generate", "fid_generated", "separability", "ppl"):  # never more images at a larger size
        sizes = [default_batch_size(cpu, r, stage) for r in (32, 64, 128, 256, 512, 1024, 2048)]
        assert sizes == sorted(sizes, reverse=True) and sizes[-1] == 1, (stage, sizes)
    big, small = (default_batch_size(cpu, 32, "separability", num_params=n) for n in (10**9, 10**5))
    assert big < small  # a much larger network at the same size: fewer images per batch
    g = se.load_generator(default_checkpoint())
    for stage in ("generate", "fid_generated", "separability", "ppl"):
        assert generator_batch_size(g, stage=stage) == default_batch_size(cpu, 32, stage, num_parameters(g))
    from image_utils import PoolDetector

    res = se.fid(g, (torch.zeros(16), torch.eye(16)), num_samples=4, detector=PoolDetector())
    assert res.settings["batch_size"] == generator_batch_size(g, stage="fid_generated")


def test_repeated_warnings_are_one_summary_line():
    from stylegan_eval.log import summarize

    per_attr = [f"{s}:{a}: the linear SVM did not converge (1000 iterations)" for s in "zw" for a in ("shape", "size")]
    lines = summarize([*per_attr, "FID rank-deficient", "FID rank-deficient"])
    assert lines == [
        "the linear SVM did not converge (1000 iterations) (4 cases: z:shape, z:size, w:shape, w:size)",
        "FID rank-deficient",
    ]
    assert summarize(["z:shape: one", "w:size: other"]) == ["z:shape: one", "w:size: other"]


def test_one_warning_style_and_the_written_files(tmp_path, cli, monkeypatch):
    """Every stderr line carries the one prefix (the random-weights banner included); the last report line
    names the HTML page."""
    import stylegan_eval.compare as compare_pkg

    raw = compare_pkg.Raw(3.0, random_weights=["LPIPS VGG16 backbone"], details={"warnings": ["w:a: odd", "z:b: odd"]})
    monkeypatch.setattr(compare_pkg, "evaluate", lambda *a, **k: {"ppl_wend": compare_pkg.aggregate("ppl_wend", [raw])})
    code, out, err = cli("--no-config", "calc", "demo", "--metrics", "ppl_wend", "--out", tmp_path, "--quiet")
    assert code == 0, err
    lines = _lines(err)
    assert all(line.startswith("stylegan-eval: ") or line.startswith("report written to") for line in lines), err
    assert any("warning: computed with randomly initialised LPIPS" in line for line in lines)
    assert "stylegan-eval: warning: odd (2 cases: w:a, z:b)" in lines
    written = [line for line in lines if line.startswith("report written to")]
    assert written and "calc.html" in written[0]


def test_offline_weights_error_names_the_download_key_and_the_flag():
    from stylegan_eval import weights, weights_catalog
    from stylegan_eval.errors import WeightsUnavailable

    with pytest.raises(WeightsUnavailable) as info:
        weights.fetch(weights_catalog.VGG16_TORCHVISION)
    text = str(info.value)
    assert "weights download vgg16" in text and "--allow-random-weights" in text and "\n" not in text


def test_weights_download_fid_means_the_fid_detectors_only():
    from stylegan_eval import weights_catalog

    keys = [e.key for e in weights_catalog.select(["fid"])]
    assert "fid-inception" in keys and not {"dinov2-vitl14", "clip-vitb32"} & set(keys)
    assert {e.key for e in weights_catalog.select(["fd"])} == {"dinov2-vitl14", "clip-vitb32"}


@pytest.mark.slow
def test_precision_recall_runs_at_random_weights_when_allowed(tmp_path):
    """pr without NVIDIA's vgg16.pt: refused by default, labelled random with allow_random_weights."""
    from image_utils import TinyGen, write_images

    from stylegan_eval.errors import WeightsUnavailable
    from stylegan_eval.metrics.precision_recall import precision_recall

    write_images(tmp_path / "real", 6, seed=1, size=16)
    with pytest.raises(WeightsUnavailable, match="allow-random-weights"):
        precision_recall(TinyGen(), tmp_path / "real", num_samples=6, max_real=None)
    res = precision_recall(TinyGen(), tmp_path / "real", num_samples=6, max_real=None, allow_random_weights=True)
    assert res.random_weights == ["VGG16 (precision/recall)"] and 0 <= res.values()["precision"] <= 1


def test_one_checkpoint_calc_table_has_no_baseline_columns(cli, monkeypatch):
    import stylegan_eval.compare as compare_pkg

    monkeypatch.setattr(
        compare_pkg, "evaluate", lambda *a, **k: {"ppl_wend": compare_pkg.aggregate("ppl_wend", [compare_pkg.Raw(3.0)])}
    )
    code, out, err = cli("--no-config", "calc", "demo", "--metrics", "ppl_wend", "--quiet")
    assert code == 0, err
    header = out.splitlines()[0]
    assert "delta" not in header and "significant" not in header and "better" not in header
    assert "/" not in out and len(max(out.split(), key=len)) < 64  # no full path, no 64-digit sha256
    code, out, err = cli("--no-config", "calc", "demo", "--metrics", "ppl_wend", "--quiet", "--json")
    assert len(json.loads(out)["results"][0]["sha256"]) == 64  # the files keep it whole


def test_evaluator_keys_logs_and_warnings(tmp_path, capsys, caplog, monkeypatch):
    """Keys are the names asked for; one warning for random weights; rows name the generator; a step is
    logged once; progress bars show by default."""
    from image_utils import PoolDetector, TinyGen, write_images

    import stylegan_eval.metrics.inception as inception
    from stylegan_eval.jsonlog import read_log

    def random_pool(*args, **kwargs):
        det = PoolDetector()
        det.random_weights = ["pool test detector"]
        return det

    monkeypatch.setattr(inception, "make_detector", random_pool)
    write_images(tmp_path / "real", 6, seed=1, size=16)
    log = tmp_path / "metrics.jsonl"
    ev = se.Evaluator(metrics=["fid50k_full"], data=tmp_path / "real", num_samples=4, log=log)
    assert ev.outputs == ["fid50k_full"]
    g = TinyGen()
    first = ev(g, step=300, details=True)
    ev(g, step=300, details=True)
    assert list(first) == ["fid50k_full"] and float(first["fid50k_full"]) > 0
    rows = read_log(log)
    assert len(rows) == 1 and rows["checkpoint"][0] == "<in-memory TinyGen>" and len(rows["sha256"][0]) == 64
    assert caplog.text.count("randomly initialised pool test detector") == 1 and "already in" in caplog.text
    assert "generator features" in capsys.readouterr().err


def test_demo_summary_names_the_real_training_script():
    import importlib.util
    import re as _re
    from pathlib import Path

    from stylegan_eval.commands import demo as demo_cmd
    from stylegan_eval.demo import training_info

    module = demo_cmd.TRAIN_SCRIPT.split()[-1]
    assert importlib.util.find_spec(module) is not None
    text = json.dumps(training_info())
    assert not _re.search(r"stylegan_eval\.demo\.train_gan", text + Path(demo_cmd.__file__).read_text())


@pytest.mark.slow
def test_readme_positive_rates_are_the_demo_run():
    """The README's 55/53/54/51 % are what the demo's separability samples give (seed 0, 2048 samples)."""
    import re as _re
    from pathlib import Path

    from stylegan_eval.classifiers.registry import load_custom
    from stylegan_eval.demo import classifier_paths, default_checkpoint
    from stylegan_eval.metrics import separability as sep

    g = se.load_generator(default_checkpoint())
    clfs = [load_custom(p) for p in classifier_paths().values()]
    samples = sep.collect_samples(g, clfs, 2048, seed=0, batch_size=64, show_progress=False)
    rates = [round(100 * float((samples.logits[:, k] > 0).mean())) for k in range(len(clfs))]
    readme = Path(__file__).parents[1].joinpath("README.md").read_text()
    quoted = _re.search(r"call (\d+)/(\d+)/(\d+)/(\d+) % of them", readme)
    assert quoted and [int(x) for x in quoted.groups()] == rates


def test_demo_takes_a_positional_checkpoint(tmp_path, cli):
    code, out, err = cli("demo", "--help")
    assert code == 0 and "[CKPT]" in out and "--checkpoint" not in out
    code, out, err = cli("--no-config", "demo", tmp_path / "missing.pt", "--out", tmp_path / "o")
    (line,) = _lines(err)
    assert code == 2 and "missing.pt" in line
