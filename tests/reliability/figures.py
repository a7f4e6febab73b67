"""The fault scenarios' one-line figures, printed again at the end of the run for the CI log."""

from __future__ import annotations

LINES: list[str] = []


def report(line: str) -> None:
    """Print a scenario's figures now and keep them for the terminal summary."""
    print(f"\n{line}")
    LINES.append(line)
