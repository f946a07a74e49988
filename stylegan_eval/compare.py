"""Compare checkpoints: the metric runners, pass/fail rules and the significance test.

Metrics (``--metrics`` names; each yields the output names rules and reports use):

========================  ===============================  ================================
name                      outputs                          uncertainty
========================  ===============================  ================================
ppl_zfull ... ppl2_wend   the same name (PPL presets)      95% bootstrap CI of the mean
ls, ls_z, ls_w            ls_z and/or ls_w (separability)  mean/std over ``repeats`` seeds
fid, kid                  fid, kid (needs ``data``)        mean/std over ``repeats`` seeds
========================  ===============================  ================================

Every checkpoint is evaluated with the same seeds, so all of them see the same latents.
With ``repeats = K`` the repeatable metrics run with seeds ``seed, seed + 1, ..., seed + K - 1``
and report the mean, the sample standard deviation (ddof 1) and the 95% t-interval of the
mean, ``mean +- t(0.975, K - 1) * std / sqrt(K)``. PPL runs once and reports its bootstrap
interval.

Significance rule: a checkpoint differs from the baseline (the first checkpoint) by more
than the noise when the two 95% intervals do not overlap. Without an interval (one repeat of
FID/KID/LS) the test is not made (``significant`` is empty).

Rules (``--fail-if``), parsed strictly:

- ``<metric> <op> <number>`` with op one of ``< <= > >= == !=``: the check fails for a
  checkpoint whose value satisfies the comparison. Checked on every checkpoint except the
  baseline (on the only checkpoint when there is one).
- ``<metric> regresses by <number>%``: fails when a checkpoint is worse than the baseline by at
  least that many percent of the baseline's value; "worse" is higher for fid, kid, ppl_* and
  ls_* (lower is better for all of them).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from .errors import UserError
from .report import Report

#: Metrics where a lower value is better (prefix match: "ppl" covers ppl_wend, ppl2_wend).
LOWER_IS_BETTER = ("fid", "kid", "ppl", "ls")

SIGNIFICANCE_RULE = (
    "a difference from the baseline is significant when the two 95% intervals do not overlap "
    "(PPL: bootstrap interval of the mean; FID/KID/LS with --repeats K >= 2: mean +- t(0.975, K-1) * std / sqrt(K))"
)


def lower_is_better(metric: str) -> bool:
    """True for the metrics where smaller values are better (all metrics this package computes)."""
    head = re.split(r"[_\d]", metric, maxsplit=1)[0]
    return head in LOWER_IS_BETTER


# ------------------------------------------------------------------------------ options / results
@dataclass
class EvalOptions:
    """Options every metric runner reads.

    Attributes:
        seed: first seed; repeat r uses ``seed + r``.
        repeats: runs of FID/KID/LS per checkpoint (>= 1); PPL always runs once.
        batch_size: samples per batch (None: by device and resolution).
        num_samples: override every metric's sample count (quick checks); None keeps each
            metric's published count.
        data: real images or a statistics file for FID/KID.
        attrs: CelebA-HQ attributes for LS (default: all 40 unless ``classifiers`` is given).
        classifiers: custom classifier checkpoints for LS.
        classifier_dir: local copies of the CelebA-HQ classifiers.
        svm: LS SVM mode ('reference' or 'fast').
        distance: PPL distance ('lpips-vgg' or 'nvidia-vgg16').
        lpips_weights: weights file of the PPL distance.
        allow_random_weights: run detector networks at random initialisation when missing.
        class_idx: class of conditional generators (None: random per sample).
        detector, inception_weights, fid_method: FID/KID feature network and square-root method
            (see ``stylegan-eval fid``).
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
    fid_method: str = "sqrtm"
    show_progress: bool = False
    resume_state: Callable[[str, dict], Any] | None = None
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.repeats, int) or self.repeats < 1:
            raise UserError(f"--repeats must be a positive integer, got {self.repeats!r}")
        if self.num_samples is not None and self.num_samples < 2:
            raise UserError(f"--num-samples must be at least 2, got {self.num_samples}")

    def state(self, name: str, fingerprint: dict) -> Any:
        return self.resume_state(name, fingerprint) if self.resume_state is not None else None

    def cached(self, key: str, make: Callable[[], Any]) -> Any:
        """Build a detector network once per comparison (shared by every checkpoint)."""
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]


