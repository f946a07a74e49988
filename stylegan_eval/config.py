"""Project configuration: defaults for every command from a TOML file.

Where it is found (the first that exists wins):

1. ``--config PATH`` (a ``stylegan-eval.toml``-style file, or a ``pyproject.toml`` whose
   ``[tool.stylegan-eval]`` table is used);
2. ``stylegan-eval.toml`` in the current directory;
3. ``[tool.stylegan-eval]`` in ``./pyproject.toml``;
4. ``stylegan-eval.toml`` (or a ``pyproject.toml`` with the table) in a parent directory,
   nearest first, up to the project root.

``--no-config`` ignores all of them.

Trust model (a configuration can name code: ``generator = "module:attr"`` is imported and
called, detector weights may be TorchScript):

- discovery stops at the project root: the nearest directory (the current one included) that
  holds ``.git`` or ``pyproject.toml``, else the user's home directory, else the filesystem root;
- a discovered file that is not owned by the current user, or is writable by others
  (``o+w``), is ignored with a one-line warning on stderr;
- keys that load code or executable files -- ``generator``, module specs among compare's
  ``checkpoints``, ``inception-weights``, ``lpips-weights``, ``trust-weights`` -- are honoured only
  from an explicit ``--config`` or a file in the current directory. A file found in a parent
  directory has them dropped with a one-line warning, whatever marks that parent (``.git``,
  ``pyproject.toml``): anyone who can write a parent folder (an unpacked archive, a shared
  scratch space) can drop those markers, so they bound the search but never grant trust;
- every configuration that applies is named on stderr (``stylegan-eval: config: PATH (sets:
  ...)``) and recorded in the report's ``meta.config``.

What it holds::

    ckpt = "checkpoints/network-final.pt"   # CKPT of every single-checkpoint command
    data = "data/ffhq256"                    # --data (fid, stats, compare)
    device = "cuda"
    seed = 0
    batch-size = 32
    log = "metrics.jsonl"                    # every result also appended here as a JSON line
    metrics = ["ppl_wend", "fid", "ls"]      # compare --metrics
    fail-if = ["fid > 5", "ppl_wend regresses by 5%"]

    [compare]
    checkpoints = ["baseline.pt", "candidate.pt"]
    out = "report"

    [separability]
    attr = ["smiling"]

A top-level key is an option name of any command (without the dashes; ``-`` or ``_``) and
applies to every command that has that option (``out`` only to commands writing a report
folder); a ``[command]`` table applies to that command only and wins over the top level.
The command line wins over both. Relative paths are relative to the file's folder. A key
that no command knows, or a table that is not a command, is an error (exit 2) naming it.

The values become click's ``default_map`` (built in the ``stylegan-eval`` group callback), so
click converts and validates them like command-line values, and ``--help`` shows them as
the defaults.
"""

from __future__ import annotations

import datetime as _dt
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from .errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_NAME = "stylegan-eval.toml"
#: Start of the stderr line naming the configuration a run uses.
CONFIG_NOTE = "stylegan-eval: config:"
PYPROJECT_TABLE = "stylegan-eval"  # [tool.stylegan-eval]


@dataclass
class ProjectConfig:
    """A loaded configuration.

    Attributes:
        path: the file it came from (None: no configuration).
        values: top-level keys (apply to every command with that option).
        sections: {command name: {key: value}}.
    """

    path: Path | None = None
    values: dict[str, Any] = field(default_factory=dict)
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: May the file name code (generator specs, TorchScript weights)? True for ``--config`` and
    #: for a file in the current directory only.
    code_allowed: bool = True

    @property
    def where(self) -> str:
        return str(self.path) if self.path is not None else "<no config>"

    def keys(self) -> list[str]:
        """The settings the file holds: ``key`` (top level) and ``command.key`` (a table's)."""
        return [*self.values, *(f"{c}.{k}" for c, table in self.sections.items() for k in table)]

    def describe(self) -> dict[str, Any] | None:
        """What a report records about the configuration (None: no file applied)."""
        if self.path is None:
            return None
        return {"path": str(self.path), "sets": self.keys(), "code_allowed": self.code_allowed}


