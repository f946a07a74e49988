"""Hostile and broken inputs: every bad file or option is exit 2 with one line, nothing
runs from a discovered configuration, nothing is silently wrong, resources stay bounded.

- Cases that could allocate or hang run as ``python -m stylegan_eval`` subprocesses under an
  address-space limit (``RLIMIT_AS``: the ~3 GiB that importing torch maps, plus 3 GiB) and a
  timeout; the others run in-process through the ``cli`` fixture (same ``main``, same checks).
- A fuzz test mutates tiny valid files of every checkpoint family and statistics format (bit
  flips, truncations, insertions, swapped pickle opcodes) and feeds them to ``info`` /
  ``load_stats`` in one limited subprocess: exit 0 or 2 only, never a traceback.
- SIGKILL at random points during ``ppl`` then ``--resume``: bit-identical to an uninterrupted run.

This file is also a script (``python test_hostile_inputs.py fuzz DIR``): the fuzz loop.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pickle
import pickletools
import random
import resource
import signal
import stat
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

TESTS = Path(__file__).parent
ROOT = TESTS.parent
GiB = 1 << 30
#: Importing torch maps ~3 GiB of address space on its own; inputs get 3 GiB beyond that.
MEMORY_LIMIT = 6 * GiB


# ------------------------------------------------------------------------------ helpers
def _limit_memory() -> None:  # preexec_fn of every subprocess here
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "STYLEGAN_EVAL_WEIGHTS")
    }
    env.update(
        PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS)]),
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        STYLEGAN_EVAL_OFFLINE="1",
        TORCH_HOME=str(tmp / "torch_home"),
        STYLEGAN_EVAL_CACHE=str(tmp / "cache"),
        CUDA_VISIBLE_DEVICES="",
    )
    env.update(extra)
    return env


def run_sub(tmp: Path, *args, cwd: Path | None = None, timeout: float = 90, **env) -> tuple[int, str, str]:
    """``python -m stylegan_eval ARGS`` under the memory limit; a hang fails the test by the timeout."""
    r = subprocess.run(
        [sys.executable, "-m", "stylegan_eval", *map(str, args)],
        cwd=cwd or tmp,
        env=_env(tmp, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=_limit_memory,
        check=False,
    )
    return r.returncode, r.stdout, r.stderr


def assert_one_line(code: int, err: str, *names: str) -> str:
    """Exit 2, no traceback, exactly one error line (warnings aside) naming every one of ``names``."""
    assert "Traceback" not in err, err[-3000:]
    notes = ("stylegan-eval: warning:", "stylegan-eval: config:")
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(notes)]
    assert code == 2, err[-3000:]
    assert len(lines) == 1, err
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    return lines[0]


def _long1(n: int) -> bytes:
    b = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(b)]) + b


def bytearray_bomb() -> bytes:
    """A 40-byte protocol-2 pickle ``(bytearray(4 GiB), 'dnnlib')`` (the marker makes it an NVIDIA pickle)."""
    return b"\x80\x02cbuiltins\nbytearray\n" + _long1(4 * GiB) + b"\x85R" + b"X\x06\x00\x00\x00dnnlib\x86."


def stride0_checkpoint(path: Path) -> Path:
    """A rosinality-layout file whose weight is a 200000x200000 ``expand`` of one float (160 GB if materialised)."""
    big = torch.zeros(1).expand(200_000, 200_000)
    torch.save(
        {"g_ema": {"style.1.weight": big, "input.input": torch.zeros(1, 4, 4, 4)}, "latent_avg": torch.zeros(4)}, path
    )
    return path


def png16(arr: np.ndarray) -> bytes:
    """A 16-bit PNG (gray [H, W] or RGB [H, W, 3]) written by hand: Pillow writes no 16-bit RGB."""
    arr = np.asarray(arr, dtype=">u2")
    h, w = arr.shape[:2]
    color = 2 if arr.ndim == 3 else 0
    raw = b"".join(b"\0" + arr[y].tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _png(path: Path, seed: int = 0) -> Path:
    from PIL import Image

    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(path)
    return path


def nan_gen():
    """--generator test_hostile_inputs:nan_gen: a Toy32 with NaN weights (refused when the adapter is validated)."""
    from compare_utils import Toy32

    g = Toy32(1.0)
    with torch.no_grad():
        g.A[0, 0, :5] = float("nan")
    return g


def late_nan_gen():
    """--generator test_hostile_inputs:late_nan_gen: finite while the loader validates it, NaN afterwards,
    so that the run's own non-finite check (not the load-time one) is what stops it."""
    from compare_utils import Toy32

    class LateNaN(Toy32):
        calls = 0

        def _synthesize(self, ws, noise):
            LateNaN.calls += 1
            out = super()._synthesize(ws, noise)
            return out if LateNaN.calls == 1 else out * float("nan")

    return LateNaN(1.0)