@dataclass
class Raw:
    """One run of one metric: the value, an optional interval, and plot data."""

    value: float
    ci: tuple[float, float] | None = None
    num_samples: int | None = None
    random_weights: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


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


def aggregate(metric: str, runs: Sequence[Raw]) -> Measurement:
    """Mean, std and 95% interval of the runs of one metric (see the module docstring)."""
    from scipy import stats

    values = [float(r.value) for r in runs]
    k = len(values)
    mean = float(np.mean(values))
    std = lo = hi = None
    if k >= 2:
        std = float(np.std(values, ddof=1))
        half = float(stats.t.ppf(0.975, k - 1)) * std / math.sqrt(k)
        lo, hi = mean - half, mean + half
    elif runs[0].ci is not None and all(math.isfinite(c) for c in runs[0].ci):
        lo, hi = (float(c) for c in runs[0].ci)
    rw = sorted({n for r in runs for n in r.random_weights})
    return Measurement(metric, mean, std, lo, hi, k, values, runs[0].num_samples, rw, [r.details for r in runs])


def significant(base: Measurement, other: Measurement) -> bool | None:
    """Whether ``other`` differs from ``base`` beyond the noise: non-overlapping 95% intervals (None: no intervals)."""
    if None in (base.ci_low, base.ci_high, other.ci_low, other.ci_high):
        return None
    return bool(other.ci_low > base.ci_high or other.ci_high < base.ci_low)


# ------------------------------------------------------------------------------ runners
@dataclass(frozen=True)
class MetricRunner:
    """How to compute a group of metric outputs on one generator for one seed.

    Attributes:
        family: 'ppl', 'ls' or 'fid'.
        outputs: the metric names it yields.
        repeatable: runs once per repeat seed (False: once, with its own interval).
        run: ``(generator, meta, options, seed, outputs) -> {output: Raw}``.
    """

    family: str
    outputs: tuple[str, ...]
    repeatable: bool
    run: Callable[..., dict[str, Raw]]


def _ppl_presets() -> tuple[str, ...]:
    from .metrics.ppl import PRESETS

    return tuple(PRESETS)


def _run_ppl(generator, meta: dict, opts: EvalOptions, seed: int, outputs: tuple[str, ...]) -> dict[str, Raw]:
    from .metrics.distances import make_distance
    from .metrics.ppl import ppl, resolve_settings

    (preset,) = outputs
    distance = opts.cached(
        f"distance:{opts.distance}",
        lambda: make_distance(opts.distance, weights_path=opts.lpips_weights, allow_random=opts.allow_random_weights),
    )
    s = resolve_settings(preset, num_samples=opts.num_samples)
    fingerprint = {
        "metric": "ppl", "preset": preset, "seed": seed, "checkpoint": meta.get("sha256") or meta.get("generator_spec"),
        "space": s.space, "sampling": s.sampling, "epsilon": s.epsilon, "crop": s.crop, "psi": 1.0,
        "distance": opts.distance, "random_weights": opts.allow_random_weights, "precision": "fp32",
        "class_idx": opts.class_idx,
    }
    state = opts.state(f"compare-ppl-{preset}", fingerprint)
    res = ppl(
        generator, preset=preset, num_samples=s.num_samples, distance=distance,
        batch_size=opts.batch_size, seed=seed, class_idx=opts.class_idx, show_progress=opts.show_progress,
        state=state,
    )
    if state is not None:
        state.clear()
    return {preset: Raw(res.mean, (res.ci_low, res.ci_high), int(res.distances.size), list(res.random_weights), {"distances": res.distances})}


def _classifiers(opts: EvalOptions) -> list:
    from .classifiers.registry import load_celebahq, load_custom

    clfs = []
    if opts.attrs or not opts.classifiers:
        clfs += load_celebahq(list(opts.attrs) or ["all"], opts.classifier_dir, opts.allow_random_weights)
    clfs += [load_custom(p) for p in opts.classifiers]
    return clfs


