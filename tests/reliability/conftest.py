"""Fixtures of the fault scenarios: the whole stack on loopback."""

from tests.stack import make_stack  # noqa: F401  (fixture)