# ------------------------------------------------------------------------------ subprocess table
def test_subprocess_cases(tmp_path):
    """The cases that allocate, hang or need a real process: memory-limited, timed, one line each."""
    canary = tmp_path / "canary"
    # a discovered configuration in a parent outside any project, planted to run a shell command
    planted = tmp_path / "shared"
    (planted / "work").mkdir(parents=True)
    (planted / "stylegan-eval.toml").write_text(f'generator = "os:system"\nckpt = "touch {canary}"\n')
    data = tmp_path / "data"
    data.mkdir()
    _png(data / "a.png")
    os.mkfifo(data / "x.png")
    (tmp_path / "bomb.pkl").write_bytes(bytearray_bomb())
    cases = [
        (["info", stride0_checkpoint(tmp_path / "stride0.pt"), "--device", "cpu"], ["stride0.pt", "storage"], None),
        (["info", tmp_path / "bomb.pkl", "--device", "cpu"], ["bomb.pkl", "bytearray"], None),
        (
            ["stats", data, "--allow-random-weights", "--no-cache", "--device", "cpu", "--quiet"],
            ["x.png", "FIFO"],
            None,
        ),
        (["info", "--device", "cpu"], [], planted / "work"),
    ]
    for args, names, cwd in cases:
        no_config = [] if cwd is not None else ["--no-config"]
        code, _, err = run_sub(tmp_path, *no_config, *args, cwd=cwd, timeout=60)
        assert_one_line(code, err, *names)
        if cwd is not None:
            assert "warning" in err and "generator" in err  # the dropped key is named
    assert not canary.exists()


# ------------------------------------------------------------------------------ in-process table
@pytest.fixture
def files(tmp_path):
    """Small hostile inputs, built once per test."""
    from sg2_utils import make_rosinality_checkpoint

    f = {"good": make_rosinality_checkpoint(tmp_path / "good.pt")}
    data = tmp_path / "data"
    data.mkdir()
    _png(data / "a.png")
    f["data"] = data
    return f


def _dataset(tmp_path: Path, name: str, make) -> Path:
    d = tmp_path / name
    d.mkdir()
    _png(d / "a.png")
    make(d)
    return d


def test_in_process_cases(cli, tmp_path, files, monkeypatch):
    from nvidia_utils import hostile_module_src, raw_reduce_pickle, write_snapshot

    t0 = time.perf_counter()
    canary = tmp_path / "canary"
    loop = _dataset(tmp_path, "loop", lambda d: os.symlink("l.png", d / "l.png"))
    dangling = _dataset(tmp_path, "dangling", lambda d: os.symlink("missing.png", d / "m.png"))
    devzero = _dataset(tmp_path, "devzero", lambda d: os.symlink("/dev/zero", d / "z.png"))
    # an NVIDIA-looking pickle (the dnnlib marker) that calls os.system
    (tmp_path / "reduce.pkl").write_bytes(b"\x80\x02Vdnnlib\n0" + raw_reduce_pickle("os", "system", f"touch {canary}"))
    write_snapshot(tmp_path / "hostile.pkl", module_src=hostile_module_src(canary))
    notdir = tmp_path / "plainfile"
    notdir.write_text("x")
    sys.__stderr__.write(f"setup {time.perf_counter() - t0:.2f}s\n")
    g = [
        "--generator",
        "compare_utils:gen_a",
        "--allow-random-weights",
        "--device",
        "cpu",
        "--quiet",
        "--num-samples",
        "4",
    ]
    cases = [
        (["info", tmp_path / "reduce.pkl"], ["reduce.pkl", "os.system"]),
        (["stats", loop, "--no-cache", "--allow-random-weights"], ["l.png", "symlink loop"]),
        (["stats", dangling, "--no-cache", "--allow-random-weights"], ["m.png", "dangling"]),
        (["stats", devzero, "--no-cache", "--allow-random-weights"], ["z.png", "device"]),
        (["ppl", *g, "--out", notdir / "out"], ["--out", "plainfile"]),
        (
            [
                "ppl",
                "--generator",
                "test_hostile_inputs:nan_gen",
                "--allow-random-weights",
                "--device",
                "cpu",
                "--quiet",
                "--num-samples",
                "6",
            ],
            ["nan_gen", "NaN"],
        ),
        (
            [
                "ppl",
                "--generator",
                "test_hostile_inputs:late_nan_gen",
                "--allow-random-weights",
                "--device",
                "cpu",
                "--quiet",
                "--num-samples",
                "6",
                "--distance",
                "lpips-vgg",
            ],
            ["NaN", "first: sample 0", "6"],
        ),
        (
            [
                "ppl",
                "--generator",
                "compare_utils:gen_a",
                "--num-samples",
                "1000000000000",
                "--allow-random-weights",
                "--device",
                "cpu",
                "--quiet",
            ],
            ["--num-samples", "1000000000000"],
        ),
        (["generate", "--generator", "compare_utils:gen_a", "--seeds", "0-1000000000000"], ["--seeds", "1000000"]),
        (
            [
                "generate",
                "--generator",
                "test_hostile_inputs:late_nan_gen",
                "--seeds",
                "0-3",
                "--device",
                "cpu",
                "--out",
                tmp_path / "nan",
            ],
            ["NaN", "4"],
        ),
    ]
    from stylegan_eval.commands import ppl as ppl_command
    from stylegan_eval.metrics import ppl as ppl_metric
    from stylegan_eval.metrics.distances import SquaredL2

    for module in (ppl_metric, ppl_command):  # no VGG16 to build
        monkeypatch.setattr(module, "make_distance", lambda *a, **k: SquaredL2())
    for args, names in cases:
        t0 = time.perf_counter()
        code, _, err = cli("--no-config", *args)
        sys.__stderr__.write(f"{time.perf_counter() - t0:.2f}s {args[0]} {names}\n")
        assert_one_line(code, err, *names)
    code, _, err = cli("--no-config", "info", tmp_path / "hostile.pkl", "--device", "cpu")  # read, its source never run
    assert code == 0, err
    assert not canary.exists() and not (tmp_path / "nan.png").exists()
    # environment variables
    monkeypatch.setenv("WORLD_SIZE", "abc")
    code, _, err = cli("--no-config", "ppl", *g, "--out", tmp_path / "env")
    assert_one_line(code, err, "WORLD_SIZE", "abc")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("STYLEGAN_EVAL_SAVE_EVERY", "soon")
    code, _, err = cli("--no-config", "ppl", *g, "--out", tmp_path / "env")
    assert_one_line(code, err, "STYLEGAN_EVAL_SAVE_EVERY", "soon")
    monkeypatch.delenv("STYLEGAN_EVAL_SAVE_EVERY")
    # skipped with a count instead, under the explicit flag
    bad = _dataset(tmp_path, "bad", lambda d: (os.symlink("missing.png", d / "m.png"), os.mkfifo(d / "f.png")))
    from stylegan_eval.metrics.stats_cache import ImageSource

    src = ImageSource(bad, skip_bad=True)
    assert src.names == ["a.png"] and len(src.skipped) == 2 and "FIFO" in " ".join(src.skipped)


