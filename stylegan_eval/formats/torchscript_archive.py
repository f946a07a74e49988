"""Read the parameters of a TorchScript archive without loading (or running) its code.

A ``torch.jit.save`` file is a zip archive: ``<name>/data.pkl`` pickles the module tree (each
module an object of a ``__torch__.*`` class whose state is a dict of attributes), tensors live
in ``<name>/data/<key>`` as raw little-endian bytes, and ``<name>/code/`` holds the TorchScript
source that ``torch.jit.load`` would compile and run. Here only ``data.pkl`` and the tensor
entries are read: ``__torch__.*`` classes become inert records, every other global goes through
:class:`~.safe_pickle.RestrictedUnpickler`'s allow-list, and each tensor entry's size is checked
against the zip directory (and the size the pickle announces) before a byte is read.

The result is a flat ``{dotted.attribute.path: tensor}`` mapping plus each module's class name;
a key-mapping converter turns it into a network of this package (see
:mod:`stylegan_eval.metrics.inception_layout`).
"""

from __future__ import annotations

import os
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError, UnsafePickleError
from .safe_pickle import FrozenType, RestrictedUnpickler, SafeCallable

#: Largest archive read (bytes of tensor data); the published detectors are under 600 MB.
MAX_TENSOR_BYTES = 2 << 30
#: Deepest module nesting followed when flattening.
MAX_DEPTH = 32

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64,
    "IntStorage": torch.int32,
    "ShortStorage": torch.int16,
    "CharStorage": torch.int8,
    "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


class ScriptRecord:
    """An inert stand-in for one TorchScript module object: its class name and attribute dict."""

    qualname = "?"

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise pickle.UnpicklingError(f"{self.qualname}: module state must be a dict, got {type(state).__name__}")
        self.state = state


def _int_list(values: Any) -> list[int]:
    if not isinstance(values, (list, tuple)) or not all(isinstance(v, int) for v in values):
        raise pickle.UnpicklingError("build_intlist expects a list of ints")
    return list(values)


class _ArchiveUnpickler(RestrictedUnpickler):
    """Resolves ``__torch__.*`` classes to records and storages to the archive's tensor entries."""

    def __init__(self, file, archive: zipfile.ZipFile, prefix: str, name: str) -> None:
        extra = {
            ("torch.jit._pickle", "build_intlist"): SafeCallable(_int_list, "torch.jit._pickle.build_intlist"),
            **{("torch", k): v for k, v in _STORAGE_DTYPES.items()},
        }
        super().__init__(file, extra, name=name)
        self._zip, self._prefix = archive, prefix
        self._records: dict[str, type] = {}
        self._storages: dict[str, torch.UntypedStorage] = {}
        self.total_bytes = 0

    def find_class(self, module: str, name: str) -> Any:
        if module == "__torch__" or module.startswith("__torch__."):
            qual = f"{module}.{name}"
            if qual not in self._records:
                self._records[qual] = FrozenType(name, (ScriptRecord,), {"qualname": qual})
            return self._records[qual]
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {str(pid)[:80]}")
        _, dtype, key, _location, numel = pid
        if not isinstance(dtype, torch.dtype) or not isinstance(key, str) or not isinstance(numel, int) or numel < 0:
            raise pickle.UnpicklingError("malformed storage reference")
        if key not in self._storages:
            self._storages[key] = self._read_storage(key, dtype, numel)
        return torch.TypedStorage(wrap_storage=self._storages[key], dtype=dtype, _internal=True)

    def _read_storage(self, key: str, dtype: torch.dtype, numel: int) -> torch.UntypedStorage:
        entry = f"{self._prefix}data/{key}"
        try:
            info = self._zip.getinfo(entry)
        except KeyError:
            raise pickle.UnpicklingError(f"tensor data {entry} is missing from the archive") from None
        nbytes = numel * torch.empty((), dtype=dtype).element_size()
        if info.file_size != nbytes:
            raise pickle.UnpicklingError(
                f"{entry}: {info.file_size} bytes in the archive, the pickle announces {nbytes}"
            )
        self.total_bytes += nbytes
        if self.total_bytes > MAX_TENSOR_BYTES:
            raise pickle.UnpicklingError(f"more than {MAX_TENSOR_BYTES >> 20} MiB of tensor data")
        with self._zip.open(info) as f:
            data = bytearray(f.read(nbytes + 1))
        if len(data) != nbytes:
            raise pickle.UnpicklingError(f"{entry}: read {len(data)} bytes, expected {nbytes}")
        return torch.UntypedStorage.from_buffer(data, dtype=torch.uint8) if nbytes else torch.UntypedStorage(0)


