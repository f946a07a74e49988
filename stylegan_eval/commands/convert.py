"""stylegan-eval convert CKPT OUT.safetensors: any loadable generator as one code-free safetensors file."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import UserError
from .options import checkpoint_options


@click.command("convert")
@checkpoint_options
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite OUT if it exists.")
def command(ckpt, out: Path, force: bool) -> None:
    """Write CKPT's generator (weights, w_avg, stored noise) and its JSON config to OUT.safetensors.

    The file holds no code; every command loads it like the original checkpoint (same images).
    """
    from ..formats.safetensors_file import write

    if out.suffix != ".safetensors":
        raise UserError(f"OUT must end in .safetensors, got {out}")
    if out.exists() and not force:
        raise UserError(f"{out}: exists (pass --force to overwrite)")
    gen, meta = ckpt.load("cpu")
    write(gen, out)
    click.echo(f"wrote {out} ({meta['family']}, {out.stat().st_size / 2**20:.1f} MiB)")