def test_out_lock_and_damaged_resume(cli, tmp_path):
    """A second writer names the holder; a truncated or tampered partial says how to start over."""
    from stylegan_eval.engine import ResumeState, content_digest
    from stylegan_eval.fileio import LOCK_NAME, out_lock

    out = tmp_path / "out"
    out.mkdir()
    holder = os.getppid()  # a live process that is not this one
    (out / LOCK_NAME).write_text(f"{holder} {os.uname().nodename}\n")
    args = [
        "--no-config",
        "ppl",
        "--generator",
        "compare_utils:gen_a",
        "--allow-random-weights",
        "--device",
        "cpu",
        "--quiet",
        "--num-samples",
        "4",
        "--distance",
        "lpips-vgg",
        "--out",
        out,
    ]
    code, _, err = cli(*args)
    assert_one_line(code, err, str(holder), LOCK_NAME)
    (out / LOCK_NAME).write_text("999999999 " + os.uname().nodename + "\n")  # dead holder: taken over
    with out_lock(out):
        assert (out / LOCK_NAME).read_text().split()[0] == str(os.getpid())
    assert not (out / LOCK_NAME).exists()

    state = ResumeState(out, "ppl", {"x": 1}, save_every=0)
    idx, outs = torch.arange(4), {"distance": torch.arange(4.0)}
    state.save(0, idx, outs)
    path = state.path(0)
    blob = path.read_bytes()
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(Exception) as exc:
        state.load()
    assert type(exc.value).__name__ == "DamagedPartial" and "delete" in str(exc.value) and "--resume" in str(exc.value)
    torch.save(
        {"indices": idx, "outputs": {"distance": outs["distance"] + 1}, "digest": content_digest(idx, outs)}, path
    )
    with pytest.raises(Exception, match="does not match its sha256"):
        state.load()


def test_umask_permissions(tmp_path):
    from stylegan_eval.fileio import atomic_write

    old = os.umask(0o022)
    try:
        mode = stat.S_IMODE(atomic_write(tmp_path / "r.json", "{}").stat().st_mode)
        os.umask(0o002)
        mode2 = stat.S_IMODE(atomic_write(tmp_path / "s.json", "{}").stat().st_mode)
    finally:
        os.umask(old)
    assert (mode, mode2) == (0o644, 0o664)


