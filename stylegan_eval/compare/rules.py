"""The ``--fail-if`` rule language of ``compare`` (parsed strictly).

- ``<metric> <op> <number>`` with op one of ``< <= > >= == !=``: the check fails for a
  checkpoint whose value satisfies the comparison. Checked on every checkpoint except the
  baseline (on the only checkpoint when there is one).
- ``<metric> regresses by <number>%``: fails when a checkpoint is worse than the baseline by at
  least that many percent of the baseline's value; "worse" follows the registry's direction of
  better (higher for fid, kid, ppl_* and ls_*: lower is better for all of them).
- ``<metric> <op> best [* | + | - <number>]``: the threshold is the best value of that metric
  over every checkpoint in the table (in its direction of better), scaled or shifted, e.g.
  ``fid > best * 1.05`` fails for a checkpoint more than 5% worse than the best one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import pandas as pd

from ..errors import UserError
from ..metrics import registry

#: Metrics where a lower value is better by name prefix, for outputs the registry does not list.
LOWER_IS_BETTER = registry.LOWER_IS_BETTER_PREFIXES


def lower_is_better(metric: str) -> bool:
    """True when smaller values of output ``metric`` are better (the registry's ``better``; prefix rule otherwise)."""
    return registry.lower_is_better(metric)


_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_METRIC = r"[a-z][a-z0-9_]*"
# metric names are case-insensitive, as --metrics is
_THRESHOLD = re.compile(rf"^\s*({_METRIC})\s*(<=|>=|==|!=|<|>)\s*({_NUMBER})\s*$", re.IGNORECASE)
_VS_BEST = re.compile(rf"^\s*({_METRIC})\s*(<=|>=|==|!=|<|>)\s*best\s*(?:([*+-])\s*({_NUMBER}))?\s*$", re.IGNORECASE)
_REGRESSION = re.compile(rf"^\s*({_METRIC})\s+regresses\s+by\s+({_NUMBER})\s*%\s*$", re.IGNORECASE)
#: Characters of a rule quoted in a message (a rule is one short line; a huge one is not echoed).
_SHOWN = 80
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}
RULE_GRAMMAR = (
    "'<metric> <op> <number>' (op: < <= > >= == !=), '<metric> <op> best [* <number>]' "
    "or '<metric> regresses by <number>%'"
)


@dataclass(frozen=True)
class Rule:
    """A parsed ``--fail-if`` rule.

    Attributes:
        text: the rule as given.
        metric: the output metric it checks.
        op: a comparison operator, or 'regresses' for a relative regression.
        number: the threshold, the percentage for 'regresses', or the operand of ``best_op``.
        best_op: '*', '+' or '-' when the threshold is ``best <best_op> number``; None otherwise.
    """

    text: str
    metric: str
    op: str
    number: float
    best_op: str | None = None

    def threshold(self, best: float) -> float:
        """The threshold of a ``best`` rule given the best value."""
        return {"*": best * self.number, "+": best + self.number, "-": best - self.number}[self.best_op or "*"]

    @property
    def relative(self) -> bool:
        return self.op == "regresses"


def parse_rule(text: str, metrics: Iterable[str] | None = None) -> Rule:
    """Parse one rule strictly; ``metrics`` (the computed outputs) must contain its metric.

    Raises UserError naming the rule for anything else.
    """
    shown = repr(text[:_SHOWN]) + ("..." if len(text) > _SHOWN else "")
    m = _THRESHOLD.match(text) if len(text) <= 1000 else None
    best = _VS_BEST.match(text) if len(text) <= 1000 else None
    if m:
        rule = Rule(text, m.group(1).lower(), m.group(2), float(m.group(3)))
    elif best:
        op, number = best.group(3) or "*", best.group(4)
        rule = Rule(text, best.group(1).lower(), best.group(2), float(number) if number else 1.0, op)
    else:
        m = _REGRESSION.match(text) if len(text) <= 1000 else None
        if not m:
            raise UserError(f"--fail-if {shown}: cannot parse; expected {RULE_GRAMMAR}")
        rule = Rule(text, m.group(1).lower(), "regresses", float(m.group(2)))
        if rule.number < 0:
            raise UserError(f"--fail-if {shown}: the percentage must be >= 0")
    if not math.isfinite(rule.number):
        raise UserError(f"--fail-if {shown}: the number must be finite")
    if metrics is not None:
        metrics = list(metrics)
        if rule.metric not in metrics:
            raise UserError(
                f"--fail-if {shown}: metric {rule.metric!r} is not computed (--metrics gives {', '.join(metrics)})"
            )
    return rule


def regression_percent(metric: str, value: float, baseline: float) -> float:
    """How much worse ``value`` is than ``baseline``, in percent of |baseline| (negative: better)."""
    diff = value - baseline if lower_is_better(metric) else baseline - value
    if baseline == 0:
        return 0.0 if diff == 0 else math.copysign(math.inf, diff)
    return 100.0 * diff / abs(baseline)


def _limit(rule: Rule, values: pd.Series) -> tuple[float, str]:
    """The threshold of a threshold rule and how to print it (``best`` rules: from ``values``)."""
    if rule.best_op is None:
        return rule.number, f"{rule.number:g}"
    finite = [float(v) for v in values if math.isfinite(float(v))]
    if not finite:
        return math.nan, "best (no finite value)"
    best = min(finite) if lower_is_better(rule.metric) else max(finite)
    limit = rule.threshold(best)
    return limit, f"{limit:.6g} (best {best:.6g} {rule.best_op} {rule.number:g})"


def _threshold_row(rule: Rule, label: str, value: float, values: pd.Series) -> dict:
    limit, shown = _limit(rule, values)
    failed = not math.isfinite(limit) or _OPS[rule.op](value, limit)
    detail = f"{value:.6g} {rule.op} {shown}" if failed else f"not {value:.6g} {rule.op} {shown}"
    return {
        "rule": rule.text,
        "checkpoint": label,
        "value": value,
        "observed": value,
        "passed": not failed,
        "detail": detail,
    }


def _regressed(pct: float, limit: float) -> bool:
    """Worse by at least ``limit`` percent: an equal (or better) value never regresses, even at 0%."""
    return not math.isfinite(pct) or (pct > 0 and pct >= limit)


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
            raise UserError(
                f"--fail-if {rule.text[:_SHOWN]!r}: a regression needs a baseline and at least one more checkpoint"
            )
        sub = table[table["metric"] == rule.metric].set_index("checkpoint")["value"]
        for label in checked:
            value = float(sub.get(label, float("nan")))
            if not math.isfinite(value):
                rows.append(
                    {
                        "rule": rule.text,
                        "checkpoint": label,
                        "value": value,
                        "observed": None,
                        "passed": False,
                        "detail": "value missing",
                    }
                )
                continue
            if rule.relative:
                base = float(sub.get(base_label, float("nan")))
                pct = regression_percent(rule.metric, value, base) if math.isfinite(base) else math.nan
                failed = _regressed(pct, rule.number)
                if not math.isfinite(base):
                    detail = "baseline value missing"
                else:
                    detail = f"{'worse' if pct > 0 else 'better' if pct < 0 else 'equal'} by {abs(pct):.3g}% vs baseline {base:.6g} (limit {rule.number:g}%)"
                rows.append(
                    {
                        "rule": rule.text,
                        "checkpoint": label,
                        "value": value,
                        "observed": pct,
                        "passed": not failed,
                        "detail": detail,
                    }
                )
            else:
                rows.append(_threshold_row(rule, label, value, sub))
    return pd.DataFrame(rows, columns=["rule", "checkpoint", "value", "observed", "passed", "detail"])
