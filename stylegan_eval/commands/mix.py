"""stylegan-eval mix CKPT --rows 0-4 --cols 5-9 --layers 0-3 --out DIR: the style-mixing figure of the StyleGAN paper.

As NVIDIA's ``style_mixing.py``: row and column numbers are seeds (``z =
np.random.RandomState(seed).randn(z_dim)``, as ``generate --seeds``), ws are truncated by
``--trunc`` and cell (r, c) renders row r's ws with the ``--layers`` styles of column c, noise
``const``. The figure (``mix.png`` in ``--out``, or ``--out-file``) shows the source seeds across
the top, the destination seeds down the left, labelled and separated as in the paper's Fig. 3.
``--indices`` takes the numbers as sample indices of the sampling engine instead.
"""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from ..errors import UserError
from ..grids import mixing_grid, ranges
from ..imageops import mixing_figure, save_png
from ..report import Report, environment
from .generate import emit_image, noise_option, out_paths
from .options import IntList, RunOptions, checkpoint_options, common_options, trunc_option

#: Largest style-mixing figure (pixels): 2^28, ~0.8 GB as RGB.
MAX_FIGURE_PIXELS = 1 << 28


@click.command("mix")
@checkpoint_options
@click.option("--rows", type=IntList(), default="0-4", show_default=True, help="Destination seeds (left column).")
@click.option("--cols", type=IntList(), default="5-9", show_default=True, help="Source seeds (top row).")
@click.option(
    "--layers",
    "--styles",
    "layers",
    type=IntList(),
    default="0-3",
    show_default=True,
    help="ws layers copied from the source.",
)
@click.option(
    "--indices", "use_indices", is_flag=True, help="--rows/--cols are sample indices of the sampling engine, not seeds."
)
@trunc_option
@click.option(
    "--out-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Figure path [default: <out>/mix.png].",
)
@click.option("--force", is_flag=True, help="Overwrite an existing --out-file.")
@noise_option
@common_options(
    out_help="Output folder: writes mix.png there (no report; --json prints it).",
    batch=False,
    resume=False,
    log=False,
    detectors=False,
)
def command(*, ckpt, rows, cols, layers, use_indices, psi, out_file, force, noise_mode, run: RunOptions) -> None:
    """Style mixing figure: sources across the top, destinations down the left, cell (r, c) = destination r with source c's --layers styles."""
    _, path = out_paths(run.out, out_file, "mix.png", force)
    G, meta = ckpt.load(run.device)
    pixels = (len(rows) + 1) * (len(cols) + 1) * G.resolution**2
    if pixels > MAX_FIGURE_PIXELS:  # before rendering: the figure is held in memory whole
        raise UserError(
            f"--rows/--cols: {len(rows)} x {len(cols)} cells of {G.resolution} px make a {pixels}-pixel figure "
            f"(at most {MAX_FIGURE_PIXELS}); mix fewer seeds"
        )
    if not G.supports_w:
        raise UserError(f"{G.family}: style mixing needs W space, which this generator does not expose")
    bad = [l for l in layers if l >= G.num_ws]
    if bad:
        raise UserError(f"--layers {bad}: this generator has {G.num_ws} ws layers (0-{G.num_ws - 1})")
    grid = mixing_grid(G, rows, cols, layers, psi, noise_mode, run.seed, ckpt.class_idx, nvidia_seeds=not use_indices)
    word = "index" if use_indices else "seed"
    n_r, n_c = len(rows), len(cols)
    cells = grid.reshape(n_r + 1, n_c + 1, *grid.shape[1:])
    figure = mixing_figure(
        cells[0, 1:],
        cells[1:, 0],
        cells[1:, 1:].flatten(0, 1),
        [f"{word} {s}" for s in cols],
        [f"{word} {s}" for s in rows],
        title=f"styles {ranges(layers)} from top",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    save_png(figure, path)
    settings = {
        "rows": rows,
        "cols": cols,
        "layers": layers,
        "psi": psi,
        "noise_mode": noise_mode,
        "seed": run.seed,
        "latents": "sampling engine" if use_indices else "numpy RandomState(seed)",
    }
    report = Report(
        "mix",
        pd.DataFrame({"destination": rows}),
        settings,
        {**meta, "environment": environment(run.device), "image": str(path)},
    )
    emit_image(report, run, path)
