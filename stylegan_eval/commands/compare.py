"""stylegan-eval compare A B [C ...] --metrics ppl_wend,fid,ls --fail-if RULE: a report and a CI gate.

Exit codes: 0 every rule passed (or none given), 3 a rule failed (the report is written
first), 2 bad input (including a rule that does not parse), 1 internal error.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable

import click

from .. import compare as C
from .. import plots
from ..engine import DistInfo, NonFiniteOutputs
from ..errors import UserError
from ..formats.refs import split_checkpoint_ref
from ..report import CompareReport, environment
from .detector_options import data_option, detector_choice_options, strict_data_option
from .logger_options import log_generator, open_logger, step_of, tensorboard_option
from .metric_options import classifier_options, distance_options, fid_method_option
from .options import (
    CheckpointRef,
    RunOptions,
    apply_options,
    checkpoint_family_options,
    checkpoint_spec,
    common_options,
    emit,
    load_generated,
    num_samples_option,
)

__all__ = ["CheckpointRef", "command", "compare_options", "run_comparison"]


def _split(values: tuple[str, ...]) -> list[str]:
    return [p.strip() for v in values for p in str(v).split(",") if p.strip()]


def _labels(refs: list[str]) -> list[str]:
    """Short unique names: the file name, with parent folders added while names collide, else '#k'."""
    paths = [
        None
        if (split_checkpoint_ref(r)[0] is None or CheckpointRef.is_name(r))
        else Path(split_checkpoint_ref(r)[0] or r)
        for r in refs
    ]

    def name(i: int, depth: int) -> str:
        p = paths[i]
        return refs[i] if p is None else "/".join(p.parts[-depth:])

    out = []
    for i in range(len(refs)):
        depth = 1
        while depth < 4 and sum(name(j, depth) == name(i, depth) for j in range(len(refs))) > 1:
            depth += 1
        out.append(name(i, depth))
    return [o if out.count(o) == 1 else f"{o}#{out[: i + 1].count(o)}" for i, o in enumerate(out)]


def _fail_if_option(single: bool) -> Callable:
    """--fail-if RULE; ``single``: the one-checkpoint wording (no baseline to regress from)."""
    ops = "'<metric> <op> <number>' (op: < <= > >= == !=)"
    return click.option(
        "--fail-if",
        "fail_if",
        multiple=True,
        metavar="RULE",
        help=f"{ops}; repeatable. A failed rule exits with 3."
        if single
        else f"{ops} or '<metric> regresses by <number>%' (vs the first checkpoint); repeatable. "
        "A failed rule exits with 3.",
    )


def _run_plan_options(single: bool) -> Callable:
    """--metrics, --fail-if, --repeats, --num-samples: what runs on every checkpoint, how often, and
    the gate on the results (``single``: see :func:`_fail_if_option`)."""
    return lambda f: apply_options(
        f,
        [
            click.option(
                "--metrics",
                multiple=True,
                metavar="LIST",
                help="Comma list of metrics (see `stylegan-eval list-metrics`): "
                + ", ".join(C.available_metrics())
                + "; repeatable.",
            ),
            _fail_if_option(single),
            click.option(
                "--repeats",
                type=click.IntRange(min=1, max=1000),
                default=1,
                show_default=True,
                help="Runs of the repeatable metrics (all but PPL) with seeds seed, seed+1, ...: mean and std.",
            ),
            num_samples_option("Samples of every metric (quick checks) [default: each metric's published count]."),
        ],
    )


def compare_options(f: Callable | None = None, *, single: bool = False) -> Callable:
    """The options ``compare``, ``calc`` and ``track`` share (everything but the checkpoint arguments),
    each protocol option from the module that declares it once; ``single``: the one-checkpoint
    wording of ``calc`` (no baseline to regress from)."""
    if f is None:
        return lambda g: compare_options(g, single=single)
    return apply_options(
        f,
        [
            _run_plan_options(single),
            data_option,
            classifier_options,
            distance_options,
            detector_choice_options,
            strict_data_option,
            fid_method_option,
            checkpoint_family_options,
            tensorboard_option,
        ],
    )


def _evaluate_once(meta: dict, label: str, done: dict[str, str], results: dict, compute) -> dict:
    """``compute()``, or the results of the label already evaluated with the same file (its sha256)."""
    same = done.get(meta.get("sha256") or "") if not meta.get("generator_spec") else None
    if meta.get("sha256"):
        done.setdefault(meta["sha256"], label)
    return results[same] if same else compute()


def _say_passed(rules_df) -> None:
    """``stylegan-eval: 2 rules passed: fid < 10; ...`` (CI logs show what the gate checked)."""
    from .. import log

    texts = list(dict.fromkeys(map(str, rules_df["rule"])))
    log.info(f"{len(texts)} rule{'s' if len(texts) != 1 else ''} passed: {'; '.join(texts)}")


def _rules(command_name: str, refs: list[str], runners, fail_if, data: Path | None) -> list:
    """The parsed ``--fail-if`` rules, after checking the checkpoints and ``--data`` (bad input: UserError)."""
    if not refs:
        raise UserError(
            f"{command_name}: no checkpoints given (pass CKPT ... or set checkpoints = [...] in [compare] of the configuration)"
        )
    outputs = [o for r in runners for o in r.outputs]
    rules = [C.parse_rule(t, outputs) for t in fail_if]
    for rule in rules:
        if rule.relative and len(refs) < 2:
            raise UserError(f"--fail-if {rule.text!r}: a regression needs a baseline and at least one more checkpoint")
    needing = C.needing_data(runners)
    if needing:
        if data is None:
            raise UserError(f"--data is required for {', '.join(needing)} (real images or a statistics file)")
        if not data.exists():
            raise UserError(f"--data {data}: no such file or folder")
    from ..metrics.image_samples import refuse_image_checkpoints

    refuse_image_checkpoints(refs, {s.name: s.family for r in runners for s in r.specs})
    return rules


def _checkpoint_specs(refs: list[str], labels: list[str], options: dict) -> dict[str, Any]:
    """label -> CheckpointSpec; ``--generator`` is the adapter of every file that names none itself."""
    specs = {
        label: checkpoint_spec(
            ref, options["fmt"], options["resolution"], None, options["class_idx"], options["generator_arg_items"]
        )
        for label, ref in zip(labels, refs)
    }
    for spec in specs.values():
        spec.generator_spec = spec.generator_spec or options["generator_spec"]
    return specs


def _eval_options(run: RunOptions, options: dict) -> C.EvalOptions:
    """The evaluation loop's options from the command's."""
    return C.EvalOptions(
        seed=run.seed,
        repeats=options["repeats"],
        batch_size=run.batch_size,
        num_samples=options["num_samples"],
        data=options["data"],
        attrs=tuple(options["attrs"]),
        classifiers=tuple(options["classifier_paths"]),
        classifier_dir=options["classifier_dir"],
        svm=options["svm"],
        distance=options["distance"],
        lpips_weights=options["lpips_weights"],
        allow_random_weights=run.allow_random_weights,
        class_idx=options["class_idx"],
        detector=options["detector"],
        inception_weights=options["inception_weights"],
        fid_method=options["fid_method"],
        show_progress=run.show_progress,
        resume_state=run.resume_state,
        strict_data=options.get("strict_data", False),
    )


def _steps(specs: dict[str, Any]) -> list[int]:
    """TensorBoard steps: each file's training step (``network-snapshot-000400.pkl``: 400) when every
    file names a distinct one, else 0, 1, 2, ..."""
    steps = [step_of(spec.path) if spec.path is not None else None for spec in specs.values()]
    if None in steps or len(set(steps)) < len(steps):
        return list(range(len(specs)))
    return [int(s) for s in steps if s is not None]


def _evaluate_checkpoints(specs: dict[str, Any], runners, opts: C.EvalOptions, run: RunOptions, tensorboard=None):
    """Each checkpoint through the evaluation loop, one at a time: (results, infos, result names, warnings)."""
    logger = open_logger(tensorboard)
    try:
        return _evaluate_each(specs, runners, opts, run, logger)
    finally:
        if logger is not None:
            logger.close()


def _evaluate_each(specs: dict[str, Any], runners, opts: C.EvalOptions, run: RunOptions, logger):
    results: dict[str, dict] = {}
    infos, names, warnings = {}, {}, []
    done: dict[str, str] = {}  # sha256 -> the label already evaluated with it: the same file is computed once
    for step, (label, spec) in zip(_steps(specs), specs.items()):
        gen, meta = load_generated(spec, run.device)
        try:
            results[label] = _evaluate_once(
                meta, label, done, results, functools.partial(C.evaluate, gen, meta, runners, opts)
            )
        except NonFiniteOutputs as exc:  # which of the checkpoints it was
            raise NonFiniteOutputs(f"{label}: {exc}") from None
        if logger is not None:
            logger.log_scalars({o: m.value for o, m in results[label].items()}, step)
            if meta.get("family") != "images":
                log_generator(logger, gen, label, step, opts.class_idx)
        infos[label] = _checkpoint_info(gen, meta, label, run, opts.class_idx)
        names[label] = {o: m.details[0].get("name", o) for o, m in results[label].items() if m.details}
        warnings += [w for w in _run_warnings(results[label]) if w not in warnings]
        del gen
    return results, infos, names, warnings


def _checkpoint_info(gen, meta: dict, label: str, run: RunOptions, class_idx: int | None) -> dict[str, Any]:
    """What the report says of one checkpoint: its file, digest, family, resolution and figures."""
    info = {k: meta.get(k) for k in ("checkpoint", "sha256", "generator_spec", "family", "resolution")}
    drawable = run.out is not None and meta.get("family") != "images"
    info["figures"] = plots.checkpoint_figures(gen, label, class_idx) if drawable else []
    if meta.get("identity"):
        info["identity"] = meta["identity"]
    return info


def _run_warnings(measurements: dict[str, Any]) -> list[str]:
    """The warnings of one checkpoint's measurements, each once, in order."""
    found = [w for m in measurements.values() if m.details for w in (m.details[0].get("warnings") or [])]
    return list(dict.fromkeys(found))


