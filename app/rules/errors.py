"""Exceptions and problem records of the rules engine.

A rules file is refused as a whole: `RulesError` carries every problem found,
each with its line, so `flask rules check` and the dashboard can show them all
at once. Template errors happen later, when an action renders against an event;
they are types too, so the worker can record a clear `error` on the job.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class RuleProblem:
    """One thing wrong (or, as a warning, suspicious) in a rules file."""

    line: int | None
    path: str
    message: str

    def format(self, source: str) -> str:
        """Return `SOURCE:LINE: path: message`, the way compilers print errors."""
        where = f"{source}:{self.line}" if self.line is not None else source
        return f"{where}: {self.path or '<file>'}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """Return the problem as a JSON-ready dict."""
        return asdict(self)


class RulesError(Exception):
    """A rules file that does not validate; `errors` holds every problem found."""

    def __init__(self, errors: list[RuleProblem], source: str = "<rules>") -> None:
        self.errors = sorted(errors, key=lambda p: (p.line or 0, p.path))
        self.source = source
        first = self.errors[0].format(source) if self.errors else source
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(f"{first}{more}")

    def formatted(self) -> list[str]:
        """Return every problem as a `SOURCE:LINE: path: message` line."""
        return [p.format(self.source) for p in self.errors]


class TemplateError(Exception):
    """A template that could not render against an event."""

    def __init__(self, message: str, path: str = "") -> None:
        self.message = message
        self.path = path  # which part of the action: "params.FarmRoleID", "body", ...
        super().__init__(f"{path}: {message}" if path else message)

    def at(self, path: str) -> TemplateError:
        """Return the same error located at `path` of the action."""
        self.path = path
        self.args = (f"{path}: {self.message}",)
        return self


class TemplateUndefinedError(TemplateError):
    """A template used a field the event does not have, or has as null."""

    def __init__(self, field: str, message: str, path: str = "") -> None:
        self.field = field
        super().__init__(message, path)


class TemplateSecurityError(TemplateError):
    """A template tried something the sandbox forbids (dunder access, unsafe calls)."""


class TemplateLimitError(TemplateError):
    """A template exceeded a size limit (output length, range, repetition)."""
