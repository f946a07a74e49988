"""Assemble ``stylegan_eval/assets/`` from a training run: the shipped demo files.

    python -m tools.train_gan --out runs/demo_gan --kimg 120
    python -m tools.train_classifiers --out runs/demo_clf
    python -m tools.build_assets --run runs/demo_gan [--snapshot runs/demo_gan/snapshot-000120.pt] \
        --classifiers runs/demo_clf

Writes the generator as a float16 ``{'g_ema', 'latent_avg'}`` file (see
:func:`~tools.train_gan.export`), copies the classifier checkpoints, and records
the training facts in ``demo-training.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import torch

from stylegan_eval.demo import ASSETS, CLASSIFIER_ATTRIBUTES, GENERATOR_FILE, TRAINING_FILE
from tools.train_classifiers import classifier_filename
from tools.train_gan import export


def _kimg_seconds(log: Path, kimg: float) -> float | None:
    """Training seconds at the first log line with kimg >= ``kimg`` (the log has one line per 20 steps)."""
    if not log.is_file():
        return None
    best = None
    for line in log.read_text().splitlines():
        m = re.match(r"kimg\s+([\d.]+)\s+time\s+([\d.]+)s", line)
        if m:
            best = float(m.group(2))
            if float(m.group(1)) >= kimg:
                break
    return best


def _machine(threads) -> str:
    """The CPU this is assembled on (where the demo files are trained, as the README's recipe does)."""
    import os

    from stylegan_eval.report import cpu_model

    return f"{cpu_model()}, {os.cpu_count()} cores" + (f", {threads} torch threads" if threads else "")


def build(
    run: Path, snapshot: Path | None, classifiers: Path, out: Path = ASSETS, notes: list[str] | None = None
) -> dict:
    run = Path(run)
    snaps = sorted(run.glob("snapshot-*.pt"))
    snapshot = Path(snapshot) if snapshot else (snaps[-1] if snaps else None)
    if snapshot is None or not snapshot.is_file():
        raise SystemExit(f"no snapshot in {run}")
    kimg = int(re.search(r"(\d+)", snapshot.stem).group(1))
    out.mkdir(parents=True, exist_ok=True)
    export(snapshot, out / GENERATOR_FILE, half=True)
    clf_info = {}
    for attr in CLASSIFIER_ATTRIBUTES:
        src = Path(classifiers) / classifier_filename(attr)
        shutil.copyfile(src, out / classifier_filename(attr))
        meta = torch.load(src, map_location="cpu", weights_only=True)
        clf_info[attr] = {
            k: meta["metrics"].get(k) for k in ("heldout_accuracy", "num_train", "num_heldout", "epochs", "data")
        }
        clf_info[attr]["config"] = meta["config"]
    cfg = json.loads((run / "config.json").read_text()) if (run / "config.json").is_file() else {}
    info = {
        "generator": {
            "file": GENERATOR_FILE,
            "architecture": cfg.get("G"),
            "discriminator_channels": cfg.get("D_channels"),
            "training_args": cfg.get("args"),
            "snapshot": snapshot.name,
            "kimg": kimg,
            "training_seconds": _kimg_seconds(run / "log.txt", kimg),
            "storage": "float16 (converted to float32 by the loader)",
            "script": "python -m tools.train_gan",
            "machine": _machine((cfg.get("args") or {}).get("threads")),
        },
        "classifiers": clf_info,
        "data": "stylegan_eval.demo.shapes (procedural, 32x32, attributes shape/colour/size/position)",
        "notes": list(notes or []),
    }
    (out / TRAINING_FILE).write_text(json.dumps(info, indent=1) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Assemble the shipped demo files.")
    p.add_argument("--run", required=True, type=Path)
    p.add_argument("--snapshot", type=Path, default=None)
    p.add_argument("--classifiers", required=True, type=Path)
    p.add_argument("--out", type=Path, default=ASSETS)
    p.add_argument("--note", action="append", default=[], help="a fact about the run to record (repeatable)")
    a = p.parse_args(argv)
    print(json.dumps(build(a.run, a.snapshot, a.classifiers, a.out, a.note), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
