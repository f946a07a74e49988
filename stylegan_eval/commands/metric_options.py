"""Protocol options that a dedicated command and ``compare``/``calc``/``track`` share, each declared
once: the PPL distance (``ppl``), the separability classifiers and SVM (``separability``), FID's
matrix square root (``fid``) and the synthesis noise of the metrics (``fid``, ``separability``).
Detector, weights and real-data options are in :mod:`.detector_options`.

``tests/test_cli_options.py`` checks that a flag reads the same (help, type, default) in every
command that offers it."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import click

from ..generator import NOISE_MODES
from ..metrics.distances import DISTANCES
from ..metrics.frechet import FID_METHODS
from ..metrics.separability import SVM_MODES
from .hub_paths import HubOrPath
from .options import apply_options, choice

__all__ = ["classifier_options", "distance_options", "fid_method_option", "metric_noise_option"]


def distance_options(f: Callable) -> Callable:
    """--distance and --lpips-weights: PPL's perceptual distance and its weights file."""
    return apply_options(
        f,
        [
            click.option(
                "--distance",
                type=choice(DISTANCES[:2]),
                default="lpips-vgg",
                show_default=True,
                help="PPL's perceptual distance.",
            ),
            click.option(
                "--lpips-weights",
                type=HubOrPath(dir_okay=False, path_type=Path),
                default=None,
                help="Weights of PPL's distance: torchvision vgg16-397923af.pth (lpips-vgg) or NVIDIA vgg16.pt "
                "(nvidia-vgg16).",
            ),
        ],
    )


def classifier_options(f: Callable) -> Callable:
    """--attr, --classifier, --classifier-dir and --svm: linear separability's classifiers and SVM."""
    return apply_options(
        f,
        [
            click.option(
                "--attr",
                "attrs",
                multiple=True,
                metavar="NAME",
                help="CelebA-HQ attribute of linear separability (name, any case, '-' or '_'; index 0-39; or 'all'); "
                "repeatable. Default: all 40 unless --classifier is given.",
            ),
            click.option(
                "--classifier",
                "classifier_paths",
                multiple=True,
                type=click.Path(dir_okay=False, path_type=Path),
                metavar="PATH",
                help="A custom classifier checkpoint of linear separability (python -m "
                "stylegan_eval.classifiers.train) or a TF classifier .pkl; repeatable.",
            ),
            click.option(
                "--classifier-dir",
                type=click.Path(file_okay=False, path_type=Path),
                default=None,
                help="Folder with local copies of celebahq-classifier-XX-name.pkl.",
            ),
            click.option(
                "--svm",
                type=choice(SVM_MODES),
                default="reference",
                show_default=True,
                help="Linear separability's SVM: reference: LinearSVC defaults (dual, max_iter 1000; may stop "
                "unconverged); fast: converged primal solve.",
            ),
        ],
    )


def fid_method_option(f: Callable) -> Callable:
    """--fid-method: how the Frechet distance takes the matrix square root."""
    return click.option(
        "--fid-method",
        type=choice(FID_METHODS),
        default="eigen",
        show_default=True,
        help="FID's matrix square root: eigen: symmetric eigendecompositions (fast, same value to float64 "
        "rounding); sqrtm: scipy's matrix square root (bit-level pytorch-fid parity).",
    )(f)


def metric_noise_option(f: Callable) -> Callable:
    """--noise-mode of a metric: per-sample noise drawn from --seed by default (the metrics' protocols);
    the figure commands' ``--noise-mode`` defaults to the checkpoint's constant noise instead."""
    return click.option(
        "--noise-mode",
        type=choice(NOISE_MODES),
        default="random",
        show_default=True,
        help="Synthesis noise (random: drawn per sample from --seed).",
    )(f)