def test_config_trust_model(cli, tmp_path, monkeypatch, capsys):
    from stylegan_eval.config import discover, load_config

    proj = tmp_path / "proj"
    (proj / "sub").mkdir(parents=True)
    (tmp_path / "stylegan-eval.toml").write_text("seed = 5\n")
    (proj / ".git").mkdir()
    assert discover(proj / "sub") == (None, False)  # the project root bounds the search
    (proj / "stylegan-eval.toml").write_text("seed = 6\n")
    assert discover(proj / "sub") == (proj / "stylegan-eval.toml", False)  # found, but a parent's: no code
    # writable by others / owned by someone else: ignored with one warning
    monkeypatch.chdir(proj / "sub")
    os.chmod(proj / "stylegan-eval.toml", 0o666)
    assert load_config().path is None and "writable by other users" in capsys.readouterr().err
    os.chmod(proj / "stylegan-eval.toml", 0o644)
    if os.getuid() == 0:
        os.chown(proj / "stylegan-eval.toml", 12345, -1)
        assert load_config().path is None and "not by you" in capsys.readouterr().err
        os.chown(proj / "stylegan-eval.toml", 0, -1)
    assert load_config().values == {"seed": 6}
    # code keys from a parent outside any project are dropped; the same file via --config is honoured
    outside = tmp_path / "outside"
    (outside / "work").mkdir(parents=True)
    cfg = outside / "stylegan-eval.toml"
    cfg.write_text('generator = "compare_utils:gen_a"\n[compare]\ncheckpoints = ["compare_utils:gen_a", "x.pt"]\n')
    monkeypatch.chdir(outside / "work")
    code, _, err = cli("info", "--device", "cpu")
    assert code == 2 and "no checkpoint given" in err and err.count("warning") == 2
    code, out, err = cli("--config", cfg, "info", "--device", "cpu", "--json")
    assert code == 0 and json.loads(out)["meta"]["generator_spec"] == "compare_utils:gen_a", err


def test_trust_weights_for_torchscript(cli, tmp_path, files):
    fake = tmp_path / "inception-2015-12-05.pt"
    fake.write_bytes(b"not torchscript")
    args = [
        "--no-config",
        "stats",
        files["data"],
        "--detector",
        "nvidia",
        "--inception-weights",
        fake,
        "--no-cache",
        "--device",
        "cpu",
        "--quiet",
        "--out-file",
        tmp_path / "s.npz",
    ]
    code, _, err = cli(*args)
    assert_one_line(code, err, str(fake), "--trust-weights")
    code, _, err = cli(*args, "--trust-weights", fake)  # trusted: loaded, and refused as not TorchScript
    assert_one_line(code, err, str(fake), "TorchScript")
    assert "--trust-weights" not in err


def test_images_16bit_bombs_and_stats_digest(tmp_path, monkeypatch):
    from stylegan_eval.metrics import stats_cache
    from stylegan_eval.metrics.features import decode_image
    from stylegan_eval.metrics.stats_cache import FeatureStats, ImageSource, StatsFileError, load_stats

    v = np.array([[0, 300, 1000, 40000, 65535]], dtype=np.uint16)
    assert decode_image(png16(v))[:, 0].tolist() == [np.rint(v[0] / 257).astype(int).tolist()] * 3  # not white
    with pytest.raises(ValueError, match="16-bit"):
        decode_image(png16(np.stack([v, v, v], axis=-1)))
    # a zip entry larger than the cap is refused while streaming
    monkeypatch.setattr(stats_cache, "MAX_FILE_BYTES", 1 << 16)
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.png", _png(tmp_path / "x.png").read_bytes())
        zf.writestr("big.png", b"\0" * (1 << 20))
    assert (tmp_path / "bomb.zip").stat().st_size < 1 << 14
    src = ImageSource(tmp_path / "bomb.zip")
    assert len(src.read(0)) > 0
    with pytest.raises(ValueError, match="limit"):
        src.read(1)
    # statistics carry a digest: a modified file is refused
    s = FeatureStats(np.zeros(4), np.eye(4), 10)
    s.save(tmp_path / "s.npz")
    assert load_stats(tmp_path / "s.npz", dim=4).num == 10
    with np.load(tmp_path / "s.npz") as d:
        arrays = {k: d[k] for k in d.files}
    arrays["mu"] = arrays["mu"] + 1
    np.savez(tmp_path / "t.npz", **arrays)
    with pytest.raises(StatsFileError, match="digest"):
        load_stats(tmp_path / "t.npz", dim=4)


# ------------------------------------------------------------------------------ fuzz
def _swap_opcodes(blob: bytes, rng: random.Random) -> bytes | None:
    """Swap two opcodes (with their arguments) of the pickle at the start of ``blob``."""
    try:
        ops = [pos for _, _, pos in pickletools.genops(blob)]
    except Exception:  # noqa: BLE001 - a stream pickletools cannot walk
        return None
    if len(ops) < 4:
        return None
    ends = ops[1:] + [len(blob)]
    i, j = sorted(rng.sample(range(1, len(ops) - 1), 2))
    a, b = blob[ops[i] : ends[i]], blob[ops[j] : ends[j]]
    return blob[: ops[i]] + b + blob[ends[i] : ops[j]] + a + blob[ends[j] :]


def _mutate(blob: bytes, rng: random.Random, kind: str) -> bytes:
    if kind == "flip":
        out = bytearray(blob)
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(len(out))
            out[pos] ^= 1 << rng.randrange(8)
        return bytes(out)
    if kind == "truncate":
        return blob[: rng.randrange(1, len(blob))]
    if kind == "insert":
        pos = rng.randrange(len(blob))
        return blob[:pos] + bytes(rng.randrange(256) for _ in range(rng.randint(1, 16))) + blob[pos:]
    return _swap_opcodes(blob, rng) or blob[::-1][:64]


