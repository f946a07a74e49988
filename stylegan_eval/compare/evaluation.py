"""The evaluation loop of ``compare`` and ``api.evaluate``: registry entries -> entry points -> Measurements.

Every checkpoint is evaluated with the same seeds, so all of them see the same latents. With
``repeats = K`` the repeatable metrics (FID/KID/LS) run with seeds ``seed, ..., seed + K - 1``
and report the mean, the sample standard deviation (ddof 1) and the 95% t-interval of the mean
(:func:`stylegan_eval.metrics.intervals.t_interval`). PPL runs once and reports its bootstrap
interval. The significance rule is :func:`stylegan_eval.metrics.intervals.significant`.

A runner calls the metric's entry point (:attr:`MetricSpec.entry`) with the registry protocol
and these options; the entry point builds the result's fingerprint and asks
:meth:`EvalOptions.state` for the resume state under it, exactly as the commands do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..errors import ArgumentError
from ..metrics import intervals, registry


# ------------------------------------------------------------------------------ options / results
@dataclass
class EvalOptions:
    """Options every metric runner reads.

    Attributes:
        seed: first seed; repeat r uses ``seed + r``.
        repeats: runs of FID/KID/LS per checkpoint (>= 1); PPL always runs once.
        batch_size: samples per batch (None: by device and resolution).
        num_samples: override every metric's sample count (quick checks); None keeps each
            metric's published count (the registry's ``num_samples``).
        data: real images or a statistics file for FID/KID.
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
        resume_state: ``(name, fingerprint) -> ResumeState | None`` (``RunOptions.resume_state``).
    """

    seed: int = 0
    repeats: int = 1
    batch_size: int | None = None
    num_samples: int | None = None
    data: Path | None = None
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
    resume_state: Callable[[str, dict], Any] | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.repeats, int) or self.repeats < 1:
            raise ArgumentError("repeats", f"repeats must be a positive integer, got {self.repeats!r}")
        if self.num_samples is not None and self.num_samples < 2:
            raise ArgumentError("num_samples", f"num_samples must be at least 2, got {self.num_samples}")

    def state(self, name: str, fingerprint: dict) -> Any:
        return self.resume_state(name, fingerprint) if self.resume_state is not None else None

    def state_for(self, slot: str) -> Callable[[str, dict], Any]:
        """The ``state=`` callable of an entry point: the metric's own name, prefixed by ``slot``."""
        return lambda name, fingerprint: self.state(f"compare-{slot}-{name}", fingerprint)

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        """Build a detector network once per comparison (shared by every checkpoint)."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


@dataclass
class Raw:
    """One run of one metric: the value, an optional interval, plot data and the result's fingerprint."""

    value: float
    ci: tuple[float, float] | None = None
    num_samples: int | None = None
    random_weights: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    fingerprint: dict[str, Any] = field(default_factory=dict)


@dataclass
class Measurement:
    """A metric of one checkpoint, aggregated over repeats.

    Attributes:
        metric: output name (fid, ppl_wend, ls_w, ...).
        value: the mean over repeats (the single value when repeats = 1).
        std: sample std over repeats (None with one repeat).
        ci_low, ci_high: the 95% interval (see the module docstring), or None.
        repeats: number of runs.
        values: each run's value.
        details: plot data (PPL distances, per-attribute entropies); not serialised.
        fingerprints: each run's result fingerprint.
    """

    metric: str
    value: float
    std: float | None
    ci_low: float | None
    ci_high: float | None
    repeats: int
    values: list[float]
    num_samples: int | None = None
    random_weights: list[str] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)
    fingerprints: list[dict[str, Any]] = field(default_factory=list)


def aggregate(metric: str, runs: Sequence[Raw]) -> Measurement:
    """Mean, std and 95% interval of the runs of one metric (see the module docstring)."""
    import math

    values = [float(r.value) for r in runs]
    k = len(values)
    mean = float(np.mean(values))
    std = lo = hi = None
    if k >= 2:
        std, lo, hi, _ = intervals.repeat_interval(values)  # never below 0 (see SIGNIFICANCE_RULE)
    elif runs[0].ci is not None and all(math.isfinite(c) for c in runs[0].ci):
        lo, hi = (float(c) for c in runs[0].ci)
    rw = sorted({n for r in runs for n in r.random_weights})
    return Measurement(
        metric,
        mean,
        std,
        lo,
        hi,
        k,
        values,
        runs[0].num_samples,
        rw,
        [r.details for r in runs],
        [r.fingerprint for r in runs],
    )


