"""``stylegan-eval --help`` without importing the subcommands (most of them import torch).

The group's command list shows each command's short help: the first sentence of the docstring
of the module-level function ``command`` in ``stylegan_eval/commands/<name>.py``, read from the
source with :mod:`ast` instead of importing the module.
"""

from __future__ import annotations

import ast
import importlib.util

import click


def short_help(module: str, limit: int = 60) -> str:
    """First line of the docstring of ``command`` in ``module`` (a dotted name), cut to ``limit`` characters."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return ""
    with open(spec.origin, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "command":
            doc = (ast.get_docstring(node) or "").strip().split("\n\n")[0].replace("\n", " ")
            return doc if len(doc) <= limit else doc[: limit - 3].rstrip() + "..."
    return ""


class LazyHelpGroup(click.Group):
    """A group whose help lists commands from their source; subclasses define ``list_commands``
    and load a command in ``get_command`` only when it runs."""

    command_package = "stylegan_eval.commands"

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [
            (name, short_help(f"{self.command_package}.{name.replace('-', '_')}")) for name in self.list_commands(ctx)
        ]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