def _zip_member_mutation(blob: bytes, rng: random.Random) -> bytes:
    """A torch zip checkpoint with its data.pkl's opcodes swapped (the archive itself stays valid)."""
    src = zipfile.ZipFile(io.BytesIO(blob))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                data = _swap_opcodes(data, rng) or data[:-1]
            dst.writestr(info.filename, data)
    return buf.getvalue()


def _base_files(folder: Path) -> dict[str, Path]:
    from nvidia_utils import write_snapshot
    from sg1_utils import save_checkpoint
    from sg2_utils import make_rosinality_checkpoint

    from stylegan_eval.metrics.stats_cache import FeatureStats

    folder.mkdir(parents=True, exist_ok=True)
    FeatureStats(np.arange(8.0), np.eye(8), 12).save(folder / "stats.npz")
    with open(folder / "stats.pkl", "wb") as f:
        pickle.dump({"mean": np.arange(8.0), "cov": np.eye(8), "size": 12}, f, protocol=2)
    return {
        "sg2": make_rosinality_checkpoint(folder / "sg2.pt"),
        "sg1": save_checkpoint(folder / "sg1.model", layout="bare", trained_up_to=2, legacy=True)[0],
        "nvidia": write_snapshot(folder / "nvidia.pkl"),
        "stats_npz": folder / "stats.npz",
        "stats_pkl": folder / "stats.pkl",
    }


FUZZ_COUNTS = {"sg2": 60, "sg1": 60, "nvidia": 50, "stats_npz": 40, "stats_pkl": 40}


def fuzz_main(folder: Path) -> dict:
    """Run every mutation in this process; returns {family: {outcome: count}}; exit-1 cases are listed."""
    from stylegan_eval.cli import main
    from stylegan_eval.errors import UserError
    from stylegan_eval.metrics.stats_cache import load_stats

    torch.set_num_threads(1)
    base = _base_files(folder)
    outcomes: dict[str, dict[str, int]] = {}
    failures: list[str] = []
    kinds = ["flip", "truncate", "insert", "swap"]
    for fam_i, (family, path) in enumerate(base.items()):
        rng = random.Random(1000 + fam_i)
        blob = path.read_bytes()
        counts = outcomes.setdefault(family, {})
        for n in range(-1, FUZZ_COUNTS[family]):
            kind = kinds[n % len(kinds)] if n >= 0 else "none"
            if n < 0:  # the unmutated file must load
                data = blob
            elif kind == "swap" and family == "sg2":
                data = _zip_member_mutation(blob, rng)
            else:
                data = _mutate(blob, rng, kind)
            mutated = folder / f"m-{family}-{n}{path.suffix}"
            mutated.write_bytes(data)
            if family.startswith("stats"):
                try:
                    load_stats(mutated, dim=8)
                    outcome = "ok"
                except UserError:
                    outcome = "user_error"
                except Exception as exc:  # noqa: BLE001 - what the test counts as a failure
                    outcome = "crash"
                    failures.append(f"{mutated.name} ({kind}): {type(exc).__name__}: {exc}"[:300])
            else:
                err = io.StringIO()
                with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                    code = main(["--no-config", "info", str(mutated), "--device", "cpu", "--quiet"])
                outcome = {0: "exit0", 2: "exit2"}.get(code, f"exit{code}")
                if code not in (0, 2) or "Traceback" in err.getvalue() or len(err.getvalue().strip().splitlines()) > 1:
                    failures.append(f"{mutated.name} ({kind}): exit {code}: {err.getvalue()[-600:]}")
                    outcome += "_bad"
            mutated.unlink()
            if n < 0:
                if outcome not in ("ok", "exit0"):
                    failures.append(f"{family}: the unmutated file does not load ({outcome})")
                continue
            counts[f"{kind}:{outcome}"] = counts.get(f"{kind}:{outcome}", 0) + 1
    return {"outcomes": outcomes, "failures": failures}


