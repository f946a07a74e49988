"""Compare checkpoints: the evaluation loop, the ``--fail-if`` rules and the tables.

- :mod:`.evaluation`: registry names -> the metrics' registered runners -> :class:`Measurement`
  (mean, std, 95% interval over repeats); what every command, :func:`stylegan_eval.api.evaluate`
  and :class:`stylegan_eval.Evaluator` run.
- :mod:`.rules`: the ``--fail-if`` language (``<metric> <op> <number>``, ``<metric> regresses by <n>%``).
- :mod:`.tables`: the long table with deltas vs the baseline and the wide summary.

The report (Markdown, HTML, JSON) is :class:`stylegan_eval.report.CompareReport`; the metrics,
their outputs and which direction is better come from :mod:`stylegan_eval.metrics.registry`.

Significance rule: a checkpoint differs from the baseline (the first checkpoint) by more than
the noise when the two 95% intervals do not overlap
(:func:`stylegan_eval.metrics.intervals.significant`). Without an interval (one repeat of
FID/KID/LS) the test is not made (``significant`` is empty).
"""

from __future__ import annotations

from ..metrics.intervals import SIGNIFICANCE_RULE
from .evaluation import (
    EvalOptions,
    Measurement,
    MetricRunner,
    Raw,
    aggregate,
    available_metrics,
    evaluate,
    needing_data,
    plan,
    significant,
)
from .rules import LOWER_IS_BETTER, RULE_GRAMMAR, Rule, check_rules, lower_is_better, parse_rule, regression_percent
from .tables import compare_table, summary_table

__all__ = [
    "LOWER_IS_BETTER",
    "RULE_GRAMMAR",
    "SIGNIFICANCE_RULE",
    "EvalOptions",
    "Measurement",
    "MetricRunner",
    "Raw",
    "Rule",
    "aggregate",
    "available_metrics",
    "check_rules",
    "compare_table",
    "evaluate",
    "lower_is_better",
    "needing_data",
    "parse_rule",
    "plan",
    "regression_percent",
    "significant",
    "summary_table",
]
