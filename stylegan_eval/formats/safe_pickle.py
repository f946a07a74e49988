"""A restricted unpickler: reads pickle streams that hold data (tensors, numpy arrays, dicts)
without ever importing or calling anything outside an explicit allow-list.

Python's pickle format can name any importable global and call it (``REDUCE``), so a plain
``pickle.load`` of an untrusted file is arbitrary code execution. :class:`RestrictedUnpickler`
resolves a global only if ``(module, name)`` is in its allow-list; everything else raises
:class:`~stylegan_eval.errors.UnsafePickleError` naming ``module.name``.

The default allow-list (:data:`DEFAULT_GLOBALS`) contains only constructors that cannot run
arbitrary code:

- containers: ``collections.OrderedDict``, ``builtins.set/frozenset/slice/complex/bytearray``
  (``bytearray`` only from bytes/text already in the stream, or of at most
  :data:`MAX_ALLOC_ARG` bytes when given a size: a 40-byte pickle cannot allocate gigabytes);
- torch tensors/parameters (``torch._utils._rebuild_tensor_v2``, ``_rebuild_parameter``,
  ``_rebuild_parameter_with_state``; the last two drop serialized hooks and attribute state);
  a tensor must fit in its storage (no stride-0 views larger than their data);
- torch storages (``torch.storage._load_from_bytes``), re-implemented as
  ``torch.load(BytesIO(b), weights_only=True, map_location='cpu')``;
- torch dtypes, ``torch.Size``, ``torch.device``;
- numpy reconstruction (``numpy.core.multiarray._reconstruct`` / ``numpy._core...``,
  ``scalar``, ``numpy.ndarray``, ``numpy.dtype``, protocol-5 ``numeric._frombuffer``);
- ``_codecs.encode`` restricted to latin-1 (how protocol-2 pickles store bytes).

Functions are exposed to the stream through frozen wrappers, so a crafted ``BUILD`` opcode
cannot patch attributes (``__defaults__``, ``__dict__``) of the real torch functions.
Classes offered through ``extra_globals`` should use :class:`FrozenType` as metaclass for the
same reason (see :mod:`.nvidia_pickle`).
"""

from __future__ import annotations

import collections
import io
import os
import pickle
from typing import Any, Callable, Mapping

import numpy as np
import torch

from ..errors import CheckpointError, UnsafePickleError, UserError

GlobalKey = tuple[str, str]

#: Largest allocation (bytes) an allow-listed constructor may make from a size read from the stream.
MAX_ALLOC_ARG = 1 << 20


class FrozenType(type):
    """Metaclass whose classes refuse attribute assignment after creation.

    A pickle stream can push an allowed class and apply ``BUILD`` to it, which would
    ``setattr`` on the class itself; classes with this metaclass make that an error.
    """

    def __setattr__(cls, name: str, value: Any) -> None:
        raise AttributeError(f"{cls.__name__} is read-only")

    def __delattr__(cls, name: str) -> None:
        raise AttributeError(f"{cls.__name__} is read-only")


class SafeCallable:
    """A read-only wrapper around a function offered to a pickle stream."""

    __slots__ = ("_fn", "_qualname")

    def __init__(self, fn: Callable[..., Any], qualname: str) -> None:
        object.__setattr__(self, "_fn", fn)
        object.__setattr__(self, "_qualname", qualname)

    def __call__(self, *args: Any) -> Any:  # pickle only ever passes positional args
        return self._fn(*args)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self._qualname} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{self._qualname} is read-only")

    def __repr__(self) -> str:
        return f"<safe {self._qualname}>"


# ---------------------------------------------------------------------------------- torch
def _check_ints(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list, torch.Size)) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise pickle.UnpicklingError(f"tensor {what} must be a tuple of ints, got {type(value).__name__}")
    return tuple(value)


