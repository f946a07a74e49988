"""Read NVIDIA's TensorFlow network pickles (``dnnlib.tflib.network.Network``) without TensorFlow.

A TF network pickle holds ``Network`` objects whose ``__getstate__`` produced a dict:
``version`` (2-4), ``name``, ``static_kwargs`` (the build function's keyword arguments),
``components`` (sub-networks, e.g. 'mapping' / 'synthesis'), ``build_module_src`` (the Python
source of the module that defines the build function), ``build_func_name`` and ``variables``
(a list of ``(local name, numpy array)``, each network's own variables only). Training
snapshots and the published generators are a pickled tuple ``(G, D, Gs)``; classifiers and
other auxiliary networks are a single ``Network``.

Unpickling normally ``exec``'s ``build_module_src`` and builds a TF graph. Here the stream is
read with the restricted unpickler (:mod:`.safe_pickle`), ``Network`` is replaced by a stub
that only keeps the state, and the source text is at most searched (linear time), never
executed. Every field is type-checked; the ``kw_*`` helpers read ``static_kwargs`` entries with
type and range checks, so a malformed file gives one-line :class:`CheckpointError`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import CheckpointError
from .safe_pickle import FrozenType, safe_load

SUPPORTED_VERSIONS = (2, 3, 4)
#: Nesting depth of components accepted (Gs -> mapping/synthesis is 1).
MAX_DEPTH = 4
MAX_VARIABLES = 100_000
_MISSING: Any = object()


class TFNetworkStub(metaclass=FrozenType):
    """Stand-in for ``dnnlib.tflib.network.Network``: keeps the pickled state, runs nothing."""

    __slots__ = ("state",)

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise CheckpointError(f"TF network state must be a dict, got {type(state).__name__}")
        object.__setattr__(self, "state", state)


class EasyDictStub(dict, metaclass=FrozenType):
    """Stand-in for ``dnnlib.util.EasyDict`` (a dict with attribute access; only the dict is kept)."""

    def __setstate__(self, state: Any) -> None:  # EasyDict pickles an empty or dict __dict__
        if isinstance(state, dict):
            self.update(state)


TF_GLOBALS = {
    ("dnnlib.tflib.network", "Network"): TFNetworkStub,
    ("dnnlib.util", "EasyDict"): EasyDictStub,
}


def _plain_kwargs(value: Any, source: str, depth: int = 0) -> Any:
    """static_kwargs values as plain Python data (dict/list/str/number/bool/None), else CheckpointError."""
    if depth > 8:
        raise CheckpointError(f"{source}: static_kwargs nested too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain_kwargs(v, source, depth + 1) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise CheckpointError(f"{source}: static_kwargs key {k!r} is not a string")
            out[k] = _plain_kwargs(v, source, depth + 1)
        return out
    raise CheckpointError(f"{source}: static_kwargs holds a {type(value).__name__}, expected plain data")


def _check_header(state: dict[str, Any], source: str) -> int:
    """The state's version (2-4); name, static_kwargs, build_func_name and variables present, names strings."""
    version = state.get("version")
    if type(version) is not int or version not in SUPPORTED_VERSIONS:
        raise CheckpointError(f"{source}: unsupported TF network pickle version {version!r} (expected 2-4)")
    missing = [k for k in ("name", "static_kwargs", "build_func_name", "variables") if k not in state]
    if missing:
        raise CheckpointError(f"{source}: TF network state lacks {', '.join(missing)}")
    for key in ("name", "build_func_name"):
        if not isinstance(state[key], str):
            raise CheckpointError(f"{source}: TF network {key} must be a string, got {type(state[key]).__name__}")
    return version


def _read_static_kwargs(kwargs: Any, source: str) -> dict[str, Any]:
    """static_kwargs (None counts as empty) as plain data."""
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, dict):
        raise CheckpointError(f"{source}: static_kwargs must be a dict, got {type(kwargs).__name__}")
    return _plain_kwargs(kwargs, source)


def _read_variable(item: Any, seen: Mapping[str, np.ndarray], source: str) -> tuple[str, np.ndarray]:
    """One ``(name, array)`` entry: a new name and a numeric (not object) array."""
    if not (isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str)):
        raise CheckpointError(f"{source}: malformed entry in TF network 'variables'")
    name, value = item
    if name in seen:
        raise CheckpointError(f"{source}: variable {name} appears twice")
    if not isinstance(value, (np.ndarray, np.generic, float, int)) or isinstance(value, bool):
        raise CheckpointError(f"{source}: variable {name} is a {type(value).__name__}, expected a numpy array")
    arr = np.asarray(value)
    if arr.dtype.hasobject or arr.dtype.kind not in "fiub":
        raise CheckpointError(f"{source}: variable {name} is not a numeric array ({arr.dtype})")
    return name, arr