@dataclass
class ScriptArchive:
    """What :func:`read_archive` found.

    Attributes:
        path: the file.
        root_class: the top module's TorchScript class (e.g. ``__torch__.wrap_net.WrapNet``).
        tensors: every tensor attribute, by dotted path from the top module (``net.layers.conv.weight``).
        classes: each module's class, by dotted path ('' is the top module).
    """

    path: Path
    root_class: str
    tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    classes: dict[str, str] = field(default_factory=dict)

    def children(self, prefix: str = "") -> list[str]:
        """Names of the submodules directly under the module at ``prefix`` ('' for the top)."""
        depth = prefix.count(".") + 1 if prefix else 0
        start = prefix + "." if prefix else ""
        return [k[len(start) :] for k in self.classes if k.startswith(start) and k and k.count(".") == depth]


def is_torchscript(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a zip archive with TorchScript code (``*/code/``) and ``*/data.pkl``."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (OSError, zipfile.BadZipFile):
        return False
    return any(n.endswith("/data.pkl") for n in names) and any("/code/" in n for n in names)


def _flatten(obj: Any, prefix: str, out: ScriptArchive, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CheckpointError(f"{out.path}: modules nested deeper than {MAX_DEPTH}")
    out.classes[prefix] = type(obj).qualname
    for name, value in getattr(obj, "state", {}).items():
        if not isinstance(name, str):
            continue
        path = f"{prefix}.{name}" if prefix else name
        if isinstance(value, torch.Tensor):
            out.tensors[path] = value
        elif isinstance(value, ScriptRecord):
            _flatten(value, path, out, depth + 1)


def read_archive(path: str | os.PathLike) -> ScriptArchive:
    """Read a TorchScript file's module tree and tensors; nothing in it is compiled or run.

    Raises:
        CheckpointError: not a TorchScript zip, truncated, inconsistent sizes (one line naming the file).
        UnsafePickleError: the pickle names a global outside the allow-list.
    """
    p = Path(path)
    try:
        archive = zipfile.ZipFile(p)
    except (OSError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"{p}: not a TorchScript archive ({exc})") from None
    with archive:
        pkls = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkls) != 1:
            raise CheckpointError(f"{p}: not a TorchScript archive (expected one <name>/data.pkl)")
        prefix = pkls[0][: -len("data.pkl")]
        if archive.getinfo(pkls[0]).file_size > 64 << 20:
            raise CheckpointError(f"{p}: {pkls[0]} is larger than 64 MiB")
        try:
            with archive.open(pkls[0]) as f:
                root = _ArchiveUnpickler(f, archive, prefix, str(p)).load()
        except UnsafePickleError:
            raise
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError, RuntimeError, zipfile.BadZipFile) as exc:
            raise CheckpointError(f"{p}: unreadable TorchScript data ({str(exc).splitlines()[0][:200]})") from None
    if not isinstance(root, ScriptRecord):
        raise CheckpointError(f"{p}: the archive's top object is a {type(root).__name__}, not a module")
    out = ScriptArchive(p, type(root).qualname)
    _flatten(root, "", out, 0)
    return out
