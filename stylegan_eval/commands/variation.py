"""stylegan-eval variation CKPT --seeds 3 --draws 16 --out DIR: the stochastic-variation figure of the StyleGAN paper.

One latent per NVIDIA seed (``z = np.random.RandomState(seed).randn(z_dim)``), rendered with
``--draws`` different noise inputs (sample k of the sampling engine's noise stream under
``--seed``), beside the per-pixel standard deviation over the draws: what the noise inputs
control. Writes ``variation_seed<S>.png`` (200 dpi), ``.pdf`` and ``.svg`` per seed in ``--out``.
"""

from __future__ import annotations

import click

from .options import IntList, RunOptions, checkpoint_options, common_options, trunc_option
from .paper_figures import FigureNeeds, emit_figure_report, load_figure_generator

_NEEDS = FigureNeeds(
    8,
    "at most 8 figures at once, got {n} seeds",
    "the stochastic-variation figure needs a W space and noise inputs",
    noise=True,
)


@click.command("variation")
@checkpoint_options
@click.option(
    "--seeds", type=IntList(), default="0", show_default=True, help="NumPy seeds of the latents (1-8), one figure each."
)
@click.option("--draws", type=click.IntRange(2, 64), default=16, show_default=True, help="Noise draws per latent.")
@trunc_option
@common_options(batch=False, resume=False, log=False)
def command(*, ckpt, seeds, draws, psi, run: RunOptions) -> None:
    """Stochastic variation: one latent under several noise draws, and the per-pixel std over them."""
    import pandas as pd

    from ..figures.paper import variation_figure
    from ..figures.style import save

    G, meta, out = load_figure_generator(ckpt, run, seeds, _NEEDS)
    files: list[str] = []
    captions = []
    for s in seeds:
        figure = variation_figure(
            G, s, draws, class_idx=ckpt.class_idx, psi=psi, noise_seed=run.seed, name=f"variation_seed{s}"
        )
        files += save(figure, out)
        captions.append(figure.caption)
    settings = {"seeds": seeds, "draws": draws, "psi": psi, "noise_seed": run.seed}
    emit_figure_report("variation", pd.DataFrame({"seed": seeds}), settings, {**meta, "captions": captions}, run, files)
