"""Adding a metric is one module plus one registry entry: a toy metric registered from a
temporary module works in calc, compare --fail-if, api.evaluate, Evaluator, every report
format and list-metrics, with nothing else changed."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from stylegan_eval.metrics import registry

TOY_MODULE = '''
"""A toy metric: ``scale`` times the mean brightness in [0, 1] of generated images (noise const)."""
import torch

from stylegan_eval.generator import latents
from stylegan_eval.metrics.context import Raw


def run_registered(ctx, outputs, *, scale):
    idx = torch.arange(ctx.num_samples)
    z = latents(ctx.generator, ctx.seed, idx).to(ctx.device)
    with torch.no_grad():
        value = scale * float((ctx.generator.generate(z, noise_mode="const").mean() + 1) / 2)
    fingerprint = {"metric": "toy", "seed": ctx.seed, "num_samples": ctx.num_samples, "scale": scale}
    details = {"name": "toy_brightness", "warnings": [], "brightness": value}
    return {outputs[0]: Raw(value, None, ctx.num_samples, [], details, fingerprint)}


def figures(output, runs):
    from stylegan_eval.figures.style import new_figure

    fig, ax = new_figure()
    ax.bar(range(len(runs)), [details[0]["brightness"] for details in runs.values()])
    return [(f"{output}: toy brightness bars", fig)]
'''
NAME = "toy_brightness"


@pytest.fixture
def toy_metric(tmp_path, monkeypatch):
    (tmp_path / "toy_metric_module.py").write_text(TOY_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.register(
        registry.MetricSpec(
            NAME,
            "toy",
            "toy_metric_module:run_registered",
            {"scale": 2.0},
            6,
            better={NAME: "higher"},
            figures="toy_metric_module:figures",
            description="twice the mean brightness (a test metric)",
        )
    )
    yield
    registry.unregister(NAME)
    sys.modules.pop("toy_metric_module", None)


@pytest.fixture(scope="module")
def demo_generator():
    from stylegan_eval import demo
    from stylegan_eval.formats import load_generator

    return load_generator(demo.default_checkpoint())


def expected(G, seed: int, n: int = 6) -> float:
    """What the toy metric should give, computed here from the generator directly."""
    from stylegan_eval.generator import latents

    with torch.no_grad():
        return 2.0 * float((G.generate(latents(G, seed, torch.arange(n)), noise_mode="const").mean() + 1) / 2)


def test_toy_metric_in_api_evaluate_and_evaluator(toy_metric, demo_generator):
    import stylegan_eval as se
    from stylegan_eval.api import evaluate

    G = demo_generator
    assert evaluate(G, [NAME], seed=3) == {NAME: pytest.approx(expected(G, 3), rel=1e-6)}
    res = evaluate(G, NAME, seed=3, repeats=2, num_samples=4, details=True)[NAME]
    assert res.values == pytest.approx([expected(G, 3, 4), expected(G, 4, 4)], rel=1e-6)
    assert res.std is not None and res.ci_low <= res.value <= res.ci_high
    assert [fp["seed"] for fp in res.fingerprints] == [3, 4] and res.fingerprints[0]["scale"] == 2.0
    ev = se.Evaluator([NAME], seed=3, num_samples=4)
    assert ev(G) == {NAME: pytest.approx(res.values[0], rel=1e-6)}
    assert ev.calls == 1 and ev.outputs == [NAME]


def test_toy_metric_in_cli_reports_and_gate(toy_metric, demo_generator, cli, tmp_path):
    code, out, err = cli("list-metrics", "--json")
    assert code == 0, err
    (row,) = [r for r in json.loads(out)["metrics"] if r["name"] == NAME]
    assert row["protocol"] == {"scale": 2.0} and row["better"] == {NAME: "higher"}

    out_dir = tmp_path / "calc"
    calc = ("--no-config", "calc", "demo", "--metrics", NAME, "--out", out_dir, "--json", "--quiet")
    code, out, err = cli(*calc, "--fail-if", f"{NAME} > 100")  # a rule names what fails: false here
    assert code == 0, err
    (rec,) = [r for r in json.loads(out)["results"] if r["metric"] == NAME]
    assert rec["value"] == pytest.approx(expected(demo_generator, 0), rel=1e-6) and rec["num_samples"] == 6
    for suffix in ("json", "csv", "md", "html"):
        assert NAME in (out_dir / f"calc.{suffix}").read_text(), suffix
    assert f"{NAME}: toy brightness bars" in (out_dir / "calc.html").read_text()  # the metric's own figure

    gate = ("--no-config", "compare", "demo", "demo", "--metrics", NAME, "--num-samples", "4", "--quiet")
    code, _, err = cli(*gate, "--fail-if", f"{NAME} < 100", "--fail-if", f"{NAME} regresses by 1%")
    assert code == 3 and f"rule failed: {NAME} < 100" in err and "regresses" not in err  # same samples: no regression


def test_plan_groups_shared_runs_by_the_spec_group_key():
    from dataclasses import replace

    from stylegan_eval import compare as C
    from stylegan_eval.errors import UserError

    runners = C.plan(["kid", "ppl2_wend", "ls_w", "fid", "ls_z"])
    assert [r.outputs for r in runners] == [("fid", "kid"), ("ppl2_wend",), ("ls_z", "ls_w")]
    assert [r.name for r in runners] == ["fid", "ppl2_wend", "ls_z"]  # the spec of the first output runs the group
    assert [r.repeatable for r in runners] == [True, False, True]
    assert C.plan(["fid", "fid50k_full"])[0].outputs == ("fid",)  # one protocol: one measurement
    with pytest.raises(UserError, match="fid50k_full, fid50k cannot run together"):
        C.plan(["fid50k_full", "fid50k"])
    quick = replace(registry.get("ls"), num_samples=64)
    (runner,) = C.plan([quick])
    assert runner.specs[0].num_samples == 64 and runner.outputs == ("ls_z", "ls_w")