def _run_ls(generator, meta: dict, opts: EvalOptions, seed: int, outputs: tuple[str, ...]) -> dict[str, Raw]:
    from .metrics import separability as sep

    spaces = [o.split("_", 1)[1] for o in outputs]
    clfs = opts.cached("classifiers", lambda: _classifiers(opts))
    gid = {k: meta.get(k) for k in ("family", "resolution", "z_dim", "w_dim", "num_ws", "c_dim", "generator_spec")}
    gid["weights"] = meta.get("sha256") or meta.get("checkpoint")
    fingerprint = sep.sample_fingerprint(gid, seed, "random", opts.class_idx, clfs)
    state = opts.state("compare-separability", fingerprint)
    samples = sep.collect_samples(
        generator, clfs, opts.num_samples or 200_000, seed=seed, batch_size=opts.batch_size, class_idx=opts.class_idx,
        need_w="w" in spaces, state=state, show_progress=opts.show_progress, fingerprint=fingerprint,
    )
    if state is not None:
        state.clear()
    result = sep.fit_separability(samples, spaces=spaces, svm=opts.svm)
    rw = [c.name for c in clfs if getattr(c, "random_weights", False)]
    table = result.per_attribute
    out = {}
    for s in spaces:
        rows = table[table["space"] == s]
        per_attr = dict(zip(rows["attribute"], rows["conditional_entropy_bits"].astype(float)))
        out[f"ls_{s}"] = Raw(float(result.scores[s]), None, samples.num_samples, rw, {"entropy_bits": per_attr})
    return out


def _real_stats(opts: EvalOptions, device, keep_features: bool):
    """(detector, real statistics, info) for ``opts.data``, built once per comparison."""
    from types import SimpleNamespace

    from .commands.fid import real_statistics
    from .metrics.inception import make_detector

    det = make_detector(opts.detector, opts.inception_weights, allow_random=opts.allow_random_weights, device=device)
    run = SimpleNamespace(batch_size=opts.batch_size, device=device, show_progress=opts.show_progress)
    stats, info = real_statistics(Path(opts.data), det, run, keep_features=keep_features, skip_bad=False, num_workers=None,
                                  cache_dir=None, no_cache=False)
    return det, stats, info


def _run_fid(generator, meta: dict, opts: EvalOptions, seed: int, outputs: tuple[str, ...]) -> dict[str, Raw]:
    from .metrics.features import FeatureStats, generator_features
    from .metrics.fid import fid_from_stats
    from .metrics.kid import kernel_inception_distance
    from .runtime import default_batch_size

    if opts.data is None:
        raise UserError("--data is required for fid/kid (real images or a statistics file)")
    det, real, info = opts.cached("fid-real", lambda: _real_stats(opts, generator.device, "kid" in outputs))
    num = opts.num_samples or 50_000
    fingerprint = {
        "metric": "fid-features", "seed": seed, "checkpoint": meta.get("sha256") or meta.get("generator_spec"),
        "psi": 1.0, "noise_mode": "random", "class_idx": opts.class_idx, **det.describe(),
    }
    state = opts.state("compare-fid", fingerprint)
    batch = opts.batch_size or default_batch_size(generator.device, generator.resolution, gpu=32, cpu=8)
    feats = generator_features(generator, det, num, batch_size=batch, seed=seed, class_idx=opts.class_idx,
                               show_progress=opts.show_progress, state=state)
    if state is not None:
        state.clear()
    out = {}
    rw = list(det.random_weights)
    if "fid" in outputs:
        res = fid_from_stats(real, FeatureStats.from_features(feats), method=opts.fid_method, device=generator.device)
        out["fid"] = Raw(res.fid, None, num, rw, {"warnings": res.warnings, "num_real": info.get("num_real")})
    if "kid" in outputs:
        k = kernel_inception_distance(real.features, feats, seed=seed, device=generator.device)
        out["kid"] = Raw(k.mean, None, num, rw, {"subset_std": k.std, "num_real": info.get("num_real")})
    return out