def _settings(refs: list[str], labels: list[str], outputs: list[str], run: RunOptions, options: dict) -> dict:
    """The report's settings: what was asked for, as given."""
    return {
        "checkpoints": refs,
        "labels": labels,
        "baseline": labels[0],
        "metrics": outputs,
        "fail_if": list(options["fail_if"]),
        "repeats": options["repeats"],
        "seed": run.seed,
        "num_samples": options["num_samples"],
        "data": options["data"],
        "attrs": list(options["attrs"]),
        "classifiers": list(options["classifier_paths"]),
        "svm": options["svm"],
        "distance": options["distance"],
        "detector": options["detector"],
        "fid_method": options["fid_method"],
        "generator": options["generator_spec"],
        "device": str(run.device),
    }


def run_comparison(ctx, command_name: str, refs: list[str], *, run: RunOptions, **options) -> None:
    """Evaluate ``refs`` with the same metrics and seeds, write ``<command_name>.{csv,json,md,html}``, check the rules.

    ``options`` are those of :func:`compare_options` (metrics, fail_if, repeats, num_samples,
    data, attrs, classifier_paths, classifier_dir, svm, distance, lpips_weights, detector,
    inception_weights, fid_method, fmt, resolution, generator_spec, generator_arg_items, class_idx).
    """
    runners = C.plan(_split(options["metrics"]))
    rules = _rules(command_name, refs, runners, options["fail_if"], options["data"])
    labels = _labels(refs)
    specs = _checkpoint_specs(refs, labels, options)
    opts = _eval_options(run, options)
    evaluated = _evaluate_checkpoints(specs, runners, opts, run, options.get("tensorboard"))
    from .. import log

    log.warn_all(evaluated[3])
    settings = _settings(refs, labels, [o for r in runners for o in r.outputs], run, options)
    report = _comparison_report(command_name, labels, evaluated, rules, settings, run)
    emit(report, run)
    _gate(ctx, report, report.rules)


