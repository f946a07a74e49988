"""Train a classifier for a custom attribute, for ``stylegan-eval separability --classifier``.

Usage::

    python -m stylegan_eval.classifiers.train IMAGES LABELS --attr NAME --out clf.pt
        [--resolution 64] [--epochs 10] [--batch-size 64] [--lr 2e-3] [--val-fraction 0.1]
        [--max-images N] [--seed 0] [--device auto]

IMAGES is a folder of images (any format PIL reads); LABELS is either CelebA's
``list_attr_celeba.txt`` (a count line, a header of attribute names, then ``file v1 ... v40``
with values -1/1) or a CSV with a header whose filename column is ``filename``, ``file``,
``image``, ``image_id`` or ``path`` (else the first column) and with one column per attribute
(values 1/-1, 1/0, true/false, yes/no). Attribute names match case-insensitively with '-' or
'_'. Images are resized to ``--resolution`` (box filter when shrinking), scaled to [-1, 1].

A seeded random ``--val-fraction`` of the images is held out; the held-out accuracy is
printed and stored in the checkpoint, which :func:`stylegan_eval.classifiers.simple.load_checkpoint`
reads. Recipe: :class:`~.simple.SimpleClassifier`, Adam, binary cross-entropy on the logit
(positive = attribute present), random horizontal flips, the last epoch's weights.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from stylegan_eval.errors import UserError

from .registry import normalize
from .simple import SimpleClassifier, save_checkpoint

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}
FILENAME_COLUMNS = ("filename", "file", "image", "image-id", "path", "name")
_TRUE = {"1", "true", "yes", "y", "t"}
_FALSE = {"-1", "0", "false", "no", "n", "f"}


@dataclass
class TrainResult:
    """A trained classifier and its numbers (held-out accuracy etc.)."""

    model: SimpleClassifier
    metrics: dict[str, Any]


# ---------------------------------------------------------------------------------- labels
def _parse_value(text: str, where: str) -> bool:
    t = text.strip().lower()
    if t in _TRUE:
        return True
    if t in _FALSE:
        return False
    raise UserError(f"{where}: label {text!r} is not one of 1/-1, 1/0, true/false, yes/no")


def read_labels(path: str | Path, attr: str) -> tuple[list[str], np.ndarray]:
    """(file names, bool labels) for ``attr`` from a CelebA attribute list or a CSV."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"LABELS {p}: no such file")
    lines = p.read_text(encoding="utf-8", errors="replace").splitlines()
    lines = [ln for ln in lines if ln.strip()]
    if len(lines) < 2:
        raise UserError(f"LABELS {p}: needs a header and at least one row")
    key = normalize(attr)
    names: list[str] = []
    values: list[bool] = []
    if lines[0].strip().isdigit():  # CelebA list_attr_celeba.txt
        header = [normalize(h) for h in lines[1].split()]
        if key not in header:
            raise UserError(f"LABELS {p}: attribute {attr!r} not in the header ({', '.join(header[:8])}, ...)")
        col = header.index(key)
        for i, ln in enumerate(lines[2:], start=3):
            parts = ln.split()
            if len(parts) == len(header) + 1:
                names.append(parts[0])
                values.append(_parse_value(parts[col + 1], f"LABELS {p} line {i}"))
            else:
                raise UserError(
                    f"LABELS {p} line {i}: expected a file name and {len(header)} values, got {len(parts)} fields"
                )
    else:
        rows = list(csv.reader(lines))
        header = [normalize(h) for h in rows[0]]
        if key not in header:
            raise UserError(f"LABELS {p}: attribute {attr!r} not among the CSV columns ({', '.join(rows[0][:8])})")
        col = header.index(key)
        fcol = next((header.index(c) for c in FILENAME_COLUMNS if c in header), 0)
        if fcol == col:
            raise UserError(f"LABELS {p}: the attribute column cannot also be the file name column")
        for i, row in enumerate(rows[1:], start=2):
            if len(row) != len(header):
                raise UserError(f"LABELS {p} line {i}: expected {len(header)} fields, got {len(row)}")
            names.append(row[fcol].strip())
            values.append(_parse_value(row[col], f"LABELS {p} line {i}"))
    return names, np.asarray(values, dtype=bool)


def load_images(folder: str | Path, names: Sequence[str], resolution: int) -> tuple[torch.Tensor, np.ndarray]:
    """Images [N, 3, R, R] float32 in [-1, 1] for the names that exist, and a mask of which did."""
    from PIL import Image

    root = Path(folder)
    if not root.is_dir():
        raise UserError(f"IMAGES {root}: not a folder")
    out = torch.empty(len(names), 3, resolution, resolution, dtype=torch.uint8)
    found = np.zeros(len(names), dtype=bool)
    for i, name in enumerate(names):
        p = root / name
        if not p.is_file():
            continue
        try:
            with Image.open(p) as im:
                im = im.convert("RGB")
                if im.size != (resolution, resolution):
                    shrink = min(im.size) >= resolution
                    im = im.resize((resolution, resolution), Image.BOX if shrink else Image.BILINEAR)
                arr = np.array(im, dtype=np.uint8)
        except OSError as exc:
            raise UserError(f"IMAGES {p}: cannot read image ({exc})") from None
        out[i] = torch.from_numpy(arr).permute(2, 0, 1)
        found[i] = True
    images = out[torch.from_numpy(found)].float() / 127.5 - 1.0
    return images, found


