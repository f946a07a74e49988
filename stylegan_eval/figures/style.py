"""The one figure style of every report: fonts, colours, captions, the random-weights mark, saving.

Every chart is a :class:`Figure`: a matplotlib figure (or a raster image such as a sample grid)
plus a file stem and a caption sentence that states the sample count, the seed and what the
interval is. :func:`save` writes each figure as PNG at :data:`DPI` dots per inch and as vector
PDF and SVG (raster figures: PNG and a PDF that embeds the PNG), every file atomically.
Matplotlib runs headless (the Agg canvas); no display and no global ``pyplot`` state are used.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

#: Resolution of saved PNG files (dots per inch); vector files carry the same layout.
DPI = 200
#: Resolution of the PNGs embedded in HTML pages (shown at the page's width, so fewer pixels suffice).
HTML_DPI = 110
#: Vector formats written beside each chart's PNG.
VECTOR_FORMATS = ("pdf", "svg")
#: Width in inches of a one-panel chart (a journal's single column is ~3.3 in, a page ~6.8 in).
WIDTH = 6.4
#: Colours: one per latent space (the StyleGAN paper's Z and W), the baseline checkpoint, the
#: others in matplotlib's colour-blind-safe "tableau" order.
SPACE_COLORS = {"z": "#4c72b0", "w": "#dd8452"}
BASELINE_COLOR = "#7f7f7f"
COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")
RANDOM_MARK_COLOR = "#c0392b"

#: matplotlib settings of every chart (applied while a chart is drawn, never globally).
RC: Any = {
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "xtick.labelsize": 8.5,
    "ytick.labelsize": 8.5,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.grid.axis": "y",
    "grid.alpha": 0.35,
    "grid.linestyle": ":",
    "svg.fonttype": "none",  # SVG text stays text (searchable, editable)
    "pdf.fonttype": 42,  # TrueType in PDF, as journals ask
}


@dataclass
class Figure:
    """One finished figure of a report.

    Attributes:
        name: file stem (``ppl_hist`` -> ``ppl_hist.png``, ``.pdf``, ``.svg``).
        caption: one or more sentences: what is shown, n, seed, what the interval is, and the
            random-weights warning where it applies.
        fig: a matplotlib ``Figure`` (charts), or None for a raster figure.
        image: uint8 [H, W, 3] (sample grids, mixing figures), or None for a chart.
        pixels: show the image without smoothing in HTML (generated samples).
    """

    name: str
    caption: str
    fig: Any = None
    image: np.ndarray | None = None
    pixels: bool = False
    files: list[str] = field(default_factory=list)

    def png(self, dpi: int = DPI) -> bytes:
        """The figure as PNG bytes (charts at ``dpi``; raster figures as they are, tagged ``dpi``)."""
        buf = io.BytesIO()
        if self.fig is not None:
            plain_text(self.fig)
            self.fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", pad_inches=0.05)
        else:
            from PIL import Image

            Image.fromarray(np.ascontiguousarray(self.image)).save(buf, format="PNG", dpi=(dpi, dpi))
        return buf.getvalue()

    def base64(self) -> str:
        """PNG (at :data:`HTML_DPI` for charts) as base64 text, for an inline ``<img>``."""
        import base64

        return base64.b64encode(self.png(HTML_DPI if self.fig is not None else DPI)).decode("ascii")


def plain_text(fig) -> None:
    """Show every text of ``fig`` literally: checkpoint names and labels may hold ``$`` or ``\\``,
    which matplotlib would otherwise parse as (possibly invalid) mathtext when laying out."""
    from matplotlib.text import Text

    for t in fig.findobj(Text):
        t.set_parse_math(False)


def new_figure(ncols: int = 1, nrows: int = 1, width: float = WIDTH, height: float = 3.4, **kwargs: Any):
    """(matplotlib Figure, array of Axes [nrows, ncols] squeezed) in the house style, on the Agg canvas."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure

    with matplotlib.rc_context(RC):
        fig = MplFigure(figsize=(width, height), layout="constrained")
        FigureCanvasAgg(fig)
        axes = fig.subplots(nrows, ncols, squeeze=True, **kwargs)
    return fig, axes