def available_metrics() -> list[str]:
    """Every name ``--metrics`` accepts."""
    return list(_ppl_presets()) + ["ls", "ls_z", "ls_w", "fid", "kid"]


def plan(names: Iterable[str]) -> list[MetricRunner]:
    """Turn ``--metrics`` names into runners (one per PPL preset, one LS run, one FID/KID run).

    Raises UserError naming an unknown metric.
    """
    names = [n.strip().lower() for n in names if n and n.strip()]
    if not names:
        raise UserError("--metrics: no metric given (choose from " + ", ".join(available_metrics()) + ")")
    known = available_metrics()
    ppl_names: list[str] = []
    ls_out: list[str] = []
    fid_out: list[str] = []
    for n in names:
        if n not in known:
            raise UserError(f"--metrics: unknown metric {n!r} (choose from {', '.join(known)})")
        if n.startswith("ppl"):
            ppl_names.append(n)
        elif n.startswith("ls"):
            ls_out += ["ls_z", "ls_w"] if n == "ls" else [n]
        else:
            fid_out.append(n)
    runners = [MetricRunner("ppl", (p,), False, _run_ppl) for p in dict.fromkeys(ppl_names)]
    if ls_out:
        runners.append(MetricRunner("ls", tuple(o for o in ("ls_z", "ls_w") if o in ls_out), True, _run_ls))
    if fid_out:
        runners.append(MetricRunner("fid", tuple(o for o in ("fid", "kid") if o in fid_out), True, _run_fid))
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


# ------------------------------------------------------------------------------ rules
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_METRIC = r"[a-z][a-z0-9_]*"
_THRESHOLD = re.compile(rf"^\s*({_METRIC})\s*(<=|>=|==|!=|<|>)\s*({_NUMBER})\s*$")
_REGRESSION = re.compile(rf"^\s*({_METRIC})\s+regresses\s+by\s+({_NUMBER})\s*%\s*$")
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b, "==": lambda a, b: a == b, "!=": lambda a, b: a != b,
}
RULE_GRAMMAR = "'<metric> <op> <number>' (op: < <= > >= == !=) or '<metric> regresses by <number>%'"


@dataclass(frozen=True)
class Rule:
    """A parsed ``--fail-if`` rule.

    Attributes:
        text: the rule as given.
        metric: the output metric it checks.
        op: a comparison operator, or 'regresses' for a relative regression.
        number: the threshold, or the percentage for 'regresses'.
    """

    text: str
    metric: str
    op: str
    number: float

    @property
    def relative(self) -> bool:
        return self.op == "regresses"


def parse_rule(text: str, metrics: Iterable[str] | None = None) -> Rule:
    """Parse one rule strictly; ``metrics`` (the computed outputs) must contain its metric.

    Raises UserError naming the rule for anything else.
    """
    m = _THRESHOLD.match(text)
    if m:
        rule = Rule(text, m.group(1), m.group(2), float(m.group(3)))
    else:
        m = _REGRESSION.match(text)
        if not m:
            raise UserError(f"--fail-if {text!r}: cannot parse; expected {RULE_GRAMMAR}")
        rule = Rule(text, m.group(1), "regresses", float(m.group(2)))
        if rule.number < 0:
            raise UserError(f"--fail-if {text!r}: the percentage must be >= 0")
    if not math.isfinite(rule.number):
        raise UserError(f"--fail-if {text!r}: the number must be finite")
    if metrics is not None:
        metrics = list(metrics)
        if rule.metric not in metrics:
            raise UserError(f"--fail-if {text!r}: metric {rule.metric!r} is not computed (--metrics gives {', '.join(metrics)})")
    return rule


def regression_percent(metric: str, value: float, baseline: float) -> float:
    """How much worse ``value`` is than ``baseline``, in percent of |baseline| (negative: better)."""
    diff = value - baseline if lower_is_better(metric) else baseline - value
    if baseline == 0:
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)
    return 100.0 * diff / abs(baseline)


