"""The checks every checkpoint format shares: a file is there, regular and non-empty, a state
dict matches its network and has no zero-size weights."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError

__all__ = ["check_file", "check_no_empty", "check_state_dict", "first_line"]


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (at most 160 characters), or its type's name."""
    text = str(exc).strip()
    return text.splitlines()[0][:160] if text else type(exc).__name__


def check_file(path: str | os.PathLike, what: str = "checkpoint") -> Path:
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such file (expected a StyleGAN {what})")
    if p.is_dir():
        raise CheckpointError(f"{p}: is a directory (expected a StyleGAN {what} file)")
    if not p.is_file():  # a FIFO (whose size reads 0 and whose open would wait) or a device
        from ..checks import kind_of

        raise CheckpointError(f"{p}: is {kind_of(p.stat().st_mode)}, not a regular file (expected a StyleGAN {what})")
    if p.stat().st_size == 0:
        raise CheckpointError(f"{p}: empty file (expected a StyleGAN {what})")
    return p


def check_no_empty(sd: Mapping[str, Any], path: Any) -> None:
    """Raise CheckpointError if a weight in ``sd`` has a zero-size dimension: layer sizes are read
    from the weights' shapes, and a zero would reach divisions or degenerate layer counts."""
    for key, t in sd.items():
        if isinstance(t, torch.Tensor) and t.ndim and t.numel() == 0:
            raise CheckpointError(f"{path}: weight {str(key)[:80]} has shape {list(t.shape)} (a zero-size dimension)")


def check_state_dict(net: torch.nn.Module, sd: Mapping[str, Any], path: Any, what: str) -> None:
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
