"""The package's import graph: no module imports itself back, however indirectly.

Module-level and function-local imports both count: a function-local import is how a
cycle hides (it works until someone moves the import to the top of the file).
"""

from __future__ import annotations

import ast
from pathlib import Path

import langadapt

SRC = Path(langadapt.__file__).resolve().parent.parent

# Cycles that exist today and are being untangled; each is the set of modules of one
# strongly connected component. The test fails when one of them is gone, so remove it here
# then, and it fails on any cycle not listed.
KNOWN_CYCLES: set[frozenset[str]] = set()


def _modules() -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package's __init__)."""
    out = {}
    for path in (SRC / "langadapt").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its file."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_pkg) in modules.items():
        package = name.split(".") if is_pkg else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:   # relative: `from . import x`, `from ..data import y`
                    base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a path that returns to its start) per strongly connected component (Tarjan)."""
    index, low, stack, on_stack, comps = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(comp)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_one_cycle(graph, comp) for comp in comps]


def _one_cycle(graph: dict[str, set[str]], comp: set[str]) -> list[str]:
    """A shortest path from the component's first module back to itself (breadth first)."""
    start = min(comp)
    paths = {w: [start, w] for w in sorted(graph[start] & comp)}
    frontier = list(paths)
    while start not in paths:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & comp):
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        frontier = nxt
    return paths[start]


def test_the_cycle_finder_names_a_hidden_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    graph = import_graph()
    assert "langadapt.train.train_data" in graph["langadapt.train.cpt_data"]   # the walk sees imports
    found = {frozenset(c): " -> ".join(c) for c in cycles(graph)}
    new = [text for comp, text in found.items() if comp not in KNOWN_CYCLES]
    gone = [sorted(comp) for comp in KNOWN_CYCLES if comp not in found]
    assert not new, "import cycles in src/langadapt:\n" + "\n".join(new)
    assert not gone, f"known cycles that are gone; remove them from KNOWN_CYCLES: {gone}"


def test_function_local_imports_count(tmp_path, monkeypatch):
    """A cycle through an import inside a function body is found."""
    pkg = tmp_path / "langadapt"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from langadapt.b import g\n")
    (pkg / "b.py").write_text("def g():\n    from . import a\n    return a\n")
    monkeypatch.setitem(globals(), "SRC", tmp_path)
    assert cycles(import_graph()) == [["langadapt.a", "langadapt.b", "langadapt.a"]]


def test_data_does_not_reach_into_the_tiny_model_builder():
    """`load_tokenizer` lives beside `load_model`; data code does not import the test-model module."""
    graph = import_graph()
    assert not [m for m in graph if m.startswith("langadapt.data") and "langadapt.models.tiny" in graph[m]]
