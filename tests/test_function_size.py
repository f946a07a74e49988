"""Functions fit on a screen: none in the package is longer than 80 lines (``def`` to last line).

Read with ``ast`` from the source, so a new long function fails here. ``stylegan_eval/networks/``
is exempt: its modules are ports of the reference networks (NVIDIA's, rosinality's) and keep their
structure layer for layer, so that each can be checked against the original side by side; splitting
a constructor there would make that comparison harder, not easier. Complexity is ruff's C901
(max-complexity 15, pyproject.toml).

:data:`KNOWN` lists the functions still over the limit. It may only shrink: the test also fails
when a listed function is no longer over the limit or no longer exists, so that its entry is
deleted together with the change that splits it.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "stylegan_eval"
#: Folders (relative to the package) whose functions are not measured, with the reason above.
EXEMPT = ("networks",)
MAX_LINES = 80

#: "path relative to the package::qualified name" of the functions over the limit.
KNOWN: set[str] = set()


def _functions(tree: ast.AST, prefix: str = ""):
    """(qualified name, number of lines) of every function and method, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = f"{prefix}{node.name}"
            yield name, node.end_lineno - node.lineno + 1
            yield from _functions(node, f"{name}.<locals>.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def function_lengths() -> dict[str, int]:
    """Lines of every function of the package outside :data:`EXEMPT` (symlinked folders not followed)."""
    out = {}
    for folder, dirs, files in os.walk(PACKAGE):
        rel_folder = Path(folder).relative_to(PACKAGE)
        dirs[:] = sorted(d for d in dirs if (rel_folder / d).as_posix() not in EXEMPT and d != "__pycache__")
        for name in sorted(f for f in files if f.endswith(".py")):
            rel = (rel_folder / name).as_posix()
            tree = ast.parse((PACKAGE / rel).read_text(encoding="utf-8"), filename=rel)
            out.update({f"{rel}::{qual}": n for qual, n in _functions(tree)})
    return out


@pytest.fixture(scope="module")
def lengths() -> dict[str, int]:
    return function_lengths()


def test_no_function_is_longer_than_80_lines(lengths):
    too_long = {f"{key} ({n} lines)" for key, n in lengths.items() if n > MAX_LINES and key not in KNOWN}
    assert not too_long, f"split these functions (at most {MAX_LINES} lines each): {sorted(too_long)}"


def test_the_known_list_only_shrinks(lengths):
    stale = sorted(key for key in KNOWN if lengths.get(key, 0) <= MAX_LINES)
    assert not stale, f"no longer over {MAX_LINES} lines (or gone): delete from KNOWN: {stale}"


def test_the_walk_sees_the_package_and_leaves_out_the_network_ports(lengths):
    assert "engine.py::collect" in lengths and "formats/nvidia_pickle.py::read_config" in lengths
    assert "formats/stylegan2_tf.py::_Converter.mapping" in lengths
    assert not any(key.startswith("networks/") for key in lengths)
    tree = ast.parse("def f():\n    def g():\n        pass\n\n\nclass C:\n    async def m(self):\n        x = 1\n")
    assert dict(_functions(tree)) == {"f": 3, "f.<locals>.g": 2, "C.m": 2}
