"""Figures of the reports: sample grids and style-mixing figures of a generator, and each
command's plots (PPL histogram of the per-pair distances, FID/KID bars, per-attribute separability bars).

Every report uses the same seeds for every checkpoint (NVIDIA ``gen_images.py`` seeds
0-15 for the grid, destinations 0-4 and sources 5-9 for the mixing figure, as
``stylegan-eval generate`` / ``mix`` default to), so two checkpoints' figures show the same
latents. Grids are nearest-neighbour upscaled to at least 512 px
(:func:`stylegan_eval.imageops.sample_grid`); the mixing figure carries the paper's row and
column labels (:func:`stylegan_eval.imageops.mixing_figure`).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from .metrics import registry
from .metrics.figures import fid_figure, separability_figure  # noqa: F401 - re-exported (demo page, tests)

if TYPE_CHECKING:
    from .metrics.ppl import PPLResult

#: Seeds of every report's sample grid, and of its mixing figure (destinations, sources).
GRID_SEEDS = tuple(range(16))
MIX_ROWS = (0, 1, 2, 3, 4)
MIX_COLS = (5, 6, 7, 8, 9)
#: Tiles of report figures are box-downsampled to this size (a 1024 px model's grid stays a few MB).
REPORT_TILE = 256


def sample_grid_image(
    generator, seeds: Sequence[int] = GRID_SEEDS, psi: float = 1.0, class_idx: int | None = None, batch_size: int = 16
) -> np.ndarray:
    """uint8 [H, W, 3]: ``seeds`` rendered with noise 'const' as ``generate --seeds``, >= 512 px
    (tiles above :data:`REPORT_TILE` px box-downsampled to it)."""
    from .grids import render_seeds
    from .imageops import box_downsample, sample_grid

    images = box_downsample(render_seeds(generator, list(seeds), psi, "const", class_idx, batch_size), REPORT_TILE)
    return sample_grid(images, math.ceil(math.sqrt(len(seeds))), min_size=512)


def mixing_image(
    generator,
    rows: Sequence[int] = MIX_ROWS,
    cols: Sequence[int] = MIX_COLS,
    layers: Sequence[int] | None = None,
    class_idx: int | None = None,
) -> np.ndarray | None:
    """uint8 [H, W, 3]: the paper's style-mixing figure (coarse styles from the top row), or
    None when the generator exposes no W space."""
    if not getattr(generator, "supports_w", False) or getattr(generator, "num_ws", 1) < 2:
        return None
    from .grids import mixing_grid, ranges
    from .imageops import box_downsample, mixing_figure

    layers = list(layers) if layers is not None else list(range(max(1, generator.num_ws // 2)))
    rows, cols = list(rows), list(cols)
    grid = box_downsample(
        mixing_grid(generator, rows, cols, layers, 1.0, "const", 0, class_idx, nvidia_seeds=True), REPORT_TILE
    )
    cells = grid.reshape(len(rows) + 1, len(cols) + 1, *grid.shape[1:])
    return mixing_figure(
        cells[0, 1:],
        cells[1:, 0],
        cells[1:, 1:].flatten(0, 1),
        [f"seed {s}" for s in cols],
        [f"seed {s}" for s in rows],
        title=f"styles {ranges(layers)} from top",
    )


def checkpoint_figures(generator, label: str, class_idx: int | None = None) -> list[tuple[str, np.ndarray]]:
    """[(caption, image)]: the sample grid and (where W exists) the mixing figure of one checkpoint.

    A figure that cannot be rendered (e.g. a black-box generator that rejects these calls) is
    left out with a warning: pictures never stop a report whose numbers were computed.
    """
    from . import log

    was_training = getattr(generator, "training", False)
    generator.eval()
    out: list[tuple[str, np.ndarray]] = []
    try:
        out.append(
            (
                f"{label}: samples, seeds {GRID_SEEDS[0]}-{GRID_SEEDS[-1]}",
                sample_grid_image(generator, class_idx=class_idx),
            )
        )
        mix = mixing_image(generator, class_idx=class_idx)
        if mix is not None:
            out.append((f"{label}: style mixing, coarse styles of the top row (seeds)", mix))
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.warning(f"{label}: no sample figure in the report ({type(exc).__name__}: {str(exc)[:200]})")
    finally:
        generator.train(was_training)
    return out


def encoded(figures: Sequence[tuple[str, np.ndarray]]) -> list[tuple[str, str]]:
    """[(caption, base64 PNG)] of image arrays, for :func:`stylegan_eval.html_report.render`."""
    from .html_report import array_base64

    return [(caption, array_base64(img)) for caption, img in figures]


# ------------------------------------------------------------------------------ per-command plots
def write_ppl_histogram(result: PPLResult, path: Path) -> Path:
    """A PNG histogram of the per-sample distances with the cut points and the PPL marked."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    d = result.distances
    fig = Figure(figsize=(6, 4), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    hi_view = np.percentile(d, 99.9) if d.size > 10 else d.max()
    ax.hist(np.clip(d, None, hi_view), bins=100, color="tab:blue", alpha=0.8)
    for x, label, style in (
        (result.lo, "1st pct (lower)", ":"),
        (result.hi, "99th pct (higher)", ":"),
        (result.mean, f"PPL {result.mean:.4g}", "-"),
    ):
        ax.axvline(x, color="black" if style == "-" else "gray", linestyle=style, label=label)
    ax.set_xlabel("distance / eps^2")
    ax.set_ylabel("pairs")
    ax.set_title(f"{result.name}: {d.size} pairs")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    from .fileio import atomic_write

    return atomic_write(path, buf.getvalue())


def _save(fig, path: Path) -> str:
    import io

    from .fileio import atomic_write

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    atomic_write(path, buf.getvalue())
    return path.name


def write_report_figures(
    report,
    out: str | os.PathLike | None,
    generator=None,
    class_idx: int | None = None,
    metrics: Sequence[str] | None = None,
) -> list[str]:
    """Write the report's plots (and, given the generator, its sample grid and mixing figure)
    into ``out`` as PNG files plus ``<command>.html`` showing them; adds the names to
    ``report.extra_files``. Nothing happens without ``out``. Returns the names written.

    The plots are those the registry's ``report_figures`` hooks of ``metrics`` (registry
    names; None: every metric) draw from ``report.table``: FID/KID bars, per-attribute
    separability entropies; a table none of them knows gets only the images.
    """
    if out is None:
        return []
    from . import html_report
    from .fileio import atomic_write, staged
    from .imageops import save_png

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    figs: list[tuple[str, str]] = []
    samples: list[tuple[str, np.ndarray]] = []
    for hook in registry.report_figure_hooks(metrics):
        for name, caption, fig in hook(report.table):
            written.append(_save(fig, out / name))
            figs.append((caption, html_report.png_base64(fig)))
    for name in report.extra_files:  # plots the command wrote itself (ppl_hist.png), maybe still staged
        if name.endswith(".png") and staged(out / name).is_file():
            import base64

            figs.append((name, base64.b64encode(staged(out / name).read_bytes()).decode("ascii")))
    if generator is not None:
        samples = checkpoint_figures(generator, report.command, class_idx)
        names = ["samples.png", "mixing.png"]
        for (caption, img), name in zip(samples, names):
            save_png(img, out / name)
            written.append(name)
    page = html_report.render(
        f"stylegan-eval {report.command}",
        report.table if hasattr(report.table, "columns") else _frame(report.table),
        report.table if hasattr(report.table, "columns") else _frame(report.table),
        None,
        figs,
        notes=[f"Warning: {w}" for w in report.meta.get("warnings", [])],
        settings=report.settings,
        warning=report.banner(),
        samples=encoded(samples),
        columns=None,
    )
    atomic_write(out / f"{report.command}.html", page)
    written.append(f"{report.command}.html")
    report.extra_files.extend(n for n in written if n not in report.extra_files)
    return written


def _frame(rows: Any):
    import pandas as pd

    return pd.DataFrame(list(rows))
