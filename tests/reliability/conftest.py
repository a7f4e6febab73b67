"""Fixtures of the fault scenarios (the whole stack on loopback), and their figures' summary."""

from __future__ import annotations

import pytest

from tests.reliability.figures import LINES
from tests.stack import make_stack  # noqa: F401  (fixture)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Show every scenario's figures line, whatever pytest captured or -r asked for."""
    if LINES:
        terminalreporter.section("fault scenario figures")
        for line in LINES:
            terminalreporter.write_line(line)
