"""Publication figures of every report, in one style.

- :mod:`.style`: the house style, :class:`~.style.Figure` (a chart or raster image with its
  caption), :func:`~.style.caption` and :func:`~.style.save` (PNG at 200 dpi plus PDF/SVG, atomic).
- :mod:`.charts`: metric values with intervals, PPL histograms, Z vs W PPL, per-attribute
  separability (no torch).
- :mod:`.paper`: the StyleGAN paper's truncation and stochastic-variation figures of a generator.
"""

from __future__ import annotations

from .style import DPI, Figure, caption, save, save_all

__all__ = ["DPI", "Figure", "caption", "save", "save_all"]
