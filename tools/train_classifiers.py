"""Train the demo's attribute classifiers on the procedural shapes, with the classifiers recipe.

    python -m tools.train_classifiers --out stylegan_eval/assets [--num-images 12000]

One :class:`~stylegan_eval.classifiers.simple.SimpleClassifier` per attribute of
:mod:`stylegan_eval.demo.shapes` (shape, colour, size, position), trained by
:func:`stylegan_eval.classifiers.train.train_classifier` on real (procedural) images, as the
StyleGAN paper's CelebA-HQ classifiers were trained on real faces. Horizontal flips are turned
off: they would swap the "position" attribute. Each checkpoint is written with
:func:`~stylegan_eval.classifiers.simple.save_checkpoint`, i.e. the format that
``stylegan-eval separability --classifier PATH`` loads; file name ``demo-classifier-<attr>.pt``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from stylegan_eval.classifiers.simple import save_checkpoint
from stylegan_eval.classifiers.train import train_classifier
from stylegan_eval.demo import shapes

#: Seed of the classifiers' training images (the GAN trains on data seed 0 too: same distribution).
CLASSIFIER_DATA_SEED = 1


def classifier_filename(attr: str) -> str:
    return f"demo-classifier-{attr}.pt"


def train_all(
    out: str | Path,
    num_images: int = 12_000,
    epochs: int = 4,
    seed: int = 0,
    base_channels: int = 16,
    max_channels: int = 64,
    attributes=shapes.ATTRIBUTES,
    log=print,
) -> dict[str, dict]:
    """Train and save one classifier per attribute; returns {attr: metrics} (held-out accuracy etc.)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    images, attrs = shapes.render(CLASSIFIER_DATA_SEED, torch.arange(num_images))
    results = {}
    for attr in attributes:
        k = shapes.ATTRIBUTES.index(attr)
        t0 = time.time()
        res = train_classifier(
            images,
            attrs[:, k].numpy().astype(bool),
            epochs=epochs,
            batch_size=64,
            lr=2e-3,
            val_fraction=0.1,
            seed=seed,
            base_channels=base_channels,
            max_channels=max_channels,
            flip=False,
        )
        metrics = {
            **res.metrics,
            "train_seconds": time.time() - t0,
            "data": f"stylegan_eval.demo.shapes seed {CLASSIFIER_DATA_SEED}",
            "positive": shapes.ATTRIBUTE_VALUES[attr][1],
            "negative": shapes.ATTRIBUTE_VALUES[attr][0],
        }
        save_checkpoint(res.model, out / classifier_filename(attr), attr, metrics)
        results[attr] = metrics
        if log:
            log(
                f"{attr}: held-out accuracy {metrics['heldout_accuracy']:.4f} ({metrics['train_seconds']:.0f}s) -> {out / classifier_filename(attr)}"
            )
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Train the demo attribute classifiers (classifiers recipe).")
    p.add_argument("--out", required=True)
    p.add_argument("--num-images", type=int, default=12_000)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    res = train_all(a.out, a.num_images, a.epochs, a.seed, log=lambda s: print(s, file=sys.stderr))
    print(json.dumps({k: v["heldout_accuracy"] for k, v in res.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
