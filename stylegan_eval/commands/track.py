"""stylegan-eval track RUN_DIR --metrics LIST: every snapshot of a training run, incrementally.

Finds the snapshots (:mod:`stylegan_eval.runs`), evaluates those the run's log does not hold
yet under the same settings (:mod:`stylegan_eval.tracking`) with the metric runner of
``compare`` (same seeds for every snapshot), then writes the curves (:mod:`stylegan_eval.curves`,
``curves.png``/``.pdf``), the table (``track.{csv,json,md,html}``) and the best snapshot per
metric into ``--out`` (default ``RUN_DIR/stylegan-eval``). ``--fail-if`` gates the latest
snapshot; ``best`` in a rule is the best value over the run's snapshots, and ``regresses by``
compares with that best value.

Exit codes as ``compare``: 0, 3 (a rule failed; the report is written first), 2 bad input, 1.
"""

from __future__ import annotations

import contextlib
import dataclasses
from pathlib import Path
from typing import Any

import click
import pandas as pd

from .. import compare as C
from .. import curves, runs, tracking
from ..engine import DistInfo
from ..errors import UserError
from ..fileio import guarded_out, remembered_sha256
from ..formats.checkpoint_spec import CheckpointSpec
from ..report import Report
from .compare import _eval_options, _split, compare_options
from .logger_options import log_generator, open_logger
from .options import RunOptions, common_options, emit

#: The default report folder inside the run folder, and the digest index kept there.
OUT_NAME = "stylegan-eval"
SHA_INDEX = ".track-sha256.json"
#: Evaluation settings that change the values (the ``fingerprint`` of the log records).
_KEYED = (
    "repeats",
    "num_samples",
    "attrs",
    "classifier_paths",
    "classifier_dir",
    "svm",
    "distance",
    "lpips_weights",
    "detector",
    "inception_weights",
    "fid_method",
    "fmt",
    "resolution",
    "generator_spec",
    "generator_arg_items",
    "class_idx",
    "strict_data",
)


def _settings(run: RunOptions, o: dict[str, Any], outputs: list[str]) -> dict[str, Any]:
    """Every option the values depend on (the data file by path, size and mtime)."""
    return {
        "metrics": outputs,
        "seed": run.seed,
        "allow_random_weights": run.allow_random_weights,
        "data": tracking.data_identity(o["data"]),
        **{k: (list(v) if isinstance(v, tuple) else v) for k, v in o.items() if k in _KEYED},
    }


def _rules(fail_if: tuple[str, ...], runners) -> list[C.Rule]:
    """Parse ``--fail-if``; a registry name with one output stands for it (``fid50k_full`` -> ``fid``)."""
    outputs = [o for r in runners for o in r.outputs]
    aliases = {s.name: s.outputs[0] for r in runners for s in r.specs if len(s.outputs) == 1}
    rules = []
    for text in fail_if:
        rule = C.parse_rule(text, outputs + sorted(aliases))
        rules.append(dataclasses.replace(rule, metric=aliases.get(rule.metric, rule.metric)))
    return rules


def _check_data(runners, data: Path | None) -> None:
    needing = sorted({spec.name for r in runners for spec in r.specs if "data" in spec.needs})
    if needing and data is None:
        raise UserError(f"--data is required for {', '.join(needing)} (real images or a statistics file)")
    if needing and data is not None and not data.exists():
        raise UserError(f"--data {data}: no such file or folder")


@dataclasses.dataclass
class _Job:
    """One ``track`` invocation: the run, what to compute, and where the results go."""

    run_dir: Path
    snapshots: list[runs.Snapshot]
    runners: list
    rules: list[C.Rule]
    nvidia: pd.DataFrame
    run: RunOptions
    options: dict[str, Any]
    log_file: Path = Path()
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)
    key: str = ""
    digests: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def outputs(self) -> list[str]:
        return [x for r in self.runners for x in r.outputs]

    def done(self) -> dict[str, dict[str, dict[str, Any]]]:
        return tracking.done_outputs(tracking.read_records(self.log_file), self.key)


def _evaluate_new(job: _Job, todo: list[runs.Snapshot], logger) -> None:
    """Evaluate each snapshot of ``todo``; its records are appended to the log as soon as it is done."""
    o, run = job.options, job.run
    opts = _eval_options(run, o)
    for i, snap in enumerate(todo, start=1):
        spec = CheckpointSpec.from_ref(
            str(snap.path), o["fmt"], o["resolution"], o["generator_spec"], o["class_idx"], o["generator_arg_items"]
        )
        gen, meta = spec.load(run.device)
        results = C.evaluate(gen, meta, job.runners, opts)
        if DistInfo.current().is_main:  # every rank computes its shard; rank 0 writes
            recs = tracking.snapshot_records(snap, job.digests[snap.name], results, job.key, job.settings)
            tracking.append_records(job.log_file, recs)
        if logger is not None:
            logger.log_scalars({k: m.value for k, m in results.items()}, snap.step)
            log_generator(logger, gen, snap.name, snap.step, o["class_idx"])
        if not run.quiet:
            values = ", ".join(f"{k} {m.value:.6g}" for k, m in results.items())
            click.echo(f"stylegan-eval: {snap.name} ({i}/{len(todo)} new): {values}", err=True)
        del gen


