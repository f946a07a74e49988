"""The ``stylegan-eval`` command line.

Conventions shared by every subcommand (see :func:`stylegan_eval.commands.options.common_options`):
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

import importlib
import re
import sys
import traceback
from pathlib import Path

import click

from .errors import UserError
from .lazy_help import LazyHelpGroup
from .log import printable

COMMAND_MODULES = [
    "info",
    "generate",
    "mix",
    "truncation",
    "variation",
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


OUT_OF_MEMORY = (
    "out of memory (an input asks for more memory than available; "
    "check the sizes in the input files or lower --batch-size / --num-samples)"
)


def is_allocation_failure(exc: BaseException) -> bool:
    """Whether ``exc`` is Python's MemoryError or torch's (CPU or CUDA) allocator refusing an
    allocation: an input too large for this machine, not a bug."""
    text = str(exc)
    return isinstance(exc, MemoryError) or (
        isinstance(exc, RuntimeError)
        and (
            "can't allocate memory" in text
            or "bad_alloc" in text
            or "not enough memory" in text
            or "out of memory" in text.lower()
            or type(exc).__name__ == "OutOfMemoryError"
        )
    )


def _unexpected(exc: BaseException) -> int:
    """Exit code and message of an exception that is not a UserError: 2 with one line when memory
    ran out, else 1 with the traceback (an internal error)."""
    if is_allocation_failure(exc):
        detail = f" ({str(exc).splitlines()[0][:160]})" if str(exc).strip() and not isinstance(exc, MemoryError) else ""
        click.echo(f"stylegan-eval: error: {OUT_OF_MEMORY}{detail}", err=True)
        return 2
    traceback.print_exc()
    click.echo("stylegan-eval: internal error (the traceback above); please report it", err=True)
    return 1


def _interrupted() -> str:
    from .commands.options import interrupted_message

    return interrupted_message()


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the process exit code.

    Under ``torchrun`` (WORLD_SIZE > 1) the process group is joined first; samples are then
    sharded across ranks and only rank 0 writes reports.
    """
    joined = False
    from .commands.options import _RESUMABLE

    _RESUMABLE.clear()  # an in-process second run starts without the first one's partial results
    try:
        from .checks import check_distributed_env, check_environment
        from .log import route_warnings
        from .log import setup as setup_logging  # one handler, one prefix; starts the run clock

        setup_logging()
        route_warnings()
        check_environment()
        if check_distributed_env() > 1:
            import torch.distributed as _td

            if not (_td.is_available() and _td.is_initialized()):
                from .engine import init_distributed

                joined = init_distributed().world_size > 1
        code = cli.main(args=argv, prog_name="stylegan-eval", standalone_mode=False)
        return code if isinstance(code, int) and not isinstance(code, bool) else 0  # ctx.exit(n) in a command
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:  # usage errors: bad option values, missing arguments
        click.echo(f"stylegan-eval: error: {printable(exc.format_message())}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo(_interrupted(), err=True)
        return 130
    except UserError as exc:  # names and metadata from files: escaped, and one line
        click.echo(f"stylegan-eval: error: {printable(flag_message(exc))}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo(_interrupted(), err=True)
        return 130
    except Exception as exc:  # noqa: BLE001 - out of memory (exit 2) or an internal error (exit 1)
        return _unexpected(exc)
    finally:
        if joined:
            import torch.distributed as _td

            if _td.is_initialized():
                _td.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
