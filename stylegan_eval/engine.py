"""The per-sample loop every metric runs: batching, progress, resume and multi-process sharding.

A metric supplies a function ``fn(indices) -> {name: tensor [N, ...]}`` that computes per-sample
outputs (a PPL distance, Inception features, latents and classifier logits) for the global
sample indices it is given. Because every random number of sample ``i`` comes from
:mod:`stylegan_eval.sampling` as a function of ``(seed, i)``, :func:`collect` may cut the
index range into batches of any size, hand them to any number of processes, stop and resume,
and the collected outputs, ordered by sample index, are always the same.

Outputs stay on the device inside the loop; they move to the host only at checkpoint
intervals (``save_every`` seconds, for ``--resume``) and at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch

from .report import atomic_write, jsonable
from .runtime import progress as progress_bar

BatchFn = Callable[[torch.Tensor], dict[str, torch.Tensor]]


@dataclass(frozen=True)
class DistInfo:
    """Rank and world size of this process (1 process unless torch.distributed is initialised)."""

    rank: int = 0
    world_size: int = 1

    @classmethod
    def current(cls) -> "DistInfo":
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            return cls(torch.distributed.get_rank(), torch.distributed.get_world_size())
        return cls()

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device | None = None) -> DistInfo:
    """Join the process group that ``torchrun`` describes in the environment (no-op otherwise).

    NCCL on CUDA, gloo on CPU. Returns the process's rank and the world size; with CUDA each
    rank takes GPU ``LOCAL_RANK``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 or not torch.distributed.is_available():
        return DistInfo()
    if not torch.distributed.is_initialized():
        use_cuda = torch.cuda.is_available() and (device is None or torch.device(device).type == "cuda")
        if use_cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        torch.distributed.init_process_group("nccl" if use_cuda else "gloo")
    return DistInfo.current()


