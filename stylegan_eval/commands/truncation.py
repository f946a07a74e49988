"""stylegan-eval truncation CKPT --seeds 0-5 --psi 1,0.7,0.5,0,-0.5 --out DIR: the truncation figure of the StyleGAN paper.

Columns are NVIDIA seeds (``z = np.random.RandomState(seed).randn(z_dim)``, as ``generate
--seeds``), rows are truncation values psi (``w' = w_avg + psi (w - w_avg)``), every row with the
same latents and noise. Writes ``truncation.png`` (200 dpi), ``.pdf`` and ``.svg`` in ``--out``.
"""

from __future__ import annotations

import click

from .generate import noise_option
from .options import IntList, RunOptions, checkpoint_options, common_options
from .paper_figures import FigureNeeds, emit_figure_report, load_figure_generator

_NEEDS = FigureNeeds(
    16,
    "the figure takes 1-16 seeds, got {n}",
    "the truncation figure needs a W space, which this generator does not expose",
)


def _psi_list(value: str) -> list[float]:
    try:
        psis = [float(p) for p in str(value).split(",") if p.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers like 1,0.7,0.5, got {value!r}") from None
    if not 1 <= len(psis) <= 10 or any(not -2.0 <= p <= 2.0 for p in psis):
        raise click.BadParameter(f"expected 1-10 values in [-2, 2], got {value!r}")
    return psis


@click.command("truncation")
@checkpoint_options
@click.option("--seeds", type=IntList(), default="0-5", show_default=True, help="NumPy seeds of the columns (1-16).")
@click.option(
    "--psi",
    "psis",
    default="1,0.7,0.5,0,-0.5",
    show_default=True,
    callback=lambda ctx, param, value: _psi_list(value),
    help="Truncation values of the rows, comma-separated (1-10 values in [-2, 2]).",
)
@noise_option
@common_options(batch=False, resume=False, log=False)
def command(*, ckpt, seeds, psis, noise_mode, run: RunOptions) -> None:
    """Truncation figure: the same seeds (columns) at several truncation values psi (rows)."""
    import pandas as pd

    from ..figures.paper import truncation_figure
    from ..figures.style import save

    G, meta, out = load_figure_generator(ckpt, run, seeds, _NEEDS)
    figure = truncation_figure(G, seeds, psis, class_idx=ckpt.class_idx, noise_mode=noise_mode)
    files = save(figure, out)
    settings = {"seeds": seeds, "psis": psis, "noise_mode": noise_mode}
    emit_figure_report(
        "truncation", pd.DataFrame({"psi": psis}), settings, {**meta, "caption": figure.caption}, run, files
    )
