"""Training runs: snapshot discovery, incremental ``track``, curves (``plot``), TensorBoard and other loggers."""

from __future__ import annotations

import json
import math
import os

import nvidia_utils as nu
import pytest

# Equivariance needs no detector network, so a tiny StyleGAN3 snapshot costs a fraction of a second.
METRIC = "eqt50k_int"
FAST = ("--num-samples", "2", "--device", "cpu", "--quiet", "--json")


def _last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def _snapshot(run, kimg: int):
    return nu.write_sg3_snapshot(run / f"network-snapshot-{kimg:06d}.pkl", seed=kimg, img_resolution=16)


def _nvidia_log(run, kimgs, values) -> None:
    with open(run / "metric-fid50k_full.jsonl", "w") as f:
        for k, v in zip(kimgs, values):
            rec = {"results": {"fid50k_full": v}, "metric": "fid50k_full", "total_time": 1.0, "num_gpus": 1}
            f.write(json.dumps({**rec, "snapshot_pkl": f"network-snapshot-{k:06d}.pkl", "timestamp": 1.0}) + "\n")


def _scalars(logdir, tag: str) -> dict[int, float]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out: dict[int, float] = {}
    for name in sorted(os.listdir(logdir)):  # one event file per writer (per command run)
        acc = EventAccumulator(str(logdir / name), size_guidance={"scalars": 0, "images": 0})
        acc.Reload()
        if tag in acc.Tags()["scalars"]:
            out.update({e.step: e.value for e in acc.Scalars(tag)})
    return out


def _image_tags(logdir) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags: set[str] = set()
    for name in os.listdir(logdir):
        acc = EventAccumulator(str(logdir / name), size_guidance={"images": 0})
        acc.Reload()
        tags |= set(acc.Tags()["images"])
    return tags


# ------------------------------------------------------------------------------ discovery
def test_snapshots_of_each_naming_are_ordered_by_progress(tmp_path):
    from stylegan_eval.errors import UserError
    from stylegan_eval.runs import find_snapshots, step_from_name

    nv = tmp_path / "nv"
    nv.mkdir()
    for k in (200, 10, 1000):
        (nv / f"network-snapshot-{k:06d}.pkl").write_bytes(b"x")
    (nv / "network-snapshot-final.pkl").write_bytes(b"x")  # not a snapshot name: ignored
    snaps = find_snapshots(nv)
    assert [(s.step, s.unit) for s in snaps] == [(10, "kimg"), (200, "kimg"), (1000, "kimg")]

    ros = tmp_path / "ros" / "checkpoint"
    ros.mkdir(parents=True)
    for it in (20000, 5000):
        (ros / f"{it:06d}.pt").write_bytes(b"x")
    assert [(s.name, s.unit) for s in find_snapshots(tmp_path / "ros")] == [
        ("checkpoint/005000.pt", "iteration"),
        ("checkpoint/020000.pt", "iteration"),
    ]
    luc = tmp_path / "luc" / "models" / "default"
    luc.mkdir(parents=True)
    for n in (12, 3):
        (luc / f"model_{n}.pt").write_bytes(b"x")
    assert [s.step for s in find_snapshots(tmp_path / "luc")] == [3, 12]

    other = tmp_path / "other"
    other.mkdir()
    for n in (7, 30):
        (other / f"ema_{n}k.ckpt").write_bytes(b"x")
    assert [s.step for s in find_snapshots(other, "*.ckpt", "kimg")] == [7, 30]
    with pytest.raises(UserError, match="no snapshots"):
        find_snapshots(other)
    with pytest.raises(UserError, match="'..'"):
        find_snapshots(other, "../*.ckpt")
    (other / "ema_007.ckpt").write_bytes(b"x")
    with pytest.raises(UserError, match="both have training step 7"):
        find_snapshots(other, "*.ckpt")
    assert step_from_name("runs/network-snapshot-000400.pkl") == 400 and step_from_name("net.pkl") is None