def _read_variables(raw_vars: Any, source: str) -> dict[str, np.ndarray]:
    """The ``variables`` list (at most :data:`MAX_VARIABLES` entries) as name -> array, in order."""
    if not isinstance(raw_vars, (list, tuple)):
        raise CheckpointError(f"{source}: TF network 'variables' must be a list of (name, array)")
    if len(raw_vars) > MAX_VARIABLES:
        raise CheckpointError(f"{source}: {len(raw_vars)} variables (more than {MAX_VARIABLES})")
    variables: dict[str, np.ndarray] = {}
    for item in raw_vars:
        name, arr = _read_variable(item, variables, source)
        variables[name] = arr
    return variables


@dataclass
class TFNetworkState:
    """The pickled state of one TF ``Network``.

    Attributes:
        version: pickle format version (2-4).
        name: network name (e.g. "Gs", "G_synthesis", "D").
        static_kwargs: keyword arguments of the build function (plain data).
        build_func_name: name of the build function ("G_style", "D_basic", ...).
        build_module_src: source text of the defining module (never executed).
        variables: TF variable name -> numpy array, in the pickled order.
        components: sub-networks by name.
    """

    version: int
    name: str
    static_kwargs: dict[str, Any]
    build_func_name: str
    build_module_src: str
    variables: dict[str, np.ndarray]
    components: dict[str, TFNetworkState] = field(default_factory=dict)

    @classmethod
    def from_state(cls, state: dict[str, Any], source: str, depth: int = 0) -> TFNetworkState:
        """Type-checked state of a ``Network`` and (recursively, at most :data:`MAX_DEPTH` deep) its components."""
        if depth > MAX_DEPTH:
            raise CheckpointError(f"{source}: TF network components nested deeper than {MAX_DEPTH}")
        version = _check_header(state, source)
        kwargs = _read_static_kwargs(state["static_kwargs"], source)
        variables = _read_variables(state["variables"], source)
        comps = state.get("components") or {}
        if not isinstance(comps, dict):
            raise CheckpointError(f"{source}: TF network 'components' must be a dict, got {type(comps).__name__}")
        components = {}
        for key, comp in comps.items():
            if not isinstance(comp, TFNetworkStub) or not hasattr(comp, "state"):
                raise CheckpointError(f"{source}: component {key!r} is not a TF network")
            components[str(key)] = cls.from_state(comp.state, f"{source}:{key}", depth + 1)
        src = state.get("build_module_src")
        return cls(
            version=version,
            name=state["name"],
            static_kwargs=kwargs,
            build_func_name=state["build_func_name"],
            build_module_src=src if isinstance(src, str) else "",
            variables=variables,
            components=components,
        )

    def num_elements(self) -> int:
        """Total number of array elements in this network and its components."""
        return sum(int(v.size) for v in self.variables.values()) + sum(
            c.num_elements() for c in self.components.values()
        )


def _load(path: str | os.PathLike) -> Any:
    return safe_load(path, extra_globals=TF_GLOBALS, encoding="latin1")


def read_tf_network(path: str | os.PathLike) -> TFNetworkState:
    """Read a pickle holding one TF ``Network`` with the restricted unpickler; nothing in it runs.

    Raises:
        UnsafePickleError: the pickle names a global other than the TF Network / EasyDict
            classes and the numpy array constructors.
        CheckpointError: not a TF network pickle, or a malformed state.
    """
    obj = _load(path)
    if not isinstance(obj, TFNetworkStub) or not hasattr(obj, "state"):
        raise CheckpointError(f"{path}: not a TensorFlow network pickle (found {type(obj).__name__})")
    return TFNetworkState.from_state(obj.state, str(path))


