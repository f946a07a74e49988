"""Hostile and broken inputs: every bad file or option is exit 2 with one line, nothing
runs from a discovered configuration, nothing is silently wrong, resources stay bounded.

- Cases that could allocate or hang run as ``python -m stylegan_eval`` subprocesses under an
  address-space limit (``RLIMIT_AS``: the ~3 GiB that importing torch maps, plus 3 GiB) and a
  timeout; the others run in-process through the ``cli`` fixture (same ``main``, same checks).
- Broken files of every format (``format_cases``) run through ``main`` in one memory-limited
  subprocess (``test_broken_files_table``); bad options, configuration values and environment
  variables (``option_cases``, ``env_cases``) in-process.
- A fuzz test mutates tiny valid files of every format the toolkit reads (bit flips,
  truncations, insertions, swapped pickle opcodes: ``FUZZ_COUNTS``) and feeds each to the reader
  that format goes through, one memory-limited subprocess per format: exit 0 or exit 2 with one
  line, never a traceback; the peak RSS of each format is printed. ``test_fuzz_representative``
  runs a few mutations of two formats in the default run.
- SIGKILL at random points during ``ppl`` then ``--resume``: bit-identical to an uninterrupted run.

This file is also a script (``python test_hostile_inputs.py fuzz|table DIR [COUNTS]``): the fuzz loop
and the broken-files table, run in the memory-limited subprocesses.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
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


def gray_gen():
    """--generator test_hostile_inputs:gray_gen: a valid 1-channel (grayscale) Toy32."""
    from compare_utils import Toy32

    class Gray(Toy32):
        img_channels = 1

        def _synthesize(self, ws, noise):
            import warnings

            warnings.warn("gray_gen: a warning raised while sampling", UserWarning, stacklevel=1)
            return super()._synthesize(ws, noise)[:, :1]

    return Gray(1.0)


def stop_gen():
    """--generator test_hostile_inputs:stop_gen: a Toy32 that stops the run at its first batch with a
    UserError, so that a test sees how far a run got (and what it allocated) before sampling."""
    from compare_utils import Toy32

    from stylegan_eval.errors import UserError

    class Stop(Toy32):
        calls = 0

        def _synthesize(self, ws, noise):
            Stop.calls += 1  # the first call is the loader's output check
            if Stop.calls > 1:
                raise UserError("stop_gen: first batch reached")
            return super()._synthesize(ws, noise)

    return Stop(1.0)


class Stride0Array:
    """Pickles as ``numpy.ndarray(shape, float32, 4-byte buffer, 0, zero strides)``: a stride-0 view
    whose nominal size (``shape``) is not in the file."""

    def __init__(self, *shape: int) -> None:
        self.shape = shape

    def __reduce__(self):
        return (np.ndarray, (self.shape, np.dtype("f4"), b"\0" * 4, 0, (0,) * len(self.shape)))


class ObjectArrayBomb:
    """Pickles as numpy's own array reduction of an object array of ``n`` elements whose data
    (an empty list) is not there: numpy allocates the pointers before it compares."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __reduce__(self):
        from numpy._core.multiarray import _reconstruct

        return (_reconstruct, (np.ndarray, (0,), b"b"), (1, (self.n,), np.dtype("O"), False, []))


def stats_pickle(path: Path, mean) -> Path:
    """A rosinality-style statistics pickle ``{'mean', 'cov', 'size'}`` with ``mean`` as given."""
    path.write_bytes(pickle.dumps({"mean": mean, "cov": np.eye(8), "size": 12}, protocol=2))
    return path


def npz_bomb(path: Path, entry: str = "mu.npy", nbytes: int = 256 << 20) -> Path:
    """A statistics .npz whose ``entry`` inflates to ``nbytes`` zeros (a few hundred KB on disk)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        with zf.open(entry, "w", force_zip64=True) as f:
            header = "{'descr': '<f8', 'fortran_order': False, 'shape': (%d,), }" % (nbytes // 8)
            header += " " * (-(len(header) + 11) % 64) + "\n"
            f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
            chunk = bytes(1 << 20)
            for _ in range(nbytes >> 20):
                f.write(chunk)
        zf.writestr("sigma.npy", b"")
    return path


def overlapping_zip(path: Path, first: str, second: str) -> Path:
    """A zip whose second entry's directory record points into the first entry's stored bytes."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr(first, b"\0" * 4000)
        zf.writestr(second, b"\0" * 10)
    blob = bytearray(path.read_bytes())
    cd = blob.rindex(b"PK\x01\x02")  # the second entry's central record
    blob[cd + 42 : cd + 46] = struct.pack("<I", 100)
    path.write_bytes(bytes(blob))
    return path


def bad_name_zip(path: Path) -> Path:
    """A torch checkpoint (zip) whose central directory marks an entry name UTF-8 that is not."""
    torch.save({"w": torch.zeros(2)}, path)
    blob = bytearray(path.read_bytes())
    cd = blob.index(b"PK\x01\x02")
    flags = struct.unpack("<H", blob[cd + 8 : cd + 10])[0] | 0x800
    blob[cd + 8 : cd + 10] = struct.pack("<H", flags)
    blob[cd + 46] = 0xE1  # first byte of the name: a lone UTF-8 lead byte
    path.write_bytes(bytes(blob))
    return path


