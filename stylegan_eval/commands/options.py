"""What the subcommands share: the common options (:class:`RunOptions`), the checkpoint options
(CKPT, ``--format``, ``--generator`` ...), small option types, and :func:`emit` for the report.

Each option here is declared once and used by every command that offers it. Conventions
(``--device``, ``--batch-size``, ``--seed``, ``--out DIR``, ``--json``, ``--quiet``) are described in
:mod:`stylegan_eval.cli`.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import click

from ..errors import UserError


@dataclass
class RunOptions:
    """The options every subcommand shares, resolved.

    ``device`` is resolved (and validated) on first use, so that a command which needs no
    device, such as ``stats`` answered from its cache, never imports torch.
    """

    device_spec: Any
    batch_size: int | None
    seed: int
    out: Path | None
    json: bool
    quiet: bool
    resume: bool = False
    allow_random_weights: bool = False
    log: Path | None = None
    _device: Any = field(default=None, init=False, repr=False)

    @property
    def device(self):
        """The torch.device of --device ('auto': cuda when available)."""
        if self._device is None:
            from ..runtime import resolve_device

            self._device = resolve_device(self.device_spec)
        return self._device

    @property
    def show_progress(self) -> bool:
        return not self.quiet

    def resume_state(self, name: str, fingerprint: dict):
        """Partial-result storage in --out (None without --out): saved at intervals, read with --resume."""
        from ..engine import ResumeState

        _RESUMABLE["out"] = self.out
        if self.out is None:
            if self.resume:
                raise UserError("--resume needs --out DIR (partial results are kept there)")
            return None
        state = ResumeState(self.out, name, fingerprint, resume=self.resume)
        if self.resume:
            saved = {
                p.name.split(".")[1].rsplit("-", 1)[-1] for p in Path(self.out).glob(f".partial-{name}-*.rank*.pt")
            }
            if saved and state.key not in saved:
                raise UserError(
                    f"--resume: the partial {name} results in {self.out} were computed with other settings "
                    f"(fingerprint {', '.join(sorted(saved))}, this run {state.key}); rerun without --resume or use another --out"
                )
        return state


#: The --out folder of the running command's partial results (set when a metric asks for its resume state).
_RESUMABLE: dict[str, Path | None] = {}


def interrupted_message() -> str:
    """The one line printed on Ctrl-C: where the partial results are and that --resume continues them."""
    folder = _RESUMABLE.get("out")
    if folder is None:
        return "stylegan-eval: interrupted (with --out DIR partial results are kept for --resume)"
    saved = sorted(Path(folder).glob(".partial-*.pt"))
    if saved:
        return (
            f"stylegan-eval: interrupted; the partial results are kept in {folder} ({len(saved)} file(s)): "
            "rerun the same command with --resume to continue"
        )
    return f"stylegan-eval: interrupted before any partial result was saved in {folder}"


def apply_options(f: Callable, options: list[Callable | None]) -> Callable:
    """``f`` decorated with ``options`` (None entries skipped), the first listed first in ``--help``."""
    for opt in reversed([o for o in options if o is not None]):
        f = opt(f)
    return f


def common_options(
    f: Callable | None = None,
    *,
    out_file: str | None = None,
    batch: bool = True,
    resume: bool = True,
    log: bool = True,
    detectors: bool = True,
    out_help: str | None = None,
) -> Callable:
    """Add the shared options; the wrapped command receives ``run: RunOptions``.

    ``--out`` is always a folder: each command names its files inside it (``out_file``, e.g.
    "stats.npz", documents what it writes there). ``batch``, ``resume``, ``log`` and ``detectors`` add
    ``--batch-size``, ``--resume``, ``--log`` and ``--allow-random-weights``: a command offers only
    options it uses. ``out_help`` replaces the ``--out`` help of a command that writes no report.
    """
    if f is None:
        return functools.partial(
            common_options,
            out_file=out_file,
            batch=batch,
            resume=resume,
            log=log,
            detectors=detectors,
            out_help=out_help,
        )
    what = f"{out_file} and the report" if out_file else "<command>.json/.csv/.md"
    options = _common_option_list(
        out_help or f"Output folder: writes {what} there.", batch=batch, resume=resume, log=log, detectors=detectors
    )
    return apply_options(_with_run_options(f, default_log=log), options)


def _common_option_list(out_help: str, *, batch: bool, resume: bool, log: bool, detectors: bool) -> list:
    """The click options of :func:`common_options` (None where the command does not offer one)."""
    return [
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option(
            "--batch-size",
            type=click.IntRange(min=1),
            default=None,
            help="Samples per batch [default: by device and resolution].",
        )
        if batch
        else None,
        click.option(
            "--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the sampling engine."
        ),
        click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help=out_help),
        json_option,
        click.option("--quiet", is_flag=True, help="No progress bars."),
        click.option("--resume", is_flag=True, help="Continue from the partial results saved in --out.")
        if resume
        else None,
        click.option(
            "--allow-random-weights",
            is_flag=True,
            help="Run detector networks at random initialisation when their published weights are not "
            "available (the report is labelled so).",
        )
        if detectors
        else None,
        click.option(
            "--log",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Append every result as a JSON line here [default: <out>/metrics.jsonl with --out].",
        )
        if log
        else None,
    ]


def json_option(f: Callable) -> Callable:
    """--json: one JSON object on stdout and nothing else (the command's value ``as_json``)."""
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout and nothing else.")(f)


def _with_run_options(f: Callable, *, default_log: bool) -> Callable:
    """``f`` called with ``run: RunOptions`` built from the common options, checked first, inside
    the ``--out`` guard; ``default_log``: the command appends to ``<out>/metrics.jsonl``."""

    @functools.wraps(f)
    def wrapper(
        *args,
        device,
        seed,
        out,
        as_json,
        quiet,
        allow_random_weights=False,
        batch_size=None,
        resume=False,
        log=None,
        **kwargs,
    ):
        from ..checks import check_device_spec, check_log_file
        from ..fileio import guarded_out

        check_device_spec(device)
        if log is not None:
            check_log_file(log)
        elif default_log and out is not None and (Path(out) / "metrics.jsonl").exists():
            check_log_file(Path(out) / "metrics.jsonl", "--out")
        run = RunOptions(device, batch_size, seed, out, as_json, quiet, resume, allow_random_weights, log)

        # a deliberate exit code (ctx.exit after the report) still delivers the report
        with guarded_out(
            out, is_file=False, exits=(click.exceptions.Exit, SystemExit)
        ):  # writable before any work; one writer per folder
            return f(*args, run=run, **kwargs)

    return wrapper


def num_samples_option(help: str, *, minimum: int = 2, default: int | None = None) -> Callable:
    """--num-samples (alias --num-gen): how many samples a command draws; ``help`` says what it
    counts there (pairs, samples, images), ``minimum`` and ``default`` bound it."""
    return click.option(
        "--num-samples",
        "--num-gen",
        "num_samples",
        type=click.IntRange(min=minimum),
        default=default,
        help=help,
    )


def trunc_option(f: Callable) -> Callable:
    """``--trunc`` (alias ``--psi``): truncation psi, 1 = none."""
    return click.option(
        "--trunc",
        "--psi",
        "psi",
        type=float,
        default=1.0,
        show_default=True,
        help="Truncation psi (1 = none; alias --psi).",
    )(f)


def choice(values) -> click.Choice:
    """A case-insensitive click choice (``--space W`` = ``--space w``)."""
    return click.Choice(list(values), case_sensitive=False)


class IntList(click.ParamType):
    """Integers as a comma list of values and inclusive ranges: "0-3,7" -> [0, 1, 2, 3, 7]."""

    name = "LIST"

    def convert(self, value, param, ctx):
        if isinstance(value, list):
            return value
        out: list[int] = []
        try:
            for part in str(value).split(","):
                lo, sep, hi = part.strip().partition("-")
                items = range(int(lo), int(hi) + 1) if sep else [int(lo)]
                if len(out) + len(items) > 10**6:
                    self.fail(f"at most 1000000 values, got {value!r}", param, ctx)
                out.extend(items)
        except ValueError:
            self.fail(f"expected integers and ranges like 0-3,7, got {value!r}", param, ctx)
        if not out or min(out) < 0:
            self.fail(f"expected a non-empty list of non-negative integers, got {value!r}", param, ctx)
        return out


class CheckpointRef(click.ParamType):
    """A CKPT argument: a file, ``demo``, ``nvidia:<name>``, ``package.module:attr`` or ``FILE::package.module:attr``
    (parsed by :mod:`stylegan_eval.formats.refs`).

    ``strict`` checks it on parsing (compare's list); otherwise loading it reports a missing file.
    Configuration files resolve relative file names against their folder.
    """

    name = "CKPT"
    paths_relative_to_config = True  # config.py resolves relative file names against the config folder

    def __init__(self, strict: bool = True) -> None:
        self.strict = strict

    @staticmethod
    def looks_like_path(value: str) -> bool:
        """False for values that name code (a spec, FILE::spec): an untrusted configuration may not set them."""
        from ..formats.refs import looks_like_path

        return looks_like_path(value)

    @staticmethod
    def is_name(value: str) -> bool:
        """``demo`` / ``nvidia:<name>``: names, not paths (never made relative to a configuration's folder)."""
        from ..formats.refs import is_name

        return is_name(value)

    def convert(self, value, param, ctx):
        value = str(value)
        from ..metrics.stats_cache import is_image_source

        if self.strict and not is_image_source(value):  # a folder / zip of images: checked by the command
            from ..formats.refs import split_checkpoint_ref

            try:
                split_checkpoint_ref(value, check=True)
            except UserError as exc:
                self.fail(str(exc), param, ctx)
        return value


def generator_options(f: Callable) -> Callable:
    """--generator MODULE:ATTR and --generator-arg KEY=VALUE (repeatable)."""
    f = click.option(
        "--generator-arg",
        "generator_arg_items",
        multiple=True,
        metavar="KEY=VALUE",
        help="Keyword argument of the --generator class or factory (a Python literal or a string); repeatable.",
    )(f)
    return click.option(
        "--generator",
        "generator_spec",
        default=None,
        metavar="MODULE:ATTR",
        help="Your own generator: package.module:attr (the checkpoint, if any, is passed to it).",
    )(f)


def format_option(f: Callable) -> Callable:
    """--format: the checkpoint family of every CKPT."""
    from ..formats import FORMAT_NAMES

    return click.option(
        "--format", "fmt", type=choice(FORMAT_NAMES), default=None, help="Checkpoint family [default: autodetect]."
    )(f)


def resolution_option(f: Callable) -> Callable:
    """--resolution: the output resolution of StyleGAN1 .model files."""
    return click.option(
        "--resolution",
        type=click.IntRange(min=4),
        default=None,
        help="Output resolution (StyleGAN1 .model files store all 9 blocks).",
    )(f)


def class_option(f: Callable) -> Callable:
    """--class: the class label of a conditional generator."""
    return click.option(
        "--class", "class_idx", type=click.IntRange(min=0), default=None, help="Class label for conditional generators."
    )(f)


def checkpoint_family_options(f: Callable) -> Callable:
    """--format, --resolution, --generator, --generator-arg, --class: how each CKPT loads."""
    return apply_options(f, [format_option, resolution_option, generator_options, class_option])


def checkpoint_options(f: Callable) -> Callable:
    """CKPT argument plus --format, --resolution, --generator, --generator-arg, --class.

    CKPT may also be a spec (``package.module:attr``, ``FILE::package.module:attr``), ``demo`` or
    ``nvidia:<name>``, as in ``compare``.
    """

    @click.argument("ckpt", required=False, type=CheckpointRef(strict=False))
    @checkpoint_family_options
    @functools.wraps(f)
    def wrapper(*args, ckpt, fmt, resolution, generator_spec, generator_arg_items, class_idx, **kwargs):
        spec = checkpoint_spec(ckpt, fmt, resolution, generator_spec, class_idx, generator_arg_items)
        return f(*args, ckpt=spec, **kwargs)

    return wrapper


def checkpoint_spec(ckpt, fmt, resolution, generator_spec, class_idx, generator_arg_items) -> Any:
    """The CheckpointSpec of a CKPT argument; a folder or zip of images is kept as a path, for
    :func:`load_generated` (commands that need a generator refuse it when loading)."""
    from ..formats.checkpoint_spec import CheckpointSpec
    from ..metrics.stats_cache import is_image_source

    if ckpt is not None and generator_spec is None and is_image_source(ckpt):
        return _images_spec(Path(ckpt), class_idx)
    return CheckpointSpec.from_ref(ckpt, fmt, resolution, generator_spec, class_idx, generator_arg_items)


def _images_spec(path: Path, class_idx: int | None) -> Any:
    """A CheckpointSpec naming a folder or zip of images: :func:`load_generated` reads it, ``load`` refuses it."""
    from ..formats.checkpoint_spec import CheckpointSpec
    from ..formats.refs import IMAGES_NEED_FEATURE_METRICS

    class ImagesSpec(CheckpointSpec):
        def load(self, device: Any) -> Any:
            raise UserError(f"{self.path}: {IMAGES_NEED_FEATURE_METRICS}")

    return ImagesSpec(path, None, None, None, class_idx)


def load_generated(spec: Any, device: Any, **image_options: Any) -> tuple[Any, dict[str, Any]]:
    """(generator or GeneratedImages, meta): what the feature metrics take as the generated side.

    A folder or zip of images becomes :class:`~stylegan_eval.metrics.image_samples.GeneratedImages`
    (``image_options``: skip_bad, num_workers, cache_dir, no_cache); anything else loads as
    :meth:`CheckpointSpec.load` does.
    """
    from ..metrics.stats_cache import is_image_source

    if spec.path is not None and spec.generator_spec is None and is_image_source(spec.path):
        from ..metrics.image_samples import GeneratedImages

        samples = GeneratedImages(spec.path, device=device, **image_options)
        return samples, {"checkpoint": str(spec.path), "generator_spec": None, **samples.info()}
    return spec.load(device)


def emit(report, run: RunOptions) -> None:
    """Write the report to --out, then print it (JSON with --json, else Markdown); rank 0 only.

    Every result is also appended to the JSON-lines log (:mod:`stylegan_eval.jsonlog`).
    """
    from ..engine import DistInfo
    from ..jsonlog import log_report
    from ..log import finished, printable

    if not DistInfo.current().is_main:
        return
    from ..config import current_config
    from ..warnings_capture import captured

    applied = current_config().describe()
    if applied is not None:  # defaults that did not come from the command line
        report.meta.setdefault("config", applied)
    if captured:  # warnings raised while reading inputs: kept out of stderr, recorded here
        report.meta["load_warnings"] = list(dict.fromkeys([*report.meta.get("load_warnings", []), *captured]))
    from ..log import summarize, warning

    for text in summarize([str(t).splitlines()[0][:300] for t in report.meta.get("load_warnings") or []])[:5]:
        warning(f"while reading the inputs: {printable(text)}")
    if run.out is not None:
        report.extra_files = sorted(set(report.extra_files))
        report.write(run.out)
    log_report(report, run)
    if report.banner():  # one warning style on stderr; the report keeps its banner text
        warning(re.sub(r"^WARNING:\s*", "", str(report.banner())))
    if run.json:
        click.echo(json.dumps(report.to_dict()))
    else:
        from ..report import _md_table

        click.echo(_md_table(report.display_table()))
        if run.out is not None:
            click.echo(written_line(run.out, report.command, report.extra_files), err=True)
    finished(run.quiet)  # "stylegan-eval: done in 12.3 s" (stylegan_eval.log)


def written_line(out: Path, command: str, extra_files: list[str]) -> str:
    """``report written to OUT/demo.{json,csv,md}, demo.html and 4 figures (a.png, ...)``."""
    pages = [f for f in extra_files if f.endswith(".html")]
    figures = [f for f in extra_files if f.lower().endswith((".png", ".pdf", ".svg"))]
    text = f"report written to {out}/{command}.{{json,csv,md}}"
    if pages:
        text += ", " + ", ".join(pages)
    if figures:
        shown = ", ".join(figures[:4]) + (", ..." if len(figures) > 4 else "")
        text += f" and {len(figures)} figure{'s' if len(figures) != 1 else ''} ({shown})"
    return text
