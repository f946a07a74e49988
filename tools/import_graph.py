"""The package's import graph, read with ``ast``: cycles and imports that point up the layers.

``python -m tools.import_graph [ROOT]`` prints the counts and every offending edge of the
checkout at ROOT (default: this one);
``tests/test_architecture.py`` fails on any of them.

Every ``import``/``from ... import`` statement counts, at module level or inside a function
(a function-level import is still a dependency, only a later one). A node is one file;
``from pkg import name`` is an edge to ``pkg/__init__.py`` unless ``name`` is a submodule, so a
module importing back from its own package's ``__init__`` forms a cycle with it.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

PACKAGE = "stylegan_eval"
ROOT = Path(__file__).resolve().parent.parent

#: The layers, lowest first; a module may import its own layer or lower ones, never higher.
#: A key is a module or a package prefix (the longest match wins).
LAYERS: tuple[tuple[str, ...], ...] = (
    # 0: foundations: errors, files, logging, environment, the weights download cache, Hugging
    #    Face Hub references, the counter-based random streams
    #    and the up-front checks of options, paths and environment variables
    (
        "errors",
        "envvars",
        "checks",
        "fileio",
        "log",
        "warnings_capture",
        "lazy_help",
        "runtime",
        "batch_table",
        "weights",
        "hub",
        "sampling",
        "suggest",
    ),
    # 1: the one generator interface, the latent pairs built on it, the demo's assets
    ("generator", "pairs", "demo"),
    # 2: network ports (one per family)
    ("networks",),
    # 3: checkpoint formats -> Generator, checkpoint references, the snapshots of a training run
    ("formats", "runs"),
    # 4: batched collection over the sampling streams, image operations, seed images and grids
    ("engine", "imageops", "grids"),
    # 5: metrics, their registry and the detector weights they name; the figures in one style
    #    that the metrics' report hooks and the reports draw with
    ("metrics", "weights_catalog", "figures"),
    # 6: the evaluation loop over registry entries, the project configuration
    ("compare", "config"),
    # 7: reports, metric-over-training curves, a run's incremental log, experiment loggers
    ("report", "html_report", "jsonlog", "plots", "curves", "tracking", "loggers"),
    # 8: the library API
    ("api", "evaluator"),
    # 9: the commands and the options they share
    ("commands",),
    # 10: the command line that loads them
    ("cli", "__main__"),
)


def module_name(path: Path, root: Path = ROOT) -> str:
    """Dotted module name of a file under root (``pkg/__init__.py`` -> ``pkg``)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    return {module_name(p, root): p for p in sorted((root / PACKAGE).rglob("*.py"))}


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    """Absolute name of the module a ``from`` import names (relative levels resolved)."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """(imported package module, line) for every import statement in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node, is_package)
            if not (target == PACKAGE or target.startswith(PACKAGE + ".")):
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in known:
                    yield sub, node.lineno
                elif target in known:
                    yield target, node.lineno


def import_graph(root: Path = ROOT) -> dict[str, dict[str, int]]:
    """module -> {imported module: first line}; self-imports dropped."""
    modules = package_modules(root)
    known = set(modules)
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        edges: dict[str, int] = {}
        for target, line in imports_of(module, path, known):
            if target != module:
                edges.setdefault(target, line)
        graph[module] = edges
    return graph


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found, key=lambda c: (-len(c), c))


def layer_of(module: str) -> int:
    """Index in LAYERS of the longest key matching the module; KeyError when none does.

    The package's ``__init__`` (the public API, loading its names lazily) sits above every layer.
    """
    if module == PACKAGE:
        return len(LAYERS)
    rel = module[len(PACKAGE) + 1 :]
    best: tuple[int, int] | None = None
    for level, keys in enumerate(LAYERS):
        for key in keys:
            if rel == key or rel.startswith(key + "."):
                if best is None or len(key) > best[0]:
                    best = (len(key), level)
    if best is None:
        raise KeyError(f"{module}: not assigned to a layer in tools/import_graph.py LAYERS")
    return best[1]


def upward_imports(graph: dict[str, dict[str, int]]) -> list[tuple[str, str, int]]:
    """(importer, imported, line) for every import of a higher layer than the importer's."""
    found = []
    for module, edges in sorted(graph.items()):
        for target, line in sorted(edges.items()):
            if layer_of(target) > layer_of(module):
                found.append((module, target, line))
    return found


def main(argv: list[str] | None = None) -> int:
    """``python -m tools.import_graph [ROOT]``: ROOT is a checkout (default: this one)."""
    args = sys.argv[1:] if argv is None else argv
    graph = import_graph(Path(args[0]).resolve() if args else ROOT)
    found_cycles = cycles(graph)
    upward = upward_imports(graph)
    print(f"modules: {len(graph)}, import edges: {sum(len(e) for e in graph.values())}")
    print(f"cycles: {len(found_cycles)}")
    for component in found_cycles:
        print(f"  ({len(component)}) " + " ".join(m.removeprefix(PACKAGE + ".") for m in component))
    print(f"upward imports: {len(upward)}")
    for module, target, line in upward:
        print(f"  {module}:{line} -> {target}")
    return 1 if found_cycles or upward else 0


if __name__ == "__main__":
    raise SystemExit(main())