# ---------------------------------------------------------------------------------- training
def train_classifier(
    images: torch.Tensor,
    labels: torch.Tensor | np.ndarray,
    *,
    epochs: int = 10,
    batch_size: int = 64,
    lr: float = 2e-3,
    val_fraction: float = 0.1,
    seed: int = 0,
    device: str | torch.device = "cpu",
    base_channels: int = 16,
    max_channels: int = 128,
    flip: bool = True,
    log=None,
) -> TrainResult:
    """Train a :class:`SimpleClassifier` on images [N, C, R, R] in [-1, 1] and bool labels [N].

    Args:
        images: training images; R is the classifier's input resolution.
        labels: True where the attribute is present.
        epochs, batch_size, lr: Adam schedule (constant learning rate).
        val_fraction: share held out for the reported accuracy (0 = none).
        seed: seeds the split, the initialisation and the batch order.
        device: where to train.
        base_channels, max_channels: network width.
        flip: random horizontal flips during training.
        log: optional callable receiving one progress line per epoch.

    Returns:
        The model (eval mode, CPU) and metrics: ``heldout_accuracy`` (None without a
        held-out set), ``train_accuracy``, ``num_train``, ``num_heldout``, ``positive_fraction``.
    """
    if images.ndim != 4:
        raise ValueError(f"images must be [N, C, R, R], got {tuple(images.shape)}")
    y = torch.as_tensor(np.asarray(labels), dtype=torch.float32).reshape(-1)
    n = images.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"{n} images but {y.shape[0]} labels")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise ValueError("epochs and batch_size must be positive and lr > 0")
    num_val = int(round(n * val_fraction))
    if n - num_val < 2:
        raise UserError(f"only {n} labelled images: too few to train a classifier")
    if y.min() == y.max():
        raise UserError("all labels are equal: the attribute needs both positive and negative examples")
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(n, generator=gen)
    val_idx, train_idx = perm[:num_val], perm[num_val:]
    device = torch.device(device)
    torch.manual_seed(seed)
    model = SimpleClassifier(images.shape[-1], images.shape[1], base_channels, max_channels).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x_train, y_train = images[train_idx].to(device), y[train_idx].to(device)
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(x_train.shape[0], generator=gen).to(device)
        total = 0.0
        for b in order.split(batch_size):
            xb = x_train[b]
            if flip:
                mask = (torch.rand(xb.shape[0], generator=gen) < 0.5).to(device)
                xb = torch.where(mask[:, None, None, None], xb.flip(-1), xb)
            loss = F.binary_cross_entropy_with_logits(model(xb)[:, 0], y_train[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * b.shape[0]
        if log is not None:
            log(f"epoch {epoch + 1}/{epochs}: train loss {total / x_train.shape[0]:.4f}")
    model.eval()

    @torch.inference_mode()
    def accuracy(idx: torch.Tensor) -> float | None:
        if idx.numel() == 0:
            return None
        correct = 0
        for b in idx.split(256):
            pred = model(images[b].to(device))[:, 0] > 0
            correct += int((pred == (y[b].to(device) > 0.5)).sum())
        return correct / idx.numel()

    metrics = {
        "heldout_accuracy": accuracy(val_idx),
        "train_accuracy": accuracy(train_idx),
        "num_train": int(train_idx.numel()),
        "num_heldout": int(val_idx.numel()),
        "positive_fraction": float(y.mean()),
        "epochs": epochs,
        "seed": seed,
    }
    return TrainResult(model.cpu().requires_grad_(False), metrics)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stylegan_eval.classifiers.train",
        description="Train a custom attribute classifier for `stylegan-eval separability --classifier`.",
    )
    parser.add_argument("images", type=Path, help="folder of images")
    parser.add_argument("labels", type=Path, help="CelebA list_attr_celeba.txt or a CSV")
    parser.add_argument("--attr", required=True, help="attribute column to learn")
    parser.add_argument("--out", required=True, type=Path, help="checkpoint to write (.pt)")
    parser.add_argument("--resolution", type=int, default=64, help="classifier input size (power of two) [64]")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--max-images", type=int, default=None, help="use only the first N labelled images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        from stylegan_eval.runtime import resolve_device

        if args.resolution < 4 or 2 ** int(round(math.log2(args.resolution))) != args.resolution:
            raise UserError(f"--resolution must be a power of two >= 4, got {args.resolution}")
        device = resolve_device(args.device)
        names, labels = read_labels(args.labels, args.attr)
        if args.max_images is not None:
            names, labels = names[: args.max_images], labels[: args.max_images]
        images, found = load_images(args.images, names, args.resolution)
        if not found.any():
            raise UserError(f"IMAGES {args.images}: none of the {len(names)} labelled files exist there")
        if not found.all() and not args.quiet:
            print(f"warning: {int((~found).sum())} labelled files missing in {args.images}; skipped", file=sys.stderr)
        log = None if args.quiet else (lambda s: print(s, file=sys.stderr))
        result = train_classifier(
            images,
            labels[found],
            epochs=args.epochs,
            batch_size=args.batch_size,
            lr=args.lr,
            val_fraction=args.val_fraction,
            seed=args.seed,
            device=device,
            log=log,
        )
        save_checkpoint(result.model, args.out, normalize(args.attr), {**result.metrics, "labels": str(args.labels)})
    except UserError as exc:
        print(f"train: error: {exc}", file=sys.stderr)
        return 2
    acc = result.metrics["heldout_accuracy"]
    acc_text = "n/a (no held-out set)" if acc is None else f"{acc:.4f}"
    print(
        f"{normalize(args.attr)}: held-out accuracy {acc_text} on {result.metrics['num_heldout']} images "
        f"(trained on {result.metrics['num_train']}); wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
