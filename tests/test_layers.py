"""The package's layers, read from its import graph (imports inside functions included).

Layers import downward only: the pure core (`parse`, `transform`) and the leaf modules import nothing of
the wiring; `source` and `storage` stand on those alone; the demo and benchmark harness (`demo`, `runs`,
`simulator.history`) is imported by no production module; and no two sub-packages import each other,
directly or round a longer loop.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit  # reads source files as text: no import of the package, no I/O beyond that

PACKAGE = Path(__file__).resolve().parents[1] / "nhl_assets"
#: The harness: code for the demo, the tests and the benchmarks, never for production.
HARNESS = ("nhl_assets.demo", "nhl_assets.runs", "nhl_assets.simulator.history")
#: What each lower layer may import of the package (besides itself).
ALLOWED = {
    "rules": set(),
    "catalog": set(),
    "parse": {"catalog", "rules"},
    "transform": {"catalog", "parse"},
    "settings": set(),
    "cliargs": set(),
    "versions": set(),
    "specs": {"catalog"},
    "dates": {"settings"},
    "partitions": {"settings"},
    "source": {"rules", "settings"},
    "storage": {"catalog", "dates", "settings"},
    "engine": {"dates", "settings", "storage"},
}
#: Layers that never import Dagster, at module level or inside a function: silver's spawned parse workers
#: import `silver.build`, and everything it reaches must start without Dagster's 0.6 s import.
NO_DAGSTER = ("rules", "catalog", "parse", "transform", "settings", "dates", "source", "storage")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    """(imported module of the package, line) for every import in `path`, at any depth."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((a.name, node.lineno) for a in node.names if a.name.startswith("nhl_assets"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            if base == "nhl_assets":  # `from nhl_assets import settings`: the names are modules
                yield from ((f"nhl_assets.{a.name}", node.lineno) for a in node.names)
            elif base.startswith("nhl_assets."):
                yield base, node.lineno


def _unit(module: str) -> str:
    """The sub-package or top-level module a module belongs to (`nhl_assets.silver.build` -> `silver`)."""
    return module.split(".")[1]


def _graph() -> dict[str, dict[str, list[str]]]:
    """unit -> imported unit -> where (`file:line`)."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        source = _unit(_module_name(path)) if _module_name(path) != "nhl_assets" else None
        if source is None:
            continue
        for target, line in _imports(path):
            if _unit(target) != source:
                graph.setdefault(source, {}).setdefault(_unit(target), []).append(
                    f"{path.relative_to(PACKAGE.parent)}:{line}")
    return graph


def _cycles(graph: dict[str, dict[str, list[str]]]) -> list[set[str]]:
    """Strongly connected components of more than one unit (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_is_read_with_imports_inside_functions():
    graph = _graph()
    # `ops.backfill` imports the Definitions inside a function only: it must be seen
    assert any("nhl_assets/ops/backfill.py" in w for w in graph["ops"]["definitions"])
    assert _cycles({"a": {"b": []}, "b": {"c": []}, "c": {"a": []}, "d": {"a": []}}) == [{"a", "b", "c"}]


@pytest.mark.parametrize("unit", sorted(ALLOWED))
def test_lower_layers_import_only_what_is_below_them(unit):
    imported = _graph().get(unit, {})
    assert {u: w for u, w in imported.items() if u not in ALLOWED[unit]} == {}


def _imports_dagster(path: Path) -> list[int]:
    """Lines importing `dagster` or a `dagster_…` package anywhere in `path`."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
        lines += [node.lineno for n in names if n == "dagster" or n.startswith(("dagster.", "dagster_"))]
    return lines


def test_the_parse_workers_chain_never_imports_dagster():
    """Every module `silver.build` reaches (its parse workers' imports) is free of Dagster and of the
    fetching code, and the layers below Dagster stay free of Dagster."""
    assert set(NO_DAGSTER) <= set(ALLOWED)
    reached, todo = set(), ["nhl_assets.silver.build", "nhl_assets.silver.inputs"]
    offending = []
    while todo:
        module = todo.pop()
        if module in reached:
            continue
        reached.add(module)
        path = PACKAGE.parent / (module.replace(".", "/") + ".py")
        if not path.exists():
            path = PACKAGE.parent / module.replace(".", "/") / "__init__.py"
        offending += [f"{path.relative_to(PACKAGE.parent)}:{line}" for line in _imports_dagster(path)]
        todo += [target for target, _line in _imports(path)]
    for path in sorted(PACKAGE.rglob("*.py")):
        if _module_name(path) != "nhl_assets" and _unit(_module_name(path)) in NO_DAGSTER:
            offending += [f"{path.relative_to(PACKAGE.parent)}:{line}" for line in _imports_dagster(path)]
    assert "nhl_assets.storage.delta" in reached and "nhl_assets.dates" in reached
    assert sorted(set(offending)) == []
    # nor the fetching side: `bronze.tables` and `source` bring the HTTP client (0.1 s of each worker's start)
    assert sorted(m for m in reached if m.startswith(("nhl_assets.source", "nhl_assets.bronze"))) == []


def test_no_production_module_imports_the_harness():
    offending = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        if module in HARNESS or module == "nhl_assets.cli":  # the command line may start the demo
            continue
        offending += [f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"
                      for target, line in _imports(path) if target in HARNESS]
    assert offending == []


def _local_imports(path: Path) -> Iterator[int]:
    """Lines of the package's imports that stand inside a function."""
    tree = ast.parse(path.read_text())
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("nhl_assets") or \
                        isinstance(node, ast.Import) and any(a.name.startswith("nhl_assets") for a in node.names):
                    yield node.lineno


def _says_why(lines: list[str], lineno: int) -> bool:
    """The import's line, or the comment above its block of imports, says why it is deferred."""
    if "# deferred" in lines[lineno - 1] or "# pyspark" in lines[lineno - 1]:
        return True
    i = lineno - 2
    while i >= 0 and lines[i].strip().startswith(("from ", "import ")) or i >= 0 and not lines[i].strip():
        i -= 1
    return i >= 0 and lines[i].strip().startswith(("# deferred", "# pyspark"))


def test_imports_inside_functions_say_why_they_are_deferred():
    unexplained = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text().splitlines()
        unexplained += [f"{path.relative_to(PACKAGE.parent)}:{n}" for n in _local_imports(path)
                        if not _says_why(lines, n)]
    assert unexplained == []


def test_no_cycle_between_sub_packages():
    graph = _graph()
    cycles = _cycles(graph)
    where = {f"{a} -> {b}": graph[a][b][:3] for c in cycles for a in c for b in graph.get(a, {}) if b in c}
    assert cycles == [], f"import cycles: {cycles}; through {where}"
