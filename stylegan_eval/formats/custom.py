"""A user's own generator, named by an import spec: ``--generator package.module:attr``.

The contract (what ``attr`` may be)
-----------------------------------
1. A :class:`~stylegan_eval.generator.Generator` instance: used as is.
2. An object with the StyleGAN attributes and methods, adapted by :class:`ModuleGenerator`:
   ``z_dim``, ``w_dim``, ``num_ws``, ``resolution`` (integers of any integral type;
   ``img_channels`` = 3 and ``c_dim`` = 0 by default), ``mapping(z, c) -> w [N, w_dim] or ws
   [N, num_ws, w_dim]`` and ``synthesis(ws, noise=None) -> images [N, img_channels, R, R]``,
   float, NCHW, in [-1, 1]. An optional ``w_avg`` tensor [w_dim] is the truncation centre.
3. A black box: a callable ``f(z) -> images`` (or ``f(z, c)``) with ``z_dim`` and
   ``resolution`` attributes. Only Z-space metrics work; W-space metrics and truncation are
   refused with a clear message.
4. A class or factory function defined in the named module (or its package): called as
   ``factory(path, **generator_args)`` when a checkpoint path was given, else
   ``factory(**generator_args)``; its result is treated by rules 1-3.

Noise
-----
- Explicit (reproducible, recommended): declare ``noise_shapes``, a list with one per-sample
  shape per noise input, in the order ``synthesis`` consumes them: ``(H, W)`` for maps
  [N, 1, H, W], or a full per-sample shape such as ``(H, W, 1)`` for [N, H, W, 1]. ``synthesis``
  is then always called with ``noise=[tensor, ...]`` (also when its signature is
  ``synthesis(self, ws, **kwargs)``); row k of every map is a pure function of (seed, sample
  index) drawn by :mod:`stylegan_eval.sampling`, from ``noise_dist``: ``'normal'`` N(0, 1)
  (default) or ``'uniform'`` U(0, 1) for packages whose noise is uniform (lucidrains).
- Module-managed: no ``noise_shapes``; ``synthesis(ws)`` draws its own noise. PPL renders the
  two images of a pair under the same forked, seeded torch RNG state (:mod:`stylegan_eval.pairs`),
  so a module drawing from torch's global RNG still gives both the same noise, and checks on the
  first batch that two calls on the same input agree (refusing PPL otherwise).

Validation at load
------------------
The first output is checked (shape [N, img_channels, R, R], floating dtype, finite; an NHWC
output is refused naming the layout; an output that looks like [0, 1] or [0, 255] gives a
warning). Anything the adapter prints while it is imported, built or called goes to stderr, so
``--json`` stays clean. Errors are one-line :class:`UserError` naming the adapter.

Security
--------
Importing the module runs the user's own code, which is what they asked for; nothing is ever
executed from a checkpoint file. The spec must name a Python class, function or object defined in
the named module or its package: standard-library modules, builtins and C functions
(``os:system``, ``builtins:exec``, ``subprocess:run``, an alias ``run = os.system``) are refused
before anything is called. So are deserialising callables of any package, since a spec is a
generator, never a file reader: everything of the pickle family (``dill``, ``joblib``,
``cloudpickle``, ``jsonpickle``, ``pickle``, ``marshal``, ``shelve``) and the loaders of the
array/model libraries (``torch:load``, ``torch.hub:load``, ``torch.jit:load``, ``numpy:load``,
``pandas:read_pickle``, ...), whatever name or alias reaches them.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import json
import numbers
import os
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from .. import sampling
from ..checks import MAX_NESTING, nesting_depth
from ..errors import CheckpointError, UserError
from ..generator import Generator, make_noise_maps

NAME = "custom"
NOISE_DISTS = ("normal", "uniform")


class AdapterWarning(UserWarning):
    """A custom generator's output looks off (e.g. [0, 1] images); the message names the adapter."""


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send what the user's code prints to stderr (``--json`` owns stdout)."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


# ------------------------------------------------------------------------------ resolving the spec
def _package_root(module_name: str) -> str:
    return module_name.split(".")[0]