def test_nvidia_metric_logs_are_bounded_and_validated(tmp_path, monkeypatch):
    from stylegan_eval import runs
    from stylegan_eval.curves import frame_from_nvidia
    from stylegan_eval.errors import UserError

    _nvidia_log(tmp_path, [0, 40], [80.5, 40.25])
    path = tmp_path / "metric-fid50k_full.jsonl"
    with open(path, "a") as f:
        f.write('{"results": {"fid50k_full": 1')  # a line being written: left out
    rows = runs.read_nvidia_metrics(tmp_path)
    assert [(r["step"], r["value"]) for r in rows] == [(0, 80.5), (40, 40.25)]
    assert set(frame_from_nvidia(rows, "r")["metric"]) == {"fid"}  # fid50k_full's output

    bad = {
        "not json\n": "not a JSON line",
        '{"results": {"fid50k_full": NaN}, "snapshot_pkl": "network-snapshot-000000.pkl"}\n': "finite number",
        '{"results": {"fid": 1}, "snapshot_pkl": "../../etc/passwd"}\n': "snapshot_pkl",
        "[1, 2]\n": "'results' object",
    }
    for text, message in bad.items():
        path.write_text(text)
        with pytest.raises(UserError, match=message) as err:
            runs.read_nvidia_metrics(tmp_path)
        assert "metric-fid50k_full.jsonl:1" in str(err.value)
    monkeypatch.setattr(runs, "MAX_METRIC_FILE_BYTES", 10)
    path.write_text("x" * 11)
    with pytest.raises(UserError, match="11 bytes"):
        runs.read_nvidia_metric_file(path)


def test_fail_if_against_the_best_value():
    import pandas as pd

    from stylegan_eval.compare import check_rules, parse_rule
    from stylegan_eval.errors import UserError

    rule = parse_rule("fid > best * 1.05", ["fid"])
    assert (rule.metric, rule.op, rule.best_op, rule.number) == ("fid", ">", "*", 1.05)
    assert parse_rule("is < best - 0.5", ["is"]).threshold(10.0) == 9.5
    with pytest.raises(UserError, match="cannot parse"):
        parse_rule("fid > best ** 2", ["fid"])
    table = pd.DataFrame({"checkpoint": ["best", "last"], "metric": ["fid", "fid"], "value": [10.0, 10.6]})
    (row,) = check_rules([rule], table).to_dict(orient="records")
    assert row["checkpoint"] == "last" and not row["passed"] and "best 10" in row["detail"]
    table["value"] = [10.0, 10.4]
    assert check_rules([rule], table)["passed"].all()


