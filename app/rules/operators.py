"""The operator table of `where` conditions: how each test is prepared and decided.

Comparison semantics (decided here, once, for every operator):

- A number and a string of decimal digits compare as numbers, both ways:
  `farm_id: "1439"` matches 1439, and `data.SCALR_FARM_ID: 1439` matches the
  webhook's "1439" (5.x webhooks send every `SCALR_*` value as a string).
  Two strings always compare as strings ("007" is not "7").
- Booleans equal only booleans (`true` is not 1); null equals only null.
- `glob` and `regex` test the text of strings and numbers; null never matches.
  Globs are whole-value and case-sensitive (`fnmatchcase`); regexes use
  `re.search` (anchor with ^ and $ when needed).
- Ordering operators (`gt`, `gte`, `lt`, `lte`) need numbers on both sides and
  are false otherwise (null, non-numeric text).
- `in` / `not_in` use the same equality; null is in no list.
- `contains` tests list membership (`enriched_fields`) or a substring.
- `exists: true` means "not null"; a missing field is null.

An operator is a `prepare` (validate and compile the expected value at load,
raising ValueError with the message to show) and a `check` (decide at match).
"""

from __future__ import annotations

import fnmatch
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_NUMERIC = re.compile(r"-?\d+(\.\d+)?")
SCALAR_TYPES = (str, int, float, bool, type(None))


def as_number(value: Any) -> int | float | None:
    """Return `value` as a number when it is one or is decimal text, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str) and _NUMERIC.fullmatch(value):
        return float(value) if "." in value else int(value)
    return None


def equals(actual: Any, expected: Any) -> bool:
    """Decide equality with the numeric-text rule of this module."""
    if isinstance(actual, bool) or isinstance(expected, bool):
        return type(actual) is type(expected) and actual == expected
    if actual is None or expected is None:
        return actual is expected
    if isinstance(actual, str) and isinstance(expected, str):
        return actual == expected
    left, right = as_number(actual), as_number(expected)
    if left is not None and right is not None:
        return left == right
    return bool(actual == expected)


def _text(value: Any) -> str | None:
    """Return the text a glob or regex tests, or None when the value has none."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _scalar(value: Any) -> Any:
    if not isinstance(value, SCALAR_TYPES):
        raise ValueError(f"expected a single value, got {type_name(value)}")
    return value


def _number(value: Any) -> int | float:
    number = None if isinstance(value, str) else as_number(value)
    if number is None:
        raise ValueError(f"expected a number, got {type_name(value)}")
    return number


def _scalar_list(value: Any) -> tuple[Any, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"expected a non-empty list of values, got {type_name(value)}")
    return tuple(_scalar(item) for item in value)


def _glob(value: Any) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise ValueError(f"expected a glob pattern string, got {type_name(value)}")
    return re.compile(fnmatch.translate(value))


def _regex(value: Any) -> re.Pattern[str]:
    if not isinstance(value, str):
        raise ValueError(f"expected a regular expression string, got {type_name(value)}")
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"bad regex {value!r}: {exc}") from None


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {type_name(value)}")
    return value


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def check(actual: Any, operand: Any) -> bool:
        number = as_number(actual)
        return number is not None and compare(number, operand)

    return check


def _pattern_check(actual: Any, pattern: re.Pattern[str], *, whole: bool) -> bool:
    text = _text(actual)
    if text is None:
        return False
    return bool(pattern.match(text) if whole else pattern.search(text))


def _contains(actual: Any, operand: Any) -> bool:
    if isinstance(actual, list | tuple):
        return any(equals(item, operand) for item in actual)
    return isinstance(actual, str) and isinstance(operand, str) and operand in actual


@dataclass(frozen=True)
class Operator:
    """How one `where` operator prepares its expected value and decides a match."""

    name: str
    prepare: Callable[[Any], Any]
    check: Callable[[Any, Any], bool]
    phrase: str  # "expected {phrase}{expected}" in explanations


OPERATORS: dict[str, Operator] = {
    op.name: op
    for op in (
        Operator("eq", _scalar, equals, ""),
        Operator("ne", _scalar, lambda a, e: not equals(a, e), "not "),
        Operator("gt", _number, _ordered(operator.gt), "> "),
        Operator("gte", _number, _ordered(operator.ge), ">= "),
        Operator("lt", _number, _ordered(operator.lt), "< "),
        Operator("lte", _number, _ordered(operator.le), "<= "),
        Operator("in", _scalar_list, lambda a, e: any(equals(a, x) for x in e), "one of "),
        Operator("not_in", _scalar_list, lambda a, e: not any(equals(a, x) for x in e), "none of "),
        Operator("glob", _glob, lambda a, p: _pattern_check(a, p, whole=True), "glob "),
        Operator("regex", _regex, lambda a, p: _pattern_check(a, p, whole=False), "regex "),
        Operator("contains", _scalar, _contains, "containing "),
        Operator("exists", _bool, lambda a, e: (a is not None) == e, "exists: "),
    )
}

GLOB_CHARS = frozenset("*?[")


def type_name(value: Any) -> str:
    """Return how an error message names the YAML type of `value`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        dict: "a mapping",
        list: "a list",
    }.get(type(value), type(value).__name__)
