"""The product's layering, read from the source with ``ast`` (nothing is imported to check it).

Every ``import`` statement counts, at module level or inside a function (a lazy import that
would close a cycle is still a cycle), except those under ``if TYPE_CHECKING:``, which never run.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.selfcheck import product_modules

ROOT = Path(__file__).resolve().parent.parent
MODULES = product_modules()
#: what ``monitor.matching`` may import of the product: itself and the exception base
MATCHING_MAY_IMPORT = ("monitor.matching", "monitor.exceptions")


@dataclass(frozen=True)
class Import:
    """``module``, at ``line`` of ``source``, imports ``target`` (a module of the product)."""

    source: str
    line: int
    target: str

    def __str__(self) -> str:
        return f"{self.source} (line {self.line}) imports {self.target}"


def module_path(name: str) -> Path:
    base = ROOT.joinpath(*name.split("."))
    package = base / "__init__.py"
    return package if package.is_file() else base.with_suffix(".py")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement that can run (``if TYPE_CHECKING:`` bodies left out)."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        pending.extend(ast.iter_child_nodes(node))
    return sorted(found, key=lambda node: node.lineno)


def _product_module(name: str, known: set[str]) -> str | None:
    """The product module ``name`` stands for: itself, or the nearest package that holds it."""
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(name: str, known: set[str]) -> list[Import]:
    """The product modules ``name`` imports, with the line of each import statement."""
    path = module_path(name)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: list[Import] = []
    for node in _statements(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            # ``from package import submodule`` imports the submodule
            targets = [f"{module}.{alias.name}" for alias in node.names]
        for target in targets:
            resolved = _product_module(target, known)
            if resolved is not None and resolved != name:
                out.append(Import(name, node.lineno, resolved))
    return out


def import_graph() -> dict[str, list[Import]]:
    known = set(MODULES)
    return {name: imports_of(name, known) for name in MODULES}


def cycles(graph: dict[str, list[Import]]) -> list[list[Import]]:
    """One cycle of imports per strongly connected group of modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for edge in graph[node]:
            if edge.target not in index:
                visit(edge.target)
                low[node] = min(low[node], low[edge.target])
            elif edge.target in on_stack:
                low[node] = min(low[node], index[edge.target])
        if low[node] == index[node]:
            group: set[str] = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_one_cycle(graph, group) for group in groups]


def _one_cycle(graph: dict[str, list[Import]], group: set[str]) -> list[Import]:
    """The shortest way from the group's first module back to itself, inside the group."""
    start = min(group)
    paths: dict[str, list[Import]] = {start: []}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for edge in graph[node]:
            if edge.target == start:
                return [*paths[node], edge]
            if edge.target in group and edge.target not in paths:
                paths[edge.target] = [*paths[node], edge]
                queue.append(edge.target)
    raise AssertionError(f"{sorted(group)} is not a cycle")


def test_the_graph_sees_the_product_and_its_imports() -> None:
    graph = import_graph()
    assert "monitor.matching.matcher" in graph
    assert "monitor.watchlists" in graph
    assert "alerts.service" in graph
    watchlists = {edge.target for edge in graph["monitor.watchlists"]}
    assert {"monitor.matching.matcher", "monitor.matching.spec"} <= watchlists


@pytest.mark.parametrize("module", [m for m in MODULES if m.startswith("monitor.matching")])
def test_matching_imports_nothing_of_the_product_but_itself(module: str) -> None:
    """The matcher is pure: it compiles from ``MatchSpec``, never from a ``Watchlist``."""
    wrong = [
        str(edge)
        for edge in imports_of(module, set(MODULES))
        if not edge.target.startswith(MATCHING_MAY_IMPORT)
    ]
    allowed = " and ".join(MATCHING_MAY_IMPORT)
    assert not wrong, f"monitor.matching may import only {allowed}: {'; '.join(wrong)}"


def test_no_import_cycles() -> None:
    found = cycles(import_graph())
    described = [", ".join(str(edge) for edge in cycle) for cycle in found]
    assert not described, "import cycles:\n" + "\n".join(described)


def test_a_cycle_is_found_and_named() -> None:
    """The check itself: a lazy import inside a function closes a cycle too."""
    graph = {
        "a": [Import("a", 3, "b")],
        "b": [Import("b", 10, "c")],
        "c": [Import("c", 5, "a"), Import("c", 6, "d")],
        "d": [],
    }
    assert [[str(edge) for edge in cycle] for cycle in cycles(graph)] == [
        ["a (line 3) imports b", "b (line 10) imports c", "c (line 5) imports a"]
    ]


def test_type_checking_imports_are_left_out_and_lazy_ones_kept() -> None:
    tree = ast.parse(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from monitor.watchlists import Watchlist\n"
        "def later():\n"
        "    from monitor.store import feeds\n"
    )
    assert [(node.lineno, ast.unparse(node)) for node in _statements(tree)] == [
        (1, "from typing import TYPE_CHECKING"),
        (5, "from monitor.store import feeds"),
    ]
