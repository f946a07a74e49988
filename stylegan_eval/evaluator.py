"""An evaluator for training loops and notebooks: the detector networks and real statistics
stay loaded between calls.

    import stylegan_eval as se

    ev = se.Evaluator(metrics=["fid50k_full", "ppl2_wend"], data="ffhq-stats.npz", num_samples=10_000,
                      log="runs/exp1/metrics.jsonl")
    for kimg in range(0, 25_000, 500):
        ...train...
        scores = ev(G_ema, step=kimg)   # {'fid50k_full': 7.41, 'ppl2_wend': 143.2}

It runs the registry's metric runners through the one evaluation loop
(:mod:`stylegan_eval.compare.evaluation`), exactly as :func:`stylegan_eval.api.evaluate`
does, with one :class:`~stylegan_eval.compare.EvalOptions` kept for its lifetime: that
object's detector cache (:meth:`EvalOptions.cached`: the PPL distance network, the FID/KID
Inception and the real statistics, the separability classifiers) is built on the first call
and reused by every later one, so a call costs only the generator's samples. The numbers of
a call equal those of :func:`~stylegan_eval.api.evaluate` with the same arguments and seed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Sequence

from .compare import EvalOptions, Measurement
from .compare import evaluate as _evaluate
from .errors import ArgumentError


class Evaluator:
    """Compute ``metrics`` on generators, keeping detector networks and real statistics loaded.

    Args:
        metrics: registry names (a list or a comma string; ``stylegan-eval list-metrics``).
        data: real images or a statistics file (FID/KID).
        num_samples: samples of every metric (None: each registry entry's published count).
        seed: sampling seed of every call (the same latents each time, so that successive
            snapshots are compared on the same samples); repeat r of FID/KID/LS uses seed + r.
        log: append one JSON line per metric per call here (rank 0), with the call's ``step``.
        tensorboard: a folder for TensorBoard event files, or any
            :class:`~stylegan_eval.loggers.MetricLogger`: each call logs every metric as a
            scalar at its ``step`` (0 without one) and the sample grid (seeds 0-15) as an image
            (rank 0). :meth:`close` closes it.
        **options: the other :class:`~stylegan_eval.compare.EvalOptions` fields (repeats,
            batch_size, attrs, classifiers, classifier_dir, svm, distance, lpips_weights,
            detector, inception_weights, fid_method, allow_random_weights, class_idx, show_progress).

    Attributes:
        options: the shared options (their cache holds the loaded networks).
        calls: number of evaluations so far; seconds: wall time of the last one.
    """

    _PATHS = ("lpips_weights", "inception_weights", "classifier_dir")

    def __init__(
        self,
        metrics: Sequence[str] | str,
        *,
        data: str | os.PathLike | None = None,
        num_samples: int | None = None,
        seed: int = 0,
        log: str | os.PathLike | None = None,
        tensorboard: Any = None,
        **options: Any,
    ) -> None:
        from .api import plan_metrics, result_names

        names, self.runners = plan_metrics("Evaluator", metrics, data)
        self.outputs = list(result_names([o for r in self.runners for o in r.outputs], names).values())
        known = set(EvalOptions.__dataclass_fields__) - {"_cache", "resume_state", "seed", "num_samples", "data"}
        unknown = sorted(set(options) - known)
        if unknown:
            raise ArgumentError(
                unknown[0], f"Evaluator: unknown option {unknown[0]!r} (choose from {', '.join(sorted(known))})"
            )
        options.setdefault("show_progress", True)  # as the command line; show_progress=False for quiet loops
        for key in self._PATHS:
            if options.get(key) is not None:
                options[key] = Path(options[key])
        if "classifiers" in options:
            options["classifiers"] = tuple(Path(c) for c in options["classifiers"])
        if "attrs" in options:
            options["attrs"] = tuple(options["attrs"])
        self.options = EvalOptions(
            seed=seed, num_samples=num_samples, data=Path(data) if data is not None else None, **options
        )
        self.log = log
        self.names = names
        self._logged_steps: set[int] = set()
        self.logger = _rank0_logger(tensorboard)
        self.calls = 0
        self.seconds: float | None = None

    def __call__(self, generator: Any, *, step: int | None = None, details: bool = False) -> dict[str, Any]:
        """Evaluate ``generator`` (a Generator or a custom-contract module, on its own device).

        The generator is put in eval mode and its previous mode restored afterwards. Returns
        {metric: value}, or {metric: Measurement} with ``details``.
        """
        from .api import _info, _log, as_generator, identity, named_results, warn_random_weights
        from .engine import progress_phase

        gen = as_generator(generator)
        was_training = gen.training
        gen.eval()
        start = time.perf_counter()
        try:
            meta = {"generator_spec": f"<in-memory {type(generator).__name__}>", **_info(gen)}
            with progress_phase(None if step is None else f"step {step}"):
                results: dict[str, Measurement] = _evaluate(gen, meta, self.runners, self.options)
            results = named_results(results, self.names)
        finally:
            gen.train(was_training)
        self.seconds = time.perf_counter() - start
        self.calls += 1
        if self.calls == 1:  # once per evaluator, not at every snapshot
            warn_random_weights(results)
        if self.log is not None and self._first_log_of(step):
            _log(self.log, results, self.options, step, identity(gen, meta))
        if self.logger is not None:
            _to_logger(self.logger, gen, results, step or 0, self.options.class_idx)
        return dict(results) if details else {k: m.value for k, m in results.items()}

    def _first_log_of(self, step: int | None) -> bool:
        """False (with a warning) when this evaluator already logged ``step``: one row per step and metric."""
        if step is None:
            return True
        if step in self._logged_steps:
            from . import log as messages

            messages.warning(f"Evaluator: step {step} is already in {self.log}; this call's results are not appended")
            return False
        self._logged_steps.add(step)
        return True

    def loaded(self) -> list[str]:
        """Keys of the networks / statistics loaded so far (e.g. ``distance:lpips-vgg``, ``fid-real``)."""
        return sorted(self.options._cache)

    def close(self) -> None:
        """Drop the loaded networks (the next call loads them again) and close the ``tensorboard`` logger."""
        self.options._cache.clear()
        if self.logger is not None:
            self.logger.close()
            self.logger = None

    def __repr__(self) -> str:
        n = self.options.num_samples
        return (
            f"Evaluator(metrics={self.outputs}, num_samples={'published' if n is None else n}, "
            f"seed={self.options.seed}, calls={self.calls}, loaded={self.loaded()})"
        )


def _rank0_logger(tensorboard: Any):
    from .engine import DistInfo
    from .loggers import as_logger

    return as_logger(tensorboard) if DistInfo.current().is_main else None


def _to_logger(logger: Any, gen: Any, results: dict[str, Measurement], step: int, class_idx: int | None) -> None:
    """The call's metrics as scalars and the sample grid as ``samples/step`` at ``step``."""
    from .loggers import IMAGE_PREFIX
    from .plots import sample_grid_image

    logger.log_scalars({k: m.value for k, m in results.items()}, step)
    was_training = gen.training
    gen.eval()
    try:
        logger.log_image(IMAGE_PREFIX + "step", sample_grid_image(gen, class_idx=class_idx), step)
    finally:
        gen.train(was_training)
