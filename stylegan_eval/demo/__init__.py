"""The offline demo: a tiny StyleGAN2 trained on procedural shapes, and its attribute classifiers.

Shipped in ``stylegan_eval/assets/``:

- ``demo-stylegan2-shapes32.pt``: a rosinality-layout StyleGAN2 checkpoint
  (``{'g_ema': state_dict, 'latent_avg': tensor}``, float16 storage) trained by
  `tools/train_gan.py` (repository root) on :mod:`stylegan_eval.demo.shapes`. It is loaded by
  :func:`stylegan_eval.formats.load_generator` like any user checkpoint (autodetected as
  ``stylegan2-rosinality``); nothing about it is special-cased.
- ``demo-classifier-<attr>.pt`` for attr in shape, colour, size, position: classifiers written by
  `tools/train_classifiers.py` with the ``classifiers`` recipe, in the format that
  ``stylegan-eval separability --classifier PATH`` loads.
- ``demo-training.json``: how they were trained (config, kimg, wall time, accuracies).

``stylegan-eval demo`` (:mod:`stylegan_eval.commands.demo`) runs every metric on them.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import UserError

ASSETS = Path(__file__).resolve().parent.parent / "assets"
GENERATOR_FILE = "demo-stylegan2-shapes32.pt"
TRAINING_FILE = "demo-training.json"
#: Attributes with a shipped classifier (same order as :data:`stylegan_eval.demo.shapes.ATTRIBUTES`).
CLASSIFIER_ATTRIBUTES = ("shape", "colour", "size", "position")


def assets_dir() -> Path:
    return ASSETS


def _require(path: Path, what: str) -> Path:
    if not path.is_file():
        raise UserError(f"the embedded demo {what} is missing ({path}); reinstall stylegan-eval or run "
                        "python -m tools.train_gan / tools.train_classifiers (repository root)")
    return path


def default_checkpoint() -> Path:
    """Path of the embedded demo generator (a rosinality StyleGAN2 .pt file, 32x32)."""
    return _require(ASSETS / GENERATOR_FILE, "generator")


def classifier_paths() -> dict[str, Path]:
    """{attribute: path} of the embedded demo classifiers (``--classifier`` checkpoints)."""
    return {a: _require(ASSETS / f"demo-classifier-{a}.pt", f"classifier for {a!r}") for a in CLASSIFIER_ATTRIBUTES}


def training_info() -> dict:
    """What :data:`TRAINING_FILE` records about the shipped files ({} when absent)."""
    p = ASSETS / TRAINING_FILE
    return json.loads(p.read_text()) if p.is_file() else {}


__all__ = ["ASSETS", "CLASSIFIER_ATTRIBUTES", "classifier_paths", "default_checkpoint", "training_info"]