def check_rules(rules: Sequence[Rule], table: pd.DataFrame) -> pd.DataFrame:
    """Evaluate ``rules`` on the long compare table (columns checkpoint, metric, value, baseline).

    Returns one row per (rule, checked checkpoint): rule, checkpoint, value, observed, passed,
    detail. A missing or non-finite value fails.
    """
    labels = list(dict.fromkeys(table["checkpoint"]))
    base_label = labels[0]
    checked = labels[1:] or labels
    rows = []
    for rule in rules:
        if rule.relative and len(labels) < 2:
            raise UserError(f"--fail-if {rule.text!r}: a regression needs a baseline and at least one more checkpoint")
        sub = table[table["metric"] == rule.metric].set_index("checkpoint")["value"]
        for label in checked:
            value = float(sub.get(label, float("nan")))
            if not math.isfinite(value):
                rows.append({"rule": rule.text, "checkpoint": label, "value": value, "observed": None, "passed": False, "detail": "value missing"})
                continue
            if rule.relative:
                base = float(sub.get(base_label, float("nan")))
                pct = regression_percent(rule.metric, value, base) if math.isfinite(base) else math.nan
                failed = not math.isfinite(pct) or pct >= rule.number
                if not math.isfinite(base):
                    detail = "baseline value missing"
                else:
                    detail = f"{'worse' if pct > 0 else 'better' if pct < 0 else 'equal'} by {abs(pct):.3g}% vs baseline {base:.6g} (limit {rule.number:g}%)"
                rows.append({"rule": rule.text, "checkpoint": label, "value": value, "observed": pct, "passed": not failed, "detail": detail})
            else:
                failed = _OPS[rule.op](value, rule.number)
                detail = f"{value:.6g} {rule.op} {rule.number:g}" if failed else f"not {value:.6g} {rule.op} {rule.number:g}"
                rows.append({"rule": rule.text, "checkpoint": label, "value": value, "observed": value, "passed": not failed, "detail": detail})
    return pd.DataFrame(rows, columns=["rule", "checkpoint", "value", "observed", "passed", "detail"])