def significant(base: Measurement, other: Measurement) -> bool | None:
    """Whether ``other`` differs from ``base`` beyond the noise: non-overlapping 95% intervals (None: no intervals)."""
    return intervals.significant((base.ci_low, base.ci_high), (other.ci_low, other.ci_high))


# ------------------------------------------------------------------------------ runners
@dataclass(frozen=True)
class MetricRunner:
    """How to compute a group of metric outputs on one generator for one seed.

    Attributes:
        family: the registry family ('ppl', 'ls', 'fid', ...).
        outputs: the output names it yields.
        repeatable: runs once per repeat seed (False: once, with its own interval).
        run: ``(generator, meta, options, seed, outputs) -> {output: Raw}``.
        specs: the registry entries it computes.
    """

    family: str
    outputs: tuple[str, ...]
    repeatable: bool
    run: Callable[..., dict[str, Raw]]
    specs: tuple[registry.MetricSpec, ...] = ()


def _num(spec: registry.MetricSpec, opts: EvalOptions) -> int:
    return opts.num_samples or spec.num_samples


def _run_ppl(spec: registry.MetricSpec):
    def run(generator, meta: dict, opts: EvalOptions, seed: int, outputs: tuple[str, ...]) -> dict[str, Raw]:
        from ..metrics.distances import make_distance

        distance = opts.cached(
            f"distance:{opts.distance}",
            lambda: make_distance(
                opts.distance, weights_path=opts.lpips_weights, allow_random=opts.allow_random_weights
            ),
        )
        res = spec.load()(
            generator,
            preset=spec.name,
            num_samples=_num(spec, opts),
            distance=distance,
            batch_size=opts.batch_size,
            seed=seed,
            class_idx=opts.class_idx,
            show_progress=opts.show_progress,
            state=opts.state_for(f"{spec.name}-s{seed}"),
            **spec.protocol,
        )
        (output,) = outputs
        return {
            output: Raw(
                res.value,
                (res.ci_low, res.ci_high),
                int(res.distances.size),
                list(res.random_weights),
                {
                    "distances": res.distances,
                    "name": res.name,
                    "warnings": [res.settings["crop_note"]] if res.settings.get("crop_note") else [],
                },
                res.fingerprint(),
            )
        }

    return run


def _classifiers(opts: EvalOptions) -> list:
    from ..classifiers.registry import load_celebahq, load_custom

    clfs = []
    if opts.attrs or not opts.classifiers:
        clfs += load_celebahq(list(opts.attrs) or ["all"], opts.classifier_dir, opts.allow_random_weights)
    clfs += [load_custom(p) for p in opts.classifiers]
    return clfs


def _run_ls(spec: registry.MetricSpec):
    def run(generator, meta: dict, opts: EvalOptions, seed: int, outputs: tuple[str, ...]) -> dict[str, Raw]:
        spaces = [o.split("_", 1)[1] for o in outputs]
        demo = bool(getattr(generator, "is_demo", False)) and not opts.classifiers
        if demo:  # the embedded demo generator: its shipped classifiers (shape, colour, size, position)
            from .. import demo as demo_mod

            clfs = opts.cached(f"demo-classifiers:{opts.attrs}", lambda: demo_mod.classifiers(list(opts.attrs) or None))
        else:
            clfs = opts.cached("classifiers", lambda: _classifiers(opts))
        protocol = {**spec.protocol, "spaces": spaces}
        res = spec.load()(
            generator,
            clfs,
            num_samples=_num(spec, opts),
            svm=opts.svm,
            seed=seed,
            batch_size=opts.batch_size,
            class_idx=opts.class_idx,
            show_progress=opts.show_progress,
            state=opts.state_for(f"ls-s{seed}"),
            **protocol,
        )
        rw = [c.name for c in clfs if getattr(c, "random_weights", False)]
        table = res.per_attribute
        out = {}
        for s in spaces:
            rows = table[table["space"] == s]
            per_attr = dict(zip(rows["attribute"], rows["conditional_entropy_bits"].astype(float)))
            out[f"ls_{s}"] = Raw(
                float(res.scores[s]),
                None,
                int(res.settings["num_samples"]),
                rw,
                {"entropy_bits": per_attr, "warnings": list(res.meta.get("warnings") or [])},
                res.fingerprint(),
            )
        return out

    return run


