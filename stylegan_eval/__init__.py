"""stylegan-eval: evaluate StyleGAN generators the way the reference code does.

Public API::

    import stylegan_eval as se
    G = se.load_generator("ckpt.pt")          # any supported checkpoint -> Generator
"""

from .errors import CheckpointError, UserError, WeightsUnavailable
from .formats import load_generator
from .generator import Generator
from .metrics.ppl import ppl
from .metrics.separability import separability
from .report import Report

__all__ = ["CheckpointError", "Generator", "Report", "UserError", "WeightsUnavailable", "load_generator", "ppl", "separability"]
