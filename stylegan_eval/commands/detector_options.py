"""The detector, weights and real-data options that ``fid``, ``stats``, ``compare``, ``calc`` and
``track`` share, each declared once (no torch needed here)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import click

from ..metrics.inception_weights import DETECTORS, MODERN_DETECTORS, RESIZE_MODES
from ..metrics.real import default_workers  # noqa: F401 - the stats command's default
from .hub_paths import HubOrPath
from .options import apply_options, choice

#: Every --detector choice (fid, kid, stats, compare).
DETECTOR_CHOICES = DETECTORS + MODERN_DETECTORS
DETECTOR_HELP = (
    "The feature network of FID/KID, precision/recall, IS and FD: "
    "pytorch-fid: TF-ported weights pt_inception-2015-12-05-6726825d.pth, bilinear resize; "
    "nvidia: StyleGAN2-ADA/StyleGAN3 TorchScript inception-2015-12-05.pt; "
    "dinov2-vitl14 / clip-vitb32: DINOv2 ViT-L/14 or CLIP ViT-B/32 features (pip install stylegan-eval[modern])."
)


def _trust(ctx, param, values):
    from .. import weights

    for v in values or ():
        weights.trust(v)


def trust_weights_option(f):
    """--trust-weights FILE (repeatable): accept this TorchScript detector file although its sha256 is not the published one."""
    return click.option(
        "--trust-weights",
        type=click.Path(dir_okay=False, path_type=Path),
        multiple=True,
        expose_value=False,
        callback=_trust,
        metavar="FILE",
        help="Load this TorchScript detector file although its sha256 is not the published one (it can run code).",
    )(f)


def detector_option(f):
    """--detector: the feature network of FID/KID, precision/recall, IS and FD."""
    return click.option(
        "--detector",
        type=choice(DETECTOR_CHOICES),
        default="pytorch-fid",
        show_default=True,
        help=DETECTOR_HELP,
    )(f)


def inception_weights_option(f):
    """--inception-weights FILE: the detector's weights file."""
    return click.option(
        "--inception-weights",
        type=HubOrPath(dir_okay=False, path_type=Path),
        default=None,
        help="The detector's weights file [default: the weights cache / $STYLEGAN_EVAL_WEIGHTS].",
    )(f)


def detector_choice_options(f):
    """--detector, --inception-weights, --trust-weights: which detector runs, with which weights."""
    return apply_options(f, [detector_option, inception_weights_option, trust_weights_option])


def detector_options(f):
    """--detector, --inception-weights, --trust-weights, --resize, --skip-bad-images, --num-workers, --cache-dir, --no-cache."""
    return apply_options(
        f,
        [
            detector_choice_options,
            click.option(
                "--resize",
                type=choice(RESIZE_MODES),
                default="detector",
                show_default=True,
                help="detector: the detector's own resize to 299; clean: antialiased bicubic (clean-fid style).",
            ),
            click.option(
                "--skip-bad-images",
                is_flag=True,
                help="Skip undecodable images (counted in the report) instead of failing.",
            ),
            click.option(
                "--num-workers",
                type=click.IntRange(min=0),
                default=None,
                help="Image decoding processes [default: half the CPUs, at most 8].",
            ),
            click.option(
                "--cache-dir",
                type=click.Path(file_okay=False, path_type=Path),
                default=None,
                help="Statistics cache [default: $STYLEGAN_EVAL_CACHE or ~/.cache/stylegan-eval].",
            ),
            click.option("--no-cache", is_flag=True, help="Neither read nor write cached dataset statistics."),
        ],
    )


def strict_data_option(f: Callable) -> Callable:
    """--strict-data: real images of another size than the generated ones (or of mixed sizes) are an error."""
    return click.option(
        "--strict-data",
        is_flag=True,
        help="Refuse (exit 2) real images whose size differs from the generated images' or that mix sizes, "
        "instead of warning (NVIDIA's protocol resizes the dataset to the generator's resolution first).",
    )(f)


def data_option(f: Callable | None = None, *, required: bool = False) -> Callable:
    """--data PATH: the real side of a feature metric (``required`` where the command needs it)."""
    if f is None:
        return lambda g: data_option(g, required=required)
    return click.option(
        "--data",
        type=HubOrPath(path_type=Path),
        required=required,
        default=None,
        help="Real images (folder or .zip) or their statistics (.npz mu/sigma, .pkl mean/cov).",
    )(f)
