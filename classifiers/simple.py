"""A small CNN for custom attributes, and its checkpoint format.

The network takes NCHW images in [-1, 1] at ``input_resolution`` and returns one logit per
image, **positive = attribute present** (the training recipe's convention; the separability
metric does not depend on the sign). Checkpoints are ``torch.save`` dicts read back with
``weights_only=True``::

    {"format": "stylegan-eval-classifier", "version": 1, "arch": "simple",
     "config": {...}, "state_dict": {...}, "attribute": str, "metrics": {...}}
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from stylegan_eval.errors import CheckpointError

FORMAT = "stylegan-eval-classifier"
VERSION = 1


class SimpleClassifier(nn.Module):
    """Strided 3x3 convs (channels doubling, capped) down to 4x4, global average pool, linear -> logit.

    Args:
        input_resolution: side length of the input images (a power of two >= 4).
        in_channels: input channels.
        base_channels: channels of the first conv.
        max_channels: cap on the channels.
    """

    def __init__(
        self, input_resolution: int = 64, in_channels: int = 3, base_channels: int = 16, max_channels: int = 128
    ) -> None:
        super().__init__()
        if input_resolution < 4 or 2 ** int(round(math.log2(input_resolution))) != input_resolution:
            raise ValueError(f"input_resolution must be a power of two >= 4, got {input_resolution}")
        if base_channels < 1 or max_channels < base_channels:
            raise ValueError("need 1 <= base_channels <= max_channels")
        self.config = dict(
            input_resolution=input_resolution,
            in_channels=in_channels,
            base_channels=base_channels,
            max_channels=max_channels,
        )
        self.input_resolution = input_resolution
        layers: list[nn.Module] = [nn.Conv2d(in_channels, base_channels, 3, padding=1), nn.LeakyReLU(0.2)]
        ch, res = base_channels, input_resolution
        while res > 4:
            nxt = min(ch * 2, max_channels)
            layers += [nn.Conv2d(ch, nxt, 3, stride=2, padding=1), nn.LeakyReLU(0.2)]
            ch, res = nxt, res // 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(ch, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images [N, C, R, R] -> logits [N, 1]."""
        r = self.input_resolution
        if images.ndim != 4 or images.shape[-2:] != (r, r) or images.shape[1] != self.config["in_channels"]:
            raise ValueError(
                f"classifier expects images [N, {self.config['in_channels']}, {r}, {r}], got {tuple(images.shape)}"
            )
        return self.head(self.features(images).mean(dim=(2, 3)))


def save_checkpoint(
    model: SimpleClassifier, path: str | os.PathLike, attribute: str, metrics: dict[str, Any] | None = None
) -> Path:
    """Write ``model`` in the checkpoint format above (atomically)."""
    import io

    from stylegan_eval.fileio import atomic_write

    buf = io.BytesIO()
    torch.save(
        {
            "format": FORMAT,
            "version": VERSION,
            "arch": "simple",
            "config": dict(model.config),
            "attribute": str(attribute),
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "metrics": dict(metrics or {}),
        },
        buf,
    )
    return atomic_write(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike) -> tuple[SimpleClassifier, dict[str, Any]]:
    """Read a checkpoint written by :func:`save_checkpoint` (no code execution); returns (model, meta)."""
    p = Path(path)
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(
            f"{p}: not a readable classifier checkpoint ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{p}: not a stylegan-eval classifier checkpoint (expected format {FORMAT!r})")
    if ckpt.get("version") != VERSION or ckpt.get("arch") != "simple":
        raise CheckpointError(
            f"{p}: unsupported classifier checkpoint version/arch ({ckpt.get('version')}, {ckpt.get('arch')})"
        )
    try:
        model = SimpleClassifier(**ckpt["config"])
        model.load_state_dict(ckpt["state_dict"], strict=True)
    except (TypeError, ValueError, RuntimeError, KeyError) as exc:
        raise CheckpointError(
            f"{p}: classifier checkpoint does not match its config ({str(exc).splitlines()[0][:160]})"
        ) from None
    meta = {"attribute": ckpt.get("attribute"), "metrics": ckpt.get("metrics", {}), "config": ckpt["config"]}
    return model.eval().requires_grad_(False), meta


__all__ = ["SimpleClassifier", "load_checkpoint", "save_checkpoint"]
