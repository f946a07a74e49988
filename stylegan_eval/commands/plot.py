"""stylegan-eval plot LOG.jsonl [LOG2.jsonl ...]: metric-over-training curves from our logs, runs side by side.

A log is any of our JSON-lines logs whose records carry a ``step`` (``track``, ``Evaluator``,
``api.evaluate(..., step=)``; of a ``track`` log, the lines of its latest settings), or NVIDIA's ``metric-<name>.jsonl`` (drawn dashed, labelled as
NVIDIA's values). Each file is one run on the figure, labelled with ``--label`` or its folder's
name. Writes ``<name>.png`` (200 dpi) and ``<name>.pdf`` into ``--out``; prints the best step of
each run and metric.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pandas as pd

from .. import curves, runs, tracking
from ..errors import UserError
from ..fileio import guarded_out
from .compare import _split


def _label(path: Path) -> str:
    """``RUN/stylegan-eval/metrics.jsonl`` -> RUN; ``x/metrics.jsonl`` -> x; other files: their stem."""
    if path.name == "metrics.jsonl":
        parent = path.resolve().parent
        return parent.parent.name if parent.name == "stylegan-eval" else parent.name
    return path.parent.resolve().name if runs.is_nvidia_metric_log(path) else path.stem


def _unique(labels: list[str], logs: list[Path]) -> list[str]:
    """Labels made unique among logs of one kind (a run's own log and NVIDIA's log may share its name)."""
    keys = [(x, runs.is_nvidia_metric_log(p)) for x, p in zip(labels, logs)]
    return [x if keys.count(k) == 1 else f"{x}#{keys[: i + 1].count(k)}" for i, (x, k) in enumerate(zip(labels, keys))]


def _latest_settings(records: list[dict]) -> list[dict]:
    """A ``track`` log's lines made under its latest settings (its last line's fingerprint); other logs whole."""
    keys = [r.get("fingerprint") for r in records if r.get("command") == tracking.COMMAND]
    if not keys:
        return records
    return [r for r in records if r.get("command") != tracking.COMMAND or r.get("fingerprint") == keys[-1]]


def read_curves(logs: list[Path], labels: list[str]) -> pd.DataFrame:
    """The curve rows of every log (:mod:`stylegan_eval.curves`), run ``labels[i]`` for ``logs[i]``."""
    frames = []
    for path, label in zip(logs, labels):
        if not path.is_file():
            raise UserError(f"{path}: no such file (expected a metrics log, .jsonl)")
        if runs.is_nvidia_metric_log(path):
            frame = curves.frame_from_nvidia(runs.read_nvidia_metric_file(path), label)
        else:
            frame = curves.frame_from_records(_latest_settings(tracking.read_records(path)), label)
        if frame.empty:
            raise UserError(
                f"{path}: no record with a step (expected a log of track, Evaluator or api.evaluate(step=...))"
            )
        frames.append(frame)
    return curves.latest_per_step(pd.concat(frames, ignore_index=True))


@click.command("plot")
@click.argument("logs", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--label", "labels", multiple=True, metavar="NAME", help="Name of each run, in the order of LOGS.")
@click.option("--metrics", multiple=True, metavar="LIST", help="Only these metric outputs (comma list; repeatable).")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True, help="Folder."
)
@click.option("--name", default="curves", show_default=True, help="File name stem of the figure.")
@click.option("--title", default=None, help="Figure title [default: the run names].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout and nothing else.")
def command(logs, labels, metrics, out: Path, name: str, title, as_json: bool) -> None:
    """Draw metric-over-training curves (PNG + PDF) from one or more logs, one line per run."""
    if labels and len(labels) != len(logs):
        raise UserError(f"--label: {len(labels)} labels for {len(logs)} logs (give one per log, or none)")
    if not name or "/" in name or name.startswith("."):
        raise UserError(f"--name {name!r}: expected a plain file name stem")
    logs = list(logs)
    names = _unique(list(labels) or [_label(p) for p in logs], logs)
    df = read_curves(logs, names)
    wanted = [curves.nvidia_output(m) or m for m in _split(metrics)]  # fid50k_full -> fid
    if wanted:
        missing = sorted(set(wanted) - set(df["metric"]))
        if missing:
            raise UserError(
                f"--metrics: {', '.join(missing)} not in the logs (they hold {', '.join(sorted(set(df['metric'])))})"
            )
        df = df[df["metric"].isin(wanted)]
    with guarded_out(out):
        fig = curves.curves_figure(df, title or ("stylegan-eval: " + ", ".join(dict.fromkeys(names))))
        paths = curves.save_figure(fig, out / name)
    best = curves.best_rows(df)[["run", "source", "metric", "step", "unit", "value", "snapshot"]]
    if as_json:
        click.echo(json.dumps({"files": [str(p) for p in paths], "best": best.to_dict(orient="records")}))
        return
    from ..report import _md_table

    click.echo(_md_table(best))
    click.echo(f"figure written to {paths[0]} and {paths[1].name}", err=True)