def safetensors_variant(tmp: Path, name: str, *, config=None, header_extra: dict | None = None) -> Path:
    """The demo generator as safetensors, with its stylegan-eval config changed by ``config(c)``
    (returns the new config) or ``header_extra`` merged into its JSON header."""
    from safetensors.torch import load_file, save_file

    from stylegan_eval.formats import load_generator
    from stylegan_eval.formats import safetensors_file as stf

    good = tmp / "demo.safetensors"
    if not good.exists():
        stf.write(load_generator("demo"), good)
    out = tmp / f"{name}.safetensors"
    meta = stf.read_header(good)["__metadata__"]
    if config is not None:
        meta = {**meta, stf.META_CONFIG: json.dumps(config(json.loads(meta[stf.META_CONFIG])))}
    save_file(load_file(good), out, metadata=meta)
    if header_extra is not None:
        blob = out.read_bytes()
        (n,) = struct.unpack("<Q", blob[:8])
        header = json.loads(blob[8 : 8 + n])
        text = json.dumps(header)[:-1] + ", " + json.dumps(header_extra)[1:]
        text = text.replace('"__nested__": "DEEP"', '"__nested__": ' + "[" * 5000 + "]" * 5000)
        out.write_bytes(struct.pack("<Q", len(text)) + text.encode() + blob[8 + n :])
    return out


def nvidia_variant(tmp: Path, name: str, **init_kwargs) -> Path:
    """A tiny NVIDIA StyleGAN2 snapshot whose G_ema init_kwargs are updated with ``init_kwargs``
    (``mapping_kwargs`` entries merged)."""
    from nvidia_utils import make_generator, write_snapshot

    G = make_generator()
    mapping = init_kwargs.pop("mapping_kwargs", {})
    G._init_kwargs.update(init_kwargs)
    G._init_kwargs["mapping_kwargs"].update(mapping)
    return write_snapshot(tmp / f"{name}.pkl", G=G)


def lucidrains_variant(tmp: Path, name: str, config: str | None = None, empty: str | None = None) -> Path:
    """A tiny lucidrains model_0.pt in its own folder, with ``config`` as .config.json text and the
    weight ``empty`` given a zero-size first dimension."""
    from third_party_utils import lucidrains_state

    gan = lucidrains_state()
    if empty is not None:
        gan[empty] = torch.zeros(0, *gan[empty].shape[1:])
    d = tmp / f"lucid-{name}"
    d.mkdir()
    torch.save({"GAN": gan, "version": "1.9.0"}, d / "model_0.pt")
    if config is not None:
        (d / ".config.json").write_text(config)
    return d / "model_0.pt"


def samples_variant(tmp: Path, name: str, **arrays) -> Path:
    """A separability samples file (40 samples, attributes a and b) with entries replaced by ``arrays``."""
    from stylegan_eval.metrics import separability as sep

    rng = np.random.default_rng(0)
    z, logits = rng.standard_normal((40, 8)).astype(np.float32), rng.standard_normal((40, 2)).astype(np.float32)
    good = tmp / "good-samples.npz"
    sep.SeparabilitySamples(z, None, logits, ["a", "b"], [], {"seed": 0}, []).save(good)
    with np.load(good) as data:
        base = {k: data[k] for k in data.files}
    out = tmp / f"samples-{name}.npz"
    np.savez(out, **{**base, **arrays})
    return out


def format_cases(tmp: Path) -> list[tuple[list, list]]:
    """Broken files of every format: (command line, names its one error line must hold)."""
    deep = "[" * 5000 + "]" * 5000
    meta = {"format": "stylegan-eval-separability-samples/1", "attributes": ["a", "b"], "identities": []}
    meta.update(fingerprint={"seed": 0}, random_weights=[])
    info = ["info", "--device", "cpu"]
    sep = ["separability", "--space", "z", "--attr", "a", "--quiet", "--from-samples"]
    return [
        (
            [*info, safetensors_variant(tmp, "cutoff", config=lambda c: {**c, "truncation_cutoff": "x"})],
            ["cutoff.safetensors", "truncation_cutoff"],
        ),
        (
            [*info, safetensors_variant(tmp, "res", config=lambda c: {**c, "arch": {**c["arch"], "size": 1e300}})],
            ["res.safetensors", "size"],
        ),
        (
            [*info, safetensors_variant(tmp, "deephdr", header_extra={"__nested__": "DEEP"})],
            ["deephdr.safetensors", "nested"],
        ),
        (
            [
                *info,
                safetensors_variant(
                    tmp, "deepcfg", config=lambda c: {**c, "extra": json.loads(deep[:200] + deep[-200:])}
                ),
            ],
            ["deepcfg.safetensors", "nested"],
        ),
        (
            [
                *info,
                safetensors_variant(
                    tmp,
                    "zero",
                    config=lambda c: {**c, "arch": {**c["arch"], "channels": {"4": 0, "8": 0, "16": 0, "32": 0}}},
                ),
            ],
            ["zero.safetensors"],
        ),
        ([*info, nvidia_variant(tmp, "nvinf", img_resolution=float("inf"))], ["nvinf.pkl", "img_resolution"]),
        ([*info, bad_name_zip(tmp / "badname.pt")], ["badname.pt"]),
        (
            [*info, overlapping_zip(tmp / "overlap.pt", "archive/data.pkl", "archive/data/0")],
            ["overlap.pt", "entries overlap"],
        ),
        ([*info, nvidia_variant(tmp, "nvstr", mapping_kwargs={"num_layers": "x"})], ["nvstr.pkl", "init_kwargs"]),
        ([*info, lucidrains_variant(tmp, "deep", config=deep)], [".config.json", "nested"]),
        ([*info, lucidrains_variant(tmp, "empty", empty="GE.blocks.0.conv1.weight")], ["model_0.pt", "zero-size"]),
        (
            ["info", "--device", "cpu", "--generator", "compare_utils:gen_a", "--generator-arg", f"x={deep}"],
            ["--generator-arg", "nested"],
        ),
        (
            [LOAD_STATS, stats_pickle(tmp / "stride0.pkl", Stride0Array(200_000, 200_000))],
            ["stride0.pkl", "strides"],
        ),
        (
            [LOAD_STATS, stats_pickle(tmp / "objects.pkl", ObjectArrayBomb(10**9))],
            ["objects.pkl", "not plain numeric"],
        ),
        ([LOAD_STATS, npz_bomb(tmp / "bomb.npz")], ["bomb.npz", "inflates"]),
        ([*sep, samples_variant(tmp, "meta", meta=np.array(5))], ["samples-meta.npz", "meta"]),
        (
            [*sep, samples_variant(tmp, "attrs", meta=np.array(json.dumps({**meta, "attributes": [1, 2]})))],
            ["samples-attrs.npz", "attributes"],
        ),
        (
            [*sep, samples_variant(tmp, "fp", meta=np.array(json.dumps({**meta, "fingerprint": "x"})))],
            ["samples-fp.npz", "fingerprint"],
        ),
        ([*sep, samples_variant(tmp, "z1d", z=np.zeros(40, np.float32))], ["samples-z1d.npz", "z"]),
        ([*sep, samples_variant(tmp, "zint", z=np.zeros((40, 8), np.int64))], ["samples-zint.npz", "z"]),
        ([*sep, samples_variant(tmp, "w", w=np.zeros((3, 8), np.float32))], ["samples-w.npz", "w"]),
        ([*sep, samples_variant(tmp, "nan", z=np.full((40, 8), np.nan, np.float32))], ["samples-nan.npz", "finite"]),
        ([*sep, samples_variant(tmp, "deep", meta=np.array(deep))], ["samples-deep.npz", "nested"]),
    ]


