"""Project configuration: stylegan-eval.toml / [tool.stylegan-eval] as click default_map."""

from __future__ import annotations

import json

import pytest

from stylegan_eval.cli import cli as cli_group
from stylegan_eval.config import build_default_map, find_config, load_config
from stylegan_eval.errors import UserError


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_config_supplies_the_checkpoint(cli, tmp_path, monkeypatch):
    _write(
        tmp_path / "stylegan-eval.toml",
        'generator = "toy_generators:make"\ndevice = "cpu"\n\n[generate]\nseeds = "0-3"\nout-file = "img/grid.png"\n',
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("info", "--json")
    assert code == 0, err
    rep = json.loads(out)
    assert rep["meta"]["generator_spec"] == "toy_generators:make" and rep["meta"]["resolution"] == 8
    code, out, err = cli("generate", "--quiet")
    assert code == 0, err
    assert (tmp_path / "img" / "grid.png").read_bytes()[:4] == b"\x89PNG"  # relative to the config's folder
    # the command line wins over the configuration
    code, out, err = cli("generate", "--seeds", "0-1", "--out-file", tmp_path / "two.png", "--json")
    assert code == 0, err
    assert json.loads(out)["settings"]["seeds"] == [0, 1] and (tmp_path / "two.png").is_file()


def test_without_config_a_checkpoint_is_required(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("info")
    assert code == 2 and "no checkpoint given" in err


@pytest.mark.parametrize(
    "text, key",
    [
        ('generator = "toy_generators:make"\nseeed = 3\n', "'seeed'"),
        (
            'generator = "toy_generators:make"\n[separability]\nattribute = ["smiling"]\n',
            "'attribute' in [separability]",
        ),
        ('generator = "toy_generators:make"\n[fidd]\ndata = "x"\n', "[fidd]"),
    ],
)
def test_unknown_keys_are_exit_2(cli, tmp_path, monkeypatch, text, key):
    _write(tmp_path / "stylegan-eval.toml", text)
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("info")
    assert code == 2 and key in err and "stylegan-eval.toml" in err
    assert len(err.strip().splitlines()) == 1 and out == ""


def test_bad_toml_and_missing_config_are_exit_2(cli, tmp_path, monkeypatch):
    _write(tmp_path / "stylegan-eval.toml", "generator = \n")
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("info")
    assert code == 2 and "not valid TOML" in err
    code, _, err = cli("--config", tmp_path / "missing.toml", "info")
    assert code == 2 and "missing.toml" in err
    code, _, err = cli("--no-config", "info")  # --no-config ignores the broken file
    assert code == 2 and "no checkpoint given" in err


def test_discovery_order(tmp_path, monkeypatch):
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    _write(tmp_path / "stylegan-eval.toml", "seed = 1\n")
    assert find_config(sub) == tmp_path / "stylegan-eval.toml"  # a parent's file
    _write(sub / "pyproject.toml", '[project]\nname = "x"\n')
    assert find_config(sub) is None  # a pyproject.toml marks the project root: discovery stops there
    _write(sub / "pyproject.toml", "[tool.stylegan-eval]\nseed = 2\n[tool.stylegan-eval.ppl]\nnum-samples = 7\n")
    assert find_config(sub) == sub / "pyproject.toml"
    monkeypatch.chdir(sub)
    cfg = load_config()
    assert cfg.values == {"seed": 2} and cfg.sections == {"ppl": {"num-samples": 7}}
    _write(sub / "stylegan-eval.toml", "seed = 3\n")
    assert find_config(sub) == sub / "stylegan-eval.toml"


def test_default_map_per_command(tmp_path):
    path = _write(
        tmp_path / "stylegan-eval.toml",
        'ckpt = "nets/g.pt"\nseed = 4\nbatch_size = 16\nout = "reports"\nmetrics = ["ppl_wend", "ls"]\n'
        'fail-if = "ppl_wend regresses by 5%"\nallow-random-weights = true\n'
        '[separability]\nattr = ["smiling"]\nseed = 9\n[ppl]\npreset = "ppl_wend"\n'
        '[compare]\ncheckpoints = ["base.pt", "pkg.mod:make"]\n',
    )
    dm = build_default_map(load_config(path), cli_group)
    assert dm["separability"]["attrs"] == ["smiling"] and dm["separability"]["seed"] == 9  # the section wins
    assert (
        dm["ppl"]["ckpt"] == str(tmp_path / "nets" / "g.pt")
        and dm["ppl"]["seed"] == 4
        and dm["ppl"]["batch_size"] == 16
    )
    assert dm["ppl"]["out"] == str(tmp_path / "reports") and dm["ppl"]["allow_random_weights"] is True
    assert dm["generate"]["out"] == str(tmp_path / "reports")  # generate's --out is a folder too
    assert dm["compare"]["metrics"] == ["ppl_wend", "ls"] and dm["compare"]["fail_if"] == ["ppl_wend regresses by 5%"]
    assert dm["compare"]["checkpoints"] == [str(tmp_path / "base.pt"), "pkg.mod:make"]
    assert "metrics" not in dm["ppl"]
    with pytest.raises(UserError, match="expected one value"):
        build_default_map(load_config(_write(tmp_path / "bad.toml", "seed = [1, 2]\n")), cli_group)


def test_compare_runs_from_the_config_alone(cli, tmp_path, monkeypatch):
    _write(
        tmp_path / "stylegan-eval.toml",
        'device = "cpu"\nallow-random-weights = true\nquiet = true\nlog = "logs/all.jsonl"\n'
        'metrics = ["ppl_wend"]\nfail-if = ["ppl_wend > 1e9"]\n'
        '[compare]\ncheckpoints = ["compare_utils:gen_a", "compare_utils:gen_b"]\nnum-samples = 4\nout = "report"\n',
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("compare")
    assert code == 0, err
    rep = json.loads((tmp_path / "report" / "compare.json").read_text())
    assert rep["passed"] is True and rep["settings"]["checkpoints"] == ["compare_utils:gen_a", "compare_utils:gen_b"]
    lines = (tmp_path / "logs" / "all.jsonl").read_text().splitlines()
    assert [json.loads(x)["metric"] for x in lines] == ["ppl_wend", "ppl_wend"]
    code, out, err = cli("compare", "--fail-if", "ppl_wend < 1e9")  # the command line replaces the config's rules
    assert code == 3, err


def test_bad_values_name_the_key(cli, tmp_path, monkeypatch):
    _write(tmp_path / "stylegan-eval.toml", 'generator = "toy_generators:make"\n[ppl]\nspace = "q"\n')
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("info")
    assert code == 2 and "[ppl] space" in err and "'q'" in err
    _write(tmp_path / "stylegan-eval.toml", 'seed = "abc"\n')
    code, _, err = cli("info")
    assert code == 2 and "seed" in err and "abc" in err