def _comparison_report(command_name: str, labels: list[str], evaluated, rules, settings: dict, run: RunOptions):
    """The CompareReport of the evaluated checkpoints (``evaluated``: results, infos, result names,
    warnings), with the rules checked against its table."""
    from ..warnings_capture import captured

    results, infos, names, warnings = evaluated
    table = C.compare_table(labels, results, infos)
    random_weights = sorted({n for per in results.values() for m in per.values() for n in m.random_weights})
    report = CompareReport(
        command_name,
        table,
        settings={**settings, "result_names": names},
        meta={
            "checkpoints": infos,
            "environment": environment(run.device),
            "random_weights": random_weights,
            "significance_rule": C.SIGNIFICANCE_RULE,
            "warnings": warnings,
            **({"load_warnings": list(captured)} if captured else {}),
        },
        summary=C.summary_table(table),
        rules=C.check_rules(rules, table) if rules else None,
        results=results,
    )
    if run.out is not None:
        report.extra_files.append(f"{command_name}.html")
    return report


def _gate(ctx, report, rules_df) -> None:
    """Say how many rules passed, or exit 3 after naming each failed rule (on stderr, main process only)."""
    if rules_df is None:
        return
    if report.passed:
        if DistInfo.current().is_main:
            _say_passed(rules_df)
        return
    if DistInfo.current().is_main:
        failed = rules_df[~rules_df["passed"].astype(bool)]
        for _, r in failed.iterrows():
            click.echo(f"stylegan-eval: rule failed: {r['rule']} ({r['checkpoint']}: {r['detail']})", err=True)
    ctx.exit(3)


@click.command("compare")
@click.argument("checkpoints", nargs=-1, type=CheckpointRef())
@compare_options
@common_options
@click.pass_context
def command(ctx, checkpoints, run: RunOptions, **options) -> None:
    """Run the same metrics with the same seeds on every checkpoint; the first is the baseline.

    Writes compare.{csv,json,md,html} to --out; with --fail-if it is a CI gate (exit 3 when a
    rule fails). A checkpoint may be a file, demo, nvidia:<name>, a package.module:attr generator
    or FILE::package.module:attr (the file loaded by that generator).
    """
    run_comparison(ctx, "compare", list(checkpoints), run=run, **options)