def read_tf_pickle(path: str | os.PathLike) -> TFNetworkState | tuple[TFNetworkState, ...]:
    """A TF pickle holding one ``Network`` or a tuple of them (``(G, D, Gs)``), as states."""
    obj = _load(path)
    if isinstance(obj, TFNetworkStub) and hasattr(obj, "state"):
        return TFNetworkState.from_state(obj.state, str(path))
    if (
        isinstance(obj, (tuple, list))
        and obj
        and all(isinstance(o, TFNetworkStub) and hasattr(o, "state") for o in obj)
    ):
        if len(obj) > 8:
            raise CheckpointError(f"{path}: a tuple of {len(obj)} TF networks (expected (G, D, Gs))")
        return tuple(TFNetworkState.from_state(o.state, f"{path}[{i}]") for i, o in enumerate(obj))
    raise CheckpointError(f"{path}: not a TensorFlow network pickle (found {type(obj).__name__})")


def select_generator(obj: TFNetworkState | tuple[TFNetworkState, ...], path: Any) -> tuple[TFNetworkState, str]:
    """The network to render from: ``Gs`` (index 2) of a ``(G, D, Gs)`` tuple, else the single network."""
    if isinstance(obj, TFNetworkState):
        return obj, obj.name
    if len(obj) == 3:
        return obj[2], "Gs (index 2 of (G, D, Gs))"
    if len(obj) == 1:
        return obj[0], obj[0].name
    names = ", ".join(o.name for o in obj)
    raise CheckpointError(f"{path}: a tuple of {len(obj)} TF networks ({names}); expected (G, D, Gs)")


# ---------------------------------------------------------------------------------- source text
def function_source(src: str, func: str) -> tuple[str, str]:
    """(signature, whole text) of the first complete top-level ``def func(...):`` in ``src``, or ("", "").

    A text scan in linear time (each candidate is scanned only up to the next top-level
    ``def``), never a parse or exec. The body runs to the next top-level ``def`` or the end.
    """
    head = f"def {func}("
    pos = 0
    n = len(src)
    while True:
        start = src.find(head, pos)
        if start < 0:
            return "", ""
        if start > 0 and src[start - 1] != "\n":
            pos = start + 1
            continue
        nxt = src.find("\ndef ", start + len(head))
        end = n if nxt < 0 else nxt + 1
        depth = 1
        i = start + len(head)
        while i < end and depth:
            ch = src[i]
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            i += 1
        if depth == 0:
            rest = src[i:end].lstrip(" \t")
            if rest.startswith((":", "->")):
                return src[start + len(head) : i - 1], src[start:end]
        pos = end


# ---------------------------------------------------------------------------------- static_kwargs
def kw_int(
    kw: Mapping[str, Any], key: str, default: Any, source: str, lo: int, hi: int, allow_none: bool = False
) -> Any:
    """``kw[key]`` (or ``default``) as an int in [lo, hi] (None allowed with ``allow_none``)."""
    value = kw.get(key, default)
    if value is None and allow_none:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CheckpointError(f"{source}: static_kwargs {key}={value!r} must be an integer in [{lo}, {hi}]")
    if not lo <= value <= hi:
        raise CheckpointError(f"{source}: static_kwargs {key}={value} is out of range (expected [{lo}, {hi}])")
    return value


def kw_float(
    kw: Mapping[str, Any], key: str, default: Any, source: str, lo: float, hi: float, allow_none: bool = False
) -> Any:
    """``kw[key]`` (or ``default``) as a finite float in [lo, hi]."""
    value = kw.get(key, default)
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise CheckpointError(f"{source}: static_kwargs {key}={value!r} must be a number in [{lo}, {hi}]")
    value = float(value)
    if not lo <= value <= hi:
        raise CheckpointError(f"{source}: static_kwargs {key}={value} is out of range (expected [{lo}, {hi}])")
    return value


def kw_bool(kw: Mapping[str, Any], key: str, default: Any, source: str) -> bool:
    value = kw.get(key, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise CheckpointError(f"{source}: static_kwargs {key}={value!r} must be True or False")


def kw_choice(kw: Mapping[str, Any], key: str, default: Any, source: str, choices: Sequence[Any]) -> Any:
    value = kw.get(key, default)
    if not any(value is c or (type(value) is type(c) and value == c) for c in choices):
        raise CheckpointError(
            f"{source}: static_kwargs {key}={value!r} is not supported (expected one of "
            f"{', '.join(map(repr, choices))})"
        )
    return value


def kw_taps(
    kw: Mapping[str, Any], key: str, default: Any, source: str, max_len: int = 16, allow_none: bool = True
) -> list[float] | None:
    """A 1-D filter (list of finite numbers, 1..max_len taps, non-zero sum), or None."""
    value = kw.get(key, default)
    if value is None and allow_none:
        return None
    ok = (
        isinstance(value, (list, tuple))
        and 1 <= len(value) <= max_len
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v)) for v in value)
    )
    if not ok or sum(float(v) for v in value) == 0:
        raise CheckpointError(
            f"{source}: static_kwargs {key}={value!r} must be a list of 1-{max_len} numbers "
            "with a non-zero sum" + (" or None" if allow_none else "")
        )
    return [float(v) for v in value]


