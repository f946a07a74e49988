"""One CLI vocabulary, names that mean one protocol, demo / specs everywhere, every registry metric wired."""

from __future__ import annotations

import json
import math
import sys
import textwrap

import nvidia_utils as nu
import pytest
import torch


def _last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


# ------------------------------------------------------------------------------ names
def test_ppl_protocol_names():
    from stylegan_eval.metrics.ppl import PRESETS, PPLSettings, protocol_name, resolve_settings

    assert protocol_name(resolve_settings()) == "ppl2_wend"
    assert protocol_name(resolve_settings(space="w", sampling="end", crop=True, num_samples=100_000)) == "ppl_wend"
    for name, s in PRESETS.items():
        assert protocol_name(s) == name
        assert protocol_name(s, psi=0.7).endswith("_psi0.7")
    assert protocol_name(PPLSettings("w", "end", 256, 1e-4, False)) == "ppl_w_end_nocrop_n256"
    assert protocol_name(PPLSettings("z", "full", 100_000, 2e-4, True)) == "ppl_z_full_crop_n100000_eps2e-04"


def test_fid_kid_protocol_names():
    from stylegan_eval.metrics import registry
    from stylegan_eval.metrics.fid import protocol_name

    for name in ("fid50k_full", "fid50k", "kid50k_full", "kid50k"):
        spec = registry.get(name)
        assert protocol_name(spec.outputs[0], spec.num_samples, spec.protocol["max_real"]) == name
    assert protocol_name("fid", 8, None) == "fid_n8_realall"
    assert protocol_name("fid", 50_000, None, psi=0.7) == "fid_n50000_realall_psi0.7"
    assert protocol_name("kid", 50_000, 50_000, noise_mode="const") == "kid_n50000_real50000_noiseconst"


@pytest.mark.slow  # about 18 s on the shared CPU (two LPIPS networks at random init)
def test_ppl_demo_and_compare_give_the_same_name_and_value(cli):
    args = ("--num-samples", "12", "--seed", "3", "--device", "cpu", "--quiet", "--allow-random-weights", "--json")
    code, out, err = cli("--no-config", "ppl", "demo", *args)
    assert code == 0, err
    ppl = _last_json(out)
    (row,) = ppl["results"]
    assert "black-box" not in err and ppl["settings"]["noise"] == "explicit" and "shared_noise" not in ppl["settings"]
    code, out, err = cli("--no-config", "compare", "demo", "demo", "--metrics", "PPL2_WEND", *args)
    assert code == 0, err
    cmp = _last_json(out)
    names = cmp["settings"]["result_names"]
    assert names["demo#1"]["ppl2_wend"] == names["demo#2"]["ppl2_wend"] == row["metric"] == "ppl_w_end_nocrop_n12"
    values = [r["value"] for r in cmp["results"] if r["metric"] == "ppl2_wend"]
    assert values == [pytest.approx(row["ppl"], rel=1e-9)] * 2


def test_crop_on_the_demo_is_never_silent(cli):
    code, out, err = cli(
        "--no-config",
        "ppl",
        "demo",
        "--preset",
        "ppl_wend",
        "--num-samples",
        "4",
        "--device",
        "cpu",
        "--quiet",
        "--allow-random-weights",
        "--json",
        "--space",
        "W",
    )
    assert code == 0, err
    rep = _last_json(out)
    assert rep["settings"]["crop"] is True and "face crop" in rep["settings"]["crop_note"]
    assert sum("face crop" in line for line in err.splitlines()) == 1


# ------------------------------------------------------------------------------ vocabulary
@pytest.mark.parametrize(
    "command,absent",
    [
        ("info", ("--batch-size", "--resume", "--log")),
        ("mix", ("--batch-size", "--resume", "--log")),
        ("generate", ("--resume", "--log")),
    ],
)
def test_commands_offer_only_options_they_use(cli, command, absent):
    code, out, _ = cli("--no-config", command, "--help")
    assert code == 0
    for flag in absent:
        assert flag not in out, (command, flag)
    code, _, err = cli("--no-config", command, "demo", absent[-1], "x")
    assert code == 2 and "No such option" in err


def test_shared_words_and_aliases():
    from stylegan_eval.cli import cli as group

    ctx = __import__("click").Context(group)
    for name in ("ppl", "fid", "generate", "mix"):
        opts = {o for p in group.get_command(ctx, name).params for o in p.opts}
        assert {"--trunc", "--psi"} <= opts, name
    for name in ("fid", "compare", "calc", "ppl", "separability"):
        opts = {o for p in group.get_command(ctx, name).params for o in p.opts}
        assert "--num-samples" in opts, name
    fid_opts = {o for p in group.get_command(ctx, "fid").params for o in p.opts}
    assert "--num-gen" in fid_opts
    for name in ("compare", "calc", "fid", "stats"):
        cmd = group.get_command(ctx, name)
        det = next(p for p in cmd.params if p.name == "detector")
        assert {"dinov2-vitl14", "clip-vitb32"} <= set(det.type.choices), name
        assert any("--trust-weights" in p.opts for p in cmd.params), name
    for name in ("compare", "calc", "ppl", "fid", "info", "separability", "generate"):
        cmd = group.get_command(ctx, name)
        fmt = next(p for p in cmd.params if p.name == "fmt")
        assert {"stylegan2-torch", "stylegan2-lucidrains", "stylegan1-tf", "stylegan2-tf", "safetensors"} <= set(
            fmt.type.choices
        )
        assert not fmt.type.case_sensitive
        assert any("--generator-arg" in p.opts for p in cmd.params), name