def _real_stats(opts: EvalOptions, device, keep_features: bool):
    """(detector, (real statistics, info)) for ``opts.data``, built once per comparison."""
    from ..metrics import inception
    from ..metrics.real import real_statistics

    det = inception.make_detector(
        opts.detector, opts.inception_weights, allow_random=opts.allow_random_weights, device=device
    )
    real = real_statistics(
        Path(opts.data),
        det,
        keep_features=keep_features,
        batch_size=opts.batch_size,
        device=device,  # type: ignore[arg-type]
        show_progress=opts.show_progress,
    )
    return det, real


def _run_features(spec: registry.MetricSpec):
    def run(generator, meta: dict, opts: EvalOptions, seed: int, outputs: tuple[str, ...]) -> dict[str, Raw]:
        from ..metrics.fid import fid as fid_entry

        if opts.data is None:
            raise ArgumentError("data", "data is required for fid/kid (real images or a statistics file)")
        det, real = opts.cached("fid-real", lambda: _real_stats(opts, generator.device, "kid" in outputs))
        kwargs = dict(
            num_samples=_num(spec, opts),
            seed=seed,
            batch_size=opts.batch_size,
            show_progress=opts.show_progress,
            state=opts.state_for(f"{'+'.join(outputs)}-s{seed}"),
            detector=det,
            class_idx=opts.class_idx,
            real_stats=real,
            **spec.protocol,
        )
        if "fid" in outputs:
            res = fid_entry(
                generator, opts.data, kid="kid" in outputs, method=opts.fid_method, low_rank=False, **kwargs
            )
        else:
            res = spec.load()(generator, opts.data, **kwargs)
        num_real = res.real_info.get("num_real")
        out = {}
        if "fid" in outputs:
            out["fid"] = Raw(
                res.fid,
                None,
                res.num_gen,
                list(res.random_weights),
                {
                    "warnings": res.warnings,
                    "num_real": num_real,
                    "name": res.settings.get("protocol", {}).get("fid", "fid"),
                },
                res.fingerprint(),
            )
        if "kid" in outputs:
            out["kid"] = Raw(
                res.kid,
                None,
                res.num_gen,
                list(res.random_weights),
                {
                    "subset_std": res.kid_std,
                    "num_real": num_real,
                    "name": res.settings.get("protocol", {}).get("kid", "kid"),
                },
                res.fingerprint(),
            )
        return out

    return run


def _run_entry(spec: registry.MetricSpec):
    """Issue-14 metrics (precision/recall, IS, equivariance, FD in DINOv2/CLIP features): the entry point
    with the registry protocol; its ``values()`` are the registry outputs."""

    def run(generator, meta: dict, opts: EvalOptions, seed: int, outputs: tuple[str, ...]) -> dict[str, Raw]:
        needs_data = "data" in spec.needs
        if needs_data and opts.data is None:
            raise ArgumentError("data", f"data is required for {spec.name} (real images or a statistics file)")
        if spec.family == "eq" and not getattr(generator, "supports_input_transform", False):
            raise ArgumentError(
                "metrics",
                f"metrics: {spec.name} needs a StyleGAN3 generator (an input transform); "
                f"{meta.get('checkpoint') or meta.get('generator_spec') or generator.family} is "
                f"{getattr(generator, 'family', 'another family')}",
            )
        kwargs: dict[str, Any] = dict(
            num_samples=_num(spec, opts),
            seed=seed,
            batch_size=opts.batch_size,
            show_progress=opts.show_progress,
            state=opts.state_for(f"{spec.name}-s{seed}"),
            **spec.protocol,
        )
        if spec.family in ("is", "eq"):
            kwargs["class_idx"] = opts.class_idx
        if spec.family == "is":
            kwargs.update(
                detector=opts.detector if opts.detector in ("pytorch-fid", "nvidia") else "pytorch-fid",
                detector_weights=opts.inception_weights,
                allow_random_weights=opts.allow_random_weights,
            )
        elif spec.family == "fd":
            kwargs.update(allow_random_weights=opts.allow_random_weights, fid_method=opts.fid_method)
        elif spec.family == "cmmd":
            kwargs["allow_random_weights"] = opts.allow_random_weights
        args = (generator, opts.data) if needs_data else (generator,)
        res = spec.load()(*args, **kwargs)
        vals = res.values()
        extra = getattr(res, "extra", {}) or {}
        details = {"name": res.name, "warnings": list(extra.get("warnings") or [])}
        return {
            o: Raw(float(vals[o]), None, _num(spec, opts), list(res.random_weights), dict(details), res.fingerprint())
            for o in outputs
        }

    return run


