"""stylegan-eval list-metrics: every registered metric, its protocol and what it needs (no torch)."""

from __future__ import annotations

import json

import click

from ..metrics import registry
from .options import json_option


def metric_rows() -> list[dict[str, object]]:
    """One row per registry entry: name, family, samples, outputs, better, needs, uncertainty,
    protocol, entry point, runner, shared-run group, reference, description."""
    rows = []
    for name in registry.names():
        spec = registry.get(name)
        rows.append(
            {
                "name": spec.name,
                "family": spec.family,
                "num_samples": spec.num_samples,
                "outputs": list(spec.outputs),
                "better": dict(spec.better),
                "needs": sorted(spec.needs),
                "uncertainty": spec.uncertainty,
                "protocol": dict(spec.protocol),
                "entry": spec.entry,
                "runner": spec.runner_ref,
                "group": spec.group or None,
                "reference": spec.reference,
                "description": spec.description,
            }
        )
    return rows


@click.command("list-metrics")
@json_option
def command(as_json: bool) -> None:
    """List every metric `compare --metrics` and `api.evaluate` accept."""
    rows = metric_rows()
    if as_json:
        click.echo(json.dumps({"command": "list-metrics", "metrics": rows}, default=str))
        return
    header = ["name", "family", "samples", "outputs (better)", "needs", "uncertainty", "description"]
    lines = [header]
    for r in rows:
        outputs = ", ".join(f"{o} ({r['better'][o]})" for o in r["outputs"])  # type: ignore[index]
        lines.append(
            [
                str(r["name"]),
                str(r["family"]),
                f"{r['num_samples']:,}",
                outputs,
                ", ".join(r["needs"]) or "-",  # type: ignore[arg-type]
                str(r["uncertainty"]),
                str(r["description"]),
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for k, line in enumerate(lines):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
        if k == 0:
            click.echo("  ".join("-" * w for w in widths))
