"""The layout tells the truth: each package imports only what its place allows.

Read from the code's own imports with `ast`, so a change that reaches across
a boundary fails here, not in a reviewer's head. The house (README "Layout"):

- `app/api/` and `app/dashboard/` are two thin peers over `app/queries/`
  (reads) and `app/jobs/` (state changes); neither imports the other, the
  worker, or an ingest internal.
- The core (`rules`, `scalr`, `jobs`, `queries`, `inventory`, `actions`) and
  the worker know nothing of Flask; their `cli.py` console commands aside.
- The rules engine knows no database either; the simulator imports nothing
  of `app`.
- Ingest speaks HTTP in two modules only, `routes` (the Flask views) and
  `front` (the WSGI layer in front of them); `service` names the Flask app
  its writer is kept in; the rest of `app/ingest/` knows no Flask.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app"

FLASK_FREE = ("rules", "scalr", "jobs", "queries", "inventory", "actions", "worker")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, source: str | None = None) -> set[str]:
    """Every module `path` imports, at any depth of the file (lazy imports count)."""
    tree = ast.parse(path.read_text() if source is None else source, filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path.parent)
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            found.add(prefix)
            # `from app import models` imports the module app.models.
            found.update(f"{prefix}.{alias.name}" for alias in node.names)
    return found


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def offenders(folder: str, forbidden: tuple[str, ...], allow: tuple[str, ...] = ()) -> list[str]:
    bad = []
    for path in modules(folder):
        if path.name in allow:
            continue
        for name in sorted(imports_of(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    return bad


def test_the_import_reader_sees_lazy_and_relative_imports():
    source = "def f():\n    from app.dashboard import jobs\n    from . import pagination\n"
    target = APP / "api" / "m.py"  # never written: the reader is given the text directly
    found = imports_of(target, source)
    assert {"app.dashboard.jobs", "app.api.pagination"} <= found


@pytest.mark.parametrize("peer,other", [("app/api", "app.dashboard"), ("app/dashboard", "app.api")])
def test_api_and_dashboard_are_peers(peer, other):
    assert offenders(peer, (other,)) == []


@pytest.mark.parametrize("view", ["app/api", "app/dashboard"])
def test_views_reach_neither_the_worker_nor_ingest_internals(view):
    assert offenders(view, ("app.worker", "app.ingest")) == []


@pytest.mark.parametrize("package", FLASK_FREE)
def test_the_core_and_the_worker_know_no_flask(package):
    if not (APP / package).exists():
        pytest.skip(f"app/{package} does not exist")
    assert offenders(f"app/{package}", ("flask", "werkzeug"), allow=("cli.py",)) == []


def test_ingest_speaks_http_only_in_its_routes_and_front():
    allowed = ("routes.py", "front.py", "service.py")
    assert offenders("app/ingest", ("flask", "werkzeug"), allow=allowed) == []


def test_the_rules_engine_knows_no_database():
    assert offenders("app/rules", ("sqlalchemy", "app.models", "app.db")) == []


def test_the_simulator_imports_nothing_of_app():
    assert offenders("simulator", ("app",)) == []


def test_no_package_reaches_into_the_worker_but_its_cli():
    # The worker is a process, not a library: only the console command and
    # create_app's command registration may name it.
    bad = [
        line
        for folder in ("app/api", "app/dashboard", "app/jobs", "app/queries", "app/ingest")
        for line in offenders(folder, ("app.worker",))
    ]
    assert bad == []
