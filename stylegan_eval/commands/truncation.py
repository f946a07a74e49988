"""stylegan-eval truncation CKPT --seeds 0-5 --psi 1,0.7,0.5,0,-0.5 --out DIR: the truncation figure of the StyleGAN paper.

Columns are NVIDIA seeds (``z = np.random.RandomState(seed).randn(z_dim)``, as ``generate
--seeds``), rows are truncation values psi (``w' = w_avg + psi (w - w_avg)``), every row with the
same latents and noise. Writes ``truncation.png`` (200 dpi), ``.pdf`` and ``.svg`` in ``--out``.
"""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UserError
from ..report import Report, environment
from .generate import emit_image, noise_option
from .options import IntList, RunOptions, checkpoint_options, common_options


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

    if not 1 <= len(seeds) <= 16:
        raise UserError(f"--seeds: the figure takes 1-16 seeds, got {len(seeds)}")
    G, meta = ckpt.load(run.device)
    if not G.supports_w:
        raise UserError(f"{G.family}: the truncation figure needs a W space, which this generator does not expose")
    G.eval()
    figure = truncation_figure(G, seeds, psis, class_idx=ckpt.class_idx, noise_mode=noise_mode)
    out = run.out if run.out is not None else Path("out")
    files = save(figure, out)

    report = Report(
        "truncation",
        pd.DataFrame({"psi": psis}),
        {"seeds": seeds, "psis": psis, "noise_mode": noise_mode},
        {**meta, "environment": environment(run.device), "caption": figure.caption, "files": files},
    )
    emit_image(report, run, out / files[0])
