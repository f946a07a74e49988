"""The ``stylegan-eval`` command line.

Conventions shared by every subcommand (see :func:`common_options`):
``--device`` (auto: cuda if available), ``--batch-size`` (auto; only where batches exist), ``--seed``,
``--out DIR`` (always a folder: ``<command>.json/.csv/.md`` and the command's files), ``--json`` (one JSON object on stdout and nothing else),
``--quiet``; progress bars go to stderr. Exit codes: 0 success, 2 bad input (one line on
stderr naming the file or option), 1 internal error, 3 a ``compare --fail-if`` rule failed,
130 interrupted (partial results stay in --out for ``--resume``).

Defaults come from the project configuration (:mod:`stylegan_eval.config`), installed as
click's ``default_map`` by the group callback; ``--config PATH`` / ``--no-config`` choose it.

Subcommands live in :mod:`stylegan_eval.commands`, one module each, listed in
:data:`COMMAND_MODULES` and imported only when used, so that the CLI itself starts without
torch (a cache-hit ``stats`` run never imports it).
"""

from __future__ import annotations

import functools
import importlib
import json
import re
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import click

from .errors import UserError
from .lazy_help import LazyHelpGroup

COMMAND_MODULES = [
    "info",
    "generate",
    "mix",
    "ppl",
    "separability",
    "compare",
    "calc",
    "fid",
    "stats",
    "demo",
    "weights",
    "convert",
    "list-metrics",
    "track",
    "plot",
]


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
            from .runtime import resolve_device

            self._device = resolve_device(self.device_spec)
        return self._device

    @property
    def show_progress(self) -> bool:
        return not self.quiet

    def resume_state(self, name: str, fingerprint: dict):
        """Partial-result storage in --out (None without --out): saved at intervals, read with --resume."""
        from .engine import ResumeState

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


