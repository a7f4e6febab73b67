"""A small validation context: type checks that record problems and carry on.

Each check returns the value (or a default) instead of raising, so one pass
over the document finds every problem, each located by its path and line.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from typing import Any

from app.rules.durations import DurationError, parse_duration
from app.rules.errors import RuleProblem
from app.rules.operators import type_name
from app.rules.yamlsource import Document, child

_MISSING = object()


def suggest(word: str, choices: Collection[str]) -> str:
    """Return ` (did you mean 'x'?)` for the closest of `choices`, or ''."""
    lowered = {choice.lower(): choice for choice in choices}
    if word.lower() in lowered:
        return f" (did you mean {lowered[word.lower()]!r}?)"
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Checker:
    """Collect problems and warnings about one document."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.problems: list[RuleProblem] = []
        self.warnings: list[RuleProblem] = []
        self.base = ""  # the path of the rule being read; explanations are relative to it

    def relative(self, path: str) -> str:
        """Return `path` relative to the rule being read (`where.farm_id`)."""
        return path.removeprefix(f"{self.base}.") if self.base else path

    def error(self, path: str, message: str) -> None:
        """Record a problem at `path`."""
        self.problems.append(RuleProblem(self.doc.line(path), path, message))

    def warn(self, path: str, message: str) -> None:
        """Record a warning at `path`."""
        self.warnings.append(RuleProblem(self.doc.line(path), path, message))

    def mapping(
        self,
        value: Any,
        path: str,
        allowed: Collection[str] | None = None,
        required: Collection[str] = (),
        hints: dict[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """Return `value` if it is a mapping with only `allowed` keys and all `required` ones."""
        if not isinstance(value, dict):
            self.error(path, f"expected a mapping, got {type_name(value)}")
            return None
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    hint = (hints or {}).get(key) or f"unknown key {key!r}{suggest(key, allowed)}"
                    self.error(child(path, key), hint)
        for key in required:
            if key not in value:
                self.error(path, f"missing required key {key!r}")
        return value

    def get(self, mapping: dict[str, Any], key: str, path: str, kind: type, default: Any) -> Any:
        """Return `mapping[key]` if it is of `kind` (bool is not an int), else `default`."""
        value = mapping.get(key, _MISSING)
        if value is _MISSING:
            return default
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return value
        hint = " (YAML reads yes/no/on/off as booleans: quote it)" if kind is str else ""
        got = type_name(value)
        self.error(
            child(path, key),
            f"expected {type_name(kind())}, got {got}{hint if got == 'true/false' else ''}",
        )
        return default

    def integer(
        self, mapping: dict[str, Any], key: str, path: str, default: int, low: int, high: int
    ) -> int:
        """Return `mapping[key]` as an int between `low` and `high`."""
        value: int = self.get(mapping, key, path, int, default)
        if not low <= value <= high:
            self.error(child(path, key), f"must be between {low} and {high}, got {value}")
            return default
        return value

    def duration(
        self,
        mapping: dict[str, Any],
        key: str,
        path: str,
        default: int,
        maximum: int,
        minimum: int = 0,
    ) -> int:
        """Return `mapping[key]` as seconds."""
        if key not in mapping:
            return default
        try:
            return parse_duration(mapping[key], maximum=maximum, minimum=minimum)
        except DurationError as exc:
            self.error(child(path, key), str(exc))
            return default

    def choice(
        self, mapping: dict[str, Any], key: str, path: str, choices: Collection[str], default: str
    ) -> str:
        """Return `mapping[key]` if it is one of `choices`."""
        value = mapping.get(key, default)
        if value not in choices:
            names = ", ".join(sorted(choices))
            self.error(child(path, key), f"must be one of {names}, got {value!r}")
            return default
        return str(value)

    def string_list(self, value: Any, path: str, *, allow_single: bool = False) -> list[str]:
        """Return `value` as a list of strings (one string too, if `allow_single`)."""
        if allow_single and isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            self.error(path, f"expected a list of strings, got {type_name(value)}")
            return []
        result = []
        for index, entry in enumerate(value):
            if isinstance(entry, str):
                result.append(entry)
            else:
                self.error(f"{path}[{index}]", f"expected a string, got {type_name(entry)}")
        return result
