"""stylegan-eval: evaluate StyleGAN generators the way the reference code does.

Public API::

    import stylegan_eval as se
    G = se.load_generator("ckpt.pt")          # any supported checkpoint -> Generator
    result = se.ppl(G, "w", "end", 50_000)    # -> PPLResult (.value, .to_frame(), .fingerprint())
    se.fid(G, "real/", num_samples=10_000)    # -> FeatureMetricResult; se.kid, se.separability alike
    se.fid("samples/", "real/")               # generated images instead of G: a folder, zip or NCHW tensor
    m = se.StreamingFID("real/"); m.update(images); m.compute()   # images produced elsewhere

The names below are imported on first use, so that ``import stylegan_eval`` (and the
command line) does not pay for torch until something needs it.
"""

from __future__ import annotations

import importlib
from typing import Any

from .errors import ArgumentError, CheckpointError, UserError, WeightsUnavailable

_LAZY = {
    "load_generator": ".formats",
    "Generator": ".generator",
    "ppl": ".metrics.ppl",
    "separability": ".metrics.separability",
    "fid": ".metrics.fid",
    "kid": ".metrics.kid",
    "StreamingFID": ".metrics.streaming",
    "GeneratedImages": ".metrics.image_samples",
    "evaluate": ".api",
    "Evaluator": ".evaluator",
    "Report": ".report",
}

__all__ = [
    "ArgumentError",
    "CheckpointError",
    "Evaluator",
    "Generator",
    "GeneratedImages",
    "Report",
    "StreamingFID",
    "UserError",
    "WeightsUnavailable",
    "evaluate",
    "fid",
    "kid",
    "load_generator",
    "ppl",
    "separability",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public names only (not the module's own imports)."""
    return sorted(__all__)