#: First word of a :func:`format_cases` entry read with ``load_stats(path, dim=8)`` instead of the CLI.
LOAD_STATS = "load_stats"


def _load_stats_outcome(path: Path, err: io.StringIO, dim: int = 8) -> int:
    """0 when ``load_stats`` reads ``path``, 2 for a UserError (its message written to ``err`` as
    the CLI would), 1 (with the exception) for anything else."""
    from stylegan_eval.errors import UserError
    from stylegan_eval.metrics.stats_cache import load_stats

    try:
        load_stats(path, dim=dim)
    except UserError as exc:
        err.write(f"stylegan-eval: error: {exc}\n")
        return 2
    except BaseException as exc:  # noqa: BLE001 - what the tests count as a failure
        err.write(f"Traceback (not a UserError): {type(exc).__name__}: {exc}\n")
        return 1
    return 0


def option_cases(tmp: Path, g: list) -> list[tuple[list, list]]:
    """Bad options, option paths and configuration values: (command line, names of the one line)."""
    afile = tmp / "afile"
    afile.write_text("not a log\n")
    os.mkfifo(tmp / "log.fifo")
    (tmp / "badout").mkdir()
    (tmp / "badout" / "metrics.jsonl").write_text("a results table, not JSON lines\n")
    ppl = ["ppl", *g]
    config = []
    for name, text, names in (
        ("inf", "seed = inf\n", ["seed", "integer"]),
        ("date", "seed = 1979-05-27\n", ["seed", "date"]),
        ("out", "out = 5\n", ["out", "string"]),
        ("float", "[ppl]\nnum-samples = 4.5\n", ["num-samples", "integer"]),
        ("log", 'log = ""\n', ["--log"]),
        ("deep", "a = " + "[" * 5000 + "]" * 5000 + "\n", ["deep.toml", "nested"]),
        ("latin1", "seed = 1 # caf\xe9\n", ["latin1.toml", "UTF-8"]),
    ):
        (tmp / f"{name}.toml").write_bytes(text.encode("latin-1"))
        config.append((["--config", tmp / f"{name}.toml", *ppl], names))
    return [
        ([*ppl, "--log", afile / "x.jsonl"], ["--log", "afile", "folder"]),
        ([*ppl, "--log", "/proc/version"], ["--log", "/proc/version", "JSON-lines"]),
        ([*ppl, "--log", tmp / "log.fifo"], ["--log", "log.fifo", "FIFO"]),
        ([*ppl, "--log", afile], ["--log", "afile", "JSON-lines"]),
        ([*ppl, "--out", tmp / "badout"], ["--out", "metrics.jsonl", "JSON-lines"]),
        ([*ppl, "--epsilon", "1e-300"], ["--epsilon", "1e-300", "float32"]),
        (["info", "demo", "--device", "cpu", "--class", "5"], ["--class 5", "unconditional"]),
        (["mix", "demo", "--rows", "0-3000", "--cols", "0-3000", "--device", "cpu"], ["--rows/--cols", "pixel"]),
        (["generate", "demo", "--out-file", afile], ["--out-file", "afile", "--force"]),
        (["mix", "demo", "--out-file", afile], ["--out-file", "afile", "--force"]),
        (["generate", "demo", "--min-size", "1000000000"], ["--min-size"]),
        (["compare", "demo", "demo", "--repeats", "1000000000"], ["--repeats"]),
        *[(["info", "demo", "--device", d], ["--device", d]) for d in ("meta", "mps", "xla")],
        *config,
    ]


