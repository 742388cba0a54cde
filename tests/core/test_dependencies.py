"""Every third-party package that src/langadapt imports is declared in pyproject.toml."""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
from pathlib import Path

import pytest

import langadapt

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

SRC = Path(langadapt.__file__).resolve().parent
PYPROJECT = SRC.parent.parent / "pyproject.toml"


def _imported_top_names() -> dict[str, str]:
    """Top-level name of every absolute import -> one file that imports it."""
    out = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                out.setdefault(name.split(".")[0], str(path.relative_to(SRC)))
    return out


def _declared() -> set[str]:
    """Normalized names of the required and optional dependencies."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs += extra
    return {_norm(re.match(r"[A-Za-z0-9_.-]+", s).group()) for s in specs}


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_imported_package_is_declared():
    dists = metadata.packages_distributions()
    declared = _declared()
    missing = {}
    for top, where in _imported_top_names().items():
        if top in sys.stdlib_module_names or top in ("langadapt", "__future__"):
            continue
        names = {_norm(d) for d in dists.get(top, [])}
        if not names:   # not installed here: an optional backend whose import is guarded
            continue
        if not names & declared:
            missing[top] = where
    assert not missing, f"imported but not declared in pyproject.toml (package: a file using it): {missing}"
