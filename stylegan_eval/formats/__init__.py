"""Checkpoint loaders: autodetect a file's family and adapt it to :class:`~stylegan_eval.generator.Generator`.

Each family lives in its own module exposing

- ``NAME``: the ``--format`` name,
- ``detect(obj) -> bool``: whether an object read by :func:`read_checkpoint` is of this family,
- ``load(obj, path, **options) -> Generator``.

Files are read without executing code: PyTorch files with ``torch.load(weights_only=True)``,
NVIDIA pickles with a restricted unpickler (:mod:`.safe_pickle`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError
from ..fileio import sha256_file  # noqa: F401 - the checkpoint hash of reports
from ..generator import Generator
from ..warnings_capture import captured_warnings

#: --format name -> module implementing it, in autodetection order.
FORMAT_MODULES = {
    "nvidia-pkl": "stylegan_eval.formats.nvidia_pickle",
    "stylegan2-rosinality": "stylegan_eval.formats.rosinality_sg2",
    "stylegan1-rosinality": "stylegan_eval.formats.rosinality_sg1",
}
FORMAT_NAMES = tuple(FORMAT_MODULES) + ("custom",)


@dataclass
class RawCheckpoint:
    """What was read from a file before its family is known.

    kind: 'torch' (a torch.save file read with weights_only) or 'pickle' (a plain pickle stream,
    e.g. NVIDIA's network pickles, not yet unpickled).
    """

    path: Path
    kind: str
    obj: Any = None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def check_file(path: str | os.PathLike, what: str = "checkpoint") -> Path:
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such file (expected a StyleGAN {what})")
    if p.is_dir():
        raise CheckpointError(f"{p}: is a directory (expected a StyleGAN {what} file)")
    if p.stat().st_size == 0:
        raise CheckpointError(f"{p}: empty file (expected a StyleGAN {what})")
    return p


def safe_torch_load(path: str | os.PathLike) -> Any:
    """torch.load with ``weights_only=True``; rosinality's argparse.Namespace is allow-listed.

    Raises CheckpointError (one line, naming the file) for anything that is not a readable,
    code-free torch checkpoint.
    """
    p = check_file(path)
    try:
        with torch.serialization.safe_globals([argparse.Namespace]), captured_warnings():
            obj = torch.load(p, map_location="cpu", weights_only=True)
    except MemoryError:
        raise CheckpointError(f"{p}: refused to load: the checkpoint asks for more memory than available") from None
    except pickle.UnpicklingError as exc:
        raise CheckpointError(
            f"{p}: refused to load: the file needs code execution or objects outside the allowed "
            f"set ({_short(exc)})"
        ) from None
    except Exception as exc:  # truncated zips, garbage bytes, ...
        raise CheckpointError(f"{p}: not a readable PyTorch checkpoint ({_short(exc)})") from None
    check_tensor_storage(obj, p)
    return obj


def check_tensor_storage(obj: Any, path: Any, _depth: int = 0) -> None:
    """Raise CheckpointError if a tensor in ``obj`` (dicts, lists, tuples, Namespaces) needs more
    bytes than its storage holds: a stride-0 ``expand`` of a 1-element storage to 200000x200000
    would otherwise be materialised (160 GB) by the first copy."""
    from .safe_pickle import storage_problem

    if _depth > 64:
        raise CheckpointError(f"{path}: checkpoint nested too deeply")
    if isinstance(obj, torch.Tensor):
        problem = storage_problem(obj.numel(), obj.element_size(), obj.untyped_storage().nbytes())
        if problem:
            raise CheckpointError(f"{path}: refused {problem}")
        return
    if isinstance(obj, dict):
        items: Any = obj.values()
    elif isinstance(obj, (list, tuple)):
        items = obj
    elif isinstance(obj, argparse.Namespace):
        items = vars(obj).values()
    else:
        return
    for v in items:
        check_tensor_storage(v, path, _depth + 1)


def read_checkpoint(path: str | os.PathLike) -> RawCheckpoint:
    """Read a file far enough to know what it holds, without executing anything."""
    p = check_file(path)
    with open(p, "rb") as f:
        head = f.read(2)
    if zipfile.is_zipfile(p):
        try:
            names = zipfile.ZipFile(p).namelist()
        except zipfile.BadZipFile as exc:
            raise CheckpointError(f"{p}: damaged zip file ({_short(exc)})") from None
        if not any(n.endswith("data.pkl") for n in names):
            raise CheckpointError(
                f"{p}: a zip archive but not a PyTorch checkpoint (no data.pkl inside); "
                "expected a .pt/.model/.pkl StyleGAN checkpoint"
            )
        return RawCheckpoint(p, "torch", safe_torch_load(p))
    if head == b"PK":
        raise CheckpointError(f"{p}: not a readable PyTorch checkpoint (truncated or damaged zip file)")
    if head[:1] != b"\x80":
        raise CheckpointError(f"{p}: not a checkpoint (neither a torch zip file nor a pickle stream)")
    # A legacy (pre-zip) torch.save file starts with a pickled magic number; a network pickle
    # starts with the pickled object itself. NVIDIA pickles name their persistence module.
    with open(p, "rb") as f:
        blob = f.read(8 << 20)
    if b"torch_utils.persistence" in blob or b"dnnlib" in blob:
        return RawCheckpoint(p, "pickle")
    return RawCheckpoint(p, "torch", safe_torch_load(p))


def check_state_dict(net: torch.nn.Module, sd: dict[str, Any], path: Any, what: str) -> None:
    """Raise CheckpointError (one line) unless ``sd`` has exactly ``net``'s keys and shapes.

    ``what`` names the expected network in the message ("a rosinality StyleGAN2 generator").
    """
    expected = net.state_dict()
    missing = [k for k in expected if k not in sd]
    unexpected = [k for k in sd if k not in expected]
    wrong = [
        f"{k} {list(sd[k].shape)} (expected {list(v.shape)})"
        for k, v in expected.items()
        if k in sd and (not isinstance(sd[k], torch.Tensor) or sd[k].shape != v.shape)
    ]
    problems = []
    for kind, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", wrong)):
        if items:
            more = f" (+{len(items) - 4} more)" if len(items) > 4 else ""
            problems.append(f"{kind}: {', '.join(map(str, items[:4]))}{more}")
    if problems:
        raise CheckpointError(f"{path}: does not match {what}: {'; '.join(problems)}")


def _module(name: str):
    return importlib.import_module(FORMAT_MODULES[name])


def detect_format(raw: RawCheckpoint) -> str:
    for name in FORMAT_MODULES:
        if _module(name).detect(raw):
            return name
    if raw.kind == "torch" and isinstance(raw.obj, dict):
        keys = ", ".join(sorted(map(str, raw.obj))[:8])
        raise CheckpointError(
            f"{raw.path}: unknown checkpoint family (top-level keys: {keys}); expected a "
            "rosinality StyleGAN1 .model, rosinality StyleGAN2 .pt (g_ema) or NVIDIA .pkl; "
            "use --format or --generator module:attr"
        )
    raise CheckpointError(f"{raw.path}: unknown checkpoint family; use --format or --generator module:attr")


def load_generator(
    path: str | os.PathLike | None = None,
    format: str | None = None,
    generator_spec: str | None = None,
    device: str | torch.device = "cpu",
    **options: Any,
) -> Generator:
    """Load any supported checkpoint as a :class:`Generator` in eval mode on ``device``.

    Args:
        path: checkpoint file (may be None with ``generator_spec``).
        format: one of :data:`FORMAT_NAMES`; autodetected when None.
        generator_spec: ``package.module:attr`` of a user's generator (see :mod:`.custom`).
        device: where to put the generator.
        options: family-specific options, e.g. ``resolution`` for StyleGAN1.
    """
    if generator_spec is not None or format == "custom":
        from . import custom

        if generator_spec is None:
            raise CheckpointError("--format custom needs --generator package.module:attr")
        gen = custom.load(generator_spec, path, **options)
    else:
        if path is None:
            raise CheckpointError("no checkpoint given (expected a path, or --generator module:attr)")
        raw = read_checkpoint(path)
        if format is None:
            format = detect_format(raw)
        elif format not in FORMAT_MODULES:
            raise CheckpointError(f"--format must be one of {', '.join(FORMAT_NAMES)}, got {format!r}")
        module = _module(format)
        if not module.detect(raw):
            raise CheckpointError(f"{raw.path}: does not look like a {format} checkpoint")
        gen = module.load(raw, **options)
    return gen.eval().requires_grad_(False).to(device)
