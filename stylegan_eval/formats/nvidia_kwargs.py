"""The init_kwargs of an NVIDIA generator pickle, in either repository's layout (StyleGAN2 and StyleGAN3 readers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def split_init_kwargs(kwargs: Mapping[str, Any]) -> tuple[dict, dict, str]:
    """(mapping_kwargs, synthesis_kwargs, layout) from a Generator's init_kwargs, both layouts."""
    mapping = dict(kwargs.get("mapping_kwargs") or {})
    if "synthesis_kwargs" in kwargs:
        return mapping, dict(kwargs.get("synthesis_kwargs") or {}), "stylegan2-ada-pytorch"
    top = {"z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs"}
    synth = {k: v for k, v in kwargs.items() if k not in top}
    return mapping, synth, ("stylegan3-repo" if synth else "stylegan2-ada-pytorch")
