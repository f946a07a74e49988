"""The measured default batch sizes: the shipped table, a user's table, scaling and bad tables."""

from __future__ import annotations

import json

import pytest
import torch

from stylegan_eval import batch_table as bt
from stylegan_eval.errors import UserError
from stylegan_eval.runtime import MAX_AUTO_BATCH, default_batch_size

CPU = torch.device("cpu")


def _table(path, entries) -> str:
    doc = {"format": bt.FORMAT, "version": bt.VERSION, "entries": entries}
    path.write_text(json.dumps(doc))
    return str(path)


def _entry(stage="generate", resolution=32, batch=64, device="cpu", **extra):
    return {"device": device, "stage": stage, "resolution": resolution, "batch": batch, **extra}


def test_the_shipped_table_holds_measured_cpu_batches():
    entries = bt.read_table(bt.SHIPPED_TABLE)
    cpu = {(e.stage, e.resolution): e for e in entries if e.device == "cpu"}
    assert len(cpu) == len(entries) >= 4  # CPU only: no GPU has run the roofline
    assert {res for _, res in cpu} <= {32, 256, 1024}  # the demo's 32 px, 256 px, 1024 px
    for e in cpu.values():  # with where and when
        assert e.machine and e.date[:2] == "20" and e.items_per_s and e.items_per_s > 0
        # the default the package picks at a measured point is the measured best batch
        assert default_batch_size(CPU, e.resolution, e.stage, e.num_params) == min(e.batch, MAX_AUTO_BATCH["cpu"])


def test_a_user_table_is_scaled_by_resolution_and_parameter_count(tmp_path, monkeypatch):
    gen = [_entry(resolution=32, batch=64, num_params=1000), _entry(resolution=256, batch=2, num_params=1000)]
    monkeypatch.setenv(bt.TABLE_ENV, _table(tmp_path / "mine.json", gen))
    at = {r: default_batch_size(CPU, r) for r in (16, 32, 64, 256, 1024)}
    assert at[32] == 64 and at[256] == 2  # measured points as measured
    assert at[64] == round(64 ** (2 / 3) * 2 ** (1 / 3))  # geometric between them
    assert at[16] == min(MAX_AUTO_BATCH["cpu"], 64 * 4) and at[1024] == 1  # (measured / wanted)^2 outside
    assert default_batch_size(CPU, 32, num_params=4000) == 16  # 4x the measured network: a quarter
    assert default_batch_size(CPU, 32, num_params=10) == 64  # smaller networks keep the measured batch
    # stages the user's table lacks come from the shipped table, devices no table has from the fallback
    shipped = [e for e in bt.read_table(bt.SHIPPED_TABLE) if e.stage == "ppl" and e.device == "cpu"]
    assert default_batch_size(CPU, 256, "ppl") == round(bt.scaled_batch(shipped, 256))
    cuda = torch.device("cuda")  # a device object only: nothing runs on it
    assert default_batch_size(cuda, 256, "stats") == 4 * default_batch_size(cuda, 512, "stats")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"x" * (bt.MAX_TABLE_BYTES + 1), "larger than"),
        (b"{not json", "not a JSON file"),
        (b'{"format": "something else", "version": 1, "entries": []}', "format"),
        (json.dumps({"format": bt.FORMAT, "version": 1, "entries": [_entry(batch=0)]}).encode(), "entry 0: batch"),
        (json.dumps({"format": bt.FORMAT, "version": 1, "entries": [_entry(stage="sing")]}).encode(), "stage"),
        (json.dumps({"format": bt.FORMAT, "version": 1, "entries": [_entry(code="x")]}).encode(), "unknown field"),
        (b"[" * 100_000, "not a JSON file"),
    ],
)
def test_a_bad_user_table_is_one_error_naming_the_file(tmp_path, monkeypatch, content, expected):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    monkeypatch.setenv(bt.TABLE_ENV, str(path))
    with pytest.raises(UserError, match=expected) as err:
        default_batch_size(CPU, 32, "ppl")
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_the_cli_refuses_a_missing_table_before_starting(tmp_path, monkeypatch, cli):
    monkeypatch.setenv(bt.TABLE_ENV, str(tmp_path / "nowhere.json"))
    code, _, err = cli("--no-config", "info", "demo")
    assert code == 2 and bt.TABLE_ENV in err and len(err.strip().splitlines()) == 1


def test_the_cache_folder_table_is_used_and_writing_merges(tmp_path, monkeypatch):
    monkeypatch.setenv("STYLEGAN_EVAL_CACHE", str(tmp_path))
    target = tmp_path / bt.CACHE_TABLE_NAME
    bt.write_table(target, [bt.Entry("cpu", "stats", 32, 5), bt.Entry("cpu", "stats", 256, 3)])
    bt.write_table(target, [bt.Entry("cpu", "stats", 256, 7, machine="here", date="2026-12-05")])
    assert [(e.resolution, e.batch) for e in bt.read_table(target)] == [(32, 5), (256, 7)]
    assert default_batch_size(CPU, 256, "stats") == 7 and default_batch_size(CPU, None, "stats") == 7
