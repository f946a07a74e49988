"""Checkpoint loaders: autodetect a file's family and adapt it to :class:`~stylegan_eval.generator.Generator`.

Each family lives in its own module (:data:`FORMAT_MODULES`) providing what
:class:`FormatModule` states:

- ``NAME``: the ``--format`` name,
- ``detect(raw) -> bool``: whether a :class:`RawCheckpoint` read by :func:`read_checkpoint` is
  of this family,
- ``load(raw, **options) -> Generator``: the generator, with family options such as ``resolution``.

``--generator module:attr`` generators (:mod:`.custom`) are loaded from code, not detected in a
file; checkpoint references as the CLI and the API take them (``demo``, ``nvidia:<name>``,
``FILE::module:attr``) are parsed by :mod:`.refs`.

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
from typing import Any, Protocol, cast

import torch

from .. import hub
from ..errors import CheckpointError
from ..fileio import sha256_file  # noqa: F401 - the checkpoint hash of reports
from ..generator import Generator
from ..warnings_capture import captured_warnings
from .checks import check_file, check_state_dict  # noqa: F401 - shared by the format modules

#: --format name -> module implementing it, in autodetection order.
FORMAT_MODULES = {
    # TF pickles first: their detection only claims G_style / G_main generator pickles.
    "stylegan1-tf": "stylegan_eval.formats.stylegan1_tf",
    "stylegan2-tf": "stylegan_eval.formats.stylegan2_tf",
    "nvidia-pkl": "stylegan_eval.formats.nvidia_pickle",
    "stylegan2-rosinality": "stylegan_eval.formats.rosinality_sg2",
    "stylegan1-rosinality": "stylegan_eval.formats.rosinality_sg1",
    "stylegan2-torch": "stylegan_eval.formats.stylegan2_torch",
    "stylegan2-lucidrains": "stylegan_eval.formats.lucidrains",
    "safetensors": "stylegan_eval.formats.safetensors_file",
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


class FormatModule(Protocol):
    """What a checkpoint format module (an entry of :data:`FORMAT_MODULES`) provides."""

    NAME: str

    def detect(self, raw: RawCheckpoint) -> bool:
        """Whether ``raw`` holds a checkpoint of this family (cheap; never raises for other families)."""
        ...

    def load(self, raw: RawCheckpoint, **options: Any) -> Generator:
        """The generator stored in ``raw`` (CheckpointError, one line, for a damaged file of this family)."""
        ...


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


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
            f"{p}: refused to load: the file needs code execution or objects outside the allowed set ({_short(exc)})"
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


#: Largest entry of a torch zip checkpoint (weights, optimiser states): far above any generator.
MAX_ZIP_ENTRY_BYTES = 1 << 36


def read_checkpoint(path: str | os.PathLike) -> RawCheckpoint:
    """Read a file far enough to know what it holds, without executing anything."""
    p = check_file(path)
    with open(p, "rb") as f:
        head = f.read(2)
    if zipfile.is_zipfile(p):
        from ..checks import zip_problem

        try:
            with zipfile.ZipFile(p) as zf:
                names = zf.namelist()
                problem = zip_problem(zf, MAX_ZIP_ENTRY_BYTES, 2 * MAX_ZIP_ENTRY_BYTES)
        except (zipfile.BadZipFile, ValueError, EOFError) as exc:  # ValueError: undecodable entry names
            raise CheckpointError(f"{p}: damaged zip file ({_short(exc)})") from None
        if problem is not None:  # from the zip directory, before torch reads a byte of it
            raise CheckpointError(f"{p}: refused zip archive: {problem}")
        if not any(n.endswith("data.pkl") for n in names):
            raise CheckpointError(
                f"{p}: a zip archive but not a PyTorch checkpoint (no data.pkl inside); "
                "expected a .pt/.model/.pkl StyleGAN checkpoint"
            )
        return RawCheckpoint(p, "torch", _load_or_name_code(p))
    from .safetensors_file import is_safetensors

    if is_safetensors(p):
        return RawCheckpoint(p, "safetensors")
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
    return RawCheckpoint(p, "torch", _load_or_name_code(p))


def _module(name: str) -> FormatModule:
    return cast(FormatModule, importlib.import_module(FORMAT_MODULES[name]))


# ------------------------------------------------------------------ files that need code
#: Roots of the globals torch's weights_only unpickler (and our allow-list) accepts.
_DATA_ROOTS = ("torch", "collections", "builtins", "_codecs", "numpy", "argparse", "copyreg")
MAX_PICKLE_SCAN = 64 << 20


def _pickle_globals(data: bytes, limit: int = 8) -> list[str]:
    """'module.name' of the GLOBAL / STACK_GLOBAL references in the pickle stream(s) ``data``, never executing it."""
    import io
    import pickletools

    found: list[str] = []
    stream = io.BytesIO(data)
    strings: list[str] = []
    while stream.tell() < len(data) and len(found) < limit:
        try:
            for op, arg, _ in pickletools.genops(stream):
                if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8"):
                    strings = [*strings[-1:], str(arg)]
                elif op.name == "GLOBAL":
                    found.append(str(arg).replace(" ", "."))
                elif op.name == "STACK_GLOBAL" and len(strings) == 2:
                    found.append(f"{strings[0]}.{strings[1]}")
        except Exception:  # noqa: BLE001 - a damaged stream: report what was found so far
            break
    return found


def code_globals(path: Path) -> list[str]:
    """Globals outside plain data (classes / functions of some package) that a torch file references."""
    data = b""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                name = next((n for n in zf.namelist() if n.endswith("data.pkl")), None)
                if name is not None and zf.getinfo(name).file_size <= MAX_PICKLE_SCAN:
                    data = zf.read(name)
        else:
            with open(path, "rb") as f:
                data = f.read(MAX_PICKLE_SCAN)
    except (OSError, zipfile.BadZipFile, ValueError, EOFError):
        return []
    out = []
    for g in _pickle_globals(data, limit=256):
        if g.split(".")[0] not in _DATA_ROOTS and g not in out:
            out.append(g)
    return out


def _load_or_name_code(p: Path) -> Any:
    """:func:`safe_torch_load`; a file that needs code is refused naming the package and the global in full."""
    try:
        return safe_torch_load(p)
    except CheckpointError:
        needed = code_globals(p)
        if not needed:
            raise
        package = needed[0].split(".")[0]
        more = f" (and {len(needed) - 1} more)" if len(needed) > 1 else ""
        raise CheckpointError(
            f"{p}: refused to load: the file stores Python objects of package {package!r} (global {needed[0]}{more}), "
            f"and code is never run from a checkpoint; write a --generator module:attr adapter that imports {package} "
            "and loads the file"
        ) from None


# ------------------------------------------------------------------ named refusals
_ROSINALITY_SG2_KEYS = ("style.1.weight", "input.input", "conv1.conv.weight", "to_rgb1.conv.weight")


def _known_refusal(raw: RawCheckpoint) -> str | None:
    """A one-line message for recognised formats that have no built-in loader, else None."""
    obj = raw.obj
    if not isinstance(obj, dict):
        return None
    keys = {str(k) for k in obj}
    if "generator_smooth" in keys or (isinstance(obj.get("models"), dict) and "generator_smooth" in obj["models"]):
        return (
            f"{raw.path}: a genforce / InterFaceGAN / SeFa checkpoint ('generator_smooth'); its networks are "
            "genforce's own and have no built-in loader: use --generator module:attr with genforce's code"
        )
    sd = obj.get("state_dict")
    if isinstance(sd, dict) and any(str(k).startswith(("generator_ema.", "generator.")) for k in sd):
        return (
            f"{raw.path}: an MMGeneration checkpoint ('state_dict' with generator/generator_ema); it has no "
            "built-in loader: use --generator module:attr with mmgen's StyleGAN2 code, or convert it to rosinality's .pt"
        )
    if "g_ema" in keys and isinstance(obj["g_ema"], dict):
        inner = {str(k).removeprefix("module.") for k in obj["g_ema"]}
        missing = [k for k in _ROSINALITY_SG2_KEYS if k not in inner]
        sample = ", ".join(sorted(inner)[:6]) or "none"
        return (
            f"{raw.path}: has 'g_ema', but its keys are not rosinality StyleGAN2's (missing {', '.join(missing)}; "
            f"it has e.g. {sample}); use --format or --generator module:attr"
        )
    return None


def detect_format(raw: RawCheckpoint) -> str:
    for name in FORMAT_MODULES:
        if _module(name).detect(raw):
            return name
    refusal = _known_refusal(raw) if raw.kind == "torch" else None
    if refusal is not None:
        raise CheckpointError(refusal)
    if raw.kind == "torch" and isinstance(raw.obj, dict):
        keys = ", ".join(sorted(map(str, raw.obj))[:8])
        raise CheckpointError(
            f"{raw.path}: unknown checkpoint family (top-level keys: {keys}); expected a "
            "rosinality StyleGAN1 .model, rosinality StyleGAN2 .pt (g_ema), NVIDIA .pkl, a stylegan2-torch state "
            "dict or a lucidrains stylegan2-pytorch model_N.pt ({'GAN', 'version'}); "
            "use --format or --generator module:attr"
        )
    raise CheckpointError(f"{raw.path}: unknown checkpoint family; use --format or --generator module:attr")


def load_generator(
    path: str | os.PathLike | None = None,
    format: str | None = None,
    generator_spec: str | None = None,
    device: str | torch.device = "cpu",
    generator_args: dict[str, Any] | None = None,
    **options: Any,
) -> Generator:
    """Load any supported checkpoint as a :class:`Generator` in eval mode on ``device``.

    Args:
        path: checkpoint file (may be None with ``generator_spec``); the word ``"demo"`` (when
            no such file exists) names the embedded demo generator (:mod:`stylegan_eval.demo`).
        format: one of :data:`FORMAT_NAMES`; autodetected when None.
        generator_spec: ``package.module:attr`` of a user's generator (see :mod:`.custom`).
        device: where to put the generator.
        generator_args: keyword arguments for a ``generator_spec`` class or factory
            (``--generator-arg key=value``, see :func:`.custom.parse_generator_args`).
        options: family-specific options, e.g. ``resolution`` for StyleGAN1.
    """
    source = None
    if path is not None and hub.is_hub_ref(path):  # the cached/downloaded file, loaded like a local one
        found = hub.resolve(str(path))
        path, source = found.path, found.info()
    gen = _load_any(path, format, generator_spec, device, generator_args, **options)
    if source is not None:  # the commit and sha256 enter every fingerprint (generator_digest) and report
        object.__setattr__(gen, "hub_source", source)
        object.__setattr__(gen, "identity", {**(getattr(gen, "identity", None) or {}), "hub": source})
    return gen.eval().requires_grad_(False).to(device)


def _load_any(
    path: str | os.PathLike | None,
    format: str | None,
    generator_spec: str | None,
    device: str | torch.device,
    generator_args: dict[str, Any] | None,
    **options: Any,
) -> Generator:
    """load_generator's body for a local ``path`` (or a name): a generator from code, or a checkpoint format."""
    if generator_spec is not None or format == "custom":
        from . import custom

        if generator_spec is None:
            raise CheckpointError("--format custom needs --generator package.module:attr")
        gen = custom.load(generator_spec, path, generator_args=generator_args, **options)
        gen = gen.eval().requires_grad_(False).to(device)
        custom.validate(gen, f"--generator {generator_spec!r}")  # the contract, checked on its device
        # what every result fingerprint, resume key and sample-reuse key says about this generator
        # (its adapter files' hashes: a changed adapter never resumes another's partial results)
        checkpoint = path if path is not None and Path(path).is_file() else None
        object.__setattr__(gen, "identity", custom.generator_identity(generator_spec, checkpoint, gen))
        return gen
    else:
        if path is None:
            raise CheckpointError("no checkpoint given (expected a path, or --generator module:attr)")
        from .official import resolve
        from .refs import resolve_demo

        path = resolve_demo(path)

        path = resolve(path)
        raw = read_checkpoint(path)
        if format is None:
            format = detect_format(raw)
        elif format not in FORMAT_MODULES:
            raise CheckpointError(f"--format must be one of {', '.join(FORMAT_NAMES)}, got {format!r}")
        module = _module(format)
        if not module.detect(raw):
            raise CheckpointError(f"{raw.path}: does not look like a {format} checkpoint")
        if generator_args:
            raise CheckpointError(f"generator arguments {sorted(generator_args)} need --generator module:attr")
        try:
            gen = module.load(raw, **options)
        except (ArithmeticError, TypeError, ValueError, IndexError, KeyError) as exc:
            # sizes or hyper-parameters no network can be built from (a zero-size dimension, a
            # string where a number belongs) that the family's own checks did not name
            raise CheckpointError(
                f"{raw.path}: not a usable {format} generator ({type(exc).__name__}: {_short(exc)})"
            ) from None
        from ..demo import ASSETS, GENERATOR_FILE

        if Path(path).resolve() == (ASSETS / GENERATOR_FILE).resolve():  # reports say "demo", not a face model
            object.__setattr__(gen, "is_demo", True)
    return gen.eval().requires_grad_(False).to(device)
