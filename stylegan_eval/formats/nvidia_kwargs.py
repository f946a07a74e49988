"""The init_kwargs of an NVIDIA generator pickle, in either repository's layout (StyleGAN2 and StyleGAN3 readers)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The generator's own init arguments, in NVIDIA's positional order (``Generator(z_dim, c_dim, ...)``).
GENERATOR_ARGS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")


def generator_args(rec: Any) -> dict[str, Any]:
    """:data:`GENERATOR_ARGS` of a generator record: positional arg, else kwarg, else attribute (None if absent)."""
    args, kw = rec.init_args, rec.init_kwargs
    return {n: (args[i] if i < len(args) else kw.get(n, rec.attrs.get(n))) for i, n in enumerate(GENERATOR_ARGS)}


def split_init_kwargs(kwargs: Mapping[str, Any]) -> tuple[dict, dict, str]:
    """(mapping_kwargs, synthesis_kwargs, layout) from a Generator's init_kwargs, both layouts."""
    mapping = dict(kwargs.get("mapping_kwargs") or {})
    if "synthesis_kwargs" in kwargs:
        return mapping, dict(kwargs.get("synthesis_kwargs") or {}), "stylegan2-ada-pytorch"
    top = {*GENERATOR_ARGS, "mapping_kwargs"}
    synth = {k: v for k, v in kwargs.items() if k not in top}
    return mapping, synth, ("stylegan3-repo" if synth else "stylegan2-ada-pytorch")