def _backfill(job: _Job, logger, reused: list[runs.Snapshot]) -> None:
    """A new TensorBoard folder gets the values the log already holds (not their sample grids:
    those would need every snapshot loaded again)."""
    done = job.done()
    for snap in reused:
        recs = done.get(job.digests[snap.name], {})
        logger.log_scalars({m: recs[m].get("value") for m in job.outputs if m in recs}, snap.step)


def _table(snapshots, digests, done: dict, nvidia: pd.DataFrame, outputs: list[str]) -> pd.DataFrame:
    """Our values (one row per snapshot and output) then NVIDIA's, with the best row of each marked."""
    recs = [done[digests[s.name]][m] for s in snapshots for m in outputs if m in done.get(digests[s.name], {})]
    ours = curves.frame_from_records(recs, "run")
    ours["sha256"] = [r.get("sha256") for r in recs]
    ours["std"] = [r.get("std") for r in recs]
    df = pd.concat([ours, nvidia], ignore_index=True) if not nvidia.empty else ours
    df["step"] = df["step"].astype(int)  # read from file names: whole numbers
    best = curves.best_rows(df)
    keys = set(zip(best["source"], best["metric"], best["step"]))
    df["best"] = [(s, m, st) in keys for s, m, st in zip(df["source"], df["metric"], df["step"])]
    cols = ["snapshot", "step", "unit", "metric", "value", "std", "ci95_low", "ci95_high", "repeats"]
    cols += ["num_samples", "seed", "best", "source", "sha256", "random_weights"]
    return df[[c for c in cols if c in df.columns]].reset_index(drop=True)


def _gate(rules: list[C.Rule], table: pd.DataFrame, latest: str) -> pd.DataFrame | None:
    """Check the rules on the latest snapshot against the best of the run (the 'baseline' row 'best')."""
    if not rules:
        return None
    ours = table[table["source"] == curves.OURS]
    best = ours[ours["best"]].assign(checkpoint="best")
    last = ours[ours["snapshot"] == latest].assign(checkpoint=latest)
    return C.check_rules(rules, pd.concat([best, last], ignore_index=True)[["checkpoint", "metric", "value"]])


def _best_summary(table: pd.DataFrame) -> pd.DataFrame:
    best = table[table["best"]]
    cols = ["metric", "source", "snapshot", "step", "unit", "value", "ci95_low", "ci95_high"]
    return best[[c for c in cols if c in best.columns]].reset_index(drop=True)


def _write_outputs(report, table: pd.DataFrame, out: Path, title: str) -> None:
    """curves.png/.pdf and track.html (summary of the best snapshots, the rules, the curves)."""
    import base64

    from .. import html_report
    from ..fileio import atomic_write, staged

    frame = curves.frame_from_table(table, title.rsplit(": ", 1)[-1])
    fig = curves.curves_figure(frame, title)
    written = curves.save_figure(fig, out / "curves")
    png = base64.b64encode(staged(written[0]).read_bytes()).decode("ascii")  # where the file is until the run commits
    rules = pd.DataFrame(report.meta["rules"]) if report.meta.get("rules") else None
    page = html_report.render(
        title,
        _best_summary(table),
        table,
        rules,
        [("Metrics over training (star: best snapshot)", png)],
        notes=[curves.caption(frame)],
        settings=report.settings,
        warning=report.banner(),
        columns=None,
    )
    atomic_write(out / "track.html", page)
    report.extra_files += [p.name for p in written] + ["track.html"]


@click.command("track")
@click.argument("run_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--glob",
    "glob_pattern",
    default=None,
    metavar="PATTERN",
    help="Snapshot files relative to RUN_DIR for other naming schemes (the step: the last number in the name).",
)
@click.option("--unit", default=None, help="What the number in --glob names counts [default: kimg].")
@compare_options
@common_options
@click.pass_context
def command(ctx, run_dir: Path, glob_pattern, unit, run: RunOptions, **o) -> None:
    """Evaluate every snapshot of a training run RUN_DIR (only those not in its log yet).

    Snapshots: network-snapshot-<kimg>.pkl (NVIDIA), checkpoint/<iter>.pt (rosinality),
    models/<name>/model_<n>.pt (lucidrains), or --glob. Writes the curves, track.{csv,json,md,html}
    and metrics.jsonl to --out [default: RUN_DIR/stylegan-eval]; --fail-if gates the latest
    snapshot ('fid50k_full > best * 1.05').
    """
    snapshots = runs.find_snapshots(run_dir, glob_pattern, unit)
    runners = C.plan(_split(o["metrics"]))
    rules = _rules(o["fail_if"], runners)
    _check_data(runners, o["data"])
    nvidia = curves.frame_from_nvidia(runs.read_nvidia_metrics(run_dir), "run")
    tensorboard = o.pop("tensorboard")
    # --out is guarded by the common options already; the default folder is guarded here
    with guarded_out(run_dir / OUT_NAME) if run.out is None else contextlib.nullcontext():
        run.out = run.out if run.out is not None else run_dir / OUT_NAME
        job = _Job(run_dir, snapshots, runners, rules, nvidia, run, o)
        report = _track(job, tensorboard)
    if not report.passed:
        for r in report.meta["rules"]:
            if not r["passed"]:
                click.echo(f"stylegan-eval: rule failed: {r['rule']} ({r['checkpoint']}: {r['detail']})", err=True)
        ctx.exit(3)


