"""Linear separability with its samples kept: the registry runner the ``separability`` command plans.

The generation pass is separability's cost (200k images through up to 40 classifiers); the SVM
stage is cheap by comparison. This runner keeps the pass's latents and logits in a samples file
(:data:`~stylegan_eval.metrics.separability.SAMPLES_FILE`) and reuses a stored file that covers the
run (same generator, seed, noise, class and classifiers; at least as many samples). It records
``w`` whenever the generator has a mapping network, so that samples drawn for ``--space z`` serve
a later W run. It takes the registered ``ls`` runner's protocol (``keep``, ``noise_mode``, ``jobs``)
plus ``samples_file`` and ``save_samples``, and is planned as
``dataclasses.replace(registry.get("ls"), runner=RUNNER, protocol={...})``.

The classifiers come from the context's cache under :data:`CLASSIFIERS_KEY` (the caller loads
them once, with its own rules, and puts them there); without them, those the options name.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping

from ..errors import UserError
from . import separability as sep
from .context import Raw, RunContext

__all__ = ["CLASSIFIERS_KEY", "RUNNER", "generator_id", "reusable_samples", "run_with_samples"]

#: ``module:function`` of :func:`run_with_samples` (a :attr:`MetricSpec.runner`).
RUNNER = f"{__name__}:run_with_samples"
#: The context-cache key of the run's classifiers.
CLASSIFIERS_KEY = "classifiers"


def generator_id(meta: Mapping[str, Any]) -> dict[str, Any]:
    """What identifies a loaded checkpoint's samples: its architecture and weights digest (the file's
    sha256, else its name); a spec-loaded generator's identity too (a changed adapter file never
    reuses samples)."""
    keys = ("family", "resolution", "z_dim", "w_dim", "num_ws", "c_dim", "generator_spec", "parameters")
    gid = {k: meta.get(k) for k in keys}
    gid["weights"] = meta.get("sha256") or meta.get("checkpoint")
    if meta.get("identity"):
        gid["identity"] = meta["identity"]
    return gid


def reusable_samples(path: Path, fingerprint: Mapping[str, Any], num_samples: int) -> sep.SeparabilitySamples | None:
    """The stored samples at ``path`` narrowed to this run, when they cover it (same generator,
    seed, noise and class, every classifier, enough rows); else None (also for an unreadable file)."""
    if not path.is_file():
        return None
    try:
        stored = sep.SeparabilitySamples.load(path)
    except UserError:
        return None
    fp = stored.fingerprint
    same = all(fp.get(k) == fingerprint[k] for k in ("metric", "generator", "seed", "noise_mode", "class_idx"))
    have = {(n, i) for n, i, *_ in fp.get("classifiers", [])}
    want = [(n, i) for n, i, *_ in fingerprint["classifiers"]]
    if not same or not all(w in have for w in want) or stored.num_samples < num_samples:
        return None
    return stored.select([n for n, _ in want], num_samples)


def _classifiers(ctx: RunContext) -> list:
    """The run's classifiers: those the caller cached, else the CelebA-HQ attributes and custom files
    the options name (all 40 attributes unless custom files are given)."""
    from ..classifiers.registry import load_celebahq, load_custom

    def named() -> list:
        opts = ctx.options
        clfs = []
        if opts.attrs or not opts.classifiers:
            clfs += load_celebahq(list(opts.attrs) or ["all"], opts.classifier_dir, opts.allow_random_weights)
        return clfs + [load_custom(p) for p in opts.classifiers]

    return ctx.cached(CLASSIFIERS_KEY, named)


def _collect(ctx: RunContext, clfs: list, protocol: dict[str, Any], samples_file: Path | None):
    """(samples, samples_meta, resume state) of this run: the stored file when it covers the run,
    else a (resumable) generation pass."""
    gen = ctx.generator
    fingerprint = sep.sample_fingerprint(generator_id(ctx.meta), ctx.seed, protocol["noise_mode"], ctx.class_idx, clfs)
    stored = reusable_samples(samples_file, fingerprint, ctx.num_samples) if samples_file is not None else None
    if stored is not None:
        return stored, {"file": str(samples_file), "reused": True}, None
    state = ctx.options.state(
        "separability",
        sep.separability_fingerprint(
            gen, clfs, seed=ctx.seed, class_idx=ctx.class_idx, record_w=gen.supports_w, **protocol
        ),
    )
    samples = sep.collect_samples(
        gen,
        clfs,
        ctx.num_samples,
        seed=ctx.seed,
        batch_size=ctx.batch_size,
        noise_mode=protocol["noise_mode"],
        class_idx=ctx.class_idx,
        need_w=gen.supports_w,
        state=state,
        show_progress=ctx.show_progress,
        fingerprint=fingerprint,
    )
    return samples, {"reused": False}, state


def run_with_samples(
    ctx: RunContext,
    outputs: tuple[str, ...],
    *,
    keep: float = 0.5,
    noise_mode: str = "random",
    jobs: int = 1,
    samples_file: str | None = None,
    save_samples: bool = True,
) -> dict[str, Raw]:
    """One separability run whose spaces are the wanted outputs (``ls_z`` -> z), one :class:`Raw`
    per space; the fitted :class:`~stylegan_eval.metrics.separability.SeparabilityResult`, the
    samples, their file and the stage timings (s) are in each Raw's ``details``.

    Args:
        keep: fraction of the most confident samples kept per attribute, in (0, 1].
        noise_mode: synthesis noise ('random': per sample from the run's seed, 'const', 'none').
        jobs: parallel SVM fits (>= 1).
        samples_file: where the samples are reused from and saved to (None: neither).
        save_samples: write a fresh generation pass to ``samples_file``.

    On the ranks > 0 of a multi-process run the values are NaN: rank 0 fits the SVMs and reports.
    """
    from ..engine import DistInfo

    spaces = [o.split("_", 1)[1] for o in outputs]
    svm = ctx.options.svm
    protocol: dict[str, Any] = dict(
        spaces=spaces, svm=svm, keep=keep, noise_mode=noise_mode, num_samples=ctx.num_samples
    )
    sep.validate(
        ctx.generator, spaces=spaces, num_samples=ctx.num_samples, keep=keep, svm=svm, jobs=jobs, noise_mode=noise_mode
    )
    clfs = _classifiers(ctx)
    path = Path(samples_file) if samples_file is not None else None
    t0 = time.perf_counter()
    samples, samples_meta, state = _collect(ctx, clfs, protocol, path)
    if not DistInfo.current().is_main:
        return {o: Raw(float("nan")) for o in outputs}
    if not samples_meta["reused"] and path is not None and save_samples:
        samples.save(path)
        samples_meta["file"] = str(path)
    if state is not None:
        state.clear()
    seconds = {"generate": time.perf_counter() - t0}
    result = sep.fit_separability(samples, keep=keep, spaces=spaces, svm=svm, jobs=jobs)
    seconds["svm"] = time.perf_counter() - t0 - seconds["generate"]
    details = {"result": result, "samples": samples, "samples_meta": samples_meta, "seconds": seconds}
    fingerprint = sep.separability_fingerprint(
        ctx.generator, clfs, seed=ctx.seed, class_idx=ctx.class_idx, record_w=ctx.generator.supports_w, **protocol
    )
    rw = list(samples.random_weights)
    n = int(result.settings["num_samples"])
    return {f"ls_{s}": Raw(float(result.scores[s]), None, n, rw, details, fingerprint) for s in spaces}
