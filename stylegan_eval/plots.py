"""Figures of the reports: sample grids and style-mixing figures of a generator, and the pages of
the single-metric commands, whose charts (PPL histogram of the per-pair distances, FID/KID bars,
per-attribute separability bars) the metrics' registry ``report_figures`` hooks draw.

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
from typing import Any, Mapping, Sequence

import numpy as np

from .figures.style import Figure

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
                f"{label}: uncurated samples of NVIDIA seeds {GRID_SEEDS[0]}-{GRID_SEEDS[-1]} "
                f"(n = {len(GRID_SEEDS)}, psi = 1, noise 'const')",
                sample_grid_image(generator, class_idx=class_idx),
            )
        )
        mix = mixing_image(generator, class_idx=class_idx)
        if mix is not None:
            out.append(
                (
                    f"{label}: style mixing; destinations (seeds {MIX_ROWS[0]}-{MIX_ROWS[-1]}) down the left take "
                    f"the coarse styles of the sources (seeds {MIX_COLS[0]}-{MIX_COLS[-1]}) across the top",
                    mix,
                )
            )
    except Exception as exc:  # noqa: BLE001 - see the docstring
        log.warning(f"{label}: no sample figure in the report ({type(exc).__name__}: {str(exc)[:200]})")
    finally:
        generator.train(was_training)
    return out


def encoded(figures: Sequence[tuple[str, np.ndarray]]) -> list[tuple[str, str]]:
    """[(caption, base64 PNG)] of image arrays, for :func:`stylegan_eval.html_report.render`."""
    from .html_report import array_base64

    return [(caption, array_base64(img)) for caption, img in figures]


# ------------------------------------------------------------------------------ per-command pages
#: Columns of each single-metric page shown first (visible at 1280 px without scrolling).
HEADLINE = {
    "ppl": ("metric", "ppl", "ci95_low", "ci95_high", "num_samples", "kept"),
    "separability": ("space", "attribute", "score", "conditional_entropy_bits", "svm_accuracy"),
    "fid": ("metric", "value", "std", "num_real", "num_gen"),
}


def report_charts(
    report, metrics: Sequence[Any] = (), runs: Mapping[str, Mapping[str, Any]] | None = None
) -> tuple[list[Figure], list[str]]:
    """The charts of a single-metric report and the notes on charts not drawn: what the
    ``report_figures`` hooks of ``metrics`` (registry names or specs,
    :func:`stylegan_eval.metrics.registry.report_figure_hooks`) draw from the report and
    ``runs`` ({output: the run's details}, e.g. PPL's per-pair distances)."""
    from .metrics import registry

    charts: list[Figure] = []
    notes: list[str] = []
    for hook in registry.report_figure_hooks(metrics):
        figs, why = hook(report, dict(runs or {}))
        charts += figs
        notes += why
    return charts, notes


def write_report_figures(
    report,
    out: str | os.PathLike | None,
    generator=None,
    class_idx: int | None = None,
    *,
    metrics: Sequence[Any] = (),
    runs: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[str]:
    """Write the report's figures into ``out`` (each as PNG at 200 dpi plus PDF/SVG,
    :func:`stylegan_eval.figures.style.save`) and ``<command>.html`` showing them; adds the
    names to ``report.extra_files`` and notes on charts not drawn to ``report.meta['notes']``.
    Nothing happens without ``out``. Returns the names written.

    The charts are those the ``report_figures`` hooks of ``metrics`` draw from the report and
    ``runs`` (:func:`report_charts`); given the generator, the sample grid and the mixing
    figure are added.
    """
    if out is None:
        return []
    from . import html_report
    from .figures.style import image_figure, save_all
    from .fileio import atomic_write

    out = Path(out)
    charts, notes = report_charts(report, metrics, runs)
    if notes:
        report.meta["notes"] = list(dict.fromkeys([*(report.meta.get("notes") or []), *notes]))
    images = []
    if generator is not None:
        for (caption, img), name in zip(
            checkpoint_figures(generator, report.command, class_idx), ("samples", "mixing")
        ):
            images.append(image_figure(img, name, caption))
    written = save_all([*charts, *images], out)
    report.meta["figures"] = {
        **(report.meta.get("figures") or {}),
        **{f.files[0]: f.caption for f in (*charts, *images)},
    }
    table = report.table if hasattr(report.table, "columns") else _frame(report.table)
    page = html_report.render(
        f"stylegan-eval {report.command}",
        table,
        table,
        None,
        charts,
        notes=report.notes(),
        settings=report.settings,
        warning=report.banner(),
        samples=images,
        columns=None,
        headline=HEADLINE.get(report.command, ()),
    )
    atomic_write(out / f"{report.command}.html", page)
    written.append(f"{report.command}.html")
    report.extra_files.extend(n for n in written if n not in report.extra_files)
    return written


def _frame(rows: Any):
    import pandas as pd

    return pd.DataFrame(list(rows))