def env_cases(tmp: Path) -> list[tuple[dict, list]]:
    """Bad environment variables: (variables, names of the one line), each checked before any work."""
    (tmp / "cachefile").write_text("x")
    os.mkfifo(tmp / "cache.fifo")
    return [
        ({"WORLD_SIZE": "2", "RANK": "0", "MASTER_PORT": "29500"}, ["MASTER_ADDR", "WORLD_SIZE=2"]),
        ({"WORLD_SIZE": "9" * 20}, ["WORLD_SIZE", "9" * 20]),
        ({"WORLD_SIZE": "2", "RANK": "2"}, ["RANK=2", "WORLD_SIZE=2"]),
        ({"RANK": "1"}, ["RANK=1", "WORLD_SIZE"]),
        ({"LOCAL_RANK": "-1"}, ["LOCAL_RANK=-1"]),
        ({"STYLEGAN_EVAL_CACHE": str(tmp / "cachefile")}, ["STYLEGAN_EVAL_CACHE", "cachefile", "folder"]),
        ({"STYLEGAN_EVAL_CACHE": str(tmp / "cachefile" / "sub")}, ["STYLEGAN_EVAL_CACHE", "cachefile", "folder"]),
        ({"STYLEGAN_EVAL_CACHE": str(tmp / "cache.fifo")}, ["STYLEGAN_EVAL_CACHE", "FIFO"]),
    ]


def table_main(folder: Path) -> list[dict]:
    """Run :func:`format_cases` through ``main`` in this (memory-limited) process: one record each."""
    from stylegan_eval.cli import main

    torch.set_num_threads(1)
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for args, names in format_cases(folder):
        err = io.StringIO()
        if args[0] == LOAD_STATS:  # the library reader (the CLI builds a detector first)
            code = _load_stats_outcome(Path(args[1]), err)
        else:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
                code = main(["--no-config", *map(str, args)])
        records.append({"args": [str(a) for a in args], "names": names, "code": code, "err": err.getvalue()})
    return records


def test_broken_files_table(tmp_path):
    """Broken files of every format, in one subprocess under the memory limit: one line each."""
    r = subprocess.run(
        [sys.executable, str(Path(__file__)), "table", str(tmp_path / "table")],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limit_memory,
        cwd=tmp_path,
        check=False,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    records = json.loads(r.stdout.strip().splitlines()[-1])
    assert len(records) >= 20
    for rec in records:
        assert_one_line(rec["code"], rec["err"], *rec["names"])


def escape_gen():
    """--generator test_hostile_inputs:escape_gen: a Toy32 whose family name holds a terminal escape
    sequence and a newline (metadata a file could hold)."""
    from compare_utils import Toy32

    class Escape(Toy32):
        family = "toy\x1b]0;title\x07\x1b[31m\nforged | row"

    return Escape(1.0)


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
                "compare",
                "compare_utils:gen_a",
                "test_hostile_inputs:late_nan_gen",
                "--metrics",
                "ppl2_wend",
                "--num-samples",
                "6",
                "--allow-random-weights",
                "--device",
                "cpu",
                "--quiet",
            ],
            ["test_hostile_inputs:late_nan_gen", "NaN"],
        ),  # fmt: skip
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
        *option_cases(tmp_path, g),
    ]
    from stylegan_eval.metrics import ppl as ppl_metric
    from stylegan_eval.metrics.distances import SquaredL2

    monkeypatch.setattr(ppl_metric, "make_distance", lambda *a, **k: SquaredL2())  # no VGG16 to build
    for args, names in cases:
        t0 = time.perf_counter()
        code, _, err = cli(*([] if args[0] == "--config" else ["--no-config"]), *args)
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
    for env, names in env_cases(tmp_path):
        with monkeypatch.context() as m:
            for k, v in env.items():
                m.setenv(k, v)
            code, _, err = cli("--no-config", "ppl", *g)
        assert_one_line(code, err, *names)
    # skipped with a count instead, under the explicit flag
    bad = _dataset(tmp_path, "bad", lambda d: (os.symlink("missing.png", d / "m.png"), os.mkfifo(d / "f.png")))
    from stylegan_eval.metrics.stats_cache import ImageSource

    src = ImageSource(bad, skip_bad=True)
    assert src.names == ["a.png"] and len(src.skipped) == 2 and "FIFO" in " ".join(src.skipped)


def test_valid_inputs_that_crashed(tmp_path):
    """Valid inputs: checkpoint names with mathtext characters, a 1-channel generator, 10^8 samples."""
    import base64

    import pandas as pd

    from stylegan_eval.engine import _my_batches
    from stylegan_eval.html_report import metric_bars

    # checkpoint names label compare's bar charts; "$\\bad$" is invalid mathtext
    table = pd.DataFrame(
        {
            "metric": "fid",
            "checkpoint": ["a$b.pt", "p$\\bad$q.pt"],
            "value": [1.0, 2.0],
            "ci95_low": None,
            "ci95_high": None,
        }
    )
    (fig,) = metric_bars(table)
    assert fig.caption.startswith("fid per checkpoint") and base64.b64decode(fig.base64()).startswith(b"\x89PNG")
    assert fig.png().startswith(b"\x89PNG")
    # a 1-channel generator (a subprocess: Python's own warning display is what is checked)
    gen = ["--generator", "test_hostile_inputs:gray_gen", "--device", "cpu", "--quiet"]
    code, _, err = run_sub(tmp_path, "--no-config", "generate", *gen, "--seeds", "0-1", "--out", tmp_path / "gray")
    assert code == 0 and {p.name for p in (tmp_path / "gray").glob("*.png")} >= {"seed0000.png", "grid.png"}, err
    assert "stylegan-eval: warning: UserWarning: gray_gen: a warning raised while sampling" in err
    assert all(line.startswith("stylegan-eval: ") for line in err.splitlines()), err  # no raw Python warning
    # reading a pickle's storages is the reader's business: no deprecation notice reaches the report
    from nvidia_utils import write_snapshot

    from stylegan_eval import warnings_capture
    from stylegan_eval.formats import load_generator

    load_generator(write_snapshot(tmp_path / "nv.pkl"))
    assert not [w for w in warnings_capture.captured if "TypedStorage" in w]
    # batch indices are built lazily, and equal the eager split of the remaining samples
    todo = torch.rand(1000, generator=torch.Generator().manual_seed(0)) < 0.7
    for world in (1, 3):
        eager = list(torch.nonzero(todo)[:, 0].split(7))
        for rank in range(world):
            assert [b.tolist() for b in _my_batches(todo, 7, rank, world)] == [b.tolist() for b in eager[rank::world]]
    first = next(_my_batches(torch.ones(10**8, dtype=torch.bool), 16, 0, 1))
    assert first.tolist() == list(range(16))
    # generate --seeds streams: chunks rendered and written one at a time, the grid keeps a bounded head
    from stylegan_eval.commands import generate as generate_command

    chunks: list[int] = []

    def render_chunk(seeds):
        chunks.append(len(seeds))
        return torch.zeros(len(seeds), 3, 4, 4)

    files: list[str] = []
    head = generate_command.write_seed_images(render_chunk, list(range(600)), tmp_path / "many", files, False)
    assert max(chunks) <= generate_command.SEED_CHUNK and sum(chunks) == 600 and len(files) == 600
    assert len(head) == generate_command.MAX_GRID_IMAGES and (tmp_path / "many" / "seed0599.png").is_file()


