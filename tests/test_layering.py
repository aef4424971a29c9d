"""The house stays one-way: the packages' imports, read from the code with ast, follow the layering.

Rooms and the one direction of their imports (docs/architecture.md):

    app -> core -> engines          training -> core, engines

so engines imports none of core, app or training; core imports neither app nor training; training does
not import app. No two files may import each other, directly or around a longer loop (a strongly
connected component of more than one module), and no module in these packages is over MAX_LINES lines.
Every import counts: at module level, inside functions and under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "core", "engines", "training")
MAX_LINES = 400
# which of PACKAGES each package may import (besides itself)
ALLOWED = {"engines": set(), "core": {"engines"}, "training": {"core", "engines"},
           "app": {"core", "engines"}}


def module_name(path: Path, root: Path = ROOT) -> str:
    """``core/sources/replay.py`` -> ``core.sources.replay``; a package's ``__init__.py`` -> the package."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_names(source: str, module: str, is_package: bool = False) -> set[str]:
    """Every module name ``source`` imports anywhere (functions and TYPE_CHECKING blocks included).

    Relative imports are resolved against ``module``; ``from a import b`` yields both ``a`` and ``a.b``
    (``b`` may be a submodule; names that are not modules are dropped later, against the known modules).
    """
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                base = base[:len(base) - (node.level - 1)] if node.level > 1 else base
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            if prefix:
                names.add(prefix)
            names.update(f"{prefix}.{alias.name}" if prefix else alias.name for alias in node.names)
    return names


def resolve(name: str, modules: Iterable[str]) -> str | None:
    """The known module ``name`` refers to: itself, else its longest known parent (``a.b.C`` -> ``a.b``)."""
    known = set(modules)
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, set[str]]:
    """module -> the modules of ``packages`` it imports (itself and its own parent packages left out)."""
    files = {module_name(p, root): p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))}
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        targets = {resolve(n, files) for n in imported_names(path.read_text(encoding="utf-8"), module,
                                                              path.name == "__init__.py")}
        # importing a.b.c runs a/__init__ and a/b/__init__ first: that is not an edge worth a cycle
        graph[module] = {t for t in targets if t and t != module and not module.startswith(t + ".")}
    return graph


def layer_violations(graph: Mapping[str, Iterable[str]],
                     allowed: Mapping[str, set[str]] = ALLOWED) -> list[str]:
    """``importer -> imported`` for each import from one package into another it may not use."""
    out = []
    for module, targets in graph.items():
        room = module.split(".")[0]
        for target in sorted(targets):
            other = target.split(".")[0]
            if other != room and other in allowed and other not in allowed.get(room, set()):
                out.append(f"{module} -> {target}")
    return sorted(out)


def import_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    edges = {m: sorted(t for t in ts if t in graph) for m, ts in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            if i < len(edges[node]):
                work.append((node, i + 1))
                nxt = edges[node][i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    component.append(top)
                    if top == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return sorted(found)


def long_modules(root: Path = ROOT, packages: Iterable[str] = PACKAGES,
                 limit: int = MAX_LINES) -> list[str]:
    """``path: lines`` for every module over ``limit`` lines."""
    out = []
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > limit:
                out.append(f"{path.relative_to(root)}: {lines}")
    return out


# --- the checker itself, on made-up graphs: it must see what it is there to see ---

def test_checker_finds_a_cycle():
    graph = {"core.a": {"core.b"}, "core.b": {"core.c"}, "core.c": {"core.a"}, "core.d": {"core.a"},
             "app.x": {"app.y"}, "app.y": {"app.x"}, "app.z": set()}
    assert import_cycles(graph) == [["app.x", "app.y"], ["core.a", "core.b", "core.c"]]
    assert import_cycles({"core.a": {"core.b"}, "core.b": set()}) == []


def test_checker_finds_layering_violations():
    graph = {"engines.bundle": {"core.records"}, "engines.x": {"engines.bundle"},
             "core.inference": {"engines.bundle", "app.main_window"}, "training.cli": {"app.cli", "core.a"},
             "app.cli": {"core.a", "engines.x", "training.cli"}}
    assert layer_violations(graph) == ["app.cli -> training.cli", "core.inference -> app.main_window",
                                       "engines.bundle -> core.records", "training.cli -> app.cli"]


def test_checker_reads_every_kind_of_import(tmp_path):
    (tmp_path / "engines").mkdir()
    (tmp_path / "engines" / "__init__.py").write_text("")
    (tmp_path / "engines" / "a.py").write_text("from . import b\n")
    (tmp_path / "engines" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from core.x import Y\n"
        "def f():\n    import engines.a\n")
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "core" / "x.py").write_text("from ..engines.a import thing\n" + "x = 1\n" * 3)
    graph = import_graph(tmp_path, ("engines", "core"))
    assert graph["engines.a"] == {"engines.b"} and graph["engines.b"] == {"core.x", "engines.a"}
    assert graph["core.x"] == {"engines.a"}
    assert import_cycles(graph) == [["core.x", "engines.a", "engines.b"]]
    assert layer_violations(graph) == ["engines.b -> core.x"]
    assert long_modules(tmp_path, ("engines", "core"), limit=4) == [f"{Path('engines/b.py')}: 5"]


# --- the house as it is ---

def test_no_import_against_the_layering():
    assert layer_violations(import_graph()) == []


def test_no_import_cycle_between_modules():
    assert import_cycles(import_graph()) == []


def test_no_module_over_400_lines():
    assert long_modules() == []