def storage_problem(numel: int, element_size: int, storage_nbytes: int) -> str | None:
    """Why a tensor of ``numel`` elements cannot be backed by its storage (stride-0 tricks), or None."""
    need = numel * element_size
    if need > storage_nbytes:
        return f"a tensor of {numel} elements ({need} bytes) on a storage of {storage_nbytes} bytes (stride-0 view?)"
    return None


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *_ignored):
    """Tensor from (storage, offset, size, stride); requires_grad, hooks and metadata are dropped."""
    if not isinstance(storage, (torch.TypedStorage, torch.UntypedStorage)):
        raise pickle.UnpicklingError(f"tensor storage must be a torch storage, got {type(storage).__name__}")
    if not isinstance(storage_offset, int):
        raise pickle.UnpicklingError("tensor storage offset must be an int")
    size = _check_ints(size, "size")
    stride = _check_ints(stride, "stride")
    if len(size) != len(stride):
        raise pickle.UnpicklingError("tensor size and stride differ in length")
    if any(v < 0 for v in size) or any(v < 0 for v in stride) or storage_offset < 0:
        raise pickle.UnpicklingError("tensor size, stride and offset must be non-negative")
    numel = 1
    for v in size:
        numel *= v
    untyped = storage.untyped() if isinstance(storage, torch.TypedStorage) else storage
    elsize = storage.element_size() if isinstance(storage, torch.TypedStorage) else 1
    problem = storage_problem(numel, elsize, untyped.nbytes())
    if problem:
        raise pickle.UnpicklingError(f"refused {problem}")
    return torch._utils._rebuild_tensor(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, *_ignored):
    """nn.Parameter around ``data``; serialized backward hooks / attribute state are ignored."""
    if not isinstance(data, torch.Tensor):
        raise pickle.UnpicklingError(f"parameter data must be a tensor, got {type(data).__name__}")
    return torch.nn.Parameter(data, requires_grad=bool(requires_grad))


