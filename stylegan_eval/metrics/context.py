"""What every registered metric runner receives and returns (torch-free).

A registered runner (:attr:`stylegan_eval.metrics.registry.MetricSpec.runner`) is called as
``runner(ctx, outputs, **protocol) -> {output: Raw}``:

- ``ctx`` (:class:`RunContext`): the generator, its device, the process split, the seed and
  sample count of this run, the batch size, progress, the resume-state factory, the detector
  cache shared by every checkpoint and the user's detector/data choices (:class:`EvalOptions`);
- ``outputs``: the registry outputs wanted from this run (``("fid", "kid")`` when FID and KID
  share one generated pass, ``("ls_z", "ls_w")`` for one separability run);
- ``protocol``: the registry entry's protocol keyword arguments.

Like NVIDIA's ``MetricOptions`` (stylegan3 ``metrics/metric_utils.py``) the context is the one
object that travels from the caller to the metric; unlike it, the sample indices a run draws
are fixed by (seed, index) alone (:mod:`stylegan_eval.sampling`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import ArgumentError


@dataclass
class EvalOptions:
    """The user's choices every metric runner may read (one object per comparison / Evaluator).

    Attributes:
        seed: first seed; repeat r uses ``seed + r``.
        repeats: runs of the repeatable metrics per checkpoint (>= 1); PPL always runs once.
        batch_size: samples per batch (None: by device and resolution).
        num_samples: override every metric's sample count (quick checks); None keeps each
            metric's published count (the registry's ``num_samples``).
        data: real images or a statistics file for FID/KID/PR/FD (a path), or in-memory
            statistics (:class:`~stylegan_eval.metrics.stats_cache.FeatureStats`) of the
            options' detector.
        attrs: CelebA-HQ attributes for LS (default: all 40 unless ``classifiers`` is given).
        classifiers: custom classifier checkpoints for LS.
        classifier_dir: local copies of the CelebA-HQ classifiers.
        svm: LS SVM mode ('reference' or 'fast').
        distance: PPL distance ('lpips-vgg' or 'nvidia-vgg16').
        lpips_weights: weights file of the PPL distance.
        allow_random_weights: run detector networks at random initialisation when missing.
        class_idx: class of conditional generators (None: random per sample).
        detector, inception_weights, fid_method: FID/KID feature network and square-root method.
        show_progress: progress bars on stderr.
        download: fetch missing published detector weights (False: local cache only).
        resume_state: ``(name, fingerprint) -> ResumeState | None`` (``RunOptions.resume_state``).
        strict_data: refuse real images of another size than the generated ones' (feature metrics).
        resize: the detector's input resize ('detector' or 'clean').
        skip_bad, num_workers, cache_dir, no_cache: how real images are decoded and their
            statistics cached (skip undecodable files; decoding processes, None: by CPU count;
            the statistics cache folder; neither read nor write the cache).
        resume_prefix: resume states are stored under ``<prefix>-<label>-s<seed>-<entry>``
            (:meth:`RunContext.state`); None: under the entry point's own name, for a caller
            that runs one metric once (a single-metric command), where names cannot collide.

    ``built_seconds`` (not an option): the wall-clock seconds each object :meth:`cached` built took.
    """

    seed: int = 0
    repeats: int = 1
    batch_size: int | None = None
    num_samples: int | None = None
    data: Path | Any = None
    attrs: tuple[str, ...] = ()
    classifiers: tuple[Path, ...] = ()
    classifier_dir: Path | None = None
    svm: str = "reference"
    distance: str = "lpips-vgg"
    lpips_weights: Path | None = None
    allow_random_weights: bool = False
    class_idx: int | None = None
    detector: str = "pytorch-fid"
    inception_weights: Path | None = None
    fid_method: str = "eigen"
    show_progress: bool = False
    download: bool = True
    resume_state: Callable[[str, dict], Any] | None = None
    strict_data: bool = False
    resize: str = "detector"
    skip_bad: bool = False
    num_workers: int | None = None
    cache_dir: Path | None = None
    no_cache: bool = False
    resume_prefix: str | None = "compare"
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.repeats, int) or self.repeats < 1:
            raise ArgumentError("repeats", f"repeats must be a positive integer, got {self.repeats!r}")
        if self.num_samples is not None and self.num_samples < 2:
            raise ArgumentError("num_samples", f"num_samples must be at least 2, got {self.num_samples}")
        self.built_seconds: dict[str, float] = {}

    def state(self, name: str, fingerprint: dict) -> Any:
        """The resume state stored under ``name`` for ``fingerprint`` (None without a factory)."""
        return self.resume_state(name, fingerprint) if self.resume_state is not None else None

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        """Build a detector network once per comparison (shared by every checkpoint and call)."""
        if key not in self._cache:
            start = time.perf_counter()
            self._cache[key] = make()
            self.built_seconds[key] = time.perf_counter() - start
        return self._cache[key]


@dataclass
class Raw:
    """One run of one metric output: the value, an optional interval, plot data and the result's fingerprint.

    Attributes:
        value: the number.
        ci: the run's own 95% interval (PPL's bootstrap), or None.
        num_samples: samples (or pairs) the value rests on.
        random_weights: detector networks that ran at random initialisation.
        details: ``name`` (the result's protocol name), ``warnings`` (one line each) and the
            data of the metric's figures (e.g. PPL ``distances``); not serialised.
        fingerprint: every input of the result (see :func:`~stylegan_eval.metrics.registry.fingerprint_digest`).
        result: the entry point's whole result object, for a caller that reports it in full (a
            single-metric command's table and settings); None where the runner does not hand it
            back. Not serialised.
    """

    value: float
    ci: tuple[float, float] | None = None
    num_samples: int | None = None
    random_weights: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    result: Any = field(default=None, repr=False)


@dataclass
class RunContext:
    """Everything one run of one registered metric receives besides its protocol.

    Attributes:
        generator: the :class:`~stylegan_eval.generator.Generator` (eval mode, on its device).
        options: the user's choices and the detector cache (:class:`EvalOptions`).
        meta: what the caller knows of the checkpoint (``checkpoint``, ``generator_spec``, ...).
        name: the registry name being run (the first of a shared run), used in messages and
            in the resume-state names.
        seed: this run's sampling seed.
        num_samples: this run's sample count (the option, else the registry's published count).
        dist: the process split (rank, world size; ``engine.DistInfo``); None: the current
            ``torch.distributed`` group, if any.
    """

    generator: Any
    options: EvalOptions
    meta: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    seed: int = 0
    num_samples: int = 0
    dist: Any = None

    @property
    def device(self) -> Any:
        """The generator's device (``torch.device``)."""
        return self.generator.device

    @property
    def batch_size(self) -> int | None:
        return self.options.batch_size

    @property
    def show_progress(self) -> bool:
        return self.options.show_progress

    @property
    def class_idx(self) -> int | None:
        return self.options.class_idx

    def for_run(self, name: str, seed: int, num_samples: int) -> RunContext:
        """A copy for one run of ``name`` with ``seed`` and ``num_samples``."""
        return dataclasses.replace(self, name=name, seed=seed, num_samples=num_samples)

    def state(self, label: str | None = None) -> Callable[[str, dict], Any]:
        """The ``state=`` callable of an entry point: its resume state is stored under
        ``<resume_prefix>-<label>-s<seed>-<entry's own name>`` (``label`` defaults to :attr:`name`),
        or under the entry's own name when :attr:`EvalOptions.resume_prefix` is None."""
        if self.options.resume_prefix is None:
            return self.options.state
        slot = f"{self.options.resume_prefix}-{label or self.name}-s{self.seed}"
        return lambda name, fingerprint: self.options.state(f"{slot}-{name}", fingerprint)

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()`` once per comparison / Evaluator (detector networks, real statistics)."""
        return self.options.cached(key, make)