def styled() -> Any:
    """Context manager applying :data:`RC` while a chart's artists are created."""
    import matplotlib

    return matplotlib.rc_context(RC)


def random_weights_text(names: Sequence[str]) -> str:
    """The caption sentence of a figure computed with randomly initialised networks ('' when none)."""
    if not names:
        return ""
    return (
        f"Computed with randomly initialised {', '.join(names)} (published weights not available): "
        "not comparable to published values."
    )


def mark_random_weights(fig, names: Sequence[str]) -> None:
    """Stamp 'RANDOM WEIGHTS' in red in the top-right corner of ``fig`` when ``names`` is non-empty,
    so that a figure copied out of its report still carries the warning."""
    if names:
        # A suptitle gets its own row under constrained layout, so it never covers a title.
        fig.suptitle(
            "RANDOM WEIGHTS: not comparable to published values",
            x=0.99,
            ha="right",
            fontsize=7.5,
            color=RANDOM_MARK_COLOR,
            fontweight="bold",
        )


def caption(
    what: str,
    *,
    n: str | int | None = None,
    seed: int | None = None,
    interval: str | None = None,
    random_weights: Sequence[str] = (),
    extra: Sequence[str] = (),
) -> str:
    """The caption of a figure: ``what`` (a sentence), then n, seed, the interval and caveats.

    Args:
        what: what the figure shows, e.g. "PPL per-pair distances of ppl_wend".
        n: sample count (an int, or text such as "16 pairs per checkpoint").
        seed: the sampling seed.
        interval: what the error bars / band are ("95% bootstrap interval of the mean"), or why
            there is none; None leaves it out.
        random_weights: networks that ran at random initialisation (adds the warning sentence).
        extra: further sentences (notes, caveats).
    """
    parts = [what.rstrip(".") + "."]
    facts = []
    if n is not None:
        facts.append(f"n = {n}")
    if seed is not None:
        facts.append(f"seed {seed}")
    if facts:
        parts.append(", ".join(facts) + ".")
    if interval:
        parts.append(interval[0].upper() + interval[1:].rstrip(".") + ".")
    parts += [e.rstrip(".") + "." for e in extra if e]
    rw = random_weights_text(random_weights)
    if rw:
        parts.append(rw)
    return " ".join(parts)


def save(figure: Figure, out: str | os.PathLike, vector: bool = True) -> list[str]:
    """Write ``figure`` into folder ``out``: ``<name>.png`` at :data:`DPI` plus ``.pdf`` and ``.svg``
    (charts) or ``.pdf`` (raster figures), each atomically. Returns the file names written (also
    kept in ``figure.files``)."""
    from ..fileio import atomic_write

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = [atomic_write(out / f"{figure.name}.png", figure.png()).name]
    if vector:
        for fmt in VECTOR_FORMATS if figure.fig is not None else ("pdf",):
            buf = io.BytesIO()
            if figure.fig is not None:
                plain_text(figure.fig)
                figure.fig.savefig(buf, format=fmt, bbox_inches="tight", pad_inches=0.05)
            else:
                from PIL import Image

                Image.fromarray(np.ascontiguousarray(figure.image)).save(buf, format="PDF", resolution=DPI)
            names.append(atomic_write(out / f"{figure.name}.{fmt}", buf.getvalue()).name)
    figure.files = names
    return names


def save_all(figures: Sequence[Figure], out: str | os.PathLike) -> list[str]:
    """:func:`save` for each figure; the names written, in order."""
    return [name for f in figures for name in save(f, out)]


def iter_charts(figures: Sequence[Figure]) -> Iterator[Figure]:
    """The charts (matplotlib figures) among ``figures``."""
    return (f for f in figures if f.fig is not None)


def image_figure(image: np.ndarray, name: str, what: str, **facts) -> Figure:
    """A raster figure (sample grid, mixing figure) with its caption (see :func:`~stylegan_eval.figures.style.caption`)."""
    return Figure(name, caption(what, **facts), image=np.ascontiguousarray(image), pixels=True)