# ------------------------------------------------------------------------------ track (done-when)
def test_track_evaluates_only_new_snapshots_and_logs_to_tensorboard(tmp_path, cli):
    from PIL import Image

    from stylegan_eval.curves import NVIDIA, OURS
    from stylegan_eval.loggers import IMAGE_PREFIX, SCALAR_PREFIX
    from stylegan_eval.tracking import read_records

    run, tb = tmp_path / "run", tmp_path / "tb"
    run.mkdir()
    kimgs = [0, 40, 80, 120, 160]
    for k in kimgs:
        _snapshot(run, k)
    _nvidia_log(run, kimgs, [90.0, 60.0, 30.0, 35.0, 40.0])
    args = ("track", run, "--metrics", METRIC, "--tensorboard", tb, "--fail-if", f"{METRIC} < best * 0.5", *FAST)
    code, out, err = cli("--no-config", *args)
    assert code == 0, err
    first = _last_json(out)
    assert first["meta"]["evaluated"] == [f"network-snapshot-{k:06d}.pkl" for k in kimgs]

    _snapshot(run, 200)
    code, out, err = cli("--no-config", *args)
    assert code == 0, err
    report = _last_json(out)
    assert report["meta"]["evaluated"] == ["network-snapshot-000200.pkl"] and report["meta"]["reused"] == 5
    log = [r for r in read_records(run / "stylegan-eval" / "metrics.jsonl") if r["metric"] == METRIC]
    assert [r["step"] for r in log] == [*kimgs, 200]  # each snapshot evaluated once
    ours = [r for r in report["results"] if r["source"] == OURS]
    assert [r["value"] for r in ours] == [r["value"] for r in log]  # the table is the log's values

    best = max(log, key=lambda r: r["value"])  # equivariance PSNR: higher is better
    assert report["meta"]["best"] == {METRIC: best["snapshot"]}
    assert [r["snapshot"] for r in ours if r["best"]] == [best["snapshot"]]
    theirs = [r for r in report["results"] if r["source"] == NVIDIA]
    assert [(r["step"], r["value"]) for r in theirs] == [(0, 90.0), (40, 60.0), (80, 30.0), (120, 35.0), (160, 40.0)]
    assert [r["best"] for r in theirs] == [False, False, True, False, False]  # their FID: lower is better
    assert report["meta"]["rules"] and report["meta"]["rules"][0]["checkpoint"] == "network-snapshot-000200.pkl"

    out_dir = run / "stylegan-eval"
    assert {"curves.png", "curves.pdf", "track.html", "track.csv"} <= set(os.listdir(out_dir))
    assert not [n for n in os.listdir(out_dir) if n.startswith(".partial-")]  # finished metrics leave no state
    with Image.open(out_dir / "curves.png") as img:
        assert min(img.info["dpi"]) >= 199
    assert (out_dir / "curves.pdf").read_bytes().startswith(b"%PDF")

    scalars = _scalars(tb, SCALAR_PREFIX + METRIC)
    assert sorted(scalars) == [*kimgs, 200]
    for r in log:
        assert scalars[r["step"]] == pytest.approx(r["value"], rel=1e-6)  # float32 in the event file
    assert IMAGE_PREFIX + "network-snapshot-000200.pkl" in _image_tags(tb)

    # The latest snapshot gated against the best one: nothing new to evaluate, exit 3 on failure.
    # --out elsewhere with --log naming the run's log: the report goes there, nothing is evaluated.
    gate = ("--fail-if", f"{METRIC} < best * 2", "--out", tmp_path / "gate", "--log", out_dir / "metrics.jsonl")
    code, out, err = cli("--no-config", "track", run, "--metrics", METRIC, *gate, *FAST)
    assert code == 3 and "rule failed" in err
    assert _last_json(out)["meta"]["evaluated"] == []
    assert {"track.json", "curves.png"} <= set(os.listdir(tmp_path / "gate"))  # written before the exit


def test_track_resumes_after_a_failed_snapshot(tmp_path, cli):
    from stylegan_eval.loggers import SCALAR_PREFIX
    from stylegan_eval.tracking import read_records

    run, tb = tmp_path / "run", tmp_path / "tb"
    run.mkdir()
    _snapshot(run, 0)
    (run / "network-snapshot-000010.pkl").write_bytes(b"not a pickle")  # a snapshot being copied
    code, _, err = cli("--no-config", "track", run, "--metrics", METRIC, *FAST)
    assert code == 2 and "network-snapshot-000010.pkl" in err
    assert [r["snapshot"] for r in read_records(run / "stylegan-eval" / "metrics.jsonl")] == [
        "network-snapshot-000000.pkl"
    ]
    _snapshot(run, 10)
    code, out, err = cli("--no-config", "track", run, "--metrics", METRIC, *FAST)
    assert code == 0, err
    assert _last_json(out)["meta"]["evaluated"] == ["network-snapshot-000010.pkl"]
    # Other settings are another evaluation: nothing of the log is reused.
    code, out, err = cli("--no-config", "track", run, "--metrics", METRIC, *FAST, "--seed", "1")
    assert code == 0, err
    seed1 = _last_json(out)
    assert len(seed1["meta"]["evaluated"]) == 2
    # A new TensorBoard folder gets the values already in the log, without evaluating anything.
    code, out, err = cli("--no-config", "track", run, "--metrics", METRIC, *FAST, "--seed", "1", "--tensorboard", tb)
    assert code == 0 and _last_json(out)["meta"]["evaluated"] == [], err
    expected = {r["step"]: r["value"] for r in seed1["results"]}
    assert _scalars(tb, SCALAR_PREFIX + METRIC) == pytest.approx(expected, rel=1e-6)
    # plot draws a track log under its latest settings only (here seed 1)
    code, out, err = cli("plot", run / "stylegan-eval" / "metrics.jsonl", "--out", tmp_path / "fig", "--json")
    assert code == 0, err
    (best,) = _last_json(out)["best"]
    assert best["value"] == max(r["value"] for r in seed1["results"])