def common_options(
    f: Callable | None = None, *, out_file: str | None = None, batch: bool = True, resume: bool = True, log: bool = True
) -> Callable:
    """Add the shared options; the wrapped command receives ``run: RunOptions``.

    ``--out`` is always a folder: each command names its files inside it (``out_file``, e.g.
    "stats.npz", only documents the file name). ``batch``, ``resume`` and ``log`` add
    ``--batch-size``, ``--resume`` and ``--log``: a command offers only options it uses.
    """
    if f is None:
        return functools.partial(common_options, out_file=out_file, batch=batch, resume=resume, log=log)
    what = f"{out_file} and the report" if out_file else "<command>.json/.csv/.md"
    options = [
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
        click.option(
            "--out",
            type=click.Path(file_okay=False, path_type=Path),
            default=None,
            help=f"Output folder: writes {what} there.",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout and nothing else."),
        click.option("--quiet", is_flag=True, help="No progress bars."),
        click.option("--resume", is_flag=True, help="Continue from the partial results saved in --out.")
        if resume
        else None,
        click.option(
            "--allow-random-weights",
            is_flag=True,
            help="Run detector networks at random initialisation when their published weights are not "
            "available (the report is labelled so).",
        ),
        click.option(
            "--log",
            type=click.Path(dir_okay=False, path_type=Path),
            default=None,
            help="Append every result as a JSON line here [default: <out>/metrics.jsonl with --out].",
        )
        if log
        else None,
    ]

    @functools.wraps(f)
    def wrapper(
        *args,
        device,
        seed,
        out,
        as_json,
        quiet,
        allow_random_weights,
        batch_size=None,
        resume=False,
        log=None,
        **kwargs,
    ):
        run = RunOptions(device, batch_size, seed, out, as_json, quiet, resume, allow_random_weights, log)
        from .fileio import guarded_out

        with guarded_out(out, is_file=False):  # writable before any work; one writer per folder
            return f(*args, run=run, **kwargs)

    for opt in reversed([o for o in options if o is not None]):
        wrapper = opt(wrapper)
    return wrapper


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


#: A user generator's import spec: package.module:attr.
SPEC_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
#: CKPT value naming the embedded demo generator (stylegan_eval/assets).
EMBEDDED_DEMO = "demo"


def split_checkpoint_ref(value: str, check: bool = False) -> tuple[str | None, str | None]:
    """A CKPT argument -> (checkpoint path or name, generator spec).

    ``demo`` (the embedded demo), ``nvidia:<name>`` (an official pickle), a file,
    ``package.module:attr`` (a spec-only generator) or ``FILE::package.module:attr`` (a spec with
    its checkpoint). With ``check`` a file that does not exist is a UserError naming the value
    (otherwise loading it reports that).
    """
    value = str(value)
    if value == EMBEDDED_DEMO or value.startswith("nvidia:") or Path(value).exists():
        if Path(value).is_dir():
            raise UserError(f"{value}: is a directory (expected a checkpoint file)")
        return value, None
    if "::" in value:
        path, _, spec = value.partition("::")
        if not SPEC_RE.match(spec):
            raise UserError(f"{value}: expected CKPT::package.module:attr, got the spec {spec!r}")
        if not path or (check and not (Path(path).is_file() or path.startswith("nvidia:") or path == EMBEDDED_DEMO)):
            raise UserError(f"{value}: no such checkpoint file {path!r}")
        return path, spec
    if SPEC_RE.match(value):
        return None, value
    if check:
        raise UserError(
            f"{value}: no such file (expected a checkpoint file, demo, nvidia:<name>, "
            "package.module:attr or CKPT::package.module:attr)"
        )
    return value, None


class CheckpointRef(click.ParamType):
    """A CKPT argument: a file, ``demo``, ``nvidia:<name>``, ``package.module:attr`` or ``FILE::package.module:attr``.

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
        value = str(value)
        return "::" not in value and (not SPEC_RE.match(value) or Path(value).exists())

    @staticmethod
    def is_name(value: str) -> bool:
        """``demo`` / ``nvidia:<name>``: names, not paths (never made relative to a configuration's folder)."""
        return str(value) == EMBEDDED_DEMO or str(value).startswith("nvidia:")

    def convert(self, value, param, ctx):
        value = str(value)
        if self.strict:
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


def checkpoint_options(f: Callable) -> Callable:
    """CKPT argument plus --format, --resolution, --generator, --generator-arg, --class.

    CKPT may also be a spec (``package.module:attr``, ``FILE::package.module:attr``), ``demo`` or
    ``nvidia:<name>``, as in ``compare``.
    """
    from .formats import FORMAT_NAMES

    @click.argument("ckpt", required=False, type=CheckpointRef(strict=False))
    @click.option(
        "--format", "fmt", type=choice(FORMAT_NAMES), default=None, help="Checkpoint family [default: autodetect]."
    )
    @click.option(
        "--resolution",
        type=click.IntRange(min=4),
        default=None,
        help="Output resolution (StyleGAN1 .model files store all 9 blocks).",
    )
    @generator_options
    @click.option(
        "--class", "class_idx", type=click.IntRange(min=0), default=None, help="Class label for conditional generators."
    )
    @functools.wraps(f)
    def wrapper(*args, ckpt, fmt, resolution, generator_spec, generator_arg_items, class_idx, **kwargs):
        spec = CheckpointSpec.from_ref(ckpt, fmt, resolution, generator_spec, class_idx, generator_arg_items)
        return f(*args, ckpt=spec, **kwargs)

    return wrapper


@dataclass
class CheckpointSpec:
    path: Path | None
    format: str | None
    resolution: int | None
    generator_spec: str | None
    class_idx: int | None
    generator_args: dict = field(default_factory=dict)

    @classmethod
    def from_ref(cls, ref, fmt=None, resolution=None, generator_spec=None, class_idx=None, generator_arg_items=()):
        """From a CKPT argument (see :func:`split_checkpoint_ref`) and the --generator options."""
        from .formats.custom import parse_generator_args

        path = spec = None
        if ref is not None:
            path, spec = split_checkpoint_ref(str(ref))
        if spec is not None and generator_spec is not None and spec != generator_spec:
            raise UserError(f"CKPT {ref} names the generator {spec} and --generator names {generator_spec}: give one")
        args = parse_generator_args(list(generator_arg_items or ()))
        return cls(
            None if path is None else Path(path),
            fmt.lower() if fmt else None,
            resolution,
            spec or generator_spec,
            class_idx,
            args,
        )

    def load(self, device):
        """Load the generator and describe the checkpoint for the report (including its identity)."""
        from .formats import load_generator, sha256_file
        from .formats.custom import generator_identity

        if self.path is None and self.generator_spec is None:
            raise UserError(
                "no checkpoint given: pass CKPT (or 'demo' for the embedded demo generator, "
                "--generator MODULE:ATTR, or ckpt = ... in stylegan-eval.toml)"
            )
        if self.path is not None and str(self.path) == EMBEDDED_DEMO and not Path(self.path).exists():
            from .demo import default_checkpoint

            self.path = default_checkpoint()
        options = {} if self.resolution is None else {"resolution": self.resolution}
        gen = load_generator(
            self.path,
            self.format,
            self.generator_spec,
            device=device,
            generator_args=self.generator_args or None,
            **options,
        )
        meta = {
            "checkpoint": str(self.path) if self.path else None,
            "generator_spec": self.generator_spec,
            **gen.info(),
        }
        if self.generator_args:
            meta["generator_args"] = dict(self.generator_args)
        if self.path is not None and Path(self.path).is_file():
            meta["sha256"] = sha256_file(self.path)
        if self.generator_spec is not None:
            path = self.path if self.path is not None and Path(self.path).is_file() else None
            meta["identity"] = getattr(gen, "identity", None) or generator_identity(self.generator_spec, path, gen)
        adapter_warnings = list(getattr(gen, "load_warnings", None) or [])
        if adapter_warnings:  # the adapter's output check (range, dtype): in the report, and once on stderr
            meta["load_warnings"] = adapter_warnings
        return gen, meta


def emit(report, run: RunOptions) -> None:
    """Write the report to --out, then print it (JSON with --json, else Markdown); rank 0 only.

    Every result is also appended to the JSON-lines log (:mod:`stylegan_eval.jsonlog`).
    """
    from .engine import DistInfo
    from .jsonlog import log_report
    from .log import finished

    if not DistInfo.current().is_main:
        return
    from .warnings_capture import captured

    if captured:  # warnings raised while reading inputs: kept out of stderr, recorded here
        report.meta["load_warnings"] = list(dict.fromkeys([*report.meta.get("load_warnings", []), *captured]))
    for text in (report.meta.get("load_warnings") or [])[:5]:  # one line each: what reading the inputs warned
        click.echo(f"stylegan-eval: load warning: {str(text).splitlines()[0][:300]}", err=True)
    if run.out is not None:
        report.extra_files = sorted(set(report.extra_files))
        report.write(run.out)
    log_report(report, run)
    if report.banner():
        click.echo(report.banner(), err=True)
    if run.json:
        click.echo(json.dumps(report.to_dict()))
    else:
        from .report import _md_table

        click.echo(_md_table(report.table))
        if run.out is not None:
            click.echo(f"report written to {run.out}/{report.command}.{{json,csv,md}}", err=True)
    finished(run.quiet)  # "stylegan-eval: done in 12.3 s" (stylegan_eval.log)


#: Python argument -> command-line flag, where the flag is not ``--`` + the name with dashes.
FLAG_NAMES = {
    "class_idx": "--class",
    "weights_path": "--lpips-weights",
    "spaces": "--space",
    "real": "--data",
    "method": "--fid-method",
    "num_resamples": "--bootstrap-resamples",
}


def flag_of(arg: str) -> str:
    """The flag of Python argument ``arg`` (``num_samples`` -> ``--num-samples``)."""
    return FLAG_NAMES.get(arg, "--" + arg.replace("_", "-"))


def flag_message(exc: BaseException) -> str:
    """The one-line CLI message of an error: an :class:`~stylegan_eval.errors.ArgumentError` names
    the flag instead of the Python argument (every library error passes through here)."""
    from .errors import ArgumentError

    if not isinstance(exc, ArgumentError):
        return str(exc)
    text = exc.message
    if text.startswith(exc.arg + " ") or text.startswith(exc.arg + ":"):
        text = flag_of(exc.arg) + text[len(exc.arg) :]
    text = re.sub(rf"\({re.escape(exc.arg)}\)", f"({flag_of(exc.arg)})", text)
    text = text.replace(f"{exc.arg}=True", flag_of(exc.arg))
    hint = exc.cli_hint or exc.hint
    return text + (f"; {hint}" if hint else "")


class _Group(LazyHelpGroup):
    """Imports a subcommand's module only when that command runs (or help lists it): the
    modules import torch, which a cache-hit ``stats`` run and ``--version`` do without."""

    def list_commands(self, ctx):
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx, name):
        if name not in COMMAND_MODULES:
            return None
        return importlib.import_module(f"stylegan_eval.commands.{name.replace('-', '_')}").command


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="stylegan-eval")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Project configuration [default: ./stylegan-eval.toml or a parent's, or [tool.stylegan-eval] in ./pyproject.toml].",
)
@click.option("--no-config", is_flag=True, help="Ignore any project configuration file.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, no_config: bool) -> None:
    """Evaluate StyleGAN generators: PPL, linear separability, FID/KID."""
    from .config import apply_config

    apply_config(ctx, config_path, no_config)


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the process exit code.

    Under ``torchrun`` (WORLD_SIZE > 1) the process group is joined first; samples are then
    sharded across ranks and only rank 0 writes reports.
    """
    joined = False
    try:
        from .envvars import env_int
        from .log import setup as setup_logging  # one handler, one prefix; starts the run clock

        setup_logging()

        if env_int("WORLD_SIZE", 1, minimum=1) > 1:
            import torch.distributed as _td

            if not (_td.is_available() and _td.is_initialized()):
                from .engine import init_distributed

                joined = init_distributed().world_size > 1
        code = cli.main(args=argv, prog_name="stylegan-eval", standalone_mode=False)
        return code if isinstance(code, int) and not isinstance(code, bool) else 0  # ctx.exit(n) in a command
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:  # usage errors: bad option values, missing arguments
        click.echo(f"stylegan-eval: error: {exc.format_message()}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("stylegan-eval: interrupted", err=True)
        return 130
    except UserError as exc:
        click.echo(f"stylegan-eval: error: {flag_message(exc)}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("stylegan-eval: interrupted", err=True)
        return 130
    except MemoryError:
        click.echo(
            "stylegan-eval: error: out of memory (an input asks for more memory than available; "
            "check the sizes in the input files or lower --batch-size / --num-samples)",
            err=True,
        )
        return 2
    except Exception:
        traceback.print_exc()
        click.echo("stylegan-eval: internal error (the traceback above); please report it", err=True)
        return 1
    finally:
        if joined:
            import torch.distributed as _td

            if _td.is_initialized():
                _td.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
