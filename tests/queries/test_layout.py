"""The read models stay free of Flask, even through the modules they import.

The layout of every package is held by tests/test_layout.py; this adds the
transitive check for app/queries, which both view layers share.

Imports are read from the source (ast), not by importing: importing any
`app.*` module runs `app/__init__.py`, which builds the Flask app factory.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app"
FLASK = ("flask", "werkzeug")  # Jinja2 is fine: the rules sandbox renders with it


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(package: str) -> list[str]:
    return sorted(module_name(p) for p in (ROOT / package.replace(".", "/")).rglob("*.py"))


def source_of(module: str) -> Path | None:
    base = ROOT / module.replace(".", "/")
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


@cache
def imports_of(module: str) -> frozenset[str]:
    """Name every module `module` imports (`from a import b` names a.b when b is a module)."""
    path = source_of(module)
    if path is None:
        return frozenset()
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(
                f"{node.module}.{alias.name}"
                for alias in node.names
                if source_of(f"{node.module}.{alias.name}") is not None
            )
    return frozenset(found)


def reaches(module: str) -> set[str]:
    """Return every module `module` imports, directly or through other app modules."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        for name in imports_of(todo.pop()):
            if name not in seen:
                seen.add(name)
                if name.startswith("app."):
                    todo.append(name)
    return seen


def under(name: str, *packages: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


@pytest.mark.parametrize("module", modules("app.queries"))
def test_queries_import_no_flask_and_no_view_layer(module):
    direct = {
        name
        for name in imports_of(module)
        if under(name, "app.dashboard", "app.api", "app.web", "app.worker", "app.ingest")
    }
    assert direct == set(), f"{module} imports {sorted(direct)}"
    flask = {name for name in reaches(module) if under(name, *FLASK)}
    assert flask == set(), f"{module} reaches {sorted(flask)}"