@pytest.mark.slow
def test_fuzz_loaders(tmp_path):
    """~250 seeded mutations fed to info / load_stats in one memory-limited process; a few via the CLI."""
    r = subprocess.run(
        [sys.executable, str(Path(__file__)), "fuzz", str(tmp_path / "fuzz")],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=400,
        preexec_fn=_limit_memory,
        cwd=tmp_path,
        check=False,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads(r.stdout.strip().splitlines()[-1])
    total = sum(sum(c.values()) for c in report["outcomes"].values())
    print(f"fuzz: {total} mutations", json.dumps(report["outcomes"], indent=1, sort_keys=True))
    assert total == sum(FUZZ_COUNTS.values())
    assert not report["failures"], "\n".join(report["failures"])
    # the subprocess form, for a small sample
    base = _base_files(tmp_path / "sample")
    rng = random.Random(7)
    for family in ("sg2", "nvidia"):
        blob = base[family].read_bytes()
        for kind in ("flip",):
            p = tmp_path / f"s-{family}-{kind}{base[family].suffix}"
            p.write_bytes(_mutate(blob, rng, kind))
            code, _, err = run_sub(tmp_path, "--no-config", "info", p, "--device", "cpu", "--quiet", timeout=60)
            assert code in (0, 2) and "Traceback" not in err, err[-2000:]
            if code == 2:
                assert_one_line(code, err, p.name)


# ------------------------------------------------------------------------------ SIGKILL and resume
@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(cli, tmp_path, monkeypatch):
    """separability on test_resume's slow generator (a tiny classifier, no VGG16 to build), killed twice."""
    from compare_utils import make_classifier
    from resume_utils import resume_env, separability_samples, synthesis_calls

    from stylegan_eval.engine import _read_partial

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    clf = make_classifier(tmp_path / "clf.pt")
    n, batch = 24, 3

    def cmd(out: Path, *extra: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "stylegan_eval",
            "--no-config",
            "separability",
            "--generator",
            "resume_utils:slow_gen",
            "--classifier",
            str(clf),
            "--num-samples",
            str(n),
            "--batch-size",
            str(batch),
            "--svm",
            "fast",
            "--allow-random-weights",
            "--device",
            "cpu",
            "--quiet",
            "--out",
            str(out),
            *extra,
        ]

    out = tmp_path / "out"
    marker = tmp_path / "calls.txt"
    rng = random.Random(11)
    for _round in range(2):
        env = {**resume_env(tmp_path, marker, 0.15), "STYLEGAN_EVAL_SAVE_EVERY": "0"}
        extra = ["--resume"] if out.exists() else []
        start = synthesis_calls(marker, batch)
        proc = subprocess.Popen(
            cmd(out, *extra), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_limit_memory
        )  # noqa: PLW1509 - no threads started yet
        try:
            target = start + rng.randint(1, 3)
            deadline = time.monotonic() + 120
            while synthesis_calls(marker, batch) < target and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0, 0.15))  # anywhere inside a batch or a save
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        names = sorted(p.name for p in out.iterdir())
        assert all(name.startswith(".") for name in names), names  # no report, nothing half-written in sight
        for p in out.glob(".partial-*.pt"):
            _read_partial(p)  # every visible partial is whole (its digest checks)
    marker.unlink()
    r = subprocess.run(
        cmd(out, "--resume", "--json"),
        env=resume_env(tmp_path, marker, 0),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert synthesis_calls(marker, batch) < n // batch  # something was resumed
    names = {p.name for p in out.iterdir()}
    assert {"separability.json", "separability-samples.npz"} <= names
    assert not [name for name in names if name.startswith(".")], (
        names
    )  # partials, temporary files and the lock are gone
    fresh = tmp_path / "fresh"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        code, stdout, err = cli(*cmd(fresh, "--json")[3:])
    finally:
        torch.set_num_threads(threads)
    assert code == 0, err
    a, b = separability_samples(out), separability_samples(fresh)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    timing = ("svm_seconds", "samples_per_s")
    rows_a, rows_b = (json.loads(text)["results"] for text in (r.stdout, stdout))
    assert [{k: v for k, v in row.items() if k not in timing} for row in rows_a] == [
        {k: v for k, v in row.items() if k not in timing} for row in rows_b
    ]


# ------------------------------------------------------------------------------ trust, statistics, whole outputs, full disks
def _hostile_pickle(path: Path, canary: Path) -> Path:
    """A pickle that runs ``touch canary`` when unpickled."""

    class Touch:
        def __reduce__(self):
            return (os.system, (f"touch {canary}",))

    path.write_bytes(pickle.dumps(Touch()))
    return path


@pytest.mark.parametrize("marker", ["pyproject", "git"])
def test_parent_markers_grant_no_code_trust(cli, tmp_path, monkeypatch, marker):
    """A configuration in a parent folder next to a project marker anyone can drop (a pyproject.toml
    holding the table, an empty .git) names no code; the run names the file on stderr and in its report."""
    from stylegan_eval.config import discover

    canary = tmp_path / "canary"
    parent = tmp_path / "unpacked"
    (parent / "work").mkdir(parents=True)
    blob = _hostile_pickle(parent / "weights.pt", canary)
    keys = f'generator = "compare_utils:gen_a"\nckpt = "{blob}"\nseed = 7\n'
    if marker == "pyproject":
        cfg = parent / "pyproject.toml"
        cfg.write_text("[tool.stylegan-eval]\n" + keys)
    else:
        (parent / ".git").mkdir()
        cfg = parent / "stylegan-eval.toml"
        cfg.write_text(keys)
    assert discover(parent / "work") == (cfg, False)
    monkeypatch.chdir(parent / "work")
    code, out, err = cli("info", "--device", "cpu", "--json")
    assert "generator" in err and "ignored" in err  # the code key was dropped, and said so
    assert f"stylegan-eval: config: {cfg}" in err  # the file that changes settings is named
    assert not canary.exists()
    # ckpt (a data file) still applies and is read safely: refused as a checkpoint, never unpickled
    assert code == 2 and str(blob) in err
    # a file in the current directory is trusted, and recorded in the report
    cfg.write_text(cfg.read_text().replace(f'ckpt = "{blob}"\n', ""))
    monkeypatch.chdir(parent)
    code, out, err = cli("info", "--device", "cpu", "--json")
    assert code == 0, err
    recorded = json.loads(out)["meta"]["config"]
    assert recorded["path"] == str(cfg) and "seed" in recorded["sets"] and recorded["code_allowed"] is True


DESERIALISERS = [
    "torch:load",
    "torch.hub:load",
    "torch.jit:load",
    "torch:serialization.load",
    "torch.hub:load_state_dict_from_url",
    "numpy:load",
    "pandas:read_pickle",
    "joblib:load",
    "dill:loads",
    "cloudpickle:load",
    "jsonpickle:decode",
]


def test_deserialising_generator_specs_are_refused(cli, tmp_path, monkeypatch):
    """``--generator`` never names a file reader that unpickles, from the command line or a trusted config."""
    canary = tmp_path / "canary"
    blob = _hostile_pickle(tmp_path / "evil.pkl", canary)
    for spec in DESERIALISERS:
        code, _, err = cli("--no-config", "info", blob, "--generator", spec, "--generator-arg", "weights_only=false")
        assert_one_line(code, err, spec, "deserialises")
    # an alias in a package's own module is judged by what it resolves to
    (tmp_path / "aliasing.py").write_text("import numpy\nmake = numpy.load\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    code, _, err = cli("--no-config", "info", "--generator", "aliasing:make")
    assert_one_line(code, err, "aliasing:make", "refused")
    # an explicit --config is trusted for code, but not for deserialisers
    cfg = tmp_path / "explicit.toml"
    cfg.write_text(f'generator = "torch:load"\nckpt = "{blob}"\ngenerator-arg = ["weights_only=false"]\n')
    code, _, err = cli("--config", cfg, "info", "--device", "cpu")
    assert_one_line(code, err, "torch:load", "deserialises")
    assert not canary.exists()


def test_stats_sigma_must_be_a_covariance(tmp_path):
    """A user statistics file whose sigma is asymmetric or not positive semi-definite is refused
    (a negative-definite sigma gave FID -2e6 with exit 0)."""
    from stylegan_eval.metrics.fid import fid_from_stats
    from stylegan_eval.metrics.stats_cache import StatsFileError, load_stats

    rng = np.random.default_rng(0)
    feats = rng.standard_normal((3, 8))  # 3 samples in 8 dimensions: a singular, valid covariance
    valid = np.cov(feats, rowvar=False)
    np.savez(tmp_path / "ok.npz", mu=feats.mean(0), sigma=valid)
    ok = load_stats(tmp_path / "ok.npz", dim=8)
    asym = np.eye(8)
    asym[0, 1] = 0.5
    bad = {
        "negdef.npz": (-np.eye(8) * 1e3, "positive semi-definite"),
        "indefinite.npz": (np.diag([1.0] * 7 + [-1.0]) + 0.0, "positive semi-definite"),
        "offdiag.npz": (np.ones((8, 8)) * 2 - np.eye(8) * 3, "positive semi-definite"),
        "asym.npz": (asym, "symmetric"),
    }
    for name, (sigma, what) in bad.items():
        np.savez(tmp_path / name, mu=np.zeros(8), sigma=sigma)
        with pytest.raises(StatsFileError) as exc:
            load_stats(tmp_path / name, dim=8)
        assert str(tmp_path / name) in str(exc.value) and what in str(exc.value), str(exc.value)
        assert "\n" not in str(exc.value)
    with open(tmp_path / "negdef.pkl", "wb") as f:
        pickle.dump({"mean": np.zeros(8), "cov": -np.eye(8)}, f, protocol=2)
    with pytest.raises(StatsFileError, match="negdef.pkl"):
        load_stats(tmp_path / "negdef.pkl", dim=8)
    assert fid_from_stats(ok, ok).fid == pytest.approx(0.0, abs=1e-6)


def _ppl_args(out: Path, *extra) -> list:
    return ["--no-config", "ppl", "--generator", "compare_utils:gen_a", "--device", "cpu", "--quiet",
            "--num-samples", "4", "--allow-random-weights", "--out", out, *extra]  # fmt: skip


def _no_space_on(monkeypatch, name: str) -> None:
    """Every atomic write of a file called ``name`` fails as on a full disk (at the fsync of its
    temporary file ``.name.*.tmp``, where a full disk reports delayed allocation failures)."""
    import errno

    real = os.fsync

    def fsync(fd):
        if Path(os.readlink(f"/proc/self/fd/{fd}")).name.startswith(f".{name}."):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_report_folder_is_replaced_as_a_whole(cli, tmp_path, monkeypatch):
    """A second run into an existing ``--out`` folder that fails mid-write (disk full) leaves the
    first run's files exactly; the failure is one line naming the file, exit 2."""
    from stylegan_eval import warnings_capture

    warnings_capture.captured.clear()  # what earlier in-process runs warned is not this test's
    out = tmp_path / "out"

    def info(spec: str):
        return cli("--no-config", "info", "--generator", spec, "--device", "cpu", "--out", out)

    code, _, err = info("compare_utils:gen_a")
    assert code == 0, err
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert {"info.json", "info.csv", "info.md"} <= set(before)
    _no_space_on(monkeypatch, "info.md")  # after info.json and info.csv of the new run were written
    code, _, err = info("compare_utils:gen_b")
    line = assert_one_line(code, err, str(out / "info.md"))
    assert "No space left" in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # no mix of old and new files
    monkeypatch.undo()
    code, _, err = info("compare_utils:gen_b")
    assert code == 0, err
    assert json.loads((out / "info.json").read_text())["meta"]["generator_spec"] == "compare_utils:gen_b"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging folder, lock or temp left


def test_disk_full_is_one_line(cli, tmp_path, monkeypatch):
    """ENOSPC appending to the log or writing convert's OUT: one line naming the path (exit 2 on
    the command line), nothing half-written."""
    import errno

    from stylegan_eval import jsonlog
    from stylegan_eval.errors import UserError

    log = tmp_path / "metrics.jsonl"
    first = '{"metric": "fid", "value": 1.0}\n'
    log.write_text(first)
    real_write = os.write

    def short_write(fd, data):  # the disk fills up half-way through the log's lines
        if os.readlink(f"/proc/self/fd/{fd}") != str(log):
            return real_write(fd, data)
        if os.fstat(fd).st_size > len(first):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data[: len(data) // 2])  # a short write, as write(2) does when space runs out

    monkeypatch.setattr(jsonlog.os, "write", short_write)
    with pytest.raises(UserError) as exc:  # the command line's one line, exit 2
        jsonlog.append(log, [{"metric": "kid", "value": 0.5}, {"metric": "fid", "value": 2.0}])
    monkeypatch.undo()
    assert str(log) in str(exc.value) and "No space left" in str(exc.value) and "\n" not in str(exc.value)
    assert log.read_text() == first  # the torn half was taken back
    _no_space_on(monkeypatch, "g.safetensors")
    code, _, err = cli("--no-config", "convert", "demo", tmp_path / "g.safetensors")
    assert_one_line(code, err, str(tmp_path / "g.safetensors"), "No space left")
    assert not list(tmp_path.glob("*g.safetensors*"))


def test_read_log_skips_a_torn_last_line(tmp_path):
    from stylegan_eval.jsonlog import append, read_log

    log = tmp_path / "m.jsonl"
    append(log, [{"metric": "fid", "value": 1.0}, {"metric": "kid", "value": 0.5}])
    with open(log, "a") as f:
        f.write('{"metric": "ppl_wend", "val')  # a write cut short
    with pytest.warns(UserWarning, match="line 3"):
        frame = read_log(log)
    assert list(frame["metric"]) == ["fid", "kid"] and frame.attrs["torn_lines"] == [3]


@pytest.mark.slow
def test_disk_full_on_a_real_tmpfs(tmp_path):
    """``--out``, ``--log`` and ``convert`` on a 64 KiB tmpfs: one line naming the path, exit 2."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True,
                           text=True, timeout=30, check=False)  # fmt: skip
    except OSError as exc:
        pytest.skip(f"cannot run mount: {exc}")
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {r.stderr.strip()[:200]}")
    try:
        code, _, err = run_sub(tmp_path, "--no-config", "convert", "demo", mnt / "g.safetensors", timeout=120)
        assert_one_line(code, err, str(mnt / "g.safetensors"), "No space left")
        (mnt / "pad").write_bytes(b"x" * 40_000)  # leave too little for the report's plots
        out = mnt / "out"
        code, _, err = run_sub(tmp_path, *_ppl_args(out), timeout=300)
        assert_one_line(code, err, str(out), "No space left")
        assert not [p for p in out.iterdir() if p.name != "metrics.jsonl"]  # nothing half-written
        (mnt / "pad").unlink()
        with contextlib.suppress(OSError), open(mnt / "fill", "wb", buffering=0) as f:  # fill the disk
            while f.write(b"x" * 512):
                pass
        code, _, err = run_sub(tmp_path, *_ppl_args(tmp_path / "out2", "--log", mnt / "m.jsonl"), timeout=300)
        assert code == 2 and "Traceback" not in err and str(mnt / "m.jsonl") in err, err
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True, timeout=30, check=False)


if __name__ == "__main__":  # the fuzz loop, run by test_fuzz_loaders under the memory limit
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["fuzz"])
    parser.add_argument("folder", type=Path)
    a = parser.parse_args()
    sys.path.insert(0, str(TESTS))
    print(json.dumps(fuzz_main(a.folder)))
