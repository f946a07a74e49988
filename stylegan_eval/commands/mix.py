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
import torch

from .. import generator as gen_api
from ..cli import IntList, RunOptions, checkpoint_options, common_options
from ..errors import UserError
from ..imageops import mixing_figure, save_png
from ..report import Report, environment
from .generate import class_label, emit_image, noise_option, out_paths, seed_latents, trunc_option


def _ranges(values: list[int]) -> str:
    """[0, 1, 2, 5] -> '0-2,5'."""
    parts, start = [], None
    for i, v in enumerate(values):
        if start is None:
            start = v
        if i + 1 == len(values) or values[i + 1] != v + 1:
            parts.append(str(start) if start == v else f"{start}-{v}")
            start = None
    return ",".join(parts)


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
@noise_option
@common_options(
    out_help="Output folder: writes mix.png there (no report; --json prints it).",
    batch=False,
    resume=False,
    log=False,
    detectors=False,
)
def command(ckpt, rows, cols, layers, use_indices, psi, out_file, noise_mode, run: RunOptions) -> None:
    """Style mixing figure: sources across the top, destinations down the left, cell (r, c) = destination r with source c's --layers styles."""
    _, path = out_paths(run.out, out_file, "mix.png")
    G, meta = ckpt.load(run.device)
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
        title=f"styles {_ranges(layers)} from top",
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


@torch.inference_mode()
def mixing_grid(G, rows, cols, layers, psi, noise_mode, seed, class_idx, nvidia_seeds: bool = False) -> torch.Tensor:
    """Images [(R+1)*(C+1), C, H, W] in [-1, 1], row-major; the top-left cell is blank (-1).

    ``rows``/``cols`` are sample indices of the sampling engine under ``seed``, or with
    ``nvidia_seeds`` NumPy seeds as ``generate --seeds`` (one-hot ``class_idx`` labels then).
    """
    seeds = torch.tensor(rows + cols, dtype=torch.int64)
    if nvidia_seeds:
        z = seed_latents(rows + cols, G.z_dim).to(G.device)
        c = class_label(G, class_idx, len(z))
    else:
        z = gen_api.latents(G, seed, seeds)
        c = gen_api.labels(G, seed, seeds, class_idx)
    ws = G.truncate(G.mapping(z, c), psi)
    target_ws, source_ws = ws[: len(rows)], ws[len(rows) :]
    mixed = target_ws[:, None].repeat(1, len(cols), 1, 1)  # [R, C, num_ws, w_dim]
    mixed[:, :, layers] = source_ws[None, :, layers]
    all_ws = torch.cat([ws, mixed.flatten(0, 1)])
    # Every cell of target r keeps target r's noise, so only the styles differ along a row.
    noise_idx = torch.cat([seeds, seeds[: len(rows)].repeat_interleave(len(cols))])
    images = G.synthesis(all_ws, noise_mode=noise_mode, noise_seed=seed, indices=noise_idx)
    n_r, n_c = len(rows), len(cols)
    blank = torch.full_like(images[:1], -1.0)
    top = torch.cat([blank, images[n_r : n_r + n_c]])
    body = [torch.cat([images[r : r + 1], images[n_r + n_c + r * n_c : n_r + n_c + (r + 1) * n_c]]) for r in range(n_r)]
    return torch.cat([top, *body])
