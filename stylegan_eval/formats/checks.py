"""The checks every checkpoint format shares: a file is there and non-empty, a state dict matches its network."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from ..errors import CheckpointError

__all__ = ["check_file", "check_state_dict"]


def check_file(path: str | os.PathLike, what: str = "checkpoint") -> Path:
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"{p}: no such file (expected a StyleGAN {what})")
    if p.is_dir():
        raise CheckpointError(f"{p}: is a directory (expected a StyleGAN {what} file)")
    if p.stat().st_size == 0:
        raise CheckpointError(f"{p}: empty file (expected a StyleGAN {what})")
    return p


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
