"""What the paper-figure commands (``truncation``, ``variation``) share: the checks and loading before
the figure (seed count, a generator with a W space, the output folder) and the report after it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UserError
from ..report import Report, environment
from .generate import emit_image
from .options import RunOptions


@dataclass(frozen=True)
class FigureNeeds:
    """What a figure needs of its seeds and generator, and how it says so.

    Attributes:
        max_seeds: the most seeds the figure takes (at least one).
        too_many: the ``--seeds`` message, ``{n}`` standing for the count given.
        refusal: the message after ``<family>: `` for a generator without what the figure needs.
        noise: the figure also needs noise inputs.
    """

    max_seeds: int
    too_many: str
    refusal: str
    noise: bool = False


def load_figure_generator(ckpt: Any, run: RunOptions, seeds: list[int], needs: FigureNeeds) -> tuple[Any, dict, Path]:
    """(generator in eval mode, its meta, output folder: --out, else ./out) after checking the seeds
    and that the generator has a W space (and noise inputs where needed); bad input: UserError."""
    if not 1 <= len(seeds) <= needs.max_seeds:
        raise UserError(f"--seeds: {needs.too_many.format(n=len(seeds))}")
    G, meta = ckpt.load(run.device)
    if not G.supports_w or (needs.noise and not G.noise_shapes):
        raise UserError(f"{G.family}: {needs.refusal}")
    G.eval()
    return G, meta, run.out if run.out is not None else Path("out")


def emit_figure_report(name: str, table: Any, settings: dict, meta: dict, run: RunOptions, files: list[str]) -> None:
    """The figure command's report (``meta`` plus the environment and the written ``files``, the
    first one shown), emitted as the image commands' reports are."""
    out = run.out if run.out is not None else Path("out")
    report = Report(name, table, settings, {**meta, "environment": environment(run.device), "files": files})
    emit_image(report, run, out / files[0])