def _load_storage_from_bytes(blob):
    """What ``torch.storage._load_from_bytes`` does, but with torch's weights-only unpickler."""
    if not isinstance(blob, (bytes, bytearray)):
        raise pickle.UnpicklingError("torch storage payload must be bytes")
    try:
        out = torch.load(io.BytesIO(bytes(blob)), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise UnsafePickleError(
            f"embedded torch storage refused by torch's weights-only loader ({_short(exc)})"
        ) from None
    if not isinstance(out, (torch.TypedStorage, torch.UntypedStorage)):
        raise pickle.UnpicklingError(f"embedded torch payload is a {type(out).__name__}, expected a storage")
    return out


def _codecs_encode(text, encoding="latin1"):
    if not isinstance(text, str) or str(encoding).lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1"):
        raise pickle.UnpicklingError("_codecs.encode is only allowed for latin-1 text")
    return text.encode("latin-1")


def _bytearray(*args):
    """``bytearray`` of stream data (bytes, or text with an encoding) or of a small size."""
    if not args:
        return bytearray()
    src = args[0]
    if isinstance(src, bool) or not isinstance(src, (int, bytes, bytearray, str)):
        raise pickle.UnpicklingError(f"bytearray from a {type(src).__name__} is not allowed")
    if isinstance(src, int) and not 0 <= src <= MAX_ALLOC_ARG:
        raise pickle.UnpicklingError(f"bytearray({src}) asks for more than {MAX_ALLOC_ARG} bytes")
    return bytearray(*args)


def _torch_device(*args):
    return torch.device(*args)


# ---------------------------------------------------------------------------------- numpy
def _np_frombuffer(buf, dtype, shape, order):
    if not isinstance(dtype, np.dtype) or dtype.hasobject:
        raise pickle.UnpicklingError("numpy buffer arrays must have a plain (non-object) dtype")
    if order not in ("C", "F"):
        raise pickle.UnpicklingError("numpy array order must be 'C' or 'F'")
    return np.frombuffer(buf, dtype=dtype).reshape(_check_ints(shape, "shape"), order=order)


def _np_dtype(*args):
    """``numpy.dtype`` of plain data: object dtypes (whose arrays hold Python objects, and whose
    size a pickle only states) and items over :data:`MAX_ALLOC_ARG` bytes are refused."""
    dt = np.dtype(*args)
    if dt.hasobject or dt.itemsize > MAX_ALLOC_ARG:
        raise pickle.UnpicklingError(
            f"numpy dtype {str(dt)[:60]} is not plain numeric data (object or oversized items)"
        )
    return dt


class _NdarrayToken(metaclass=FrozenType):
    """What a stream's ``numpy.ndarray`` global resolves to: accepted by ``_reconstruct`` (how numpy
    pickles arrays) and callable only as :func:`_np_ndarray`."""

    def __new__(cls, *args):
        return _np_ndarray(*args)


def _np_reconstruct(subtype, shape, dtype_code):
    """numpy's ``_reconstruct``: an empty base array that the stream's BUILD fills (numpy checks
    that the data it is given matches the shape and dtype)."""
    if subtype is not _NdarrayToken and subtype is not np.ndarray:
        raise pickle.UnpicklingError("numpy arrays may only be rebuilt as numpy.ndarray")
    return _np_multiarray()._reconstruct(np.ndarray, shape, dtype_code)


def _np_ndarray(shape, dtype=float, buffer=None, offset=0, strides=None, order=None):
    """``numpy.ndarray(...)`` called by a stream: only views that fit in the data the stream holds
    (no strides: a stride-0 view of 4 bytes would count as 160 GB), or small empty arrays."""
    size = _check_ints(shape if isinstance(shape, (tuple, list)) else (shape,), "shape")
    dt = _np_dtype(dtype) if not isinstance(dtype, np.dtype) else dtype
    nbytes = int(np.prod(size, dtype=object)) * dt.itemsize
    if strides is not None:
        raise pickle.UnpicklingError("numpy.ndarray with explicit strides (a strided view) is not allowed")
    if buffer is None and nbytes > MAX_ALLOC_ARG:
        raise pickle.UnpicklingError(f"numpy.ndarray of {nbytes} bytes without data asks for more than {MAX_ALLOC_ARG}")
    if buffer is not None and (not isinstance(buffer, (bytes, bytearray)) or nbytes > len(buffer) - int(offset)):
        raise pickle.UnpicklingError(f"numpy.ndarray of {nbytes} bytes on a buffer that does not hold them")
    return np.ndarray(size, dt, buffer, int(offset), None, order)


def _np_multiarray():
    try:
        from numpy._core import multiarray  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray  # type: ignore[no-redef]
    return multiarray


def _default_globals() -> dict[GlobalKey, Any]:
    ma = _np_multiarray()
    g: dict[GlobalKey, Any] = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "slice"): slice,
        ("builtins", "complex"): complex,
        ("builtins", "bytearray"): SafeCallable(_bytearray, "builtins.bytearray"),
        ("__builtin__", "set"): set,
        ("__builtin__", "frozenset"): frozenset,
        ("_codecs", "encode"): SafeCallable(_codecs_encode, "_codecs.encode"),
        ("torch._utils", "_rebuild_tensor_v2"): SafeCallable(_rebuild_tensor_v2, "torch._utils._rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_tensor"): SafeCallable(_rebuild_tensor, "torch._utils._rebuild_tensor"),
        ("torch._utils", "_rebuild_parameter"): SafeCallable(_rebuild_parameter, "torch._utils._rebuild_parameter"),
        ("torch._utils", "_rebuild_parameter_with_state"): SafeCallable(
            _rebuild_parameter, "torch._utils._rebuild_parameter_with_state"
        ),
        ("torch.storage", "_load_from_bytes"): SafeCallable(_load_storage_from_bytes, "torch.storage._load_from_bytes"),
        ("torch", "Size"): torch.Size,
        ("torch", "device"): SafeCallable(_torch_device, "torch.device"),
        ("numpy", "ndarray"): _NdarrayToken,
        ("numpy", "dtype"): SafeCallable(_np_dtype, "numpy.dtype"),
    }
    for mod in ("numpy.core.multiarray", "numpy._core.multiarray"):
        g[(mod, "_reconstruct")] = SafeCallable(_np_reconstruct, f"{mod}._reconstruct")
        g[(mod, "scalar")] = ma.scalar
    for mod in ("numpy.core.numeric", "numpy._core.numeric"):  # protocol-5 array pickles
        g[(mod, "_frombuffer")] = SafeCallable(_np_frombuffer, f"{mod}._frombuffer")
    for name in dir(torch):
        obj = getattr(torch, name, None)
        if isinstance(obj, torch.dtype):
            g[("torch", name)] = obj
    return g


