"""Fixtures of the hardening suite."""

from tests.dashboard.conftest import admin, dash_app  # noqa: F401
from tests.stack import make_stack  # noqa: F401
