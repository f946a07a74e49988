"""stylegan-eval generate CKPT --seeds 0-15 --trunc 0.7 --out grid.png: the face grid of the StyleGAN paper."""

from __future__ import annotations

import math

import click
import pandas as pd
import torch

from .. import generator as gen_api
from ..cli import IntList, RunOptions, checkpoint_options, common_options
from ..imageops import image_grid, save_png
from ..report import Report, environment


def noise_option(f):
    return click.option(
        "--noise-mode",
        type=click.Choice(["const", "random", "none"]),
        default="const",
        show_default=True,
        help="const: the checkpoint's fixed noise; random: drawn per sample from --seed.",
    )(f)


@click.command("generate")
@checkpoint_options
@click.option("--seeds", type=IntList(), default="0-15", show_default=True, help="Sample indices of the sampling engine, e.g. 0-15.")
@click.option("--trunc", "psi", type=float, default=1.0, show_default=True, help="Truncation psi (1 = none).")
@click.option("--cols", type=click.IntRange(min=1), default=None, help="Images per row [default: square-ish].")
@noise_option
@common_options(out_file="grid.png")
def command(ckpt, seeds, psi, cols, noise_mode, run: RunOptions) -> None:
    """Render the images of the given seeds as one grid PNG.

    Image k is sample ``seeds[k]`` of the sampling engine under ``--seed``: the same latent
    that every metric uses for that sample index.
    """
    G, meta = ckpt.load(run.device)
    images = render(G, seeds, psi, noise_mode, run.seed, ckpt.class_idx, run.batch_size or 16)
    refuse_non_finite(images, seeds)
    save_png(image_grid(images, cols or math.ceil(math.sqrt(len(seeds)))), run.out)
    table = pd.DataFrame({"seed": seeds})
    report = Report("generate", table, {"seeds": seeds, "psi": psi, "noise_mode": noise_mode, "seed": run.seed}, {**meta, "environment": environment(run.device), "image": str(run.out)})
    emit_image(report, run)


@torch.inference_mode()
def render(G, seeds, psi, noise_mode, seed, class_idx, batch_size) -> torch.Tensor:
    """Images [N, C, H, W] in [-1, 1] for the given sample indices."""
    out = []
    for idx in torch.tensor(seeds, dtype=torch.int64).split(batch_size):
        z = gen_api.latents(G, seed, idx)
        c = gen_api.labels(G, seed, idx, class_idx)
        out.append(G.generate(z, c, psi=psi, noise_mode=noise_mode, noise_seed=seed, indices=idx))
    return torch.cat(out)


def refuse_non_finite(images: torch.Tensor, seeds: list[int]) -> None:
    """UserError naming how many images hold NaN/inf and the first seed; nothing is written then."""
    from ..engine import check_finite

    check_finite({"image": images}, torch.tensor(seeds, dtype=torch.int64), len(seeds))


def emit_image(report: Report, run: RunOptions) -> None:
    """Image commands print where the image went (or the JSON report)."""
    if run.json:
        import json

        click.echo(json.dumps(report.to_dict()))
    else:
        click.echo(f"wrote {run.out}")