#: The allow-list used when no other is given: (module, name) -> object.
DEFAULT_GLOBALS: Mapping[GlobalKey, Any] = _default_globals()


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only allow-listed globals.

    Args:
        file: binary file object.
        extra_globals: additional ``(module, name) -> object`` entries (they override defaults).
        name: how to name the source in error messages (usually the file path).
        use_defaults: include :data:`DEFAULT_GLOBALS`.
        encoding: passed to :class:`pickle.Unpickler` (``'latin1'`` for Python 2 numpy pickles).
    """

    def __init__(
        self,
        file,
        extra_globals: Mapping[GlobalKey, Any] | None = None,
        *,
        name: str | os.PathLike = "<pickle>",
        use_defaults: bool = True,
        encoding: str = "ASCII",
    ) -> None:
        super().__init__(file, encoding=encoding)
        allowed: dict[GlobalKey, Any] = dict(DEFAULT_GLOBALS) if use_defaults else {}
        if extra_globals:
            allowed.update(extra_globals)
        self._allowed = allowed
        self._name = str(name)

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except (KeyError, TypeError):
            raise UnsafePickleError(
                f"{self._name}: refused to load global {module}.{name}: it is not on the restricted "
                "unpickler's allow-list (the file asks to import or run code; only weights are read)"
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not supported (not a plain pickle stream)")


def safe_loads(
    data: bytes,
    extra_globals: Mapping[GlobalKey, Any] | None = None,
    encoding: str = "ASCII",
    name: str = "<bytes>",
) -> Any:
    """Unpickle ``data`` with :class:`RestrictedUnpickler`; errors as in :func:`safe_load`."""
    return _load(io.BytesIO(data), extra_globals, encoding, name)


def safe_load(
    path: str | os.PathLike,
    extra_globals: Mapping[GlobalKey, Any] | None = None,
    encoding: str = "ASCII",
) -> Any:
    """Unpickle the file at ``path`` with :class:`RestrictedUnpickler`.

    Raises:
        UnsafePickleError: the stream names a global outside the allow-list.
        CheckpointError: missing, empty, truncated or garbage file (one line, naming the file).
    """
    from .checks import check_file

    p = check_file(path, "pickle")
    try:
        f = open(p, "rb")
    except OSError as exc:
        raise CheckpointError(f"{p}: cannot open ({_short(exc)})") from None
    with f:
        return _load(f, extra_globals, encoding, str(p))


def _load(f, extra_globals, encoding, name) -> Any:
    from ..warnings_capture import captured_warnings

    try:
        with captured_warnings():
            return RestrictedUnpickler(f, extra_globals, name=name, encoding=encoding).load()
    except UnsafePickleError as exc:
        msg = _short(exc)
        if not msg.startswith(name):
            msg = f"{name}: {msg}"
        raise UnsafePickleError(msg) from None
    except UserError as exc:
        msg = _short(exc)
        if not msg.startswith(name):
            msg = f"{name}: {msg}"
        raise type(exc)(msg) from None
    except EOFError:
        raise CheckpointError(f"{name}: truncated pickle stream (unexpected end of file)") from None
    except RecursionError:
        raise CheckpointError(f"{name}: pickle stream nested too deeply") from None
    except MemoryError:
        raise CheckpointError(f"{name}: pickle stream needs more memory than available") from None
    except Exception as exc:  # UnpicklingError, ValueError, TypeError from bad opcodes ...
        raise CheckpointError(f"{name}: not a readable pickle stream ({type(exc).__name__}: {_short(exc)})") from None


__all__ = [
    "DEFAULT_GLOBALS",
    "FrozenType",
    "RestrictedUnpickler",
    "SafeCallable",
    "safe_load",
    "safe_loads",
]
