"""compare: rules, significance, the report formats and the CI-gate exit codes."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from compare_utils import TinyDetector, gen_b

from stylegan_eval import compare as C
from stylegan_eval.errors import UserError


# ------------------------------------------------------------------------------ rules
@pytest.mark.parametrize(
    "text, metric, op, number",
    [
        ("fid > 5", "fid", ">", 5.0),
        ("kid<=0.01", "kid", "<=", 0.01),
        ("ls_w != 2", "ls_w", "!=", 2.0),
        ("ppl_wend regresses by 5%", "ppl_wend", "regresses", 5.0),
        ("  fid  ==  -1e-3 ", "fid", "==", -1e-3),
        ("ppl2_wend regresses by 0.5 %", "ppl2_wend", "regresses", 0.5),
        ("FID > 5", "fid", ">", 5.0),  # names are case-insensitive, as in --metrics
    ],
)
def test_rules_parse(text, metric, op, number):
    rule = C.parse_rule(text)
    assert (rule.metric, rule.op, rule.number) == (metric, op, number)
    assert rule.relative == (op == "regresses")


@pytest.mark.parametrize(
    "text",
    [
        "fid > ",
        "fid >> 5",
        "fid = 5",
        "5 > fid",
        "fid > five",
        "fid regresses 5%",
        "fid regresses by 5",
        "fid regresses by -5%",
        "fid > 5 and kid < 1",
        "",
        "fid > nan",
        "fid > inf",
    ],
)
def test_bad_rules_are_refused(text):
    with pytest.raises(UserError, match="--fail-if"):
        C.parse_rule(text)


def test_rule_metric_must_be_computed():
    with pytest.raises(UserError, match="'kid' is not computed"):
        C.parse_rule("kid > 1", ["fid", "ppl_wend"])


def _table(values: dict[str, dict[str, float]]) -> pd.DataFrame:
    labels = list(values)
    results = {label: {m: C.aggregate(m, [C.Raw(v)]) for m, v in per.items()} for label, per in values.items()}
    return C.compare_table(labels, results)


def test_check_rules_thresholds_and_regressions():
    table = _table({"base": {"fid": 10.0, "ppl_wend": 100.0}, "new": {"fid": 4.0, "ppl_wend": 106.0}})
    rules = [
        C.parse_rule(t)
        for t in ("fid > 5", "ppl_wend regresses by 5%", "ppl_wend regresses by 10%", "fid regresses by 1%")
    ]
    res = C.check_rules(rules, table)
    assert list(res["checkpoint"]) == ["new"] * 4  # the baseline is not checked
    assert list(res["passed"]) == [True, False, True, True]  # fid improved by 60%: no regression
    assert res["observed"].iloc[1] == pytest.approx(6.0)
    assert "worse by 6%" in res["detail"].iloc[1]
    # a single checkpoint: thresholds apply to it, regressions are refused
    one = _table({"only": {"fid": 6.0}})
    assert not C.check_rules([C.parse_rule("fid > 5")], one)["passed"].iloc[0]
    with pytest.raises(UserError, match="baseline"):
        C.check_rules([C.parse_rule("fid regresses by 5%")], one)


def test_regression_direction():
    assert C.lower_is_better("fid") and C.lower_is_better("ppl2_wend") and C.lower_is_better("ls_w")
    assert C.regression_percent("fid", 11.0, 10.0) == pytest.approx(10.0)
    assert C.regression_percent("fid", 9.0, 10.0) == pytest.approx(-10.0)


def test_aggregate_intervals_and_significance():
    from scipy import stats

    m = C.aggregate("fid", [C.Raw(v) for v in (10.0, 11.0, 12.0)])
    assert m.value == 11.0 and m.std == pytest.approx(1.0) and m.repeats == 3
    logs = np.log([10.0, 11.0, 12.0])  # the interval of a positive quantity is a t-interval of log v
    half = stats.t.ppf(0.975, 2) * np.std(logs, ddof=1) / math.sqrt(3)
    assert (m.ci_low, m.ci_high) == pytest.approx((math.exp(logs.mean() - half), math.exp(logs.mean() + half)))
    far = C.aggregate("fid", [C.Raw(v) for v in (20.0, 21.0, 22.0)])
    near = C.aggregate("fid", [C.Raw(v) for v in (11.5, 12.0, 12.5)])
    assert C.significant(m, far) is True and C.significant(m, near) is False
    single = C.aggregate("fid", [C.Raw(10.0)])
    assert single.std is None and C.significant(single, far) is None
    ppl = C.aggregate("ppl_wend", [C.Raw(5.0, (4.0, 6.0))])
    assert (ppl.ci_low, ppl.ci_high) == (4.0, 6.0)


def test_repeat_intervals_are_never_negative():
    from scipy import stats

    from stylegan_eval.metrics import intervals

    spread = (0.5, 1.0, 20.0)  # the plain t-interval of these reaches far below 0
    std, lo, hi = intervals.t_interval(spread)
    assert lo < 0
    m = C.aggregate("fid", [C.Raw(v) for v in spread])
    assert 0 < m.ci_low < min(spread) and m.ci_high > max(spread) and m.std == pytest.approx(std)
    kid = C.aggregate("kid", [C.Raw(v) for v in (-0.001, 0.002, 0.004)])  # KID's unbiased estimate can dip below 0
    _, tlo, thi = intervals.t_interval([-0.001, 0.002, 0.004])
    assert tlo < 0 and kid.ci_low == 0.0 and kid.ci_high == pytest.approx(thi)
    assert intervals.repeat_interval(spread, nonnegative=False)[1] == pytest.approx(lo)
    assert stats.t.ppf(0.975, 2) > 4  # K = 3: wide intervals, as they should be


def test_nice_numbers():
    from stylegan_eval.metrics.intervals import nice

    assert nice(1.1e-16) == "0" and nice(None) == "-" and nice(float("nan")) == "-"
    assert nice(1.0, 3.1e-16) == "1 ± 0" and nice(12.3456, 0.0123) == "12.35 ± 0.012"
    assert nice(0.123456789) == "0.1235"


def test_plan_names_and_errors():
    runners = C.plan(["ppl_wend", "ls_w", "ls", "ppl_wend"])
    assert [r.outputs for r in runners] == [("ppl_wend",), ("ls_z", "ls_w")]
    with pytest.raises(UserError, match="unknown metric 'psnr'"):
        C.plan(["psnr"])


# ------------------------------------------------------------------------------ CLI
def _compare_args(tmp_path, classifier, *extra):
    return (
        "--no-config",
        "compare",
        "compare_utils:gen_a",
        "compare_utils:gen_b",
        "--metrics",
        "ppl_wend,ls",
        "--num-samples",
        "12",
        "--classifier",
        classifier,
        "--svm",
        "fast",
        "--repeats",
        "2",
        "--allow-random-weights",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        tmp_path,
        *extra,
    )


def test_compare_writes_every_format_and_gates(cli, tmp_path, classifier):
    out = tmp_path / "report"
    code, stdout, err = cli(*_compare_args(out, classifier, "--fail-if", "ppl_wend < 1e-9", "--fail-if", "ls_w >= 1e9"))
    assert code == 0, err
    for ext in ("csv", "json", "md", "html"):
        assert (out / f"compare.{ext}").stat().st_size > 0
    rep = json.loads((out / "compare.json").read_text())
    assert rep["passed"] is True and len(rep["rules"]) == 2 and all(r["passed"] for r in rep["rules"])
    rows = pd.read_csv(out / "compare.csv")
    assert set(rows["metric"]) == {"ppl_wend", "ls_z", "ls_w"} and list(dict.fromkeys(rows["checkpoint"])) == [
        "compare_utils:gen_a",
        "compare_utils:gen_b",
    ]
    ppl = rows[rows["metric"] == "ppl_wend"].set_index("checkpoint")
    assert ppl.loc["compare_utils:gen_b", "value"] > ppl.loc["compare_utils:gen_a", "value"]  # steeper generator
    assert (ppl["ci95_low"] <= ppl["value"]).all() and (ppl["value"] <= ppl["ci95_high"]).all()
    ls = rows[rows["metric"] == "ls_w"]
    assert (ls["repeats"] == 2).all() and ls["std"].notna().all()
    html = (out / "compare.html").read_text()
    assert html.count("data:image/png;base64,") >= 4  # ppl + ls bars, ppl histogram, ls attribute bars
    assert "http://" not in html and "https://" not in html and "<script" not in html
    md = (out / "compare.md").read_text()
    assert "| checkpoint |" in md and "Rules: all passed" in md and "Significance" in md
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert {r["metric"] for r in log} == {"ppl_wend", "ls_z", "ls_w"} and len(log) == 6
    assert all(r["command"] == "compare" and "time" in r for r in log)

    # the same run with a regression rule: the report is written, then exit 3
    out2 = tmp_path / "report2"
    code, _, err = cli(
        *_compare_args(out2, classifier, "--fail-if", "ppl_wend regresses by 1%", "--fail-if", "ls_w > 1e9")
    )
    assert code == 3, err
    assert "rule failed: ppl_wend regresses by 1%" in err
    rep2 = json.loads((out2 / "compare.json").read_text())
    assert rep2["passed"] is False and [r["passed"] for r in rep2["rules"]] == [False, True]
    assert "FAIL" in (out2 / "compare.md").read_text() and "FAIL" in (out2 / "compare.html").read_text()
    # identical seeds: the baseline's numbers are the same in both runs
    assert pd.read_csv(out2 / "compare.csv")["value"].tolist() == rows["value"].tolist()


@pytest.mark.parametrize(
    "extra, message",
    [
        (("--metrics", "ppl_wend", "--fail-if", "ppl_wend >> 3"), "'ppl_wend >> 3'"),
        (("--metrics", "ppl_wend", "--fail-if", "fid > 3"), "'fid > 3'"),
        (("--metrics", "psnr"), "psnr"),
        (("--metrics", "fid"), "--data"),
    ],
)
def test_compare_bad_input_is_exit_2(cli, tmp_path, extra, message):
    code, out, err = cli(
        "--no-config", "compare", "compare_utils:gen_a", "compare_utils:gen_b", "--out", tmp_path, *extra
    )
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())  # refused before computing or writing anything


def test_compare_missing_checkpoint_is_exit_2(cli, tmp_path):
    code, _, err = cli("--no-config", "compare", str(tmp_path / "nope.pt"), "--metrics", "ppl_wend")
    assert code == 2 and "nope.pt" in err
    code, _, err = cli(
        "--no-config",
        "compare",
        "compare_utils:gen_a",
        "--metrics",
        "ppl_wend",
        "--fail-if",
        "ppl_wend regresses by 5%",
    )
    assert code == 2 and "baseline" in err


def test_html_report_is_self_contained(tmp_path):
    from stylegan_eval import html_report

    table = _table({"a": {"fid": 3.0}, "b": {"fid": 4.0}})
    figs = html_report.metric_bars(table) + html_report.ppl_histograms(
        {"ppl_wend": {"a": np.arange(50.0), "b": np.arange(50.0) * 2}}
    )
    page = html_report.render("t <x>", C.summary_table(table), table, None, figs)
    assert page.count("data:image/png;base64,") == 2 and "t &lt;x&gt;" in page


def test_compare_fid_kid_with_repeats(cli, tmp_path, monkeypatch):
    from PIL import Image

    from stylegan_eval.metrics import inception

    monkeypatch.setattr(inception, "make_detector", TinyDetector.make)
    monkeypatch.setenv("STYLEGAN_EVAL_CACHE", str(tmp_path / "cache"))
    real = tmp_path / "real"
    real.mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(real / f"{i}.png")
    out = tmp_path / "out"
    code, _, err = cli(
        "--no-config",
        "compare",
        "compare_utils:gen_a",
        "compare_utils:gen_b",
        "--metrics",
        "fid,kid",
        "--data",
        real,
        "--num-samples",
        "20",
        "--repeats",
        "3",
        "--fid-method",
        "eigen",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        out,
        "--fail-if",
        "kid > 1e6",
        "--fail-if",
        "fid regresses by 1e6%",
    )
    assert code == 0, err
    rows = pd.read_csv(out / "compare.csv").set_index(["checkpoint", "metric"])
    assert set(rows.index.get_level_values("metric")) == {"fid", "kid"}
    for key, r in rows.iterrows():
        assert r["repeats"] == 3 and r["std"] > 0 and r["ci95_low"] < r["value"] < r["ci95_high"], key
    # the mean over repeats is the mean of the runs with seeds seed, seed+1, seed+2
    singles = []
    for seed in (0, 1, 2):
        code, stdout, err = cli(
            "--no-config",
            "compare",
            "compare_utils:gen_a",
            "--metrics",
            "fid",
            "--data",
            real,
            "--num-samples",
            "20",
            "--fid-method",
            "eigen",
            "--device",
            "cpu",
            "--quiet",
            "--seed",
            seed,
            "--json",
        )
        assert code == 0, err
        singles.append(json.loads(stdout)["results"][0]["value"])
    assert len(set(singles)) == 3
    assert rows.loc[("compare_utils:gen_a", "fid"), "value"] == pytest.approx(np.mean(singles), rel=1e-12)
    assert rows.loc[("compare_utils:gen_a", "fid"), "std"] == pytest.approx(np.std(singles, ddof=1), rel=1e-9)


def test_api_evaluate_matches_the_metric_and_logs(tmp_path):
    from toy_generators import make

    from stylegan_eval.api import as_generator, evaluate
    from stylegan_eval.generator import Generator as G
    from stylegan_eval.metrics.ppl import ppl

    gen = gen_b().train()
    log = tmp_path / "m.jsonl"
    got = evaluate(gen, "ppl_wend", num_samples=8, seed=3, allow_random_weights=True, log=log, step=7)
    assert gen.training  # the caller's mode is restored
    ref = ppl(gen_b().eval(), preset="ppl_wend", num_samples=8, seed=3, allow_random_weights=True)
    assert got == {"ppl_wend": ref.mean}
    (rec,) = [json.loads(x) for x in log.read_text().splitlines()]
    assert rec["metric"] == "ppl_wend" and rec["value"] == ref.mean and rec["step"] == 7 and "time" in rec
    assert isinstance(as_generator(make()), G)
    with pytest.raises(UserError, match="data is required"):
        evaluate(gen, ["fid"])
