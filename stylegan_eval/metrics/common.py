"""What every metric entry point shares: the generator's identity (computed here only), the
resume-state lookup and the checks of the sampling arguments every metric takes.

A metric's fingerprint names every input its result depends on. The generator enters it as
the sha256 of its parameters and buffers (names, shapes, dtypes and bytes), so that the same
weights give the same fingerprint whether they came from a file (the ``ppl`` command,
``compare``) or from memory (``api.evaluate`` in a training loop).
"""

from __future__ import annotations

import hashlib
import math
import os
from typing import Any, Callable, Union

import torch

from ..engine import ResumeState
from ..errors import ArgumentError
from ..fileio import sha256_file
from ..generator import NOISE_MODES

#: ``state=`` of an entry point: a ResumeState, or ``(name, fingerprint) -> ResumeState | None``
#: (e.g. :meth:`stylegan_eval.commands.options.RunOptions.resume_state`), or None (no resume).
StateArg = Union[ResumeState, Callable[[str, dict], Any], None]


def generator_digest(generator: torch.nn.Module) -> str:
    """sha256 of the generator's state (every parameter and buffer: name, dtype, shape, bytes) and,
    for a ``--generator`` spec, its identity (:func:`stylegan_eval.formats.custom.generator_identity`)."""
    h = hashlib.sha256()
    for name, t in sorted(generator.state_dict().items()):
        if not isinstance(t, torch.Tensor):
            continue
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    identity = getattr(generator, "identity", None)  # spec-only generators: adapter files, spec, checkpoint
    if identity:
        import json

        h.update(json.dumps(identity, sort_keys=True, default=str).encode())
    return h.hexdigest()


def generator_fingerprint(generator: Any) -> dict[str, Any]:
    """The generator's entries in a :class:`~.result_simple.SimpleResult` fingerprint: its own
    ``fingerprint()`` when it has one, else its info plus :func:`generator_digest` (the weights and,
    for a ``--generator`` spec, its identity). PPL, separability and FID/KID put
    :func:`generator_digest` itself under ``"generator"``; both forms are kept so that existing
    fingerprints (and the resume state keyed on them) stay valid."""
    identity = getattr(generator, "identity", None)  # --generator specs: adapter files, spec, checkpoint
    extra = {"generator_identity": identity} if identity else {}
    fp = getattr(generator, "fingerprint", None)
    if callable(fp):
        return {"generator": fp(), **extra}
    info = generator.info() if hasattr(generator, "info") else {"type": type(generator).__name__}
    if hasattr(generator, "state_dict"):  # the weights (and a spec's identity), not only the architecture
        extra["generator_digest"] = generator_digest(generator)
    return {"generator": info, **extra}


_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_digest(path: str | os.PathLike | None) -> str | None:
    """sha256 of a weights file, or None without one (remembered per process by path, size and mtime)."""
    if path is None or not os.path.isfile(path):
        return None
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_size, st.st_mtime_ns)
    if key not in _DIGESTS:
        _DIGESTS[key] = sha256_file(path)
    return _DIGESTS[key]


def resolve_state(state: StateArg, name: str, fingerprint: dict[str, Any]) -> ResumeState | None:
    """The ResumeState to use: ``state`` itself, or what the ``state`` callable gives for (name, fingerprint)."""
    if state is None or isinstance(state, ResumeState):
        return state
    return state(name, fingerprint)


def check_sampling(
    generator: Any,
    *,
    num_samples: int,
    batch_size: int | None = None,
    psi: float = 1.0,
    noise_mode: str = "random",
    class_idx: int | None = None,
    min_samples: int = 2,
) -> None:
    """The checks of the sampling arguments a metric's ``validate`` shares (same names as the
    entry points'): ArgumentError naming the first one out of range, before anything is built.

    Args:
        generator: the Generator (its ``c_dim`` bounds ``class_idx``), or generated images.
        num_samples: an integer >= ``min_samples``.
        batch_size: positive, or None (chosen by device and resolution).
        psi: a finite truncation factor.
        noise_mode: one of :data:`stylegan_eval.generator.NOISE_MODES`.
        class_idx: None, or a class in [0, c_dim) of a conditional generator.
    """
    if not (isinstance(num_samples, int) and num_samples >= min_samples):
        raise ArgumentError("num_samples", f"num_samples must be an integer >= {min_samples}, got {num_samples!r}")
    if batch_size is not None and not (isinstance(batch_size, int) and batch_size > 0):
        raise ArgumentError("batch_size", f"batch_size must be positive, got {batch_size}")
    if not (isinstance(psi, (int, float)) and math.isfinite(psi)):
        raise ArgumentError("psi", f"psi must be a finite number, got {psi!r}")
    if noise_mode not in NOISE_MODES:
        raise ArgumentError("noise_mode", f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
    c_dim = getattr(generator, "c_dim", 0) or 0
    if class_idx is not None and c_dim and not (isinstance(class_idx, int) and 0 <= class_idx < c_dim):
        raise ArgumentError("class_idx", f"class_idx must be in [0, {c_dim}), got {class_idx!r}")
