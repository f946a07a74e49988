"""stylegan-eval generate CKPT --seeds 0-15 --trunc 0.7 --out DIR: images as NVIDIA's ``gen_images.py`` draws them.

``--seeds`` follows NVIDIA's ``gen_images.py`` (StyleGAN2-ADA / StyleGAN3): image k has
``z = np.random.RandomState(seeds[k]).randn(1, z_dim)``, the one-hot label of ``--class``,
truncation ``--trunc`` on every layer, noise mode ``const`` and the uint8 conversion
``(x * 127.5 + 128).clamp(0, 255)``, so the same seeds give NVIDIA's images for the same
checkpoint. Each image is written as ``seed0000.png`` in the ``--out`` folder, beside
``grid.png`` (``--out-file`` names the grid explicitly). ``--translate``/``--rotate`` set the
StyleGAN3 input transform as ``gen_images.py`` does. ``--indices`` instead selects samples of
the sampling engine under ``--seed``: the latents every metric uses for those sample indices.
"""

from __future__ import annotations

import math
from pathlib import Path

import click
import pandas as pd
import torch

from ..errors import UserError
from ..grids import render_indices, render_seeds
from ..imageops import sample_grid, save_png, to_uint8
from ..report import Report, environment
from ..runtime import generator_batch_size
from .options import IntList, RunOptions, checkpoint_options, common_options, trunc_option

#: Default --out folder of the image commands.
DEFAULT_OUT = Path("out")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def noise_option(f):
    return click.option(
        "--noise-mode",
        type=click.Choice(["const", "random", "none"], case_sensitive=False),
        default="const",
        show_default=True,
        help="const: the checkpoint's fixed noise (gen_images.py's default); random: drawn per image from --seed.",
    )(f)


#: Largest --min-size of a grid (pixels per side): a bigger upscale only costs memory.
MAX_MIN_SIZE = 16384


def out_paths(out: Path | None, out_file: Path | None, default_name: str, force: bool = False) -> tuple[Path, Path]:
    """(folder, figure path) of an image command.

    ``--out`` names a folder (default ``./out``) that receives the figure as ``default_name``
    and any per-image files; ``--out-file`` names the figure explicitly (the per-image files
    then go beside it unless ``--out`` is given). An existing ``--out-file`` is replaced only
    with ``force`` (``--force``).
    """
    if out is not None and out.suffix.lower() in IMAGE_SUFFIXES:
        raise UserError(f"--out {out}: --out names a folder; use --out-file {out} for the figure itself")
    if out_file is not None and out_file.exists() and not force:
        raise UserError(f"--out-file {out_file}: exists; pass --force to overwrite it")
    folder = out if out is not None else (out_file.parent if out_file is not None else DEFAULT_OUT)
    return folder, out_file if out_file is not None else folder / default_name


def _vec2(ctx, param, value):
    try:
        x, y = (float(v) for v in str(value).split(","))
    except ValueError:
        raise click.BadParameter(f"expected two numbers like 0.3,1, got {value!r}") from None
    return (x, y)


