"""Imports point one way: no cycle and no upward import in the package (layers: tools/import_graph.py LAYERS).

The imports are read with ``ast`` (function-level ones too), so a new upward import fails here
before it can form a cycle at run time. No exceptions are listed.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from tools.import_graph import LAYERS, PACKAGE, cycles, import_graph, layer_of, upward_imports

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def graph():
    return import_graph()


def test_the_package_has_no_import_cycle(graph):
    assert cycles(graph) == []


def test_no_module_imports_a_higher_layer(graph):
    for module in graph:  # every module is placed in a layer
        layer_of(module)
    assert [f"{m}:{line} -> {t}" for m, t, line in upward_imports(graph)] == []


def test_library_code_never_imports_the_cli_or_the_commands(graph):
    front = (f"{PACKAGE}.cli", f"{PACKAGE}.commands", f"{PACKAGE}.__main__")
    library = [m for m in graph if m != PACKAGE and not m.startswith(front)]
    offenders = [(m, t) for m in library for t in graph[m] if t.startswith(front)]
    assert library and offenders == []


def _write(root: Path, name: str, text: str) -> None:
    path = root / PACKAGE / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_checker_finds_cycles_upward_and_function_level_imports(tmp_path):
    _write(tmp_path, "__init__.py", "")
    _write(tmp_path, "errors.py", "def f():\n    from .cli import main\n")  # upward, inside a function
    _write(tmp_path, "cli.py", "from .errors import f\n")
    _write(tmp_path, "formats/__init__.py", "from .checks import check_file\n")
    _write(tmp_path, "formats/checks.py", "def g():\n    from . import RawCheckpoint\n")  # back to its __init__
    _write(tmp_path, "formats/official.py", "from . import checks\n")  # a submodule, not the __init__
    graph = import_graph(tmp_path)
    assert graph[f"{PACKAGE}.formats.official"] == {f"{PACKAGE}.formats.checks": 1}
    assert cycles(graph) == [
        [f"{PACKAGE}.cli", f"{PACKAGE}.errors"],
        [f"{PACKAGE}.formats", f"{PACKAGE}.formats.checks"],
    ]
    assert upward_imports(graph) == [(f"{PACKAGE}.errors", f"{PACKAGE}.cli", 2)]


def test_the_readme_architecture_names_every_layer():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Architecture") :]
    section = section[: section.index("\n## ", 1)]
    for keys in LAYERS:
        for key in keys:
            assert re.search(rf"`{re.escape(key)}[`/.]", section), key


def test_every_format_module_provides_what_the_protocol_states():
    import importlib

    from stylegan_eval.formats import FORMAT_MODULES, FormatModule

    for name, module_name in FORMAT_MODULES.items():
        module = importlib.import_module(module_name)
        assert module.NAME == name
        for attr in ("detect", "load"):
            params = list(inspect.signature(getattr(module, attr)).parameters.values())
            expected = list(inspect.signature(getattr(FormatModule, attr)).parameters)[1]  # after self
            assert params[0].name == expected == "raw", (name, attr)


def test_no_test_module_imports_another():
    """Shared test code lives in helper modules (``*_utils.py``) and conftest.py fixtures."""
    import ast

    offenders = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [f"{path.name}:{node.lineno} {n}" for n in names if n.split(".")[0].startswith("test_")]
    assert offenders == []
