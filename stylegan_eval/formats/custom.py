"""A user's own generator, named by an import spec: ``--generator package.module:attr``.

The contract (what ``attr`` may be)
-----------------------------------
1. A :class:`~stylegan_eval.generator.Generator` instance: used as is.
2. An object with the StyleGAN attributes and methods, adapted by :class:`ModuleGenerator`:
   ``z_dim``, ``w_dim``, ``num_ws``, ``resolution`` (ints; ``img_channels`` = 3 and ``c_dim`` = 0
   by default), ``mapping(z, c) -> w [N, w_dim] or ws [N, num_ws, w_dim]`` and
   ``synthesis(ws, noise=None) -> images [N, C, H, W] in [-1, 1]``. If it also has
   ``noise_shapes`` (a list of (H, W)) and ``synthesis`` accepts ``noise=`` (a list of
   [N, 1, H, W] tensors), noise comes from the sampling engine and results are reproducible;
   otherwise the module manages its own noise. An optional ``w_avg`` tensor is the truncation
   centre.
3. A black box: a callable ``f(z) -> images`` (or ``f(z, c)``) with ``z_dim`` and
   ``resolution`` attributes. Only Z-space metrics work; W-space metrics and truncation are
   refused with a clear message.
4. A class or factory function (anything else callable): called with the checkpoint path if
   one was given (``factory(path)``), else with no arguments; its result is treated by rules
   1-3.

Importing the module runs the user's own code, which is what they asked for; nothing is ever
executed from a checkpoint file.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any

import torch

from ..errors import CheckpointError, UserError
from ..generator import Generator

NAME = "custom"


def _resolve(spec: str) -> Any:
    if ":" not in spec:
        raise CheckpointError(f"--generator {spec!r}: expected package.module:attr")
    module_name, _, attr = spec.partition(":")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise CheckpointError(f"--generator {spec!r}: cannot import {module_name!r} ({exc})") from None
    obj: Any = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise CheckpointError(f"--generator {spec!r}: {module_name} has no attribute {attr!r}") from None
    return obj


def _int_attr(obj: Any, name: str, spec: str, default: int | None = None) -> int:
    value = getattr(obj, name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CheckpointError(f"--generator {spec!r}: expected an integer attribute {name!r}, got {value!r}")
    return value


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
        shapes = getattr(module, "noise_shapes", None)
        accepts_noise = "noise" in inspect.signature(module.synthesis).parameters
        self._noise_shapes = [tuple(s) for s in shapes] if shapes is not None and accepts_noise else []
        self._module_noise = not self._noise_shapes

    @property
    def noise_shapes(self) -> list[tuple[int, int]]:
        return self._noise_shapes

    def _map(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        w = self._obj.mapping(z, c)
        if w.ndim == 2:
            w = w[:, None, :].expand(-1, self.num_ws, -1)
        return w

    def _synthesize(self, ws: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
        if self._module_noise:
            return self._obj.synthesis(ws)
        return self._obj.synthesis(ws, noise=noise)

    def stored_w_avg(self) -> torch.Tensor | None:
        w_avg = getattr(self._obj, "w_avg", None)
        return w_avg if isinstance(w_avg, torch.Tensor) else None

    def extra_info(self) -> dict[str, Any]:
        return {"generator_spec": self.spec, "noise": "module-managed" if self._module_noise else "sampling engine"}


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
        return self._fn(z) if c is None else self._fn(z, c)

    def extra_info(self) -> dict[str, Any]:
        return {"generator_spec": self.spec, "noise": "module-managed", "w_space": "unavailable (black box)"}


def adapt(obj: Any, spec: str, path: str | os.PathLike | None = None, _depth: int = 0) -> Generator:
    """Turn what the import spec names into a Generator, following the module contract."""
    if isinstance(obj, Generator):
        return obj
    if hasattr(obj, "mapping") and hasattr(obj, "synthesis") and not inspect.isclass(obj):
        return ModuleGenerator(obj, spec)
    if callable(obj) and not inspect.isclass(obj) and hasattr(obj, "z_dim") and hasattr(obj, "resolution"):
        return BlackBoxGenerator(obj, spec)
    if callable(obj) and _depth == 0:
        made = obj(str(path)) if path is not None else obj()
        return adapt(made, spec, path, _depth=1)
    raise CheckpointError(
        f"--generator {spec!r}: expected a Generator, an object with z_dim/w_dim/num_ws/resolution and "
        "mapping()/synthesis(), a callable z -> images with z_dim and resolution attributes, or a factory "
        "returning one of those"
    )


def load(spec: str, path: str | os.PathLike | None = None, **options: Any) -> Generator:
    """Import ``spec`` and adapt it (see the module docstring for the contract)."""
    if options:
        raise CheckpointError(f"--generator {spec!r}: options {sorted(options)} do not apply to custom generators")
    return adapt(_resolve(spec), spec, path)