@click.command("generate")
@checkpoint_options
@click.option("--seeds", type=IntList(), default=None, help="NVIDIA gen_images.py seeds, e.g. 0-15 [default: 0-15].")
@click.option(
    "--indices",
    type=IntList(),
    default=None,
    help="Instead of --seeds: sample indices of the sampling engine (under --seed).",
)
@trunc_option
@click.option("--cols", type=click.IntRange(min=1), default=None, help="Grid images per row [default: square-ish].")
@click.option(
    "--translate", default="0,0", show_default=True, callback=_vec2, metavar="X,Y", help="StyleGAN3 input translation."
)
@click.option(
    "--rotate", type=float, default=0.0, show_default=True, metavar="DEG", help="StyleGAN3 input rotation in degrees."
)
@click.option(
    "--out-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Grid path [default: <out>/grid.png].",
)
@click.option("--force", is_flag=True, help="Overwrite an existing --out-file.")
@click.option(
    "--min-size",
    type=click.IntRange(min=1, max=MAX_MIN_SIZE),
    default=512,
    show_default=True,
    help="Upscale the grid (nearest) to at least this many pixels.",
)
@noise_option
@common_options(
    out_help="Output folder: writes the images and grid.png there (no report; --json prints it).",
    resume=False,
    log=False,
    detectors=False,
)
def command(
    *, ckpt, seeds, indices, psi, cols, translate, rotate, out_file, force, min_size, noise_mode, run: RunOptions
) -> None:
    """Render the images of the given seeds (as NVIDIA's gen_images.py) into --out, with a grid."""
    if seeds is not None and indices is not None:
        raise UserError(
            "--seeds and --indices exclude each other (NVIDIA seeds, or sample indices of the sampling engine)"
        )
    folder, grid_path = out_paths(run.out, out_file, "grid.png", force)
    G, meta = ckpt.load(run.device)
    bs = run.batch_size or generator_batch_size(G, run.device, "generate")
    files: list[str] = []
    if indices is not None:
        numbers, kind = indices, "index"
        images = render_indices(G, indices[:MAX_GRID_IMAGES], psi, noise_mode, run.seed, ckpt.class_idx, bs)
        refuse_non_finite(images, numbers[:MAX_GRID_IMAGES])
    else:
        numbers, kind = (seeds if seeds is not None else list(range(16))), "seed"

        def render_chunk(chunk: list[int]) -> torch.Tensor:
            return render_seeds(
                G, chunk, psi, noise_mode, ckpt.class_idx, bs, translate=translate, rotate=rotate, noise_seed=run.seed
            )

        images = write_seed_images(render_chunk, numbers, folder, files, run.show_progress)
    grid_path.parent.mkdir(parents=True, exist_ok=True)
    shown = len(images)
    save_png(sample_grid(images, cols or math.ceil(math.sqrt(shown)), min_size=min_size), grid_path)
    settings: dict[str, object] = {
        "seeds" if kind == "seed" else "indices": numbers,
        "psi": psi,
        "noise_mode": noise_mode,
        "seed": run.seed,
        "latents": "numpy RandomState(seed)" if kind == "seed" else "sampling engine",
        "class": ckpt.class_idx,
    }
    if shown < len(numbers):
        settings["grid"] = f"the first {shown} of {len(numbers)} images"
    if kind == "seed" and (translate != (0.0, 0.0) or rotate != 0.0):
        settings.update(translate=list(translate), rotate=rotate)
    table = pd.DataFrame({kind: numbers, "file": list(files) if files else [None] * len(numbers)})
    report = Report(
        "generate", table, settings, {**meta, "environment": environment(run.device), "image": str(grid_path)}
    )
    report.extra_files = files
    emit_image(report, run, grid_path, len(files))


#: Images rendered and held at a time by ``generate --seeds`` (each written as it is done), and
#: the most the grid shows: 10^6 seeds cost the memory of one chunk, not of every image.
SEED_CHUNK = 256
MAX_GRID_IMAGES = 256


def write_seed_images(render_chunk, seeds: list[int], folder: Path, files: list[str], progress: bool) -> torch.Tensor:
    """Render ``seeds`` in chunks of :data:`SEED_CHUNK` with ``render_chunk(seeds) -> [n, C, H, W]``,
    write ``seedNNNN.png`` for each (names appended to ``files``), and return the first
    :data:`MAX_GRID_IMAGES` images for the grid. A chunk with NaN/inf stops the run before it is
    written (a run of at most one chunk writes nothing then)."""
    from ..runtime import progress as progress_bar

    keep: list[torch.Tensor] = []
    kept = 0
    folder.mkdir(parents=True, exist_ok=True)
    chunks = [seeds[i : i + SEED_CHUNK] for i in range(0, len(seeds), SEED_CHUNK)]
    with progress_bar(total=len(seeds), desc="images", enabled=progress and len(chunks) > 1) as bar:
        for chunk in chunks:
            images = render_chunk(chunk)
            refuse_non_finite(images, chunk)
            for s, img in zip(chunk, to_uint8(images).permute(0, 2, 3, 1).cpu()):
                save_png(img, folder / f"seed{s:04d}.png")
                files.append(f"seed{s:04d}.png")
            if kept < MAX_GRID_IMAGES:
                keep.append(images[: MAX_GRID_IMAGES - kept].cpu())
                kept += len(keep[-1])
            bar.update(len(chunk))
    return torch.cat(keep)


def refuse_non_finite(images: torch.Tensor, numbers: list[int]) -> None:
    """UserError naming how many images hold NaN/inf and the first seed/index; nothing is written then."""
    from ..engine import check_finite

    check_finite({"image": images}, torch.tensor(numbers, dtype=torch.int64), len(numbers))


def emit_image(report: Report, run: RunOptions, path: Path | None = None, count: int = 0) -> None:
    """Image commands print where the images went (or the JSON report)."""
    if run.json:
        import json

        click.echo(json.dumps(report.to_dict()))
    else:
        extra = f" and {count} images in {path.parent}" if count and path is not None else ""
        click.echo(f"wrote {path if path is not None else run.out}{extra}")
    from ..log import finished

    finished(run.quiet)  # "stylegan-eval: done in 1.2 s", as every command ends
