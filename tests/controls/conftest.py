"""Operator-control fixtures: the whole stack, and the dashboard's logged-in admin client."""

from tests.dashboard.conftest import admin, dash_app  # noqa: F401  (fixtures)
from tests.stack import make_stack

__all__ = ["make_stack"]
