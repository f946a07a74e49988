"""The notebook/training-loop API (Evaluator, short result reprs) and the report helpers
(terminal tables, heavy-tail histograms, per-command plots)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from compare_utils import TinyDetector, gen_a, gen_b, make_classifier

import stylegan_eval as se


@pytest.fixture
def counted(monkeypatch):
    """Count every construction of a detector network, distance network, real statistics and classifier."""
    from stylegan_eval.classifiers import registry as clf_registry
    from stylegan_eval.metrics import inception, ppl, real

    counts = {"distance": 0, "detector": 0, "real": 0, "classifier": 0}

    def counting(key, fn):
        def wrapped(*args, **kwargs):
            counts[key] += 1
            return fn(*args, **kwargs)

        return wrapped

    # Patched where PPL's runner looks it up (its module imported the name), whatever the test order.
    monkeypatch.setattr(ppl, "make_distance", counting("distance", ppl.make_distance))
    monkeypatch.setattr(inception, "make_detector", counting("detector", TinyDetector.make))
    monkeypatch.setattr(real, "real_statistics", counting("real", real.real_statistics))
    monkeypatch.setattr(clf_registry, "load_custom", counting("classifier", clf_registry.load_custom))
    return counts


def _real_folder(path):
    from PIL import Image

    path.mkdir()
    rng = np.random.default_rng(0)
    for i in range(16):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(path / f"{i}.png")
    return path


@pytest.mark.slow
def test_evaluator_keeps_networks_loaded_and_repeats_its_numbers(tmp_path, counted, monkeypatch):
    monkeypatch.setenv("STYLEGAN_EVAL_CACHE", str(tmp_path / "cache"))
    clf = make_classifier(tmp_path / "smile.pt")
    real = _real_folder(tmp_path / "real")
    ev = se.Evaluator(
        ["ppl_wend", "fid", "ls_w"],
        data=real,
        num_samples=16,
        seed=3,
        allow_random_weights=True,
        classifiers=[clf],
        svm="fast",
        fid_method="eigen",
        log=tmp_path / "m.jsonl",
    )
    g = gen_b().train()
    first = ev(g, step=0)
    assert set(first) == {"ppl_wend", "fid", "ls_w"} and g.training
    assert counted == {"distance": 1, "detector": 1, "real": 1, "classifier": 1}
    second = ev(g, step=1)
    assert counted == {"distance": 1, "detector": 1, "real": 1, "classifier": 1}  # nothing rebuilt
    assert second == first
    other = ev(gen_a())  # another snapshot: other numbers, same networks
    assert other["ppl_wend"] != first["ppl_wend"] and counted["distance"] == 1
    assert ev.calls == 3 and len((tmp_path / "m.jsonl").read_text().splitlines()) == 9
    assert "distance:lpips-vgg" in ev.loaded() and "fid-real" in ev.loaded() and "calls=3" in repr(ev)
    # the same numbers as the one-shot API (which builds everything again)
    from stylegan_eval.api import evaluate

    again = evaluate(
        gen_b(),
        ["ppl_wend", "fid", "ls_w"],
        data=real,
        num_samples=16,
        seed=3,
        allow_random_weights=True,
        classifiers=[clf],
        svm="fast",
        fid_method="eigen",
    )
    assert again == pytest.approx(first, rel=1e-9) and counted["distance"] == 2
    ev.close()
    ev(g)
    assert counted["distance"] == 3


def test_evaluator_refuses_bad_arguments(tmp_path):
    with pytest.raises(se.UserError, match="data is required"):
        se.Evaluator(["fid"])
    with pytest.raises(se.ArgumentError, match="unknown option 'num_sample'"):
        se.Evaluator(["ppl_wend"], num_sample=3)


def test_result_reprs_are_short(tmp_path):
    from stylegan_eval.metrics.fid import FeatureMetricResult
    from stylegan_eval.metrics.ppl import ppl
    from stylegan_eval.metrics.result_simple import SimpleResult
    from stylegan_eval.metrics.separability import SeparabilityResult

    r = ppl(gen_b(), preset="ppl_wend", num_samples=40, seed=0, allow_random_weights=True, bootstrap_resamples=50)
    text = repr(r)
    assert (
        len(text) < 200 and "distances" not in text and text.startswith("PPLResult(ppl_w_end_crop_n40=")
    )  # 40 pairs: not the 100k protocol
    assert f"{r.value:.4g}" in text and "pairs=40" in text and r.value == r.mean  # fields are kept
    f = FeatureMetricResult("fid", 12.345678, 0.001234, 1e-20, 100, 50, 50)
    assert repr(f).startswith("FeatureMetricResult(fid=12.35, kid=0.001234 ± 0") and f.value == 12.345678
    s = SeparabilityResult({"z": 1.0000000000000002, "w": 2.5}, pd.DataFrame({"attribute": ["a", "b"]}))
    assert repr(s) == "SeparabilityResult(ls_z=1, ls_w=2.5, attributes=2)" and s.value == 2.5
    assert (
        repr(SimpleResult("is50k", {"is": 3.14159}, spread={"is": 0.0512}))
        == "SimpleResult(is=3.142 ± 0.051, name='is50k')"
    )


def test_terminal_tables_have_no_nan_or_none():
    from stylegan_eval.report import _md_table

    text = _md_table(pd.DataFrame({"a": [1.0, np.nan], "b": [None, "x"], "c": [1.1e-16, 0.5]}))
    assert "nan" not in text.lower() and "None" not in text and "e-16" not in text
    assert text.splitlines()[2] == "| 1 | - | 0 |"


def test_heavy_tailed_distances_get_a_log_axis():
    from stylegan_eval import html_report

    rng = np.random.default_rng(0)
    tame = rng.uniform(1, 2, 1000)
    wild = np.concatenate([rng.uniform(1, 2, 990), [500.0] * 10])
    assert not html_report.heavy_tailed(tame) and html_report.heavy_tailed(wild)
    assert not html_report.heavy_tailed(np.zeros(10))  # no positive spread: linear
    (fig,) = html_report.ppl_histograms({"ppl_wend": {"a": wild, "b": np.append(tame, 0.0)}})
    assert fig.name == "ppl_hist_ppl_wend" and fig.fig.axes[0].get_xscale() == "log" and len(fig.base64()) > 100


def test_metric_bars_draw_intervals_only_where_they_exist(monkeypatch):
    from matplotlib.axes import Axes

    from stylegan_eval import html_report

    calls = []
    real_errorbar = Axes.errorbar
    monkeypatch.setattr(
        Axes, "errorbar", lambda self, x, y, **kw: calls.append((list(x), kw)) or real_errorbar(self, x, y, **kw)
    )
    table = pd.DataFrame(
        {
            "checkpoint": ["a", "b", "a", "b"],
            "metric": ["fid", "fid", "ppl_wend", "ppl_wend"],
            "value": [3.0, 4.0, 10.0, 12.0],
            "ci95_low": [None, None, 9.0, np.nan],
            "ci95_high": [None, None, 11.0, np.nan],
        }
    )
    figs = html_report.metric_bars(table)
    assert len(figs) == 2
    assert [c[0] for c in calls] == [[0]]  # fid: no error bars at all; ppl_wend: only the bar with an interval
    assert "fid: single run: no interval" in figs[0].caption and "bootstrap" not in figs[0].caption
    assert "bootstrap interval" in figs[1].caption and "ppl_wend: single run: no interval" in figs[1].caption


def test_separability_and_fid_reports_write_their_plots(tmp_path):
    from PIL import Image

    from stylegan_eval import plots
    from stylegan_eval.report import Report

    sep = Report(
        "separability",
        pd.DataFrame(
            {"space": ["w", "w", "w"], "attribute": ["a", "b", "score"], "conditional_entropy_bits": [0.2, 1e-17, 0.2]}
        ),
    )
    names = plots.write_report_figures(sep, tmp_path, generator=gen_b(), metrics=["ls"])
    assert names == [
        *("separability_entropy.png", "separability_entropy.pdf", "separability_entropy.svg"),
        *("samples.png", "samples.pdf", "mixing.png", "mixing.pdf", "separability.html"),
    ]
    assert Image.open(tmp_path / "samples.png").size[0] >= 512 and set(names) <= set(sep.extra_files)
    html = (tmp_path / "separability.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "overflow-x:auto" in html
    fid = Report("fid", pd.DataFrame({"metric": ["fid", "kid"], "value": [5.0, 0.01]}))
    assert plots.write_report_figures(fid, tmp_path / "f", metrics=["fid", "kid"]) == [
        "fid_bars.png",
        "fid_bars.pdf",
        "fid_bars.svg",
        "fid.html",
    ]
    assert plots.write_report_figures(fid, None, metrics=["fid"]) == []


def test_mixing_figure_only_with_w():
    from stylegan_eval import plots

    g = gen_b()
    assert plots.mixing_image(g) is not None
    assert [c.split(";")[0].split(" of ")[0] for c, _ in plots.checkpoint_figures(g, "x")] == [
        "x: uncurated samples",
        "x: style mixing",
    ]
    g.supports_w = False  # a black-box generator
    assert plots.mixing_image(g) is None
    assert torch.is_grad_enabled()


def test_one_logging_setup_one_prefix_and_the_elapsed_line(cli, capsys):
    import logging

    from stylegan_eval import log
    from stylegan_eval.demo import default_checkpoint

    log.setup()
    log.setup()
    assert sum(isinstance(h, log._StderrHandler) for h in logging.getLogger("stylegan_eval").handlers) == 1
    log.warning("too few samples")
    logging.getLogger("stylegan_eval.metrics").warning("from a module logger")
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "stylegan-eval: warning: too few samples",
        "stylegan-eval: warning: from a module logger",
    ]
    assert (
        log.format_seconds(3.21) == "3.2 s"
        and log.format_seconds(75) == "1 min 15 s"
        and log.format_seconds(3725) == "1 h 02 min"
    )
    code, out, err = cli("--no-config", "info", default_checkpoint(), "--device", "cpu")
    assert code == 0 and err.splitlines()[-1].startswith("stylegan-eval: done in ") and "nan" not in out
    code, out, err = cli("--no-config", "info", default_checkpoint(), "--device", "cpu", "--quiet")
    assert code == 0 and "done in" not in err


def test_progress_bars_stay_with_units_and_phase(capsys):
    from stylegan_eval.engine import collect, progress_phase

    with progress_phase("step 500"):
        collect(lambda idx: {"x": idx.float()[:, None]}, 6, 4, desc="ppl", show_progress=True)
    collect(lambda idx: {"x": idx.float()[:, None]}, 6, 4, desc="generator features", show_progress=True)
    err = capsys.readouterr().err
    final = [line.strip() for line in err.replace("\r", "\n").splitlines() if "6/6" in line]
    assert any(f.startswith("step 500: ppl: 100%") and "pair/s" in f for f in final), err
    assert any(f.startswith("generator features: 100%") and "img/s" in f for f in final), err
    assert err.rstrip("\n").endswith("]")  # the last bar was left on screen (leave=True), not erased