def test_weak_spots(cli, tmp_path, monkeypatch):
    """Misleading messages and silent costs: FIFOs, huge weights files, raw metadata on a terminal."""
    import hashlib

    import pandas as pd

    from stylegan_eval import weights, weights_catalog

    # the Inception Score's fixed 10 splits: the message names the flag the user has
    from stylegan_eval.cli import flag_message
    from stylegan_eval.errors import ArgumentError, UserError, WeightsUnavailable
    from stylegan_eval.metrics.inception_score import _split_scores

    with pytest.raises(ArgumentError) as exc:
        _split_scores(torch.full((5, 4), 0.25), torch.full((5, 4), 0.25).log(), 10)
    assert flag_message(exc.value).startswith("--num-samples 5") and "num_splits" not in flag_message(exc.value)
    # one PPL sample has no interval (a bootstrap of one value is zero-width)
    from stylegan_eval.metrics.intervals import bootstrap_ci

    assert all(math.isnan(x) for x in bootstrap_ci(np.array([3.0]))) and bootstrap_ci(np.array([1.0, 3.0]))[1] > 1
    # a corrupt VGG16 named by its variable is an error even where random weights are allowed
    from stylegan_eval.metrics.distances import LPIPSVGG

    (tmp_path / "vgg.pth").write_bytes(b"corrupt")
    monkeypatch.setenv("STYLEGAN_EVAL_VGG16", str(tmp_path / "vgg.pth"))
    with pytest.raises(WeightsUnavailable, match="vgg.pth"):
        LPIPSVGG(allow_random=True, download=False)
    monkeypatch.delenv("STYLEGAN_EVAL_VGG16")
    # --fail-if: names as --metrics takes them; equal values never regress; a huge rule is not echoed
    from stylegan_eval.compare import rules as compare_rules

    assert compare_rules.parse_rule("PPL_wend Regresses By 0%").metric == "ppl_wend"
    table = pd.DataFrame({"checkpoint": ["a", "b"], "metric": "fid", "value": [3.0, 3.0]})
    assert compare_rules.check_rules([compare_rules.parse_rule("fid regresses by 0%")], table)["passed"].all()
    with pytest.raises(UserError) as exc:
        compare_rules.parse_rule("x" * 100_000)
    assert len(str(exc.value)) < 300
    os.mkfifo(tmp_path / "g.pt")
    code, _, err = cli("--no-config", "info", tmp_path / "g.pt", "--device", "cpu")
    assert_one_line(code, err, "g.pt", "FIFO")
    # metadata with escape sequences and newlines: escaped, one table row per field
    code, out, err = cli("--no-config", "info", "--generator", "test_hostile_inputs:escape_gen", "--device", "cpu")
    assert code == 0 and "\x1b" not in out and "\x07" not in out and "\\x1b]0;title" in out, err
    assert not [line for line in out.splitlines() if line.startswith("forged")]
    # weights: a 3 GiB (sparse) file is refused by its size, not hashed; a FIFO in the cache is damage
    spec = weights.WeightSpec("toy net", "toy-net.pth", "file:///nonexistent", sha256=hashlib.sha256(b"x").hexdigest())
    weights_catalog.register(spec, "test", "tests", key="toy-net", size=1)
    try:
        big = tmp_path / "toy-net.pth"
        with open(big, "wb") as f:
            f.truncate(3 << 30)
        with pytest.raises(WeightsUnavailable, match="bytes"):
            weights.verify(spec, big, memo=False)
        weights.cache_dir().mkdir(parents=True, exist_ok=True)
        os.mkfifo(weights.cache_dir() / "toy-net.pth")
        code, out, err = cli("weights", "verify", "toy-net", "--json")
        assert code == 2 and json.loads(out)["corrupt"] == ["toy-net"], err
    finally:
        weights_catalog.unregister("toy-net")


def test_out_lock_and_damaged_resume(cli, tmp_path):
    """A second writer names the holder; a truncated or tampered partial says how to start over."""
    from stylegan_eval.engine import DamagedPartial, ResumeState, content_digest
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
    # a stride-0 expansion (GBs when hashed) is refused before hashing
    wide = torch.zeros(1).expand(4, 1 << 30)
    torch.save({"indices": idx, "outputs": {"distance": wide}, "digest": "0" * 64}, path)
    with pytest.raises(DamagedPartial, match="strided view"):
        state.load()
    # whole partials whose outputs were renamed or reshaped: named against this run's outputs
    from stylegan_eval.engine import collect

    def fn(i):
        return {"distance": i.double()}

    for outs, match in (({"dist": torch.arange(4.0)}, "outputs"), ({"distance": torch.zeros(4, 2)}, "per sample")):
        state.save(0, idx[:2], {k: v[:2] for k, v in outs.items()})
        with pytest.raises(DamagedPartial, match=match):
            collect(fn, 4, 2, state=state, show_progress=False)
    state.save(0, idx, {"dist": torch.arange(4.0)})  # every sample resumed: nothing recomputed to compare with
    with pytest.raises(DamagedPartial, match="not 'distance'"):
        collect(fn, 4, 2, state=state, show_progress=False)["distance"]


