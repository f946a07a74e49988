"""The README's commands match the CLI: every ``stylegan-eval ...`` line of a README code block
names an existing subcommand and only options (and choice values) that subcommand has.

Convention: a README command line that ends in ``# runs in tests`` is also executed here,
in-process (the ``cli`` fixture), in one temporary folder shared by all of them in README order
(so ``convert demo demo.safetensors`` can be followed by ``info demo.safetensors``), with
``--allow-random-weights`` added where the command has that option (the tests run offline with
an empty weights cache). Mark only short lines that use ``demo`` (a few seconds each).

Nothing but click introspection is used for the static check: no command runs, so a renamed or
dropped flag fails here without any computation.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
RUN_MARK = "# runs in tests"
PROGRAM = "stylegan-eval"
MODULE_FORM = re.compile(r"(?:^|\s)-m\s+stylegan_eval\s")

SHELL_FENCES = ("", "bash", "sh", "shell", "console")


def _code_blocks(text: str) -> list[tuple[int, list[str]]]:
    """(first line number, lines) of every fenced shell code block (```bash, ```sh or bare ```;
    Python and TOML blocks are not commands)."""
    blocks, current, start, language = [], None, 0, ""
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            if current is None:
                current, start, language = [], number + 1, line.strip()[3:].strip().lower()
            else:
                if language in SHELL_FENCES:
                    blocks.append((start, current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def readme_commands(text: str | None = None) -> list[tuple[int, str, bool]]:
    """(line number, command line, marked to run) for every stylegan-eval call in a code block;
    backslash continuations are joined, leading ``VAR=value`` assignments kept in the line."""
    text = README.read_text(encoding="utf-8") if text is None else text
    found = []
    for start, lines in _code_blocks(text):
        i = 0
        while i < len(lines):
            number, line = start + i, lines[i]
            while line.rstrip().endswith("\\") and i + 1 < len(lines):
                i += 1
                line = line.rstrip()[:-1].rstrip() + " " + lines[i].strip()
            i += 1
            stripped = line.strip()
            if stripped.startswith("#"):
                continue
            if re.search(rf"(?:^|\s){re.escape(PROGRAM)}(?:\s|$)", stripped) or MODULE_FORM.search(stripped):
                found.append((number, stripped, stripped.endswith(RUN_MARK)))
    return found


def argv_of(line: str) -> list[str]:
    """The arguments after ``stylegan-eval`` (or ``-m stylegan_eval``), comments dropped."""
    tokens = shlex.split(line, comments=True)
    for k, token in enumerate(tokens):
        if token == PROGRAM:
            return tokens[k + 1 :]
        if token == "stylegan_eval" and k > 0 and tokens[k - 1] == "-m":
            return tokens[k + 1 :]
    raise ValueError(f"no {PROGRAM} call in {line!r}")


def _options(command: click.Command) -> dict[str, click.Parameter]:
    opts = {}
    for param in command.params:
        if isinstance(param, click.Option):
            for name in [*param.opts, *param.secondary_opts]:
                opts[name] = param
    opts["--help"] = opts["-h"] = None  # type: ignore[assignment]
    return opts


def _check_options(name: str, command: click.Command, args: list[str], problems: list[str]) -> None:
    options = _options(command)
    k = 0
    while k < len(args):
        token = args[k]
        k += 1
        if not token.startswith("--"):
            continue
        flag, _, inline = token.partition("=")
        if flag not in options:
            problems.append(f"{name}: no option {flag}")
            continue
        param = options[flag]
        if param is None or param.is_flag or flag in getattr(param, "secondary_opts", []):
            continue
        value = inline if inline else (args[k] if k < len(args) else None)
        if not inline:
            k += 1
        if value is not None and isinstance(param.type, click.Choice):
            choices = {str(c).lower() for c in param.type.choices}
            if value.lower() not in choices:
                problems.append(f"{name}: {flag} has no choice {value!r}")


def check_command(argv: list[str]) -> list[str]:
    """Problems of one README command (empty when the CLI accepts its vocabulary)."""
    from stylegan_eval.cli import cli

    problems: list[str] = []
    group: click.Command = cli
    path: list[str] = []
    args = list(argv)
    ctx = click.Context(cli)
    while isinstance(group, click.Group):
        # options of the group itself (``stylegan-eval --config ci.toml compare``)
        head = []
        while args and args[0].startswith("-"):
            head.append(args.pop(0))
            opt = _options(group).get(head[-1].partition("=")[0])
            if opt is not None and not opt.is_flag and "=" not in head[-1] and args:
                head.append(args.pop(0))
        _check_options(" ".join(path) or PROGRAM, group, head, problems)
        if not args:
            return problems
        name = args.pop(0)
        sub = group.get_command(ctx, name)
        path.append(name)
        if sub is None:
            problems.append(f"{' '.join(path)}: no such command")
            return problems
        group = sub
    _check_options(" ".join(path), group, args, problems)
    return problems


COMMANDS = readme_commands()


def test_readme_has_commands():
    assert len(COMMANDS) >= 30, COMMANDS
    assert sum(run for *_, run in COMMANDS) >= 8


def test_checker_catches_drift():
    """The checker itself can fail: a made-up option, choice value and command are reported."""
    assert check_command(["ppl", "demo", "--space", "w"]) == []
    assert check_command(["ppl", "demo", "--no-such-option", "1"]) == ["ppl: no option --no-such-option"]
    assert check_command(["ppl", "demo", "--space", "q"]) == ["ppl: --space has no choice 'q'"]
    assert check_command(["no-such-command", "demo"]) == ["no-such-command: no such command"]
    assert check_command(["weights", "list", "--json"]) == []
    assert check_command(["weights", "list", "--all"]) == ["weights list: no option --all"]
    assert check_command(["--config", "ci.toml", "compare", "a.pt", "--repeats", "3"]) == []
    text = "```bash\nFOO=1 stylegan-eval info demo \\\n    --json   # runs in tests\n# stylegan-eval x\n```\n"
    text += "```python\nG = load('stylegan-eval --x')\n```\n"
    assert readme_commands(text) == [(2, "FOO=1 stylegan-eval info demo --json   # runs in tests", True)]


def test_adapter_example_verbatim():
    """The README shows the tested adapter example as it is."""
    example = (README.parent / "tests" / "adapter_example.py").read_text(encoding="utf-8")
    assert "```python\n" + example + "```" in README.read_text(encoding="utf-8")


@pytest.mark.parametrize("number,line", [(n, line) for n, line, _ in COMMANDS], ids=[f"L{n}" for n, *_ in COMMANDS])
def test_readme_command_vocabulary(number, line):
    problems = check_command(argv_of(line))
    assert not problems, f"README.md line {number}: {line}\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def shared_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("readme_runs")


RUNS = [(n, line) for n, line, run in COMMANDS if run]


@pytest.mark.parametrize("number,line", RUNS, ids=[f"L{n}" for n, _ in RUNS])
def test_readme_command_runs(number, line, cli, shared_dir, monkeypatch):
    argv = argv_of(line)
    from stylegan_eval.cli import cli as group

    command: click.Command = group
    for token in argv:
        if not isinstance(command, click.Group):
            break
        command = command.get_command(click.Context(group), token) or command
    if "--allow-random-weights" in _options(command) and "--allow-random-weights" not in argv:
        argv.append("--allow-random-weights")
    monkeypatch.chdir(shared_dir)
    code, out, err = cli(*argv)
    assert code == 0, f"README.md line {number}: {line}\nexit {code}\n{err[-2000:]}"
