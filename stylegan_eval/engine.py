"""The per-sample loop every metric runs: batching, progress, resume and multi-process sharding.

A metric supplies a function ``fn(indices) -> {name: tensor [N, ...]}`` that computes per-sample
outputs (a PPL distance, Inception features, latents and classifier logits) for the global
sample indices it is given. Because every random number of sample ``i`` comes from
:mod:`stylegan_eval.sampling` as a function of ``(seed, i)``, :func:`collect` may cut the
index range into batches of any size, hand them to any number of processes, stop and resume,
and the collected outputs, ordered by sample index, are always the same.

Outputs stay on the device inside the loop; they move to the host only at checkpoint
intervals (``save_every`` seconds, for ``--resume``) and at the end.

Floating-point outputs must be finite: the first batch is checked at once (one host sync, so a
generator with NaN weights stops within seconds) and all collected outputs at the end; a NaN or
inf raises :class:`NonFiniteOutputs` naming how many samples and the first index, so a metric is
never reported as null. Partial files carry a sha256 of their content, checked on ``--resume``.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from .envvars import env_int
from .errors import UserError
from .fileio import atomic_write, jsonable
from .runtime import tqdm

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
    world = env_int("WORLD_SIZE", 1, minimum=1)
    if world <= 1 or not torch.distributed.is_available():
        return DistInfo()
    if not torch.distributed.is_initialized():
        use_cuda = torch.cuda.is_available() and (device is None or torch.device(device).type == "cuda")
        if use_cuda:
            torch.cuda.set_device(env_int("LOCAL_RANK", 0, minimum=0))
        torch.distributed.init_process_group("nccl" if use_cuda else "gloo")
    return DistInfo.current()


#: Most samples one run may ask for (the index bookkeeping alone takes ~9 bytes per sample).
MAX_SAMPLES = 10**8
#: Seconds between partial saves for --resume ($STYLEGAN_EVAL_SAVE_EVERY overrides; 0 = after every batch).
ENV_SAVE_EVERY = "STYLEGAN_EVAL_SAVE_EVERY"


def _default_save_every() -> float:
    raw = os.environ.get(ENV_SAVE_EVERY, "").strip()
    if not raw:
        return 60.0
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise UserError(f"environment variable {ENV_SAVE_EVERY}={raw[:40]!r}: expected a number of seconds >= 0")
    return value


class NonFiniteOutputs(UserError):
    """Per-sample outputs hold NaN or inf (typically a generator with non-finite weights)."""


class DamagedPartial(UserError):
    """A --resume partial file is truncated, tampered with or not one of ours."""


def content_digest(indices: torch.Tensor, outputs: dict[str, torch.Tensor]) -> str:
    """sha256 over the indices and every output's name, dtype, shape and bytes (names sorted)."""
    h = hashlib.sha256()
    for name, t in [("\0indices", indices), *sorted(outputs.items())]:
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _refuse_views(p: Path, idx: torch.Tensor, outs: dict[str, torch.Tensor], how: str) -> None:
    """Saved tensors are contiguous; a strided view (a stride-0 expand of one element) would be
    materialised by the digest at its full nominal size."""
    for name, t in [("indices", idx), *outs.items()]:
        if not t.is_contiguous() or t.untyped_storage().nbytes() < t.numel() * t.element_size():
            raise DamagedPartial(
                f"{p}: resume file holds a strided view as {name!r} (not written by stylegan-eval); {how}"
            )


def _read_partial(p: Path) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    how = f"delete {p} to start over, or run without --resume"
    from .warnings_capture import captured_warnings

    try:
        with captured_warnings():
            state = torch.load(p, map_location="cpu", weights_only=True)
    except MemoryError:
        raise DamagedPartial(f"{p}: resume file too large to read; {how}") from None
    except Exception as exc:  # noqa: BLE001 - truncated zip, garbage, refused globals
        first = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else type(exc).__name__
        raise DamagedPartial(f"{p}: damaged resume file ({first}); {how}") from None
    ok = (
        isinstance(state, dict)
        and isinstance(state.get("indices"), torch.Tensor)
        and isinstance(state.get("outputs"), dict)
        and isinstance(state.get("digest"), str)
    )
    if ok:
        idx, outs = state["indices"], state["outputs"]
        ok = (
            idx.dtype == torch.int64
            and idx.ndim == 1
            and all(
                isinstance(k, str) and isinstance(v, torch.Tensor) and v.ndim >= 1 and v.shape[0] == idx.shape[0]
                for k, v in outs.items()
            )
        )
    if not ok:
        raise DamagedPartial(f"{p}: not a stylegan-eval resume file (expected indices, outputs and digest); {how}")
    _refuse_views(p, idx, outs, how)
    if content_digest(idx, outs) != state["digest"]:
        raise DamagedPartial(f"{p}: resume file content does not match its sha256 (damaged or modified); {how}")
    if idx.numel() and (int(idx.min()) < 0 or torch.unique(idx).numel() != idx.numel()):
        raise DamagedPartial(f"{p}: resume file has negative or repeated sample indices; {how}")
    return idx, outs