def _lock_child(out: Path, start: int) -> int:
    """In a forked child: wait for the start signal, take the lock, and prove nobody else is inside."""
    from stylegan_eval.errors import UserError
    from stylegan_eval.fileio import out_lock

    os.read(start, 1)
    try:
        with out_lock(out):
            os.close(os.open(out / "inside", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            time.sleep(0.002)
            os.unlink(out / "inside")
            return 1
    except UserError:
        return 2
    except FileExistsError:  # two holders at once
        return 3
    except BaseException:  # noqa: BLE001 - anything else the parent reports
        return 4


def test_out_lock_holder_before_it_wrote_its_pid(tmp_path):
    """A holder that has the lock but has not yet written its PID (an empty file) is not 'stale'."""
    import fcntl

    from stylegan_eval.errors import UserError
    from stylegan_eval.fileio import LOCK_NAME, out_lock

    fd = os.open(tmp_path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)  # this process's other descriptor: a separate lock
    try:
        with pytest.raises(UserError, match="in use by another stylegan-eval run"):
            with out_lock(tmp_path):
                pass
        assert (tmp_path / LOCK_NAME).exists()  # not removed as stale
    finally:
        os.close(fd)
    with out_lock(tmp_path):  # released: taken
        assert (tmp_path / LOCK_NAME).read_text().split()[0] == str(os.getpid())


@pytest.mark.slow
def test_out_lock_is_exclusive(tmp_path):
    """4 processes released at once take the --out lock 100 times: never two holders at a time."""
    out = tmp_path / "out"
    out.mkdir()
    outcomes: dict[int, int] = {}
    for _ in range(100):
        r, w = os.pipe()
        pids = []
        for _ in range(4):
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child
                os._exit(_lock_child(out, r))
            pids.append(pid)
        os.write(w, b"go!!")
        for pid in pids:
            code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
            outcomes[code] = outcomes.get(code, 0) + 1
        os.close(r)
        os.close(w)
    assert set(outcomes) <= {1, 2} and outcomes.get(1, 0) >= 100, outcomes
    assert not list(out.iterdir())


def test_umask_permissions(tmp_path):
    from stylegan_eval.fileio import atomic_write
    from stylegan_eval.formats import load_generator
    from stylegan_eval.formats import safetensors_file as stf

    old = os.umask(0o022)
    try:
        mode = stat.S_IMODE(atomic_write(tmp_path / "r.json", "{}").stat().st_mode)
        converted = stat.S_IMODE(stf.write(load_generator("demo"), tmp_path / "g.safetensors").stat().st_mode)
        os.umask(0o002)
        mode2 = stat.S_IMODE(atomic_write(tmp_path / "s.json", "{}").stat().st_mode)
    finally:
        os.umask(old)
    assert (mode, mode2, converted) == (0o644, 0o664, 0o644)


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
    from stylegan_eval.errors import UserError
    from stylegan_eval.metrics import features, stats_cache
    from stylegan_eval.metrics.features import decode_image
    from stylegan_eval.metrics.stats_cache import FeatureStats, ImageSource, StatsFileError, load_stats

    v = np.array([[0, 300, 1000, 40000, 65535]], dtype=np.uint16)
    assert decode_image(png16(v))[:, 0].tolist() == [np.rint(v[0] / 257).astype(int).tolist()] * 3  # not white
    with pytest.raises(ValueError, match="16-bit"):
        decode_image(png16(np.stack([v, v, v], axis=-1)))
    with pytest.raises(ValueError, match="cannot identify the image format") as exc:
        decode_image(b"not an image at all")
    assert "object at 0x" not in str(exc.value)
    # one pixel limit, ours, whichever of Pillow's thresholds an image passes (15000^2 > Pillow's error one)
    big = bytearray(png16(np.zeros((1, 1), np.uint16)))
    big[16:24] = struct.pack(">II", 15000, 15000)
    big[29:33] = struct.pack(">I", zlib.crc32(bytes(big[12:29])) & 0xFFFFFFFF)
    with pytest.raises(ValueError, match=f"225000000 pixels exceeds the {features.MAX_IMAGE_PIXELS}-pixel limit"):
        decode_image(bytes(big))
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
    # entries whose stored bytes overlap (one stream inflated once per entry) are refused from the directory
    with pytest.raises(UserError, match="entries overlap"):
        ImageSource(overlapping_zip(tmp_path / "overlap.zip", "a.png", "b.png"))
    # the remembered digests of a dataset: an edit that keeps the size and restores the mtime is seen
    from stylegan_eval.fileio import remembered_sha256

    img = _png(tmp_path / "img.png")
    st = img.stat()
    (before,), _ = remembered_sha256([img], ["img.png"], tmp_path / "index.json")
    _png(img, seed=1)  # same size, other pixels
    os.utime(img, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert img.stat().st_size == st.st_size
    (after,), read = remembered_sha256([img], ["img.png"], tmp_path / "index.json")
    assert read == 1 and after != before
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


CONFIG_TEXT = 'seed = 3\ndevice = "cpu"\n[info]\nquiet = true\n[ppl]\nnum-samples = 8\nspace = "w"\n'


def _safetensors_base(folder: Path, config_only: bool) -> Path:
    from nvidia_utils import write_snapshot

    from stylegan_eval.formats import load_generator
    from stylegan_eval.formats import safetensors_file as stf

    path = stf.write(load_generator(write_snapshot(folder / "st-src.pkl")), folder / "g.safetensors")
    if not config_only:
        return path
    (folder / "config.json").write_text(stf.read_header(path)["__metadata__"][stf.META_CONFIG])
    return folder / "config.json"  # the config text alone is mutated (and re-embedded)


def _tf_classifier_base(folder: Path) -> Path:
    from tf_utils import reference_variables, write_tf_pickle

    small = dict(resolution=32, fmap_base=64, fmap_max=16)  # a 32 px classifier, 16 feature maps at most
    return write_tf_pickle(
        folder / "clf.pkl", reference_variables(**small, seed=1), dict(num_channels=3, label_size=0, **small)
    )


def _torch_base(folder: Path, name: str, obj) -> Path:
    torch.save(obj, folder / name)
    return folder / name


def _partial_base(folder: Path) -> Path:
    from stylegan_eval.engine import ResumeState

    state = ResumeState(folder, "ppl", {"x": 1}, save_every=0)
    state.save(0, torch.arange(6), {"distance": torch.linspace(0, 1, 6, dtype=torch.float64)})
    return state.path(0)


def _text_base(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _lucidrains_base(folder: Path, config_only: bool) -> Path:
    path = lucidrains_variant(folder, "base", config=json.dumps({"image_size": 16, "lr_mlp": 0.2}))
    return path.parent / ".config.json" if config_only else path


def _base_file(family: str, folder: Path) -> Path:
    """The unmutated file of ``family`` (small and valid: it must load), written in ``folder``."""
    from nvidia_utils import write_sg3_snapshot, write_snapshot
    from sg1_utils import save_checkpoint
    from sg2_utils import make_rosinality_checkpoint
    from tf_utils import write_sg1_pickle, write_sg2_pickle
    from third_party_utils import sg2torch_state

    from stylegan_eval.metrics.stats_cache import FeatureStats

    folder.mkdir(parents=True, exist_ok=True)
    builders = {
        "sg2": lambda: make_rosinality_checkpoint(folder / "sg2.pt"),
        "sg1": lambda: save_checkpoint(folder / "sg1.model", layout="bare", trained_up_to=2, legacy=True)[0],
        "nvidia": lambda: write_snapshot(folder / "nvidia.pkl"),
        "nvidia_sg3": lambda: write_sg3_snapshot(folder / "nvidia_sg3.pkl"),
        "tf_sg1": lambda: write_sg1_pickle(folder / "tf_sg1.pkl"),
        "tf_sg2": lambda: write_sg2_pickle(folder / "tf_sg2.pkl"),
        "tf_classifier": lambda: _tf_classifier_base(folder),
        "safetensors": lambda: _safetensors_base(folder, config_only=False),
        "safetensors_config": lambda: _safetensors_base(folder, config_only=True),
        "lucidrains": lambda: _lucidrains_base(folder, config_only=False),
        "lucidrains_config": lambda: _lucidrains_base(folder, config_only=True),
        "stylegan2_torch": lambda: _torch_base(folder, "generator.pt", sg2torch_state()),
        "stats_npz": lambda: FeatureStats(np.arange(8.0), np.eye(8), 12).save(folder / "stats.npz"),
        "stats_pkl": lambda: stats_pickle(folder / "stats.pkl", np.arange(8.0)),
        "partial": lambda: _partial_base(folder),
        "samples": lambda: samples_variant(folder, "base"),
        "config": lambda: _text_base(folder / "stylegan-eval.toml", CONFIG_TEXT),
    }
    return builders[family]()


#: Mutations per family in the full (slow) fuzz; the default run takes a few of two families.
FUZZ_COUNTS = {
    "sg2": 60, "sg1": 60, "nvidia": 50, "nvidia_sg3": 40, "tf_sg1": 40, "tf_sg2": 40, "tf_classifier": 40,
    "safetensors": 50, "safetensors_config": 50, "lucidrains": 40, "lucidrains_config": 40,
    "stylegan2_torch": 40, "stats_npz": 40, "stats_pkl": 40, "partial": 40, "samples": 40, "config": 50,
}  # fmt: skip
FAST_FUZZ = {"partial": 4, "config": 4}


def _user_error_outcome(fn, err: io.StringIO) -> int:
    """0 when ``fn()`` returns, 2 for a UserError (its one line written to ``err``), 1 otherwise."""
    from stylegan_eval.errors import UserError

    try:
        fn()
    except UserError as exc:
        err.write(f"stylegan-eval: error: {exc}\n")
        return 2
    except BaseException as exc:  # noqa: BLE001 - what the fuzz counts as a failure
        err.write(f"Traceback (not a UserError): {type(exc).__name__}: {str(exc)[:300]}\n")
        return 1
    return 0


def _run_family(family: str, path: Path, err: io.StringIO) -> int:
    """Feed the (mutated) file at ``path`` to the reader ``family`` uses; the exit code it gives."""
    from stylegan_eval.classifiers.tf_pickle import load_tf_classifier
    from stylegan_eval.cli import main
    from stylegan_eval.engine import _read_partial
    from stylegan_eval.metrics.separability import SeparabilitySamples

    if family.startswith("stats"):
        return _load_stats_outcome(path, err)
    if family == "partial":
        return _user_error_outcome(lambda: _read_partial(path), err)
    if family == "samples":
        return _user_error_outcome(lambda: SeparabilitySamples.load(path), err)
    if family == "tf_classifier":
        return _user_error_outcome(lambda: load_tf_classifier(path), err)
    if family == "config":
        argv = ["--config", str(path), "info", "demo"]
    elif family == "lucidrains_config":
        argv = ["--no-config", "info", str(path.parent / "model_0.pt"), "--device", "cpu", "--quiet"]
    else:
        argv = ["--no-config", "info", str(path), "--device", "cpu", "--quiet"]
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        return main(argv)


def _mutant(family: str, blob: bytes, rng: random.Random, kind: str) -> bytes:
    if kind == "swap" and family == "sg2":
        return _zip_member_mutation(blob, rng)
    return _mutate(blob, rng, kind)


def _place(family: str, base: Path, data: bytes, folder: Path, n: int) -> Path:
    """Write the mutated bytes where the reader of ``family`` will find them; returns the path to read."""
    if family == "safetensors_config":
        from safetensors.torch import load_file, save_file

        from stylegan_eval.formats import safetensors_file as stf

        good = folder / "g.safetensors"
        meta = stf.read_header(good)["__metadata__"]
        out = folder / f"m-{n}.safetensors"
        save_file(load_file(good), out, metadata={**meta, stf.META_CONFIG: data.decode("utf-8", "replace")})
        return out
    if family in ("lucidrains_config", "partial", "config"):
        base.write_bytes(data)  # read from its fixed place (beside the model, the partial's name, the config name)
        return base
    out = folder / f"m-{family}-{n}{base.suffix}"
    out.write_bytes(data)
    return out


def fuzz_main(folder: Path, counts: dict[str, int]) -> dict:
    """Run every mutation of the families in ``counts`` in this process: outcome counts per family,
    the failures (exit 1, a traceback or more than one error line), and the peak RSS."""
    torch.set_num_threads(1)
    outcomes: dict[str, dict[str, int]] = {}
    failures: list[str] = []
    kinds = ["flip", "truncate", "insert", "swap"]
    for family, count in counts.items():
        rng = random.Random(1000 + sorted(FUZZ_COUNTS).index(family))
        sub = folder / family
        base = _base_file(family, sub)
        blob = base.read_bytes()
        fam = outcomes.setdefault(family, {})
        for n in range(-1, count):
            kind = kinds[n % len(kinds)] if n >= 0 else "none"
            data = blob if n < 0 else _mutant(family, blob, rng, kind)
            path = _place(family, base, data, sub, n)
            err = io.StringIO()
            code = _run_family(family, path, err)
            lines = [
                ln
                for ln in err.getvalue().splitlines()
                if ln.strip() and not ln.startswith(("stylegan-eval: warning", "stylegan-eval: load warning"))
            ]
            bad = code not in (0, 2) or "Traceback" in err.getvalue() or (code == 2 and len(lines) != 1)
            if bad:
                failures.append(f"{family} #{n} ({kind}): exit {code}: {err.getvalue()[-600:]}")
            if n < 0:
                if code != 0:
                    failures.append(f"{family}: the unmutated file does not load ({err.getvalue()[-300:]})")
                continue
            key = f"{kind}:exit{code}{'_bad' if bad else ''}"
            fam[key] = fam.get(key, 0) + 1
        base.write_bytes(blob)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"outcomes": outcomes, "failures": failures, "peak_rss_mb": round(peak, 1)}


def _fuzz_subprocess(tmp_path: Path, counts: dict[str, int], name: str) -> dict:
    r = subprocess.run(
        [sys.executable, str(Path(__file__)), "fuzz", str(tmp_path / name), json.dumps(counts)],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=900,
        preexec_fn=_limit_memory,
        cwd=tmp_path,
        check=False,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_fuzz_representative(tmp_path):
    """The fuzz machinery on a few mutations of two families (the full fuzz is test_fuzz_loaders)."""
    report = _fuzz_subprocess(tmp_path, FAST_FUZZ, "fast")
    assert sum(sum(c.values()) for c in report["outcomes"].values()) == sum(FAST_FUZZ.values())
    assert not report["failures"], "\n".join(report["failures"])


@pytest.mark.slow
def test_fuzz_loaders(tmp_path):
    """Seeded mutations of every format the toolkit reads, one memory-limited process per format:
    exit 0 or exit 2 with one line, never a traceback; the peak RSS of each is printed."""
    summary, failures = {}, []
    for family, count in FUZZ_COUNTS.items():
        report = _fuzz_subprocess(tmp_path, {family: count}, family)
        got = report["outcomes"][family]
        assert sum(got.values()) == count, (family, got)
        failures += report["failures"]
        exit0 = sum(v for k, v in got.items() if k.endswith("exit0"))
        summary[family] = {
            "mutations": count,
            "exit0": exit0,
            "exit2": count - exit0,
            "peak_rss_mb": report["peak_rss_mb"],
        }
    print("fuzz:", sum(FUZZ_COUNTS.values()), "mutations", json.dumps(summary, indent=1))
    assert not failures, "\n".join(failures)


# ------------------------------------------------------------------------------ SIGKILL and resume
@pytest.mark.slow
def test_sigkill_then_resume_equals_uninterrupted(cli, tmp_path, monkeypatch, one_thread_test):
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
    code, stdout, err = cli(*cmd(fresh, "--json")[3:])  # one thread, as the subprocess
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
    parser.add_argument("mode", choices=["fuzz", "table"])
    parser.add_argument("folder", type=Path)
    parser.add_argument("counts", nargs="?", default=json.dumps(FUZZ_COUNTS), help="fuzz: {family: mutations}")
    a = parser.parse_args()
    sys.path.insert(0, str(TESTS))
    print(json.dumps(fuzz_main(a.folder, json.loads(a.counts)) if a.mode == "fuzz" else table_main(a.folder)))