@dataclass
class ResumeState:
    """Partial per-sample outputs saved atomically to ``folder`` for ``--resume``.

    ``fingerprint`` holds every setting that changes the per-sample outputs (metric, seed,
    checkpoint hash, options); a saved state with another fingerprint is ignored, never mixed in.
    """

    folder: Path
    name: str
    fingerprint: dict[str, Any]
    save_every: float = 60.0
    resume: bool = True
    _last: float = field(default_factory=time.monotonic, repr=False)

    @property
    def key(self) -> str:
        text = json.dumps(jsonable(self.fingerprint), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def path(self, rank: int) -> Path:
        return Path(self.folder) / f".partial-{self.name}-{self.key}.rank{rank}.pt"

    def load(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """All samples any rank saved: (indices [M], outputs {name: [M, ...]})."""
        indices, outputs = [], {}
        if self.resume:
            for p in sorted(Path(self.folder).glob(f".partial-{self.name}-{self.key}.rank*.pt")):
                state = torch.load(p, map_location="cpu", weights_only=True)
                indices.append(state["indices"])
                for k, v in state["outputs"].items():
                    outputs.setdefault(k, []).append(v)
        if not indices:
            return torch.zeros(0, dtype=torch.int64), {}
        idx = torch.cat(indices)
        out = {k: torch.cat(v) for k, v in outputs.items()}
        # Files of several ranks (or a rank 0 that re-saved earlier sessions) may overlap:
        # keep the first copy of every sample.
        uniq, inverse = torch.unique(idx, return_inverse=True)
        first = torch.full((uniq.numel(),), idx.numel(), dtype=torch.int64).scatter_reduce(
            0, inverse, torch.arange(idx.numel()), reduce="amin"
        )
        return idx[first], {k: v[first] for k, v in out.items()}

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.save_every

    def save(self, rank: int, indices: torch.Tensor, outputs: dict[str, torch.Tensor]) -> None:
        import io

        buf = io.BytesIO()
        torch.save({"indices": indices.cpu(), "outputs": {k: v.cpu() for k, v in outputs.items()}}, buf)
        atomic_write(self.path(rank), buf.getvalue())
        self._last = time.monotonic()

    def clear(self) -> None:
        for p in Path(self.folder).glob(f".partial-{self.name}-{self.key}.rank*.pt"):
            p.unlink(missing_ok=True)


def _cat(chunks: dict[str, list[torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.cat(v) for k, v in chunks.items()}


def collect(
    fn: BatchFn,
    num_samples: int,
    batch_size: int,
    *,
    desc: str = "samples",
    show_progress: bool = True,
    state: ResumeState | None = None,
    dist: DistInfo | None = None,
) -> dict[str, torch.Tensor]:
    """Run ``fn`` over sample indices [0, num_samples) and return its outputs ordered by index.

    Args:
        fn: indices (int64 CPU tensor [N]) -> {name: tensor [N, ...]} on any device.
        num_samples: number of samples.
        batch_size: samples per call of ``fn``; never changes which samples are drawn (kernels
            chosen per batch shape may round differently).
        desc: progress bar label.
        show_progress: draw a tqdm bar on stderr (rank 0 only).
        state: where to save partial outputs and resume from; None disables both.
        dist: rank/world size; samples are sharded batch-wise across ranks and gathered on
            every rank at the end.

    Returns:
        {name: CPU tensor [num_samples, ...]}, row i computed for sample i.
    """
    if num_samples <= 0:
        raise ValueError("num_samples must be positive")
    dist = dist or DistInfo.current()
    done_idx, done_out = state.load() if state is not None else (torch.zeros(0, dtype=torch.int64), {})
    todo = torch.ones(num_samples, dtype=torch.bool)
    keep = done_idx < num_samples
    done_idx, done_out = done_idx[keep], {k: v[keep] for k, v in done_out.items()}
    todo[done_idx] = False
    remaining = torch.nonzero(todo)[:, 0]
    batches = list(remaining.split(batch_size))[dist.rank :: dist.world_size] if remaining.numel() else []

    my_idx: list[torch.Tensor] = []
    my_out: dict[str, list[torch.Tensor]] = {}
    saved_out: dict[str, list[torch.Tensor]] = {}  # already moved to the host
    bar = progress_bar(num_samples, desc, show_progress and dist.is_main, initial=int((~todo).sum()))

    def checkpoint() -> None:
        for k, v in my_out.items():
            saved_out.setdefault(k, []).append(torch.cat(v).cpu())
        my_out.clear()
        if state is not None and my_idx:
            idx, out = torch.cat(my_idx), _cat(saved_out)
            if dist.is_main and done_idx.numel():  # carry earlier sessions' samples forward
                idx = torch.cat([done_idx, idx])
                out = {k: torch.cat([done_out[k], v]) for k, v in out.items()}
            state.save(dist.rank, idx, out)

    try:
        for idx in batches:
            out = fn(idx)
            for k, v in out.items():
                if v.shape[0] != idx.shape[0]:
                    raise ValueError(f"per-sample output {k!r} has {v.shape[0]} rows for {idx.shape[0]} samples")
                my_out.setdefault(k, []).append(v.detach())
            my_idx.append(idx)
            bar.update(idx.shape[0] * dist.world_size)
            if state is not None and state.due():
                checkpoint()
    except KeyboardInterrupt:
        checkpoint()
        raise
    finally:
        bar.close()
    checkpoint()

    mine_idx = torch.cat(my_idx) if my_idx else torch.zeros(0, dtype=torch.int64)
    mine = _cat(saved_out)
    if dist.world_size > 1:
        gathered: list[Any] = [None] * dist.world_size
        torch.distributed.all_gather_object(gathered, (mine_idx, mine))
        mine_idx = torch.cat([g[0] for g in gathered])
        names = next((g[1].keys() for g in gathered if g[1]), [])
        mine = {k: torch.cat([g[1][k] for g in gathered if k in g[1]]) for k in names}

    all_idx = torch.cat([done_idx, mine_idx])
    names = set(mine) | set(done_out)
    result = {}
    order = torch.argsort(all_idx)
    if not torch.equal(all_idx[order], torch.arange(num_samples)):
        raise RuntimeError("internal error: collected samples do not cover [0, num_samples) exactly once")
    for k in names:
        parts = [t for t in (done_out.get(k), mine.get(k)) if t is not None]
        result[k] = torch.cat(parts)[order]
    return result