# ------------------------------------------------------------------------------ table
def compare_table(labels: Sequence[str], results: dict[str, dict[str, Measurement]], infos: dict[str, dict] | None = None) -> pd.DataFrame:
    """The long table: one row per (checkpoint, metric) with deltas vs the baseline (first label)."""
    infos = infos or {}
    base = results[labels[0]]
    rows = []
    for label in labels:
        for metric, m in results[label].items():
            b = base.get(metric)
            delta = m.value - b.value if b is not None else math.nan
            rel = 100.0 * delta / abs(b.value) if b is not None and b.value != 0 else math.nan
            sig = significant(b, m) if b is not None and label != labels[0] else None
            better = None if label == labels[0] or delta == 0 else bool((delta < 0) == lower_is_better(metric))
            info = infos.get(label, {})
            rows.append(
                {"checkpoint": label, "metric": metric, "value": m.value, "std": m.std, "ci95_low": m.ci_low,
                 "ci95_high": m.ci_high, "repeats": m.repeats, "num_samples": m.num_samples,
                 "delta": delta if label != labels[0] else 0.0, "delta_pct": rel if label != labels[0] else 0.0,
                 "better": better, "significant": sig, "path": info.get("checkpoint"), "sha256": info.get("sha256"),
                 "generator_spec": info.get("generator_spec")}
            )
    df = pd.DataFrame(rows)
    for col in ("std", "ci95_low", "ci95_high"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    return df


def summary_table(table: pd.DataFrame) -> pd.DataFrame:
    """A wide view for Markdown/HTML: one row per checkpoint, one column per metric, "value +- err (delta%)"."""
    labels = list(dict.fromkeys(table["checkpoint"]))
    metrics = list(dict.fromkeys(table["metric"]))
    rows = []
    for label in labels:
        row = {"checkpoint": label}
        for metric in metrics:
            r = table[(table["checkpoint"] == label) & (table["metric"] == metric)]
            if r.empty:
                row[metric] = ""
                continue
            r = r.iloc[0]
            cell = f"{r['value']:.4g}"
            if pd.notna(r["std"]):
                cell += f" ± {r['std']:.2g}"
            elif pd.notna(r["ci95_low"]):
                cell += f" [{r['ci95_low']:.4g}, {r['ci95_high']:.4g}]"
            if label != labels[0] and pd.notna(r["delta_pct"]):
                cell += f" ({r['delta_pct']:+.1f}%{', significant' if r['significant'] is True else ''})"
            row[metric] = cell
        rows.append(row)
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------ report
@dataclass
class CompareReport(Report):
    """The comparison report: the long table plus a summary, the rules and the plots.

    ``write`` adds ``compare.html`` (self-contained, plots as base64 PNG) to the JSON, CSV and
    Markdown files of :class:`~stylegan_eval.report.Report`.
    """

    summary: pd.DataFrame | None = None
    rules: pd.DataFrame | None = None
    results: dict[str, dict[str, Measurement]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.rules is None or bool(self.rules["passed"].all())

    def to_dict(self) -> dict[str, Any]:
        from .report import jsonable

        d = super().to_dict()
        d["summary"] = self.summary.to_dict(orient="records") if self.summary is not None else []
        d["rules"] = jsonable(self.rules.to_dict(orient="records")) if self.rules is not None else []
        d["passed"] = self.passed
        d["significance_rule"] = SIGNIFICANCE_RULE
        return d

    def rules_markdown(self) -> list[str]:
        from .report import _md_table

        if self.rules is None or not len(self.rules):
            return []
        failed = int((~self.rules["passed"].astype(bool)).sum())
        head = "**Rules: all passed**" if not failed else f"**Rules: {failed} of {len(self.rules)} checks FAILED**"
        r = self.rules.drop(columns=["observed"]).copy()
        r["passed"] = ["pass" if p else "**FAIL**" for p in r["passed"]]
        return [head, "", _md_table(r), ""]

    def to_markdown(self) -> str:
        import json

        from .report import _md_table, jsonable

        labels = list(dict.fromkeys(self.table["checkpoint"]))
        lines = [f"## stylegan-eval compare: {' vs '.join(labels)}", ""]
        if self.banner():
            lines += [f"> **{self.banner()}**", ""]
        lines += [f"Baseline: `{labels[0]}`. Lower is better for every metric.", ""]
        if self.summary is not None:
            lines += [_md_table(self.summary), ""]
        lines += self.rules_markdown()
        lines += [f"Significance: {SIGNIFICANCE_RULE}.", ""]
        lines += ["<details><summary>All results and settings</summary>", "", _md_table(self.table.drop(columns=["sha256"], errors="ignore")), ""]
        lines += ["```json", json.dumps(jsonable(self.settings), indent=2), "```", "", "</details>", ""]
        return "\n".join(lines)

    def figures(self) -> list[tuple[str, str]]:
        from . import html_report

        figs = html_report.metric_bars(self.table)
        dists: dict[str, dict[str, Any]] = {}
        ents: dict[str, dict[str, dict[str, float]]] = {}
        for label, per_metric in self.results.items():
            for metric, m in per_metric.items():
                d = m.details[0] if m.details else {}
                if "distances" in d:
                    dists.setdefault(metric, {})[label] = d["distances"]
                if "entropy_bits" in d:
                    runs = [x["entropy_bits"] for x in m.details]
                    ents.setdefault(metric, {})[label] = {a: float(np.mean([r[a] for r in runs])) for a in runs[0]}
        return figs + html_report.ppl_histograms(dists) + html_report.separability_bars(ents)

    def to_html(self) -> str:
        from . import html_report

        labels = list(dict.fromkeys(self.table["checkpoint"]))
        return html_report.render(
            f"stylegan-eval compare: {' vs '.join(labels)}", self.summary if self.summary is not None else self.table,
            self.table, self.rules, self.figures(), notes=[f"Baseline: {labels[0]}.", f"Significance: {SIGNIFICANCE_RULE}."],
            settings=self.settings, warning=self.banner(),
        )

    def write(self, out_dir) -> list[Path]:
        from .report import atomic_write

        paths = super().write(out_dir)
        paths.append(atomic_write(Path(out_dir) / f"{self.command}.html", self.to_html()))
        return paths
