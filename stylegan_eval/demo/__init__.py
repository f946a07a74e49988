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
        raise UserError(
            f"the embedded demo {what} is missing ({path}); reinstall stylegan-eval or run "
            "python -m tools.train_gan / tools.train_classifiers (repository root)"
        )
    return path


def default_checkpoint() -> Path:
    """Path of the embedded demo generator (a rosinality StyleGAN2 .pt file, 32x32)."""
    return _require(ASSETS / GENERATOR_FILE, "generator")


def classifier_paths() -> dict[str, Path]:
    """{attribute: path} of the embedded demo classifiers (``--classifier`` checkpoints)."""
    return {a: _require(ASSETS / f"demo-classifier-{a}.pt", f"classifier for {a!r}") for a in CLASSIFIER_ATTRIBUTES}


def classifiers(attributes=None) -> list:
    """The shipped demo classifiers (:class:`~stylegan_eval.classifiers.AttributeClassifier` objects).

    Args:
        attributes: names from :data:`CLASSIFIER_ATTRIBUTES` (any case; ``color`` is accepted for
            ``colour``), a comma-separated string, ``"all"``, or None for all four; order kept.

    Raises:
        UserError: an unknown name (the message lists the shipped ones).
    """
    from ..classifiers.registry import load_custom

    names = resolve_attributes(attributes)
    paths = classifier_paths()
    return [load_custom(paths[a]) for a in names]


def resolve_attributes(attributes=None) -> list[str]:
    """Canonical demo attribute names for ``attributes`` (see :func:`classifiers`); torch-free."""
    if attributes is None:
        return list(CLASSIFIER_ATTRIBUTES)
    if isinstance(attributes, str):
        attributes = [attributes]
    out: list[str] = []
    for item in attributes:
        for part in str(item).split(","):
            key = part.strip().lower().replace("_", "-")
            if not key:
                continue
            if key == "all":
                out += [a for a in CLASSIFIER_ATTRIBUTES if a not in out]
                continue
            key = {"color": "colour"}.get(key, key)
            if key not in CLASSIFIER_ATTRIBUTES:
                raise UserError(
                    f"--attr: {part.strip()!r} is not a demo attribute (shipped: {', '.join(CLASSIFIER_ATTRIBUTES)})"
                )
            if key not in out:
                out.append(key)
    if not out:
        raise UserError(f"--attr: no demo attribute given (shipped: {', '.join(CLASSIFIER_ATTRIBUTES)})")
    return out


def training_info() -> dict:
    """What :data:`TRAINING_FILE` records about the shipped files ({} when absent)."""
    p = ASSETS / TRAINING_FILE
    return json.loads(p.read_text()) if p.is_file() else {}


__all__ = [
    "ASSETS",
    "CLASSIFIER_ATTRIBUTES",
    "classifier_paths",
    "classifiers",
    "default_checkpoint",
    "resolve_attributes",
    "training_info",
]