# ------------------------------------------------------------------------------ plot
def test_plot_draws_several_runs_from_logs(tmp_path, cli):
    from PIL import Image

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    track_recs = [
        {
            "metric": "fid",
            "value": v,
            "ci95_low": v - 1,
            "ci95_high": v + 1,
            "command": "track",
            "step": k,
            "step_unit": "kimg",
            "snapshot": f"network-snapshot-{k:06d}.pkl",
            "num_samples": 1000,
            "settings": {"seed": 0},
        }
        for k, v in [(0, 50.0), (40, 20.0), (80, 25.0)]
    ]
    evaluator_recs = [  # api.evaluate / Evaluator lines: a step, no snapshot name
        {"metric": "fid", "value": v, "command": "api.evaluate", "step": k, "settings": {"seed": 0, "num_samples": 500}}
        for k, v in [(0, 70.0), (50, 15.0), (100, 18.0)]
    ]
    (a / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in track_recs))
    (b / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in evaluator_recs))
    _nvidia_log(a, [0, 40, 80], [45.0, 21.0, 19.0])
    out = tmp_path / "fig"
    code, stdout, err = cli(
        "plot", a / "metrics.jsonl", b / "metrics.jsonl", a / "metric-fid50k_full.jsonl", "--out", out, "--json"
    )
    assert code == 0, err
    best = {(r["run"], r["source"]): (r["step"], r["value"]) for r in _last_json(stdout)["best"]}
    assert best == {
        ("a", "stylegan-eval"): (40, 20.0),
        ("b", "stylegan-eval"): (50, 15.0),
        ("a", "NVIDIA's metric log"): (80, 19.0),
    }
    with Image.open(out / "curves.png") as img:
        assert min(img.info["dpi"]) >= 199
    assert (out / "curves.pdf").stat().st_size > 1000
    code, stdout, err = cli("plot", b / "metrics.jsonl", "--metrics", "fid50k_full", "--out", out, "--json")
    assert code == 0 and len(_last_json(stdout)["best"]) == 1, err
    with open(b / "metrics.jsonl", "ab") as f:  # an overlong line (and a broken one) are skipped
        f.write(b'{"metric": "fid", "step": 7, "value": 1.0, "pad": "' + b"x" * (1 << 21) + b'"}\n{"metric\n')
    code, stdout, err = cli("plot", b / "metrics.jsonl", "--out", out, "--json")
    assert code == 0 and [r["step"] for r in _last_json(stdout)["best"]] == [50], err
    code, _, err = cli("plot", tmp_path / "missing.jsonl", "--out", out)
    assert code == 2 and "missing.jsonl" in err


# ------------------------------------------------------------------------------ loggers
def test_evaluator_and_calc_write_tensorboard(tmp_path, cli):
    import stylegan_eval as se
    from stylegan_eval.formats import load_generator
    from stylegan_eval.loggers import SCALAR_PREFIX, MetricLogger, TensorBoardLogger

    path = _snapshot(tmp_path, 12)
    gen = load_generator(path, device="cpu")
    tb = tmp_path / "tb-ev"
    ev = se.Evaluator([METRIC], num_samples=2, tensorboard=tb)
    assert isinstance(ev.logger, TensorBoardLogger) and isinstance(ev.logger, MetricLogger)
    values = {step: ev(gen, step=step)[METRIC] for step in (0, 5)}
    ev.close()
    assert _scalars(tb, SCALAR_PREFIX + METRIC) == pytest.approx(values, rel=1e-6)

    tb = tmp_path / "tb-calc"
    code, out, err = cli("--no-config", "calc", path, "--metrics", METRIC, "--tensorboard", tb, *FAST)
    assert code == 0, err
    (row,) = _last_json(out)["results"]
    assert _scalars(tb, SCALAR_PREFIX + METRIC) == {12: pytest.approx(row["value"], rel=1e-6)}  # the kimg

    later = _snapshot(tmp_path, 40)
    tb = tmp_path / "tb-compare"
    code, out, err = cli("--no-config", "compare", path, later, "--metrics", METRIC, "--tensorboard", tb, *FAST)
    assert code == 0, err
    values = {r["path"]: r["value"] for r in _last_json(out)["results"]}
    expected = {12: values[str(path)], 40: values[str(later)]}
    assert _scalars(tb, SCALAR_PREFIX + METRIC) == pytest.approx(expected, rel=1e-6)  # each file's own kimg


