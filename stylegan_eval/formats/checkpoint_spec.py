"""A checkpoint reference with its loading options: what ``CKPT``, ``--format``, ``--resolution``,
``--generator``, ``--generator-arg`` and ``--class`` say together, loaded into a Generator and
described for the report."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from .. import hub
from ..errors import UserError
from ..generator import Generator
from .refs import IMAGES_NEED_FEATURE_METRICS, resolve_demo, split_checkpoint_ref


@dataclass
class CheckpointSpec:
    """Attributes:
    path: checkpoint file or name (``demo``, ``nvidia:<name>``; an ``hf://`` reference stays a str,
        since a Path would fold its ``//``), or None for a spec-only generator.
    format: ``--format`` name, or None to autodetect.
    resolution: output resolution (StyleGAN1 files store every block), or None.
    generator_spec: ``package.module:attr`` of a generator from code, or None.
    class_idx: class label of conditional generators, or None.
    generator_args: keyword arguments of the ``generator_spec`` class or factory.
    """

    path: Path | str | None
    format: str | None
    resolution: int | None
    generator_spec: str | None
    class_idx: int | None
    generator_args: dict = field(default_factory=dict)

    @classmethod
    def from_ref(
        cls,
        ref: str | os.PathLike | None,
        fmt: str | None = None,
        resolution: int | None = None,
        generator_spec: str | None = None,
        class_idx: int | None = None,
        generator_arg_items: Iterable[str] = (),
    ) -> CheckpointSpec:
        """From a reference (:func:`.refs.split_checkpoint_ref`) and the ``--generator`` options
        (``generator_arg_items``: ``KEY=VALUE`` strings)."""
        from .custom import parse_generator_args

        path = spec = None
        if ref is not None:
            path, spec = split_checkpoint_ref(str(ref))
        if spec is not None and generator_spec is not None and spec != generator_spec:
            raise UserError(f"CKPT {ref} names the generator {spec} and --generator names {generator_spec}: give one")
        args = parse_generator_args(list(generator_arg_items or ()))
        return cls(
            None if path is None else (path if hub.is_hub_ref(path) else Path(path)),
            fmt.lower() if fmt else None,
            resolution,
            spec or generator_spec,
            class_idx,
            args,
        )

    def load(self, device: Any) -> tuple[Generator, dict[str, Any]]:
        """(the generator on ``device``, the report's description of the checkpoint: file, sha256, identity)."""
        from . import load_generator, sha256_file

        if self.path is None and self.generator_spec is None:
            raise UserError(
                "no checkpoint given: pass CKPT (or 'demo' for the embedded demo generator, "
                "--generator MODULE:ATTR, or ckpt = ... in stylegan-eval.toml)"
            )
        if self.path is not None and not hub.is_hub_ref(self.path):
            self.path = Path(resolve_demo(self.path))
            if self.path.is_dir():
                raise UserError(f"{self.path}: {IMAGES_NEED_FEATURE_METRICS}")
        options = {} if self.resolution is None else {"resolution": self.resolution}
        gen = load_generator(
            self.path,
            self.format,
            self.generator_spec,
            device=device,
            generator_args=self.generator_args or None,
            **options,
        )
        if self.class_idx is not None and not self.class_idx < gen.c_dim:  # never silently ignored
            raise UserError(
                f"--class {self.class_idx}: this generator is unconditional (no class labels)"
                if gen.c_dim == 0
                else f"--class must be in [0, {gen.c_dim}), got {self.class_idx}"
            )
        meta = {
            "checkpoint": str(self.path) if self.path else None,
            "generator_spec": self.generator_spec,
            **gen.info(),
        }
        if self.generator_args:
            meta["generator_args"] = dict(self.generator_args)
        source = getattr(gen, "hub_source", None)  # hf://: the commit and sha256 the reference resolved to
        if source:
            meta["sha256"] = source["sha256"]
            meta["hub"] = dict(source)
        elif self.path is not None and Path(self.path).is_file():
            meta["sha256"] = sha256_file(self.path)
        if self.generator_spec is not None:
            meta["identity"] = getattr(gen, "identity", None)  # load_generator sets it on every generator from code
        adapter_warnings = list(getattr(gen, "load_warnings", None) or [])
        if adapter_warnings:  # the adapter's output check (range, dtype): in the report, and once on stderr
            meta["load_warnings"] = adapter_warnings
        return gen, meta