def _todo(job: _Job) -> list[runs.Snapshot]:
    """Set the job's log, settings digest and file digests; the snapshots the log lacks."""
    out = Path(job.run.out)  # type: ignore[arg-type]
    job.log_file = job.run.log if job.run.log is not None else out / "metrics.jsonl"
    job.settings = _settings(job.run, job.options, job.outputs)
    job.key = tracking.settings_fingerprint(job.settings)
    names = [s.name for s in job.snapshots]
    job.digests = dict(zip(names, remembered_sha256([s.path for s in job.snapshots], names, out / SHA_INDEX)[0]))
    done = job.done()
    return [s for s in job.snapshots if not set(job.outputs) <= set(done.get(job.digests[s.name], {}))]


def _track(job: _Job, tensorboard: Path | None):
    """Evaluate what is new, then write the table, curves and report; returns the report."""
    todo, run = _todo(job), job.run
    if not run.quiet:
        click.echo(
            f"stylegan-eval: {job.run_dir}: {len(job.snapshots)} snapshots, {len(job.snapshots) - len(todo)} "
            f"already in {job.log_file}, {len(todo)} to evaluate",
            err=True,
        )
    backfill = tensorboard is not None and not list(Path(tensorboard).glob("events.out.tfevents.*"))
    logger = open_logger(tensorboard) if todo or backfill else None
    try:
        if backfill and logger is not None:
            _backfill(job, logger, [s for s in job.snapshots if s not in todo])
        _evaluate_new(job, todo, logger)
    finally:
        if logger is not None:
            logger.close()
    if not DistInfo.current().is_main:
        return _TrackReport("track", pd.DataFrame())
    table = _table(job.snapshots, job.digests, job.done(), job.nvidia, job.outputs)
    report = _report(job, table, todo)
    _write_outputs(report, table, Path(run.out), f"stylegan-eval track: {job.run_dir.resolve().name}")  # type: ignore[arg-type]
    emit(report, run)
    for _, b in _best_summary(table).iterrows():
        if b["source"] == curves.OURS and not run.json:
            click.echo(f"stylegan-eval: best {b['metric']}: {b['snapshot']} ({b['value']:.6g})", err=True)
    return report


def _report(job: _Job, table: pd.DataFrame, todo: list[runs.Snapshot]):
    from ..report import environment, jsonable

    ours = table[table["source"] == curves.OURS]
    best = {str(b["metric"]): str(b["snapshot"]) for _, b in _best_summary(ours).iterrows()}
    rules_df = _gate(job.rules, table, job.snapshots[-1].name)
    recs = [r for r in tracking.read_records(job.log_file) if r.get("fingerprint") == job.key]
    return _TrackReport(
        "track",
        table,
        settings={
            **job.settings,
            "run_dir": str(job.run_dir),
            "fail_if": [r.text for r in job.rules],
            "fingerprint": job.key,
        },
        meta={
            "snapshots": len(job.snapshots),
            "latest": job.snapshots[-1].name,
            "evaluated": [s.name for s in todo],
            "reused": len(job.snapshots) - len(todo),
            "log": str(job.log_file),
            "best": best,
            "rules": jsonable(rules_df.to_dict(orient="records")) if rules_df is not None else [],
            "random_weights": sorted({n for r in recs for n in (r.get("random_weights") or [])}),
            "environment": environment(job.run.device if todo else None),
        },
    )


class _TrackReport(Report):
    """The report of ``track``: ``passed`` is whether every ``--fail-if`` check passed."""

    @property
    def passed(self) -> bool:
        return all(r["passed"] for r in self.meta.get("rules") or [])

    def to_markdown(self) -> str:
        """The best snapshot per metric and the rule checks first, then the full report."""
        from ..report import _md_table

        head = [f"## Best snapshot per metric ({self.meta.get('snapshots')} snapshots)", ""]
        head += [_md_table(_best_summary(self.table)), ""]
        if self.meta.get("rules"):
            rules = pd.DataFrame(self.meta["rules"]).drop(columns=["observed"], errors="ignore")
            head += ["## Rules (latest snapshot)", "", _md_table(rules), ""]
        body = super().to_markdown()
        at = body.find("\n| ")  # before the full table, after the title and the random-weights banner
        return body[: at + 1] + "\n".join(head) + "\n## All snapshots\n\n" + body[at + 1 :]


for _param in command.params:  # compare's options, with the meaning they have for a run
    if _param.name == "fail_if" and isinstance(_param, click.Option):
        _param.help = (
            "Gate on the latest snapshot: '<metric> <op> <number>', '<metric> <op> best [* <number>]' (best: "
            "the run's best value) or '<metric> regresses by <number>%' (vs the best); repeatable; exit 3 on failure."
        )
