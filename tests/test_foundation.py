"""The sampling engine, the per-sample engine, the custom-module loader and the CLI conventions."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch

from stylegan_eval import engine, sampling, weights
from stylegan_eval.errors import UserError, WeightsUnavailable
from stylegan_eval.formats import load_generator


def test_normal_depends_only_on_seed_stream_and_index():
    full = sampling.normal(7, sampling.Z, torch.arange(50), (16,))
    part = sampling.normal(7, sampling.Z, torch.tensor([31, 4, 49]), (16,))
    assert torch.equal(part, full[[31, 4, 49]])
    assert not torch.equal(full, sampling.normal(8, sampling.Z, torch.arange(50), (16,)))
    assert not torch.equal(full, sampling.normal(7, sampling.Z_END, torch.arange(50), (16,)))


def test_normal_and_uniform_are_well_distributed():
    z = sampling.normal(0, sampling.Z, torch.arange(4000), (64,)).numpy()
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    # fourth moment of a Gaussian is 3
    assert abs((z**4).mean() - 3) < 0.05
    corr = np.corrcoef(z[:, :8].T)
    assert np.abs(corr - np.eye(8)).max() < 0.06
    u = sampling.uniform(0, sampling.T, torch.arange(20000)).numpy()
    assert 0 < u.min() and u.max() < 1
    hist, _ = np.histogram(u, bins=10, range=(0, 1))
    assert np.abs(hist / 2000 - 1).max() < 0.06


def test_randint_range_and_spread():
    r = sampling.randint(3, sampling.LABEL, torch.arange(10000), 10)
    counts = torch.bincount(r, minlength=10)
    assert r.min() >= 0 and r.max() < 10 and counts.min() > 900


def _outputs(idx):
    return {"z": sampling.normal(1, sampling.Z, idx, (3,)), "t": sampling.uniform(1, sampling.T, idx)}


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_collect_is_batch_size_invariant(batch_size):
    ref = engine.collect(_outputs, 40, 40, show_progress=False)
    out = engine.collect(_outputs, 40, batch_size, show_progress=False)
    assert all(torch.equal(ref[k], out[k]) for k in ref)


def test_collect_shards_cover_everything_once():
    ref = engine.collect(_outputs, 23, 4, show_progress=False)
    seen = []
    for rank in range(3):
        batches = list(sampling.batch_indices(23, 4, rank=rank, world_size=3))
        seen += [int(i) for b in batches for i in b]
    assert sorted(seen) == list(range(23))
    assert ref["z"].shape == (23, 3)


def test_collect_resumes_after_interrupt(tmp_path):
    ref = engine.collect(_outputs, 30, 4, show_progress=False)
    state = engine.ResumeState(tmp_path, "t", {"seed": 1}, save_every=0)
    calls = {"n": 0}

    def flaky(idx):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return _outputs(idx)

    with pytest.raises(KeyboardInterrupt):
        engine.collect(flaky, 30, 4, state=state, show_progress=False)
    assert list(tmp_path.glob(".partial-t-*.rank0.pt"))
    calls["n"] = -100
    seen = []

    def recorder(idx):
        seen.extend(idx.tolist())
        return _outputs(idx)

    out = engine.collect(recorder, 30, 7, state=state, show_progress=False)
    assert all(torch.equal(ref[k], out[k]) for k in ref)
    assert len(seen) == 30 - 8  # the 8 samples done before the interrupt were not recomputed
    other = engine.ResumeState(tmp_path, "t", {"seed": 2}, save_every=0)
    assert other.load()[0].numel() == 0  # another fingerprint never mixes in


def test_custom_module_generator_follows_the_interface():
    G = load_generator(generator_spec="toy_generators:make")
    assert (G.z_dim, G.w_dim, G.num_ws, G.resolution) == (8, 6, 4, 8)
    z = sampling.normal(0, sampling.Z, torch.arange(5), (8,))
    ws = G.mapping(z)
    assert ws.shape == (5, 4, 6)
    a = G.synthesis(ws, noise_seed=3, indices=torch.arange(5))
    b = torch.cat([G.synthesis(ws[i : i + 1], noise_seed=3, indices=torch.tensor([i])) for i in range(5)])
    assert a.shape == (5, 3, 8, 8) and torch.allclose(a, b, atol=1e-6)
    assert not torch.equal(a, G.synthesis(ws, noise_seed=4, indices=torch.arange(5)))
    assert torch.equal(G.synthesis(ws, noise_mode="const"), G.synthesis(ws, noise_mode="const"))
    # truncation towards the deterministic w_avg estimate
    w_avg = G.w_avg
    assert torch.allclose(G.truncate(ws, 0.0), w_avg.expand_as(ws))
    assert torch.equal(w_avg, G.estimate_w_avg())


def test_black_box_generator_refuses_w_space():
    G = load_generator(generator_spec="toy_generators:black_box")
    assert not G.supports_w
    z = torch.randn(2, 8)
    assert G.generate(z).shape == (2, 3, 8, 8)
    with pytest.raises(UserError, match="black-box"):
        G.mapping(z)
    with pytest.raises(UserError, match="truncation"):
        G.generate(z, psi=0.5)


def test_weights_manager_offline_message(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv(weights.ENV_OFFLINE, "1")
    spec = weights.WeightSpec("demo net", "demo.pth", "https://example.invalid/demo.pth", env_var="DEMO_W")
    with pytest.raises(WeightsUnavailable) as err:
        weights.fetch(spec)
    msg = str(err.value)
    assert "demo.pth" in msg and "https://example.invalid/demo.pth" in msg and str(tmp_path) in msg
    local = tmp_path / "mine.pth"
    local.write_bytes(b"abc")
    monkeypatch.setenv("DEMO_W", str(local))
    assert weights.fetch(spec) == local
    bad = weights.WeightSpec("demo net", "demo.pth", "u", sha256="0" * 64, env_var="DEMO_W")
    with pytest.raises(WeightsUnavailable, match="sha256"):
        weights.fetch(bad)


def test_weights_digest_is_remembered_until_the_file_changes(tmp_path, monkeypatch):
    import hashlib
    import os

    monkeypatch.setenv("STYLEGAN_EVAL_CACHE", str(tmp_path / "cache"))
    f = tmp_path / "w.pth"
    f.write_bytes(b"first")
    assert weights._digest(f) == hashlib.sha256(b"first").hexdigest()
    from stylegan_eval import fileio

    calls = []
    real = fileio.sha256_file
    monkeypatch.setattr(fileio, "sha256_file", lambda p: calls.append(p) or real(p))
    assert weights._digest(f) == hashlib.sha256(b"first").hexdigest() and calls == []  # from the index
    f.write_bytes(b"second!")  # another size: hashed again
    assert weights._digest(f) == hashlib.sha256(b"second!").hexdigest() and len(calls) == 1
    st = f.stat()
    f.write_bytes(b"third!!")  # same size, other mtime: hashed again
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert weights._digest(f) == hashlib.sha256(b"third!!").hexdigest() and len(calls) == 2


def test_weights_cache_dir_without_torch_matches_torch_hub(tmp_path, monkeypatch):
    import subprocess
    import sys

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    code = "import sys; from stylegan_eval import weights; print(weights.cache_dir()); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(weights.cache_dir()), "False"]  # this process has torch: torch.hub's answer


# ----------------------------------------------------------------------------- CLI


def test_info_json_is_one_object(cli):
    code, out, err = cli("info", "--generator", "toy_generators:make", "--json", "--device", "cpu")
    assert code == 0
    info = json.loads(out)
    fields = {r["field"]: r["value"] for r in info["results"]}
    assert fields["z_dim"] == "8" and fields["num_ws"] == "4" and fields["family"] == "custom"


def test_generate_and_mix_write_pngs(cli, tmp_path):
    from PIL import Image

    out = tmp_path / "imgs"
    code, _, err = cli(
        "generate",
        "--generator",
        "toy_generators:make",
        "--seeds",
        "0-5",
        "--cols",
        "3",
        "--out",
        out,
        "--device",
        "cpu",
    )
    assert code == 0, err
    # 8 px tiles upscaled x21 (longer side >= 512 with 4 px padding): 3 x 2 tiles.
    assert Image.open(out / "grid.png").size == (3 * 168 + 4 * 4, 2 * 168 + 3 * 4)
    assert sorted(p.name for p in out.glob("seed*.png")) == [f"seed{i:04d}.png" for i in range(6)]
    assert Image.open(out / "seed0005.png").size == (8, 8)
    mix = tmp_path / "mix.png"
    code, _, err = cli(
        "mix",
        "--generator",
        "toy_generators:make",
        "--rows",
        "0-2",
        "--cols",
        "3-4",
        "--layers",
        "0-1",
        "--out-file",
        mix,
        "--device",
        "cpu",
    )
    assert code == 0, err
    img = np.asarray(Image.open(mix))
    assert img.ndim == 3 and img.shape[0] > 4 * 128 and img.shape[1] > 3 * 128  # 8 px tiles upscaled to 128 px


def test_mix_copies_exactly_the_requested_layers():
    from stylegan_eval.grids import mixing_grid

    G = load_generator(generator_spec="toy_generators:make")
    full = mixing_grid(G, [0, 1], [2], list(range(G.num_ws)), 1.0, "const", 0, None)
    none_copied = mixing_grid(G, [0, 1], [2], [], 1.0, "const", 0, None)
    # 3x2 grid: [blank, src2; tgt0, mix; tgt1, mix]
    assert torch.allclose(full[3], full[1]) and torch.allclose(full[5], full[1])
    assert torch.allclose(none_copied[3], none_copied[2]) and torch.allclose(none_copied[5], none_copied[4])


@pytest.mark.parametrize(
    "make_file, expect",
    [
        (None, "no such file"),
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_bytes(b"garbage bytes, not a checkpoint"), "not a checkpoint"),
        (lambda p: zipfile.ZipFile(p, "w").writestr("readme.txt", "hi"), "not a PyTorch checkpoint"),
        (lambda p: torch.save({"foo": torch.zeros(1)}, p), "unknown checkpoint family"),
        (lambda p: p.write_bytes(_truncated_torch_file()), "not a readable"),
    ],
)
def test_bad_checkpoints_exit_2_with_one_line(cli, tmp_path, make_file, expect):
    path = tmp_path / "ckpt.pt"
    if make_file is not None:
        make_file(path)
    code, out, err = cli("info", path)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and expect in err and str(path) in err
    assert "Traceback" not in err


def _truncated_torch_file() -> bytes:
    import io

    buf = io.BytesIO()
    torch.save({"g_ema": {"w": torch.zeros(1000)}}, buf)
    return buf.getvalue()[: len(buf.getvalue()) // 2]


def test_bad_options_exit_2(cli):
    assert cli("info", "--generator", "toy_generators:make", "--device", "tpu")[0] == 2
    assert cli("generate", "--generator", "toy_generators:make", "--seeds", "a-b")[0] == 2
    code, _, err = cli("mix", "--generator", "toy_generators:make", "--layers", "9", "--device", "cpu")
    assert code == 2 and "--layers" in err
    code, _, err = cli("info", "--generator", "no_such_module:x")
    assert code == 2 and "cannot import" in err
    code, _, err = cli("mix", "--generator", "toy_generators:black_box", "--device", "cpu")
    assert code == 2 and "W space" in err


def test_module_entry_point_runs():
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "stylegan_eval", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "generate" in res.stdout


def test_collect_with_everything_resumed_calls_nothing(tmp_path):
    state = engine.ResumeState(tmp_path, "t", {"seed": 1}, save_every=0)
    ref = engine.collect(_outputs, 12, 5, state=state, show_progress=False)

    def forbidden(idx):
        raise AssertionError(f"called with {idx}")

    out = engine.collect(forbidden, 12, 5, state=state, show_progress=False)
    assert all(torch.equal(ref[k], out[k]) for k in ref)


def test_collect_keeps_progress_across_two_interrupts(tmp_path):
    ref = engine.collect(_outputs, 30, 3, show_progress=False)
    state = engine.ResumeState(tmp_path, "t", {"seed": 1}, save_every=0)
    calls = {"n": 0}

    def flaky(idx):
        calls["n"] += 1
        if calls["n"] in (3, 6):
            raise KeyboardInterrupt
        return _outputs(idx)

    for _ in range(2):
        with pytest.raises(KeyboardInterrupt):
            engine.collect(flaky, 30, 3, state=state, show_progress=False)
    assert state.load()[0].numel() == 12  # 2 batches of 3 from each session
    out = engine.collect(_outputs, 30, 3, state=state, show_progress=False)
    assert all(torch.equal(ref[k], out[k]) for k in ref)


def test_ckpt_demo_names_the_embedded_generator_through_the_normal_loader(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli("info", "demo", "--json", "--device", "cpu")
    assert code == 0, err
    fields = {r["field"]: r["value"] for r in json.loads(out)["results"]}
    assert fields["family"] == "stylegan2-rosinality" and fields["checkpoint"].endswith(".pt")
    code, _, err = cli("info")
    assert code == 2 and "'demo'" in err
