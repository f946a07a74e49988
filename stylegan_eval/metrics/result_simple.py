"""A plain result object conforming to :class:`~stylegan_eval.metrics.registry.MetricResult`.

Used by precision/recall, Inception Score, equivariance and FD in other feature spaces: named
outputs, optional per-output spreads (IS over splits), the settings and every input the value
depends on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .context import Raw, RunContext


@dataclass
class SimpleResult:
    """Outputs of one metric run.

    Attributes:
        name: registry name (or one that spells non-default settings).
        outputs: output name -> value (the first one is the headline ``value``).
        settings: every protocol setting.
        random_weights: detector networks at random initialisation.
        spread: output name -> standard deviation where the metric defines one (IS: over splits).
        inputs: the rest of the fingerprint (generator, detector, data, seed, sample counts).
        extra: diagnostics kept for reports (not part of the fingerprint).
    """

    name: str
    outputs: dict[str, float]
    settings: dict[str, Any] = field(default_factory=dict)
    random_weights: list[str] = field(default_factory=list)
    spread: dict[str, float] = field(default_factory=dict)
    inputs: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def value(self) -> float:
        return float(next(iter(self.outputs.values())))

    def __float__(self) -> float:
        """``float(result)``: the headline :attr:`value`."""
        return float(self.value)

    def values(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.outputs.items()}

    def __repr__(self) -> str:
        from .intervals import nice, result_repr

        shown = {k: nice(float(v), self.spread.get(k)) for k, v in self.outputs.items()}
        return result_repr("SimpleResult", shown, name=self.name, random_weights=list(self.random_weights))

    def to_frame(self) -> Any:
        import pandas as pd

        rows = [
            {
                "metric": self.name,
                "output": k,
                "value": float(v),
                "std": self.spread.get(k),
                "random_weights": bool(self.random_weights),
            }
            for k, v in self.outputs.items()
        ]
        return pd.DataFrame(rows)

    def fingerprint(self) -> dict[str, Any]:
        return {"metric": self.name, "settings": dict(self.settings), **self.inputs}


def run_options(ctx: RunContext) -> dict[str, Any]:
    """The keyword arguments every :class:`SimpleResult` entry point takes from the run context."""
    return dict(
        num_samples=ctx.num_samples,
        seed=ctx.seed,
        batch_size=ctx.batch_size,
        show_progress=ctx.show_progress,
        state=ctx.state(),
    )


def raws(res: SimpleResult, outputs: tuple[str, ...], num_samples: int) -> dict[str, Raw]:
    """{output: Raw} of a :class:`SimpleResult` (its name and warnings as report details)."""
    vals = res.values()
    details = {"name": res.name, "warnings": list((res.extra or {}).get("warnings") or [])}
    return {
        o: Raw(float(vals[o]), None, num_samples, list(res.random_weights), dict(details), res.fingerprint())
        for o in outputs
    }