#: Parameters (click names) whose values load code or executable files.
CODE_PARAMS = ("generator_spec", "inception_weights", "lpips_weights", "trust_weights")


def is_project_root(folder: Path) -> bool:
    """Whether ``folder`` ends the search for a configuration (it never makes a file trusted)."""
    return (folder / ".git").exists() or (folder / "pyproject.toml").is_file()


def discover(start: str | Path | None = None) -> tuple[Path | None, bool]:
    """(the configuration file that applies in ``start``, whether it may name code).

    Searches ``start`` (default: the current directory) and its parents up to the project root
    (see the module docstring), the home directory or ``/``, whichever comes first. Only a file
    in ``start`` itself may name code: a parent's markers are not evidence of who wrote it.
    """
    here = Path(start or Path.cwd()).resolve()
    try:
        home: Path | None = Path.home().resolve()
    except (RuntimeError, KeyError):
        home = None
    chain = [here, *here.parents]
    root = next((d for d in chain if is_project_root(d)), None)
    for d in chain:
        if (d / CONFIG_NAME).is_file():
            return d / CONFIG_NAME, d == here
        pyproject = d / "pyproject.toml"
        if pyproject.is_file():
            try:
                table = PYPROJECT_TABLE in _read_toml(pyproject).get("tool", {})
            except UserError:
                table = d == here  # a broken ./pyproject.toml is reported; a parent's is not ours to judge
            if table:
                return pyproject, d == here
        if d == root or d == home:
            break
    return None, False


def find_config(start: str | Path | None = None) -> Path | None:
    """The configuration file that applies in ``start`` (default: the current directory), or None."""
    return discover(start)[0]


def untrusted_reason(path: Path) -> str | None:
    """Why a discovered file must be ignored (other owner, writable by others), or None."""
    try:
        st = path.stat()
    except OSError as exc:
        return f"cannot stat it ({exc.strerror or exc})"
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return f"owned by uid {st.st_uid}, not by you (uid {os.getuid()})"
    if st.st_mode & 0o002:
        return "writable by other users (chmod o-w to use it)"
    return None


