"""Issue 15's targets, checked against the figures of one `make bench` run.

Each measurement adds its checks as it finishes; run.py prints them as a second table
(target, database, measured, limit, met or by how much missed) and docs/performance.md
carries it. A verdict is computed from the run's own figures, never written by hand.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    """One target on one database: what was measured against the limit it must meet."""

    target: str
    database: str
    measured: float | None  # None: the figure was not produced
    limit: float
    at_most: bool  # True: measured must be <= limit; False: >= limit
    unit: str  # "x" for ratios, "ms", "s"
    note: str = ""

    @property
    def met(self) -> bool:
        if self.measured is None:
            return False
        return self.measured <= self.limit if self.at_most else self.measured >= self.limit

    def verdict(self) -> str:
        if self.measured is None:
            return "MISSING"
        if self.met:
            return "met"
        if self.at_most:
            return (
                f"missed: {self.measured / self.limit:.1f}x the limit" if self.limit else "missed"
            )
        short = self.limit - self.measured
        return f"missed by {short:.2f}{self.unit}" if self.unit == "x" else f"missed by {short:g}"

    def cells(self) -> tuple[str, str, str, str, str]:
        sign = "≤" if self.at_most else "≥"
        shown = "—" if self.measured is None else _number(self.measured, self.unit)
        if self.note:
            shown += f" ({self.note})"
        return (
            self.target,
            self.database,
            shown,
            f"{sign} {_number(self.limit, self.unit)}",
            self.verdict(),
        )


def _number(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "ms":
        if value < 1:
            return f"{value:.4f} ms"
        return f"{value:,.1f} ms" if value < 100 else f"{value:,.0f} ms"
    return f"{value:,.3g} {unit}".rstrip()


def table(checks: list[Check]) -> str:
    """Return the checks as a Markdown table, with a count of those met."""
    met = sum(c.met for c in checks)
    lines = [
        f"{met} of {len(checks)} targets met in this run.",
        "",
        "| target (issue 15) | database | measured | limit | verdict |",
        "|---|---|---|---|---|",
    ]
    lines += ["| " + " | ".join(c.cells()) + " |" for c in checks]
    return "\n".join(lines)
