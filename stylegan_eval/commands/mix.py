"""stylegan-eval mix CKPT --rows 0-4 --cols 5-9 --layers 0-1: the style-mixing figure of the StyleGAN paper."""

from __future__ import annotations

import click
import pandas as pd
import torch

from .. import generator as gen_api
from ..cli import IntList, RunOptions, checkpoint_options, common_options
from ..errors import UserError
from ..imageops import image_grid, save_png
from ..report import Report, environment
from .generate import emit_image, noise_option


@click.command("mix")
@checkpoint_options
@click.option("--rows", type=IntList(), default="0-4", show_default=True, help="Target seeds (first column).")
@click.option("--cols", type=IntList(), default="5-9", show_default=True, help="Source seeds (first row).")
@click.option("--layers", type=IntList(), default="0-3", show_default=True, help="ws layers copied from the source.")
@click.option("--trunc", "psi", type=float, default=1.0, show_default=True, help="Truncation psi (1 = none).")
@noise_option
@common_options(out_file="mix.png")
def command(ckpt, rows, cols, layers, psi, noise_mode, run: RunOptions) -> None:
    """Style mixing grid: the first row shows the sources, the first column the targets, and
    cell (r, c) is target r with the ``--layers`` styles taken from source c."""
    G, meta = ckpt.load(run.device)
    if not G.supports_w:
        raise UserError(f"{G.family}: style mixing needs W space, which this generator does not expose")
    bad = [l for l in layers if l >= G.num_ws]
    if bad:
        raise UserError(f"--layers {bad}: this generator has {G.num_ws} ws layers (0-{G.num_ws - 1})")
    grid = mixing_grid(G, rows, cols, layers, psi, noise_mode, run.seed, ckpt.class_idx)
    save_png(image_grid(grid, len(cols) + 1), run.out)
    settings = {"rows": rows, "cols": cols, "layers": layers, "psi": psi, "noise_mode": noise_mode, "seed": run.seed}
    report = Report("mix", pd.DataFrame({"target": rows}), settings, {**meta, "environment": environment(run.device), "image": str(run.out)})
    emit_image(report, run)


@torch.inference_mode()
def mixing_grid(G, rows, cols, layers, psi, noise_mode, seed, class_idx) -> torch.Tensor:
    """Images [(R+1)*(C+1), C, H, W] in [-1, 1], row-major; the top-left cell is blank (-1)."""
    seeds = torch.tensor(rows + cols, dtype=torch.int64)
    z = gen_api.latents(G, seed, seeds)
    ws = G.truncate(G.mapping(z, gen_api.labels(G, seed, seeds, class_idx)), psi)
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