_RUNNERS: dict[str, Callable[[registry.MetricSpec], Callable[..., dict[str, Raw]]]] = {
    "ppl": _run_ppl,
    "ls": _run_ls,
    "fid": _run_features,
    "kid": _run_features,
    "pr": _run_entry,
    "is": _run_entry,
    "eq": _run_entry,
    "fd": _run_entry,
    "cmmd": _run_entry,
}


def available_metrics() -> list[str]:
    """Every name ``--metrics`` accepts (the registry's names whose family has a runner)."""
    return [n for n in registry.names() if registry.get(n).family in _RUNNERS]


def plan(names: Iterable[str]) -> list[MetricRunner]:
    """Turn metric names into runners: one per PPL entry, one LS run, one FID/KID run (shared features).

    Raises ArgumentError naming ``metrics`` for an unknown name or two names giving the same output.
    """
    names = [n.strip().lower() for n in names if n and n.strip()]
    known = available_metrics()
    if not names:
        raise ArgumentError("metrics", "metrics: no metric given (choose from " + ", ".join(known) + ")")
    specs: list[registry.MetricSpec] = []
    for n in names:
        if n not in known:
            raise ArgumentError("metrics", f"metrics: unknown metric {n!r} (choose from {', '.join(known)})")
        specs.append(registry.get(n))
    runners: list[MetricRunner] = []
    ls: list[registry.MetricSpec] = []
    feat: list[registry.MetricSpec] = []
    for spec in {s.name: s for s in specs}.values():  # each name once, in order
        if spec.family == "ppl":
            runners.append(MetricRunner("ppl", spec.outputs, False, _run_ppl(spec), (spec,)))
        elif spec.family == "ls":
            ls.append(spec)
        elif spec.family in ("fid", "kid"):
            feat.append(spec)
        else:
            runners.append(MetricRunner(spec.family, spec.outputs, True, _RUNNERS[spec.family](spec), (spec,)))
    seen: dict[str, str] = {}
    for r in runners:
        for o in r.outputs:
            if o in seen:
                raise ArgumentError(
                    "metrics", f"metrics: {seen[o]} and {r.specs[0].name} cannot run together (both yield {o})"
                )
            seen[o] = r.specs[0].name
    if ls:
        outs = {o for s in ls for o in s.outputs}
        outputs = tuple(o for o in ("ls_z", "ls_w") if o in outs)
        runners.append(MetricRunner("ls", outputs, True, _run_ls(ls[0]), tuple(ls)))
    if feat:
        outs_all = [o for s in feat for o in s.outputs]
        if len(set(outs_all)) != len(outs_all):
            raise ArgumentError(
                "metrics",
                "metrics: "
                + ", ".join(s.name for s in feat)
                + " cannot run together (one FID/KID protocol per comparison)",
            )
        outputs = tuple(o for o in ("fid", "kid") if o in outs_all)
        spec = next(s for s in feat if s.family == outputs[0]) if outputs else feat[0]
        runners.append(
            MetricRunner(outputs[0] if len(outputs) == 1 else "fid", outputs, True, _run_features(spec), tuple(feat))
        )
    return runners


def evaluate(generator, meta: dict, runners: Sequence[MetricRunner], opts: EvalOptions) -> dict[str, Measurement]:
    """Run ``runners`` on one generator: {output metric: Measurement}."""
    out: dict[str, Measurement] = {}
    for runner in runners:
        seeds = [opts.seed + r for r in range(opts.repeats)] if runner.repeatable else [opts.seed]
        runs: dict[str, list[Raw]] = {o: [] for o in runner.outputs}
        for seed in seeds:
            for name, raw in runner.run(generator, meta, opts, seed, runner.outputs).items():
                runs[name].append(raw)
        for name, rs in runs.items():
            out[name] = aggregate(name, rs)
    return out