def test_stats_out_is_a_folder(cli, tmp_path):
    code, _, err = cli("--no-config", "stats", tmp_path, "--out", tmp_path / "s.npz", "--quiet")
    assert code == 2 and "--out-file" in err and len(err.strip().splitlines()) == 1


def test_compare_needs_data_in_one_line(cli):
    code, _, err = cli("--no-config", "compare", "demo", "demo", "--metrics", "ppl_wend,fid", "--device", "cpu")
    assert code == 2 and "--data" in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("--no-config", "compare", "demo", "no-such-file.pt", "--metrics", "ppl_wend")
    assert code == 2 and "no-such-file.pt" in err


def test_config_rejects_unknown_metric(cli, tmp_path, monkeypatch):
    (tmp_path / "stylegan-eval.toml").write_text('metrics = ["ppl_wend", "eqt50k_int", "nope"]\n')
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("calc", "demo", "--device", "cpu")
    assert code == 2 and "nope" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------------------ spec-only identity
def _write_adapter(directory, comment: str):
    directory.mkdir()
    (directory / "vocab_adapter.py").write_text(
        textwrap.dedent(f"""
        # {comment}
        import torch

        class G(torch.nn.Module):
            z_dim = w_dim = 4
            num_ws = 1
            resolution = 4
            noise_shapes = []

            def __init__(self, scale=0.5):
                super().__init__()
                self.scale = scale

            def mapping(self, z, c=None):
                return z

            def synthesis(self, ws, noise=None):
                return torch.tanh(self.scale * ws[:, :1, :, None].expand(-1, 3, 4, 4))
    """)
    )


def test_spec_only_rerun_with_another_adapter_is_not_resumed_or_reused(tmp_path, monkeypatch):
    from stylegan_eval.commands.options import RunOptions
    from stylegan_eval.errors import UserError
    from stylegan_eval.formats.checkpoint_spec import CheckpointSpec
    from stylegan_eval.metrics.ppl import ppl
    from stylegan_eval.metrics.separability_store import generator_id as _generator_id

    keys, ids, values = [], [], []
    for k in range(2):
        d = tmp_path / f"v{k}"
        _write_adapter(d, f"version {k}")  # same weights, same images: only the adapter file differs
        monkeypatch.syspath_prepend(str(d))
        sys.modules.pop("vocab_adapter", None)
        spec = CheckpointSpec.from_ref("vocab_adapter:G", generator_arg_items=["scale=0.5"])
        gen, meta = spec.load("cpu")
        assert meta["generator_args"] == {"scale": 0.5} and meta["identity"]["adapter_files"]
        ids.append(_generator_id(meta))
        seen = {}

        def state(name, fp, seen=seen):
            seen["fp"] = fp
            return None

        values.append(ppl(gen, num_samples=4, distance="l2", batch_size=4, state=state).mean)
        keys.append(seen["fp"])
    sys.modules.pop("vocab_adapter", None)
    assert values[0] == values[1]
    assert ids[0] != ids[1]  # separability samples of one adapter are not reused for the other
    assert keys[0] != keys[1]
    out = tmp_path / "out"
    out.mkdir()
    from stylegan_eval.engine import ResumeState

    st = ResumeState(out, "ppl", keys[0], resume=False)
    (out / f".partial-ppl-{st.key}.rank0.pt").write_bytes(b"")
    run = RunOptions("cpu", None, 0, out, False, True, resume=True)
    with pytest.raises(UserError, match="other settings"):
        run.resume_state("ppl", keys[1])


# ------------------------------------------------------------------------------ new metrics wired
def test_stylegan3_equivariance_through_compare_and_evaluate(tmp_path, cli):
    from stylegan_eval.api import evaluate
    from stylegan_eval.formats import load_generator

    path = nu.write_sg3_snapshot(tmp_path / "sg3.pkl", config="r")
    got = evaluate(load_generator(path), "eqt50k_int,eqt50k_frac,eqr50k", num_samples=2, batch_size=2)
    assert set(got) == {"eqt50k_int", "eqt50k_frac", "eqr50k"} and all(math.isfinite(v) for v in got.values())
    code, out, err = cli(
        "--no-config",
        "calc",
        path,
        "--metrics",
        "eqt50k_int",
        "--num-samples",
        "2",
        "--device",
        "cpu",
        "--quiet",
        "--json",
        "--out",
        tmp_path / "calc",
    )
    assert code == 0, err
    (row,) = [r for r in _last_json(out)["results"] if r["metric"] == "eqt50k_int"]
    assert row["value"] == pytest.approx(got["eqt50k_int"], rel=1e-6)
    assert (tmp_path / "calc" / "calc.json").is_file()
    sg2 = nu.write_snapshot(tmp_path / "sg2.pkl")
    code, _, err = cli(
        "--no-config", "compare", path, sg2, "--metrics", "eqr50k", "--num-samples", "2", "--device", "cpu", "--quiet"
    )
    assert code == 2 and "StyleGAN3" in err and len(err.strip().splitlines()) == 1


def test_evaluate_refuses_stylegan2_for_equivariance(tmp_path):
    from stylegan_eval.api import evaluate
    from stylegan_eval.errors import UserError
    from stylegan_eval.formats import load_generator

    G = load_generator(nu.write_snapshot(tmp_path / "sg2.pkl"))
    with pytest.raises(UserError, match="StyleGAN3"):
        evaluate(G, ["eqt50k_int"], num_samples=2)
    assert torch.is_grad_enabled()
