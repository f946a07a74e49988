"""The slow toy generator of the interrupt/resume tests (``resume_utils:slow_gen``, a --generator
target) and what those tests read back: the synthesis-call marker and the stored samples."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from compare_utils import Toy32

TESTS = Path(__file__).parent


class SlowToy(Toy32):
    """Toy32 that logs every synthesis call to $RESUME_MARKER and sleeps $RESUME_SLEEP seconds."""

    noise_is_explicit = True  # Toy32's only randomness is its noise argument: no PPL pair check

    def _synthesize(self, ws, noise):
        marker = os.environ.get("RESUME_MARKER")
        if marker:
            with open(marker, "a") as f:
                f.write(f"{ws.shape[0]}\n")
        time.sleep(float(os.environ.get("RESUME_SLEEP", "0")))
        return super()._synthesize(ws, noise)


def slow_gen():
    return SlowToy(1.0)


N, BATCH = 24, 3  # 8 batches


def resume_env(tmp_path: Path, marker: Path, sleep: float) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")]),
        OMP_NUM_THREADS="1",
        STYLEGAN_EVAL_OFFLINE="1",
        TORCH_HOME=str(tmp_path / "torch_home"),
        CUDA_VISIBLE_DEVICES="",
        RESUME_MARKER=str(marker),
        RESUME_SLEEP=str(sleep),
    )
    return env


def synthesis_calls(marker: Path, size: int = 2 * BATCH) -> int:
    """Synthesis calls of the metric loop, i.e. of ``size`` images (PPL: a full batch of pairs,
    2 * BATCH images); the loader's validation call on a couple of samples and the report's
    sample grid and mixing figure (16 and 35 images) are not among them."""
    return marker.read_text().splitlines().count(str(size)) if marker.exists() else 0


def separability_samples(out: Path):
    d = np.load(out / "separability-samples.npz")
    return {k: d[k] for k in ("z", "w", "logits")}