def check_finite(
    outputs: dict[str, torch.Tensor], indices: torch.Tensor | None = None, total: int | None = None
) -> None:
    """Raise NonFiniteOutputs if a floating-point output has NaN/inf (one host sync per output).

    ``indices``: the global sample index of each row (default: the row number).
    """
    for name, v in outputs.items():
        if not v.is_floating_point() or v.numel() == 0:
            continue
        bad = ~torch.isfinite(v.reshape(v.shape[0], -1)).all(dim=1)
        if bool(bad.any()):
            rows = torch.nonzero(bad)[:, 0]
            n = int(rows.numel())
            of = f" of {total}" if total is not None else ""
            raise NonFiniteOutputs(
                f"{n} sample(s){of} have NaN or infinite {name!r} values (first: sample {int(rows[0]) if indices is None else int(indices[int(rows[0])])}); "
                "the generator (or a network applied to its images) produces non-finite numbers: check the checkpoint's weights"
            )


@dataclass
class ResumeState:
    """Partial per-sample outputs saved atomically to ``folder`` for ``--resume``.

    ``fingerprint`` holds every setting that changes the per-sample outputs (metric, seed,
    checkpoint hash, options); a saved state with another fingerprint is ignored, never mixed in.
    """

    folder: Path
    name: str
    fingerprint: dict[str, Any]
    save_every: float = field(default_factory=_default_save_every)
    resume: bool = True
    _last: float = field(default_factory=time.monotonic, repr=False)

    @property
    def key(self) -> str:
        from .sampling import ALGORITHM

        # The sampling algorithm is part of every state: samples of another one are never mixed in.
        text = json.dumps(jsonable({**self.fingerprint, "sampling_algorithm": ALGORITHM}), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def path(self, rank: int) -> Path:
        return Path(self.folder) / f".partial-{self.name}-{self.key}.rank{rank}.pt"

    def load(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """All samples any rank saved: (indices [M], outputs {name: [M, ...]})."""
        indices, outputs = [], {}
        if self.resume:
            for p in sorted(Path(self.folder).glob(f".partial-{self.name}-{self.key}.rank*.pt")):
                idx, outs = _read_partial(p)
                if indices and set(outs) != set(outputs):
                    raise DamagedPartial(
                        f"{p}: resume file holds other outputs than its siblings; delete the .partial-* files in {self.folder} to start over"
                    )
                indices.append(idx)
                for k, v in outs.items():
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
        indices, outputs = indices.cpu(), {k: v.cpu() for k, v in outputs.items()}
        torch.save({"indices": indices, "outputs": outputs, "digest": content_digest(indices, outputs)}, buf)
        atomic_write(self.path(rank), buf.getvalue())
        self._last = time.monotonic()

    def clear(self) -> None:
        """Remove the partial files, and temporary files a killed save left behind."""
        for pattern in (
            f".partial-{self.name}-{self.key}.rank*.pt",
            f"..partial-{self.name}-{self.key}.rank*.pt.*.tmp",
        ):
            for p in Path(self.folder).glob(pattern):
                p.unlink(missing_ok=True)


class _Resumed(dict):
    """Outputs that all came from resume files: asking for an output they do not hold is a
    DamagedPartial naming the files (written by a run with other outputs), not a KeyError."""

    def __init__(self, state: Any) -> None:
        super().__init__()
        self.folder = getattr(state, "folder", "--out")

    def __missing__(self, key: str) -> torch.Tensor:
        raise DamagedPartial(
            f"resume files hold the outputs {sorted(self)}, not {key!r}; delete the .partial-* files in "
            f"{self.folder} to start over, or run without --resume"
        )


def _check_batch(
    out: dict[str, torch.Tensor], idx: torch.Tensor, *, first: bool, done_out, state, finite, total
) -> None:
    """One row per sample in every output; the first batch also against the resumed outputs and,
    with ``finite``, for NaN/inf (fail fast; later batches are checked once at the end)."""
    for k, v in out.items():
        if v.shape[0] != idx.shape[0]:
            raise ValueError(f"per-sample output {k!r} has {v.shape[0]} rows for {idx.shape[0]} samples")
    if first and done_out:
        _check_resumed(done_out, out, state)
    if first and finite:
        check_finite(out, idx, total)


def _check_resumed(done: dict[str, torch.Tensor], new: dict[str, torch.Tensor], state: Any) -> None:
    """Resumed outputs must have this run's names, per-sample shapes and dtypes (DamagedPartial otherwise)."""
    how = f"delete the .partial-* files in {getattr(state, 'folder', '--out')} to start over, or run without --resume"
    if set(done) != set(new):
        raise DamagedPartial(f"resume files hold the outputs {sorted(done)}, this run computes {sorted(new)}; {how}")
    for k, v in new.items():
        if done[k].shape[1:] != v.shape[1:] or done[k].dtype != v.dtype:
            raise DamagedPartial(
                f"resume files hold {k!r} as {done[k].dtype} {list(done[k].shape[1:])} per sample, "
                f"this run computes {v.dtype} {list(v.shape[1:])}; {how}"
            )


#: Sample positions scanned at a time for :func:`_my_batches` (bounds its memory to a few MB).
_SCAN = 1 << 20


def _my_batches(todo: torch.Tensor, batch_size: int, rank: int, world_size: int) -> Iterator[torch.Tensor]:
    """This rank's batches of the samples still to do, built one at a time.

    The indices where ``todo`` (bool [N]) is set are cut, in order, into batches of
    ``batch_size``, and the batches are dealt to the ranks in turn (batch b to rank
    b % world_size). Built lazily, so that 10^8 samples cost no index lists before the first one.
    """
    n = todo.numel()
    pending = torch.zeros(0, dtype=torch.int64)
    b = 0
    for start in range(0, n, max(_SCAN, batch_size)):
        stop = min(n, start + max(_SCAN, batch_size))
        pending = torch.cat([pending, torch.nonzero(todo[start:stop])[:, 0] + start])
        while pending.numel() >= batch_size or (stop == n and pending.numel()):
            batch, pending = pending[:batch_size].clone(), pending[batch_size:]
            if b % world_size == rank:
                yield batch
            b += 1


def _cat(chunks: dict[str, list[torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.cat(v) for k, v in chunks.items()}


#: Progress-bar units by label: PPL's samples are pairs of images, everything else counts images.
PROGRESS_UNITS = {"ppl": "pair", "separability": "img", "generator features": "img", "inception score": "img"}
_phase: contextvars.ContextVar[str | None] = contextvars.ContextVar("stylegan_eval_progress_phase", default=None)


@contextlib.contextmanager
def progress_phase(label: str | None) -> Iterator[None]:
    """Prefix every progress bar drawn in the block with ``label`` (e.g. the checkpoint or step)."""
    token = _phase.set(label)
    try:
        yield
    finally:
        _phase.reset(token)


def progress_bar(total: int, desc: str, enabled: bool = True, initial: int = 0) -> tqdm:
    """The bar of :func:`collect` on stderr: stays when done (a log of the phases), counts
    :data:`PROGRESS_UNITS` of ``desc``, labelled ``<phase>: <desc>`` inside :func:`progress_phase`."""
    phase = _phase.get()
    return tqdm(
        total=total,
        initial=initial,
        desc=f"{phase}: {desc}" if phase else desc,
        unit=PROGRESS_UNITS.get(desc, "img"),
        disable=not enabled,
        dynamic_ncols=True,
        leave=True,
    )


@dataclass
class _Shard:
    """This rank's outputs: ``pending`` still on the device, ``saved`` already moved to the host."""

    indices: list[torch.Tensor] = field(default_factory=list)
    pending: dict[str, list[torch.Tensor]] = field(default_factory=dict)
    saved: dict[str, list[torch.Tensor]] = field(default_factory=dict)

    def add(self, idx: torch.Tensor, out: dict[str, torch.Tensor]) -> None:
        for k, v in out.items():
            self.pending.setdefault(k, []).append(v.detach())
        self.indices.append(idx)

    def checkpoint(
        self, state: ResumeState | None, dist: DistInfo, done_idx: torch.Tensor, done_out: dict[str, torch.Tensor]
    ) -> None:
        """Move the pending outputs to the host and, with a ``state``, save everything so far."""
        for k, v in self.pending.items():
            self.saved.setdefault(k, []).append(torch.cat(v).cpu())
        self.pending.clear()
        if state is not None and self.indices:
            idx, out = torch.cat(self.indices), _cat(self.saved)
            if dist.is_main and done_idx.numel():  # carry earlier sessions' samples forward
                idx = torch.cat([done_idx, idx])
                out = {k: torch.cat([done_out[k], v]) for k, v in out.items()}
            state.save(dist.rank, idx, out)

    def host(self) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(indices [M], {name: CPU tensor [M, ...]}) of this rank, after the last checkpoint."""
        idx = torch.cat(self.indices) if self.indices else torch.zeros(0, dtype=torch.int64)
        return idx, _cat(self.saved)


def _resume_start(
    state: ResumeState | None, num_samples: int
) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor]:
    """Resumed (indices, outputs) below ``num_samples`` and the mask (bool [num_samples]) of samples to do."""
    done_idx, done_out = state.load() if state is not None else (torch.zeros(0, dtype=torch.int64), {})
    todo = torch.ones(num_samples, dtype=torch.bool)
    keep = done_idx < num_samples
    done_idx, done_out = done_idx[keep], {k: v[keep] for k, v in done_out.items()}
    todo[done_idx] = False
    return done_idx, done_out, todo


def _gather(
    idx: torch.Tensor, out: dict[str, torch.Tensor], dist: DistInfo
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Every rank's (indices, outputs), concatenated in rank order (unchanged with one process)."""
    if dist.world_size <= 1:
        return idx, out
    gathered: list[Any] = [None] * dist.world_size
    torch.distributed.all_gather_object(gathered, (idx, out))
    names = next((g[1].keys() for g in gathered if g[1]), [])
    return torch.cat([g[0] for g in gathered]), {k: torch.cat([g[1][k] for g in gathered if k in g[1]]) for k in names}


def _in_order(
    done: tuple[torch.Tensor, dict[str, torch.Tensor]],
    mine: tuple[torch.Tensor, dict[str, torch.Tensor]],
    state: ResumeState | None,
    num_samples: int,
) -> dict[str, torch.Tensor]:
    """Resumed and new outputs merged, row i for sample i; they must cover [0, num_samples) once."""
    (done_idx, done_out), (mine_idx, mine_out) = done, mine
    all_idx = torch.cat([done_idx, mine_idx])
    names = set(mine_out) | set(done_out)
    result: dict[str, torch.Tensor] = _Resumed(state) if done_out and not mine_out else {}
    order = torch.argsort(all_idx)
    if not torch.equal(all_idx[order], torch.arange(num_samples)):
        raise RuntimeError("internal error: collected samples do not cover [0, num_samples) exactly once")
    for k in names:
        parts = [t for t in (done_out.get(k), mine_out.get(k)) if t is not None]
        result[k] = torch.cat(parts)[order]
    return result


def collect(
    fn: BatchFn,
    num_samples: int,
    batch_size: int,
    *,
    desc: str = "samples",
    show_progress: bool = True,
    state: ResumeState | None = None,
    dist: DistInfo | None = None,
    finite: bool = True,
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
        finite: require finite floating-point outputs (first batch checked at once, all at the end).

    Raises:
        NonFiniteOutputs: with ``finite``, an output holds NaN or inf.
        DamagedPartial: a resume file is unreadable or fails its digest.

    Returns:
        {name: CPU tensor [num_samples, ...]}, row i computed for sample i.
    """
    if num_samples <= 0:
        raise ValueError("num_samples must be positive")
    if num_samples > MAX_SAMPLES:
        raise UserError(f"--num-samples (num_samples) must be at most {MAX_SAMPLES}, got {num_samples}")
    dist = dist or DistInfo.current()
    done_idx, done_out, todo = _resume_start(state, num_samples)
    shard = _Shard()
    bar = progress_bar(num_samples, desc, show_progress and dist.is_main, initial=int((~todo).sum()))
    try:
        for b, idx in enumerate(_my_batches(todo, batch_size, dist.rank, dist.world_size)):
            out = fn(idx)
            _check_batch(out, idx, first=b == 0, done_out=done_out, state=state, finite=finite, total=num_samples)
            shard.add(idx, out)
            bar.update(idx.shape[0] * dist.world_size)
            if state is not None and state.due():
                shard.checkpoint(state, dist, done_idx, done_out)
    except KeyboardInterrupt:
        shard.checkpoint(state, dist, done_idx, done_out)
        raise
    finally:
        bar.close()
    shard.checkpoint(state, dist, done_idx, done_out)
    result = _in_order((done_idx, done_out), _gather(*shard.host(), dist), state, num_samples)
    if finite:
        check_finite(result, None, num_samples)
    return result