def _is_stdlib(module_name: str | None) -> bool:
    if not module_name:
        return True
    root = _package_root(module_name)
    return root in sys.stdlib_module_names or root in ("builtins", "__main__") or root.startswith("_")


def _own_module(owner: str | None, module_name: str) -> bool:
    """Whether ``owner`` (an object's ``__module__``) is the named module or in its package."""
    if not owner or _is_stdlib(owner):
        return False
    root = _package_root(module_name)
    return owner == module_name or owner == root or owner.startswith(root + ".")


#: Packages whose callables exist to deserialise (unpickle) data or code: nothing of theirs is a generator.
PICKLE_PACKAGES = frozenset(
    {"pickle", "_pickle", "cPickle", "pickle5", "dill", "joblib", "cloudpickle", "jsonpickle", "marshal", "shelve",
     "copyreg", "srsly", "skops"}
)  # fmt: skip
#: Array and model libraries whose file loaders unpickle (or fetch and run) what a file holds.
LOADER_PACKAGES = frozenset(
    {"torch", "torchvision", "numpy", "pandas", "tensorflow", "keras", "tf_keras", "sklearn", "jax"}
)
#: Words in a callable's name that mark it a loader in :data:`LOADER_PACKAGES` (case-insensitive).
LOADER_WORDS = ("load", "pickle", "unpickl", "marshal", "deserial", "packageimporter", "read_array")


def _deserialiser(module_name: str, name: str) -> bool:
    """Whether ``module_name``'s callable ``name`` (dotted attribute path) deserialises data."""
    root = _package_root(module_name or "")
    if root in PICKLE_PACKAGES:
        return True
    low = name.lower()
    return root in LOADER_PACKAGES and any(word in low for word in LOADER_WORDS)


def refuse_deserialiser(spec: str, obj: Any = None) -> None:
    """Refuse (one line) a spec naming a deserialising callable: by its text, and by what it resolves to."""
    module_name, _, attr = str(spec).partition(":")
    named = [(module_name, attr)]
    if obj is not None:
        for target in (obj, getattr(obj, "__wrapped__", None), getattr(obj, "__func__", None)):
            if target is not None and callable(target):
                named.append((getattr(target, "__module__", "") or "", getattr(target, "__qualname__", "") or ""))
    for module, name in named:
        if _deserialiser(module, name):
            raise CheckpointError(
                f"--generator {spec!r}: refused: {module}:{name} deserialises files (it can run code a file "
                "carries); name a Generator, class or factory of your own that loads weights safely"
            )


def check_target(obj: Any, spec: str, module_name: str) -> None:
    """Refuse (one line) anything but a Generator, or a Python class / function / object of the user's package."""
    if isinstance(obj, Generator):
        return
    refuse_deserialiser(spec, obj)
    where = f"--generator {spec!r}"
    target = obj.__func__ if inspect.ismethod(obj) else obj
    if inspect.isclass(target) or inspect.isfunction(target):
        owner = getattr(target, "__module__", None)
        if not _own_module(owner, module_name):
            raise CheckpointError(
                f"{where}: refused: {getattr(target, '__qualname__', target)!r} is defined in {owner!r}, not in "
                f"{module_name!r} or its package; name a Generator, class or factory defined there"
            )
        if inspect.isfunction(target) and target.__name__ == "<lambda>" and owner != module_name:
            raise CheckpointError(
                f"{where}: refused: a lambda from {owner!r}; name a function defined in {module_name!r}"
            )
        return
    if callable(target) and (inspect.isbuiltin(target) or inspect.isroutine(target)):
        raise CheckpointError(
            f"{where}: refused: {target!r} is a builtin or C function, not a generator, class or factory"
        )
    cls_owner = type(target).__module__
    if _is_stdlib(cls_owner):
        raise CheckpointError(
            f"{where}: refused: a {type(target).__qualname__!r} object from the standard library is not a generator"
        )


