"""The one evaluation loop: registry names -> runs of the metrics' registered runners -> Measurements.

``compare``, ``calc``, ``demo``, :func:`stylegan_eval.api.evaluate` and
:class:`stylegan_eval.Evaluator` all run metrics here. :func:`plan` turns names into
:class:`MetricRunner` objects (names of one :attr:`MetricSpec.group` share one run);
:func:`evaluate` builds one :class:`~stylegan_eval.metrics.context.RunContext` per generator
and calls each runner once per seed; :func:`run_single` runs one runner once and hands back
its raw runs, each with the metric's whole result (the ``ppl`` and ``fid`` commands). Nothing
here knows a metric family: what a metric needs is checked from its spec (``needs``), what it
computes is its module's runner.

Every checkpoint is evaluated with the same seeds, so all of them see the same latents. With
``repeats = K`` the repeatable metrics (all but PPL) run with seeds ``seed, ..., seed + K - 1``
and report the mean, the sample standard deviation (ddof 1) and the 95% t-interval of the mean
(:func:`stylegan_eval.metrics.intervals.t_interval`). PPL runs once and reports its bootstrap
interval. The significance rule is :func:`stylegan_eval.metrics.intervals.significant`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np

from ..errors import ArgumentError
from ..metrics import intervals, registry
from ..metrics.context import EvalOptions, Raw, RunContext

__all__ = [
    "EvalOptions",
    "Measurement",
    "MetricRunner",
    "Raw",
    "RunContext",
    "aggregate",
    "available_metrics",
    "check_generator",
    "evaluate",
    "needing_data",
    "plan",
    "run_once",
    "run_single",
    "significant",
]


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

    def __float__(self) -> float:
        return float(self.value)

    def log_fields(self) -> dict[str, Any]:
        """The value, spread and interval as one JSON-lines log record names them."""
        return {
            "metric": self.metric,
            "value": self.value,
            "std": self.std,
            "ci95_low": self.ci_low,
            "ci95_high": self.ci_high,
            "repeats": self.repeats,
        }


def aggregate(metric: str, runs: Sequence[Raw]) -> Measurement:
    """Mean, std and 95% interval of the runs of one metric (see the module docstring)."""
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
    """One run of one or more registry names on one generator for one seed.

    Attributes:
        outputs: the output names it yields.
        repeatable: runs once per repeat seed (False: once, with its own interval).
        specs: the registry entries it computes; the first one's runner and protocol run.
    """

    outputs: tuple[str, ...]
    repeatable: bool
    specs: tuple[registry.MetricSpec, ...]

    @property
    def name(self) -> str:
        """The registry name that runs (names the resume state and messages)."""
        return self.specs[0].name

    @property
    def family(self) -> str:
        return self.specs[0].family

    def run(self, ctx: RunContext) -> dict[str, Raw]:
        """{output: Raw} of one run (``ctx`` carries the seed and sample count)."""
        lead = self.specs[0]
        return lead.load_runner()(ctx, self.outputs, **lead.protocol)


def available_metrics() -> list[str]:
    """Every name ``--metrics`` accepts (every registered name)."""
    return registry.names()


def _specs(names: Iterable[str | registry.MetricSpec]) -> list[registry.MetricSpec]:
    items = [n if isinstance(n, registry.MetricSpec) else str(n).strip().lower() for n in names]
    items = [n for n in items if n]
    known = available_metrics()
    if not items:
        raise ArgumentError("metrics", "metrics: no metric given (choose from " + ", ".join(known) + ")")
    for n in items:
        if isinstance(n, str) and n not in known:
            from ..suggest import close_matches

            near = close_matches(n, known)
            choose = (
                f"did you mean {' or '.join(near)}? `stylegan-eval list-metrics` lists all {len(known)}"
                if near
                else f"choose from {', '.join(known)}"
            )
            raise ArgumentError("metrics", f"metrics: unknown metric {n!r} ({choose})")
    specs = [n if isinstance(n, registry.MetricSpec) else registry.get(n) for n in items]
    return list({s.name: s for s in specs}.values())  # each name once, in order


def _output_order() -> dict[str, int]:
    """Outputs in registry order (``ls_z`` before ``ls_w``, ``fid`` before ``kid``)."""
    order: dict[str, int] = {}
    for name in registry.names():
        for o in registry.get(name).outputs:
            order.setdefault(o, len(order))
    return order


def _group_runner(specs: list[registry.MetricSpec]) -> MetricRunner:
    """One runner for the names of one group; an output asked for under two protocols is an error."""
    order = _output_order()
    mentioned = dict.fromkeys(o for s in specs for o in s.outputs)  # stable order for unregistered outputs
    outputs = tuple(sorted(mentioned, key=lambda o: order.get(o, len(order))))
    for o in outputs:
        yielding = [s for s in specs if o in s.outputs]
        if len({json.dumps(dict(s.protocol), sort_keys=True, default=str) for s in yielding}) > 1:
            raise ArgumentError(
                "metrics",
                f"metrics: {', '.join(s.name for s in yielding)} cannot run together (each yields {o} by another protocol)",
            )
    lead = next(s for s in specs if outputs[0] in s.outputs)
    ordered = (lead, *[s for s in specs if s is not lead])
    return MetricRunner(outputs, all(s.repeatable for s in specs), ordered)


def plan(names: Iterable[str | registry.MetricSpec]) -> list[MetricRunner]:
    """Turn metric names into runners: one per name, one per :attr:`MetricSpec.group` (in order of first mention).

    An item may also be a :class:`MetricSpec` (e.g. a registry entry with another sample count
    or protocol, ``dataclasses.replace(registry.get("ls"), num_samples=512)``), run as given.

    Raises ArgumentError naming ``metrics`` for an unknown name or two runs giving the same output.
    """
    groups: dict[str, list[registry.MetricSpec]] = {}
    for spec in _specs(names):
        groups.setdefault(spec.group or f"name:{spec.name}", []).append(spec)
    runners = [_group_runner(specs) for specs in groups.values()]
    seen: dict[str, str] = {}
    for r in runners:
        for o in r.outputs:
            if o in seen:
                raise ArgumentError("metrics", f"metrics: {seen[o]} and {r.name} cannot run together (both yield {o})")
            seen[o] = r.name
    return runners


def needing_data(runners: Sequence[MetricRunner]) -> list[str]:
    """The planned names that need real data (``needs`` holds ``data``), sorted."""
    return sorted({spec.name for r in runners for spec in r.specs if "data" in spec.needs})


def check_generator(generator: Any, meta: dict, runners: Sequence[MetricRunner], opts: EvalOptions) -> None:
    """ArgumentError when a planned metric needs what is missing (real data; an input transform,
    i.e. a StyleGAN3 generator), before any sample is drawn."""
    data = needing_data(runners)
    if data and opts.data is None:
        raise ArgumentError("data", f"data is required for {', '.join(data)} (real images or a statistics file)")
    where = meta.get("checkpoint") or meta.get("generator_spec") or getattr(generator, "family", "generator")
    for spec in (s for r in runners for s in r.specs):
        if "input_transform" in spec.needs and not getattr(generator, "supports_input_transform", False):
            raise ArgumentError(
                "metrics",
                f"metrics: {spec.name} needs a StyleGAN3 generator (an input transform); "
                f"{where} is {getattr(generator, 'family', 'another family')}",
            )


def run_once(ctx: RunContext, runner: MetricRunner, seed: int) -> dict[str, Raw]:
    """One run of ``runner`` with ``seed`` in ``ctx``: {output: Raw}; the sample count is the
    options' override, else the runner's registry entry's."""
    num = ctx.options.num_samples or runner.specs[0].num_samples
    return runner.run(ctx.for_run(runner.name, seed, num))


def run_single(generator, meta: dict, runner: MetricRunner, opts: EvalOptions) -> dict[str, Raw]:
    """The one run of ``runner`` with ``opts.seed`` on ``generator`` (checked as :func:`evaluate`
    checks it): {output: Raw}, each holding the metric's whole result (:attr:`Raw.result`) where
    the runner hands it back. For a single-metric command, which reports that result in full."""
    check_generator(generator, meta, [runner], opts)
    return run_once(RunContext(generator, opts, meta), runner, opts.seed)


def evaluate(generator, meta: dict, runners: Sequence[MetricRunner], opts: EvalOptions) -> dict[str, Measurement]:
    """Run ``runners`` on one generator: {output metric: Measurement}."""
    check_generator(generator, meta, runners, opts)
    ctx = RunContext(generator, opts, meta)
    out: dict[str, Measurement] = {}
    for runner in runners:
        seeds = [opts.seed + r for r in range(opts.repeats)] if runner.repeatable else [opts.seed]
        runs: dict[str, list[Raw]] = {o: [] for o in runner.outputs}
        for seed in seeds:
            for name, raw in run_once(ctx, runner, seed).items():
                runs[name].append(raw)
        for name, rs in runs.items():
            out[name] = aggregate(name, rs)
    return out
