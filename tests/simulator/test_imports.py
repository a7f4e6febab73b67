"""The simulator stands alone (no module imports app) and keeps the names others import."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIMULATOR = Path(__file__).resolve().parents[2] / "simulator"


def imported_modules(source: str) -> list[str]:
    """Return every absolute module name an import statement in the source names."""
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def imports_app(source: str) -> bool:
    """Say whether the source imports `app` or any module under it."""
    return any(n == "app" or n.startswith("app.") for n in imported_modules(source))


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import app", True),
        ("import app.scalr.client as c", True),
        ("from app import create_app", True),
        ("from app.scalr import signing", True),
        ("def f():\n    from app.limits import MAX_ID\n", True),
        ("import simulator.app", False),
        ("from simulator.app import create_sim_app", False),
        ("from . import app", False),
        ("import apple", False),
    ],
)
def test_the_checker_tells_app_imports_apart(source: str, expected: bool) -> None:
    assert imports_app(source) is expected


def test_no_simulator_module_imports_app() -> None:
    modules = sorted(SIMULATOR.rglob("*.py"))
    assert SIMULATOR / "__init__.py" in modules
    offenders = [
        str(path.relative_to(SIMULATOR.parent))
        for path in modules
        if imports_app(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_package_names_stay() -> None:
    import simulator

    assert sorted(simulator.__all__) == [
        "FarmRole",
        "Fault",
        "NotifyConfig",
        "SimState",
        "SimulatorServer",
        "Timings",
        "build_state",
        "create_sim_app",
        "demo_config",
        "load_config",
    ]
    assert all(hasattr(simulator, name) for name in simulator.__all__)


def test_an_action_name_is_registered_once() -> None:
    from simulator.actions import SPECS, Spec
    from simulator.actions.registry import gather

    assert len(SPECS) == 20
    hello = SPECS["Hello"]
    with pytest.raises(ValueError, match="action HELLO is registered twice"):
        gather({"Hello": hello}, {"HELLO": Spec(hello.since, (), hello.handler)})