def _resolve(spec: str) -> tuple[Any, str]:
    """(object, module name) for ``package.module:attr`` (refusing stdlib / builtins, see :func:`check_target`)."""
    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.partition(":")[::2]):
        raise CheckpointError(f"--generator {spec!r}: expected package.module:attr")
    module_name, _, attr = spec.partition(":")
    refuse_deserialiser(spec)
    if _is_stdlib(module_name):
        raise CheckpointError(
            f"--generator {spec!r}: refused: {module_name!r} is a standard-library module; name your own module "
            "holding a Generator, class or factory"
        )
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        with stdout_to_stderr():
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CheckpointError(f"--generator {spec!r}: cannot import {module_name!r} ({_first_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - the user's code: any failure is a one-line input error
        raise UserError(f"--generator {spec!r}: importing {module_name!r} raised {_first_line(exc)}") from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CheckpointError(f"--generator {spec!r}: {module_name} has no attribute {attr!r}") from None
    check_target(obj, spec, module_name)
    return obj, module_name


# ------------------------------------------------------------------------------ generator args
def _parse_value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    if text[:1] in '[{"':
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return text
        except RecursionError:
            value = None
        if value is None or nesting_depth(value) > MAX_NESTING:
            raise UserError(f"--generator-arg value {text[:30]!r}...: JSON nested deeper than {MAX_NESTING} levels")
        return value
    return text


def parse_generator_args(items: list[str] | tuple[str, ...] | None) -> dict[str, Any]:
    """``['key=value', ...]`` (``--generator-arg``) -> {key: value}.

    Values become bool (true/false), None (none/null), int, float, JSON lists/dicts/strings, or
    stay strings. Raises UserError (one line) on a missing '=', a key that is not a Python
    identifier, or a repeated key.
    """
    out: dict[str, Any] = {}
    for item in items or ():
        if not isinstance(item, str) or "=" not in item:
            raise UserError(f"--generator-arg expects key=value, got {item!r}")
        key, _, value = item.partition("=")
        key = key.strip()
        if not key.isidentifier():
            raise UserError(f"--generator-arg {item!r}: the key must be a Python identifier, got {key!r}")
        if key in out:
            raise UserError(f"--generator-arg {key!r} given twice")
        out[key] = _parse_value(value.strip())
    return out


# ------------------------------------------------------------------------------ adapters
def _int_attr(obj: Any, name: str, spec: str, default: int | None = None) -> int:
    value = getattr(obj, name, default)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point():
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 0:
        raise CheckpointError(
            f"--generator {spec!r}: expected a non-negative integer attribute {name!r}, got {value!r}"
        )
    return int(value)


def _noise_shape(shape: Any, spec: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in shape if isinstance(d, numbers.Integral) and not isinstance(d, bool))
        ok = len(dims) == len(tuple(shape)) and len(dims) in (2, 3) and all(d > 0 for d in dims)
    except TypeError:
        ok = False
    if not ok:
        raise CheckpointError(
            f"--generator {spec!r}: noise_shapes entries must be (H, W) or a 3-d per-sample shape, got {shape!r}"
        )
    return dims


def _accepts_noise(fn: Any) -> bool | None:
    """True if ``fn`` takes ``noise=``, None if only through ``**kwargs``, False if not at all."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return None
    if "noise" in params:
        return True
    return None if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()) else False


class ModuleGenerator(Generator):
    """Adapter for an object with mapping/synthesis (rule 2 of the contract)."""

    family = "custom"

    def __init__(self, module: Any, spec: str) -> None:
        super().__init__()
        self.module = module if isinstance(module, torch.nn.Module) else None
        self._obj = module
        self.spec = spec
        self.z_dim = _int_attr(module, "z_dim", spec)
        self.w_dim = _int_attr(module, "w_dim", spec)
        self.num_ws = _int_attr(module, "num_ws", spec)
        self.resolution = _int_attr(module, "resolution", spec)
        self.img_channels = _int_attr(module, "img_channels", spec, 3)
        self.c_dim = _int_attr(module, "c_dim", spec, 0)
        self.noise_dist = getattr(module, "noise_dist", "normal")
        if self.noise_dist not in NOISE_DISTS:
            raise CheckpointError(
                f"--generator {spec!r}: noise_dist must be one of {NOISE_DISTS}, got {self.noise_dist!r}"
            )
        shapes = getattr(module, "noise_shapes", None)
        if shapes is not None and len(shapes) and _accepts_noise(module.synthesis) is False:
            raise CheckpointError(
                f"--generator {spec!r}: declares noise_shapes but synthesis() takes no noise= argument; add "
                "noise=None to synthesis (explicit noise) or drop noise_shapes (module-managed noise)"
            )
        self._noise_shapes = [_noise_shape(s, spec) for s in shapes] if shapes is not None else []
        self._module_noise = not self._noise_shapes

    @property
    def noise_shapes(self) -> list[tuple[int, ...]]:  # type: ignore[override]
        return list(self._noise_shapes)

    def make_noise(self, n, noise_mode="random", noise_seed=None, indices=None, device=None):  # type: ignore[override]
        return make_noise_maps(self, self._noise_shapes, self.noise_dist, n, noise_mode, noise_seed, indices, device)

    def _map(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        with stdout_to_stderr():
            w = self._obj.mapping(z, c)
        if w.ndim == 2:
            w = w[:, None, :].expand(-1, self.num_ws, -1)
        return w

    def _synthesize(self, ws: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        with stdout_to_stderr():
            if self._module_noise:
                return self._obj.synthesis(ws)
            return self._obj.synthesis(ws, noise=noise)

    def stored_w_avg(self) -> torch.Tensor | None:
        w_avg = getattr(self._obj, "w_avg", None)
        return w_avg if isinstance(w_avg, torch.Tensor) else None

    def extra_info(self) -> dict[str, Any]:
        noise = (
            "module-managed (PPL pairs share a forked torch RNG)"
            if self._module_noise
            else f"sampling engine ({self.noise_dist})"
        )
        return {"generator_spec": self.spec, "noise": noise}


class BlackBoxGenerator(Generator):
    """A callable z -> images (rule 3): Z-space metrics only."""

    family = "custom-black-box"
    supports_w = False

    def __init__(self, fn: Any, spec: str) -> None:
        super().__init__()
        self.module = fn if isinstance(fn, torch.nn.Module) else None
        self._fn = fn
        self.spec = spec
        self.z_dim = _int_attr(fn, "z_dim", spec)
        self.resolution = _int_attr(fn, "resolution", spec)
        self.img_channels = _int_attr(fn, "img_channels", spec, 3)
        self.c_dim = _int_attr(fn, "c_dim", spec, 0)
        self.w_dim = 0
        self.num_ws = 0

    @property
    def noise_shapes(self) -> list[tuple[int, int]]:
        return []

    def _map(self, z, c):  # pragma: no cover - guarded by supports_w
        raise UserError("black-box generator: no mapping network")

    def _synthesize(self, ws, noise):  # pragma: no cover - guarded by supports_w
        raise UserError("black-box generator: no synthesis network")

    def generate(self, z, c=None, psi=1.0, noise_mode="random", noise_seed=None, indices=None):
        if psi != 1.0:
            raise UserError(f"{self.spec}: truncation needs W space, which a black-box generator does not expose")
        c = self._check_c(c, z.shape[0])
        with stdout_to_stderr():
            return self._fn(z) if c is None else self._fn(z, c)

    def extra_info(self) -> dict[str, Any]:
        return {
            "generator_spec": self.spec,
            "noise": "module-managed (PPL pairs share a forked torch RNG)",
            "w_space": "unavailable (black box)",
        }


def _call_factory(obj: Any, spec: str, path: Any, generator_args: dict[str, Any]) -> Any:
    name = getattr(obj, "__qualname__", repr(obj))
    args = (str(path),) if path is not None else ()
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        sig = None
    if sig is not None:
        try:
            sig.bind(*args, **generator_args)
        except TypeError as exc:
            if path is None:
                try:
                    sig.bind("checkpoint", **generator_args)
                    raise UserError(
                        f"--generator {spec!r}: {name}() needs a checkpoint path (factory(path)); pass the checkpoint file"
                    ) from None
                except TypeError:
                    pass
            given = (
                f"path and {sorted(generator_args)}"
                if path is not None
                else f"{sorted(generator_args) or 'no arguments'}"
            )
            raise UserError(f"--generator {spec!r}: cannot call {name}{sig} with {given} ({exc})") from None
    try:
        with stdout_to_stderr():
            return obj(*args, **generator_args)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's code: any failure is a one-line input error
        raise UserError(f"--generator {spec!r}: {name}() raised {_first_line(exc)}") from None


def adapt(
    obj: Any,
    spec: str,
    path: str | os.PathLike | None = None,
    _depth: int = 0,
    generator_args: dict[str, Any] | None = None,
) -> Generator:
    """Turn what the import spec names into a Generator, following the module contract."""
    generator_args = dict(generator_args or {})
    if generator_args and (_depth > 0 or not callable(obj) or isinstance(obj, Generator)):
        raise UserError(f"--generator {spec!r}: generator arguments {sorted(generator_args)} need a class or factory")
    if isinstance(obj, Generator):
        return obj
    if not generator_args and hasattr(obj, "mapping") and hasattr(obj, "synthesis") and not inspect.isclass(obj):
        return ModuleGenerator(obj, spec)
    if (
        not generator_args
        and callable(obj)
        and not inspect.isclass(obj)
        and hasattr(obj, "z_dim")
        and hasattr(obj, "resolution")
    ):
        return BlackBoxGenerator(obj, spec)
    if callable(obj) and _depth == 0:
        return adapt(_call_factory(obj, spec, path, generator_args), spec, path, _depth=1)
    raise CheckpointError(
        f"--generator {spec!r}: expected a Generator, an object with z_dim/w_dim/num_ws/resolution and "
        "mapping()/synthesis(), a callable z -> images with z_dim and resolution attributes, or a factory "
        "returning one of those"
    )


# ------------------------------------------------------------------------------ validation
def check_output(images: Any, gen: Generator, name: str, n: int) -> list[str]:
    """Check a first output against the contract; raise UserError (one line) or return warnings."""
    C, R = gen.img_channels, gen.resolution
    if not isinstance(images, torch.Tensor):
        raise UserError(f"{name}: the generator returned {type(images).__name__}, expected a tensor [N, {C}, {R}, {R}]")
    shape = tuple(images.shape)
    if shape != (n, C, R, R):
        if len(shape) == 4 and shape[0] == n and shape[3] == C and shape[1:3] == (R, R):
            raise UserError(
                f"{name}: the output is NHWC {list(shape)}; the contract is NCHW [N, {C}, {R}, {R}] "
                "(return images.permute(0, 3, 1, 2))"
            )
        raise UserError(
            f"{name}: the output has shape {list(shape)}, expected [N, img_channels, R, R] = [{n}, {C}, {R}, {R}]"
        )
    if not images.is_floating_point():
        raise UserError(f"{name}: the output has dtype {images.dtype}, expected floating point images in [-1, 1]")
    x = images.detach().float()
    if not bool(torch.isfinite(x).all()):
        raise UserError(f"{name}: the output holds NaN or infinite values")
    lo, hi = float(x.min()), float(x.max())
    if lo >= 0.0 and 1.5 < hi <= 255.0:
        return [
            f"{name}: the output lies in [{lo:.3g}, {hi:.3g}], which looks like [0, 255]; the contract is [-1, 1] (x / 127.5 - 1)"
        ]
    if lo >= 0.0 and hi <= 1.0:
        return [
            f"{name}: the output lies in [{lo:.3g}, {hi:.3g}], which looks like [0, 1]; the contract is [-1, 1] (x * 2 - 1)"
        ]
    return []


def validate(gen: Generator, name: str, n: int = 2) -> list[str]:
    """Render ``n`` images (seed 0) and check them (:func:`check_output`); warnings are also issued.

    Raises UserError naming ``name`` when the adapter raises or breaks the contract.
    """
    from ..pairs import seeded_rng

    idx = torch.arange(n, dtype=torch.int64)
    try:
        with torch.inference_mode(), stdout_to_stderr(), seeded_rng(0, gen.device):  # leaves the caller's RNG alone
            z = sampling.normal(0, sampling.Z, idx, (gen.z_dim,), gen.device)
            c = None
            if gen.c_dim:
                c = torch.nn.functional.one_hot(torch.zeros(n, dtype=torch.int64, device=gen.device), gen.c_dim).float()
            images = gen.generate(z, c, noise_seed=0, indices=idx)
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's code: any failure is a one-line input error
        raise UserError(f"{name}: generating the first images raised {_first_line(exc)}") from None
    found = check_output(images, gen, name, n)
    for text in found:
        warnings.warn(text, AdapterWarning, stacklevel=2)
    gen.load_warnings = list(found)  # type: ignore[attr-defined]
    return found


def load(
    spec: str, path: str | os.PathLike | None = None, generator_args: dict[str, Any] | None = None, **options: Any
) -> Generator:
    """Import ``spec`` and adapt it (see the module docstring for the contract).

    ``generator_args`` are keyword arguments for a class or factory. The output is validated by
    :func:`validate` when the loader moves the generator to its device.
    """
    if options:
        raise CheckpointError(f"--generator {spec!r}: options {sorted(options)} do not apply to custom generators")
    obj, _ = _resolve(spec)
    return adapt(obj, spec, path, generator_args=generator_args)


# ------------------------------------------------------------------------------ identity
def _sha256_file(path: str | os.PathLike | None) -> str | None:
    if path is None or not Path(path).is_file():
        return None
    from ..fileio import sha256_file

    return sha256_file(path)


def state_sha256(module: torch.nn.Module | None) -> str | None:
    """sha256 over the state dict: every entry's name, dtype, shape and tensor bytes, in key order."""
    if not isinstance(module, torch.nn.Module):
        return None
    h = hashlib.sha256()
    for key, value in sorted(module.state_dict().items()):
        h.update(key.encode())
        if isinstance(value, torch.Tensor):
            t = value.detach().to("cpu").contiguous()
            h.update(f"{t.dtype}{list(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        else:
            h.update(repr(value).encode())
    return h.hexdigest()


def _source_files(spec: str | None, module: Any) -> list[str]:
    files: list[str] = []
    if spec and ":" in spec:
        mod = sys.modules.get(spec.partition(":")[0])
        if mod is not None and getattr(mod, "__file__", None):
            files.append(os.path.abspath(mod.__file__))
    for obj in (module, getattr(module, "_obj", None), getattr(module, "_fn", None)):
        if obj is None:
            continue
        target = obj if inspect.isfunction(obj) or inspect.isclass(obj) else type(obj)
        try:
            src = inspect.getsourcefile(target)
        except TypeError:
            src = None
        if src and os.path.abspath(src) not in files and not _is_stdlib(getattr(target, "__module__", None)):
            files.append(os.path.abspath(src))
    return files


def generator_identity(spec: str | None, path: str | os.PathLike | None, module: Any) -> dict[str, Any]:
    """What a result depends on about the generator, for resume and sample-reuse fingerprints.

    Args:
        spec: the ``--generator`` import spec, or None for a checkpoint format.
        path: the checkpoint file, or None (spec-only runs).
        module: the loaded :class:`Generator` (or any module / callable).

    Returns:
        {"generator_spec", "checkpoint", "checkpoint_sha256", "adapter_files" {path: sha256},
        "state_sha256"}: the state-dict hash covers every weight, and the adapter files' hashes
        any change of the adapter code, so two runs that could differ never share an identity.
    """
    files = _source_files(spec, module) if spec else []  # built-in formats: the weights say it all
    state = state_sha256(module if isinstance(module, torch.nn.Module) else getattr(module, "module", None))
    return {
        "generator_spec": spec,
        "checkpoint": None if path is None else str(Path(path).resolve()),
        "checkpoint_sha256": _sha256_file(path),
        "adapter_files": {f: _sha256_file(f) for f in files},
        "state_sha256": state,
        "family": getattr(module, "family", None),
        "noise": "explicit" if getattr(module, "noise_shapes", None) else "module-managed",
    }


__all__ = [
    "AdapterWarning",
    "BlackBoxGenerator",
    "ModuleGenerator",
    "adapt",
    "check_output",
    "generator_identity",
    "load",
    "parse_generator_args",
    "state_sha256",
    "stdout_to_stderr",
    "validate",
]