def unrecognised_kwargs(state: TFNetworkState, known: Mapping[str, Sequence[str]]) -> list[str]:
    """``component:key`` for static_kwargs keys a loader does not read (reported in ``info``)."""
    out = [f"{state.name}:{k}" for k in state.static_kwargs if k not in known.get("", ())]
    for comp, sub in state.components.items():
        out += [f"{comp}:{k}" for k in sub.static_kwargs if k not in known.get(comp, ())]
    return out


def check_budget(expected_elements: int, state: TFNetworkState, source: str, what: str) -> None:
    """Refuse an architecture that needs far more parameters than the file holds (before allocating)."""
    have = state.num_elements()
    if expected_elements > 2 * have + 4096:
        raise CheckpointError(
            f"{source}: static_kwargs describe {what} with {expected_elements:,} parameters but the file holds "
            f"only {have:,} values; refusing to allocate it"
        )


def variable(state: TFNetworkState, name: str, shape: Sequence[int], source: str) -> np.ndarray:
    """``state.variables[name]`` as float32, checked to have exactly ``shape``."""
    arr = state.variables.get(name, _MISSING)
    if arr is _MISSING:
        raise CheckpointError(
            f"{source}: TF network {state.name!r} lacks variable {name} (expected shape {list(shape)})"
        )
    if tuple(arr.shape) != tuple(shape):
        raise CheckpointError(
            f"{source}: variable {state.name}/{name} has shape {list(arr.shape)}, expected {list(shape)}"
        )
    if arr.dtype.kind != "f":
        raise CheckpointError(f"{source}: variable {state.name}/{name} is {arr.dtype}, expected floating point")
    return arr.astype(np.float32, copy=False)


__all__ = [
    "TF_GLOBALS",
    "EasyDictStub",
    "TFNetworkState",
    "TFNetworkStub",
    "check_budget",
    "function_source",
    "kw_bool",
    "kw_choice",
    "kw_float",
    "kw_int",
    "kw_taps",
    "read_tf_network",
    "read_tf_pickle",
    "select_generator",
    "variable",
]


# ---------------------------------------------------------------------------------- detection
_CACHE: dict[tuple[str, int, int], Any] = {}
_SNIFF_BYTES = 8 << 20


def looks_like_tf_pickle(path: str | os.PathLike) -> bool:
    """True when the first 8 MiB name ``dnnlib.tflib.network`` and not PyTorch persistence."""
    with open(path, "rb") as f:
        blob = f.read(_SNIFF_BYTES)
    return b"dnnlib.tflib.network" in blob and b"torch_utils.persistence" not in blob


def read_tf_pickle_cached(path: str | os.PathLike) -> TFNetworkState | tuple[TFNetworkState, ...]:
    """:func:`read_tf_pickle`, remembering the last file read (detection and loading read it once)."""
    st = os.stat(path)
    key = (str(os.path.realpath(path)), st.st_size, st.st_mtime_ns)
    if key not in _CACHE:
        _CACHE.clear()
        _CACHE[key] = read_tf_pickle(path)
    return _CACHE[key]


def forget(path: str | os.PathLike) -> None:
    """Drop the cached parse (after a loader has converted it)."""
    _CACHE.clear()


def generator_builder(raw: Any) -> str | None:
    """``build_func_name`` of the generator in a TF pickle read by ``read_checkpoint`` ('G_style',
    'G_main', ...), when it is a generator with 'mapping' and 'synthesis' components; else None.

    Raises UnsafePickleError / CheckpointError for a TF pickle that cannot be read safely.
    """
    if getattr(raw, "kind", None) != "pickle" or not looks_like_tf_pickle(raw.path):
        return None
    obj = read_tf_pickle_cached(raw.path)
    try:
        gs, _ = select_generator(obj, raw.path)
    except CheckpointError:
        gs = None
    if gs is None or not {"mapping", "synthesis"} <= set(gs.components):
        forget(raw.path)
        return None
    return gs.build_func_name