def test_wandb_logger_when_installed(tmp_path, monkeypatch):
    pytest.importorskip("wandb")
    import numpy as np

    from stylegan_eval.loggers import WandbLogger

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    logger = WandbLogger(project="stylegan-eval-test")
    logger.log_scalars({"fid": 3.5, "bad": math.nan}, 10)
    logger.log_image("samples/x", np.zeros((8, 8, 3), np.uint8), 10)
    logger.close()
    # The offline run folder: the image under its tag and step, the scalar's key in the run's records.
    (run_dir,) = (tmp_path / "wandb").glob("offline-run-*")
    assert list((run_dir / "files" / "media" / "images" / "samples").glob("x_10_*.png"))
    records = b"".join(p.read_bytes() for p in run_dir.glob("run-*.wandb"))
    assert b"metrics/fid" in records and b"metrics/bad" not in records


def test_mlflow_logger_when_installed(tmp_path, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    import numpy as np

    from stylegan_eval.loggers import MLflowLogger

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # a local folder store, no server or database
    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    logger = MLflowLogger(run_name="t")
    run_id = mlflow.active_run().info.run_id
    logger.log_scalars({"fid": 3.5, "bad": math.inf}, 10)
    logger.log_image("samples/x", np.zeros((8, 8, 3), np.uint8), 10)
    logger.close()
    client = mlflow.tracking.MlflowClient()
    history = client.get_metric_history(run_id, "metrics.fid")
    assert [(m.step, m.value) for m in history] == [(10, 3.5)]
    assert [a.path for a in client.list_artifacts(run_id)] == ["samples_x_step00000010.png"]


@pytest.mark.slow  # about 10 s: the LPIPS network at random init
def test_ppl_command_writes_tensorboard_at_the_snapshot_kimg(tmp_path, cli):
    from stylegan_eval.loggers import IMAGE_PREFIX, SCALAR_PREFIX

    path = nu.write_snapshot(tmp_path / "network-snapshot-000008.pkl")
    tb = tmp_path / "tb"
    code, out, err = cli(
        "--no-config", "ppl", path, "--num-samples", "4", "--allow-random-weights", "--tensorboard", tb, *FAST[2:]
    )
    assert code == 0, err
    (row,) = _last_json(out)["results"]
    assert _scalars(tb, SCALAR_PREFIX + row["metric"]) == {8: pytest.approx(row["ppl"], rel=1e-6)}
    assert IMAGE_PREFIX + "ppl" in _image_tags(tb)


def test_tensorboard_option_without_the_package_fails_before_work(tmp_path, cli, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else real(name, *a))
    code, _, err = cli("--no-config", "calc", "demo", "--metrics", METRIC, "--tensorboard", tmp_path / "tb")
    assert code == 2 and "--tensorboard" in err and "stylegan-eval[tensorboard]" in err


@pytest.mark.slow  # about 10 s: the LPIPS network at random init
def test_track_a_rosinality_run_by_iteration(tmp_path, cli):
    from sg2_utils import make_rosinality_checkpoint

    run = tmp_path / "run"
    (run / "checkpoint").mkdir(parents=True)
    for i, it in enumerate((20000, 5000)):
        make_rosinality_checkpoint(run / "checkpoint" / f"{it:06d}.pt", with_args=True, seed=i)
    code, out, err = cli(
        "--no-config", "track", run, "--metrics", "ppl2_wend", "--num-samples", "4", "--allow-random-weights", *FAST[2:]
    )
    assert code == 0, err
    report = _last_json(out)
    rows = [(r["snapshot"], r["step"], r["unit"]) for r in report["results"]]
    assert rows == [("checkpoint/005000.pt", 5000, "iteration"), ("checkpoint/020000.pt", 20000, "iteration")]
    best = min(report["results"], key=lambda r: r["value"])
    assert report["meta"]["best"] == {"ppl2_wend": best["snapshot"]}
    assert report["meta"]["random_weights"]  # labelled: the distance ran at random init