def warn(message: str) -> None:
    click.echo(f"stylegan-eval: warning: {message}", err=True)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as exc:
        raise UserError(f"{path}: cannot read the configuration ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise UserError(f"{path}: not valid TOML (not UTF-8 text: {exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise UserError(f"{path}: not a usable configuration (arrays or tables nested too deeply)") from None


def load_config(path: str | Path | None = None, *, search: bool = True) -> ProjectConfig:
    """Read the configuration.

    Args:
        path: an explicit file (``--config``); must exist.
        search: without ``path``, look for one with :func:`find_config`.

    Returns:
        The configuration; an empty one when none applies.
    """
    code_allowed = True
    if path is None:
        path, code_allowed = discover() if search else (None, False)
        if path is None:
            return ProjectConfig()
        reason = untrusted_reason(path)
        if reason is not None:
            warn(f"ignoring the configuration {path}: {reason}")
            return ProjectConfig()
    p = Path(path)
    if not p.is_file():
        raise UserError(f"--config {p}: no such file")
    data = _read_toml(p)
    if p.name == "pyproject.toml":
        data = data.get("tool", {}).get(PYPROJECT_TABLE)
        if data is None:
            raise UserError(f"{p}: has no [tool.{PYPROJECT_TABLE}] table")
    values = {k: v for k, v in data.items() if not isinstance(v, dict)}
    sections = {k: v for k, v in data.items() if isinstance(v, dict)}
    return ProjectConfig(p.resolve(), values, sections, code_allowed)


# ------------------------------------------------------------------------------ default_map
def _key(name: str) -> str:
    return str(name).strip().lower().replace("_", "-")


def param_for(command: click.Command, key: str) -> click.Parameter | None:
    """The parameter of ``command`` that config key ``key`` names (option name without dashes, or argument name)."""
    k = _key(key)
    for p in command.params:
        names = {_key(p.name or "")}
        names |= {o.lstrip("-") for o in list(p.opts) + list(getattr(p, "secondary_opts", [])) if o.startswith("--")}
        if k in names:
            return p
    return None


def _is_file_out(p: click.Parameter) -> bool:
    return isinstance(p.type, click.Path) and not p.type.dir_okay


def _code_free(p: click.Parameter, value: Any, where: str, notes: dict[str, None]) -> tuple[bool, Any]:
    """(keep?, value) for a file that may not name code: code-loading keys dropped, a warning noted in ``notes``."""
    if p.name in CODE_PARAMS:
        notes.setdefault(
            f"{where}: ignored (names code or executable weights; only --config or a file in "
            "the current directory may set it)"
        )
        return False, None
    looks_like_path = getattr(p.type, "looks_like_path", None)
    if looks_like_path is not None:  # compare's CHECKPOINTS: "module:attr" entries are generator code
        items = value if isinstance(value, list) else [value]
        kept = [v for v in items if not isinstance(v, str) or looks_like_path(v)]
        if len(kept) != len(items):
            notes.setdefault(
                f"{where}: module:attr entries ignored (they name code; only --config or a file in "
                "the current directory may set them)"
            )
        if not kept:
            return False, None
        return True, kept if isinstance(value, list) else kept[0]
    return True, value


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (_dt.date, _dt.time)):
        return "a date or time"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return {int: "an integer", float: "a number", str: "a string"}.get(type(value), type(value).__name__)


def _check_type(p: click.Parameter, value: Any, where: str) -> None:
    """TOML value types that ``p`` takes: integers for integer options (not ``inf``, ``4.5`` or a
    date), numbers for float options, booleans for flags, strings for paths and names."""
    items = value if isinstance(value, list) else [value]
    t = p.type
    ok: tuple[type, ...]
    if getattr(p, "is_flag", False) or isinstance(t, click.types.BoolParamType):
        expected, ok = "true or false", (bool,)
    elif isinstance(t, click.types.IntParamType):
        expected, ok = "an integer", (int,)
    elif isinstance(t, click.types.FloatParamType):
        expected, ok = "a number", (int, float)
    elif isinstance(t, (click.Path, click.Choice, click.types.StringParamType)):
        expected, ok = "a string", (str,)
    else:
        expected, ok = "a string or a number", (str, int, float)
    for v in items:
        if not isinstance(v, ok) or (isinstance(v, bool) and bool not in ok) or isinstance(v, (list, dict)):
            raise UserError(f"{where}: expected {expected}, got {_type_name(v)} ({str(v)[:40]})")


def _convert(p: click.Parameter, value: Any, base: Path, where: str) -> Any:
    """Config value -> default_map value: lists for multi-value parameters, relative paths made absolute."""
    _check_type(p, value, where)
    many = getattr(p, "multiple", False) or p.nargs == -1
    if many and not isinstance(value, list):
        value = [value]
    if not many and isinstance(value, list) and p.nargs == 1:
        raise UserError(f"{where}: expected one value, got a list")
    relative = isinstance(p.type, click.Path) or getattr(p.type, "paths_relative_to_config", False)

    def fix(v: Any) -> Any:
        if not relative or not isinstance(v, str) or not v:
            return v
        if getattr(p.type, "paths_relative_to_config", False) and not getattr(p.type, "looks_like_path")(v):
            return v
        if getattr(p.type, "is_name", lambda _v: False)(v):  # demo, nvidia:<name>
            return v
        q = Path(v).expanduser()
        return str(q if q.is_absolute() else base / q)

    value = [fix(v) for v in value] if isinstance(value, list) else fix(value)
    if not getattr(p.type, "paths_relative_to_config", False):  # those check existence: left to the command
        try:
            p.type_cast_value(click.Context(click.Command("config")), value)
        except click.BadParameter as exc:
            raise UserError(f"{where}: {exc.message}") from None
        except (TypeError, ValueError, OverflowError) as exc:
            raise UserError(f"{where}: not a usable value ({exc})") from None
    return value


def _check_metrics(p: click.Parameter, value: Any, where: str) -> None:
    """``metrics = [...]``: every name must be a registry name (case-insensitive; comma lists allowed)."""
    if p.name != "metrics":
        return
    from .metrics import registry

    items = value if isinstance(value, list) else [value]
    known = registry.names()
    for item in items:
        for name in str(item).split(","):
            if name.strip() and name.strip().lower() not in known:
                raise UserError(f"{where}: unknown metric {name.strip()!r} (choose from {', '.join(known)})")


def _check_keys(config: ProjectConfig, commands: dict[str, click.Command]) -> None:
    """UserError for a table that names no command or a top-level key that no command has."""
    for name in config.sections:
        if name not in commands:
            raise UserError(f"{config.where}: unknown table [{name}] (commands: {', '.join(sorted(commands))})")
    for key in config.values:
        if not any(param_for(cmd, key) is not None for cmd in commands.values()):
            raise UserError(f"{config.where}: unknown key {key!r} (no command has an option --{_key(key)})")


def _default_of(
    p: click.Parameter, value: Any, where: str, config: ProjectConfig, base: Path, notes: dict[str, None]
) -> tuple[bool, Any]:
    """(keep, click default) of one configured ``value`` of option ``p``; ``where`` names it in errors."""
    if not config.code_allowed:
        keep, value = _code_free(p, value, where, notes)
        if not keep:
            return False, None
    _check_metrics(p, value, where)
    return True, _convert(p, value, base, where)


def build_default_map(config: ProjectConfig, group: click.Group) -> dict[str, dict[str, Any]]:
    """click ``default_map`` for ``group``'s subcommands from ``config``; unknown keys raise UserError."""
    if config.path is None:
        return {}
    base = config.path.parent
    # Every command is needed to validate the keys, so a configuration loads all command
    # modules (torch included), even for a `stats` run that the cache answers.
    ctx = click.Context(group)
    found = {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}
    commands = {name: cmd for name, cmd in found.items() if cmd is not None}
    _check_keys(config, commands)
    out: dict[str, dict[str, Any]] = {}
    notes: dict[str, None] = {}  # warnings, each printed once
    for cname, cmd in commands.items():
        entries: dict[str, Any] = {}
        for key, value in config.values.items():
            p = param_for(cmd, key)
            if p is None or (_key(key) == "out" and _is_file_out(p)):
                continue
            keep, default = _default_of(p, value, f"{config.where}: {key}", config, base, notes)
            if keep:
                entries[p.name] = default
        for key, value in config.sections.get(cname, {}).items():
            p = param_for(cmd, key)
            if p is None:
                raise UserError(f"{config.where}: unknown key {key!r} in [{cname}] (not an option of {cname})")
            keep, default = _default_of(p, value, f"{config.where}: [{cname}] {key}", config, base, notes)
            if keep:
                entries[p.name] = default
        if entries:
            out[cname] = entries
    for note in notes:
        warn(note)
    return out


def apply_config(ctx: click.Context, path: str | Path | None = None, disabled: bool = False) -> ProjectConfig:
    """Load the configuration and install it as ``ctx.default_map`` (call from the group callback)."""
    config = ProjectConfig() if disabled else load_config(path)
    assert isinstance(ctx.command, click.Group)
    defaults = build_default_map(config, ctx.command)
    if defaults:
        ctx.default_map = {**(ctx.default_map or {}), **defaults}
    if config.path is not None:  # settings that did not come from the command line: always said
        click.echo(
            f"{CONFIG_NOTE} {config.path} (sets: {', '.join(config.keys()) or 'nothing'})",
            err=True,
        )
    ctx.meta["stylegan_eval.config"] = config
    return config


def current_config() -> ProjectConfig:
    """The configuration of the running command (empty outside the CLI)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return ProjectConfig()
    return ctx.meta.get("stylegan_eval.config", ProjectConfig())
