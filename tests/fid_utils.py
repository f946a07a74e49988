"""Shared FID test helpers: small image folders, pytorch-fid's network on a given weights file."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image


def write_images(folder: Path, n: int, seed: int, size: int = 32, start: int = 0, contrast: float = 1.0) -> list[Path]:
    """Smooth random RGB PNGs (blurred noise, so Inception features vary between images)."""
    folder.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(seed)
    x = F.interpolate(
        torch.rand(n, 3, size // 4, size // 4, generator=g), size=size, mode="bilinear", align_corners=False
    )
    x = 0.5 + contrast * (x - 0.5)
    arr = (x * 255).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    paths = []
    for i, a in enumerate(arr):
        p = folder / f"img{start + i:03d}.png"
        Image.fromarray(a).save(p)
        paths.append(p)
    return paths


def pytorch_fid_model(weights_file: Path, monkeypatch):
    """pytorch-fid's InceptionV3 (FID blocks) with its download replaced by our weights file."""
    import pytorch_fid.inception as pfi

    monkeypatch.setattr(
        pfi, "load_state_dict_from_url", lambda *a, **k: torch.load(weights_file, map_location="cpu", weights_only=True)
    )
    return pfi.InceptionV3([pfi.InceptionV3.BLOCK_INDEX_BY_DIM[2048]]).eval()
