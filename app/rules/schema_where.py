"""Read a rule's `where:` mapping into a condition tree.

Forms (all entries of a mapping must hold):
- `field: value` — equality; a string with `*`, `?` or `[` is a glob
  (write `{eq: "a*"}` for a literal star); `field: null` means "is null".
- `field: {op: value, ...}` — any operators of operators.OPERATORS; several
  in one mapping must all hold (`{gte: 2, lte: 5}`).
- `any: [mapping, ...]` (one must hold), `all: [mapping, ...]`,
  `not: mapping` (true unless all of its entries hold).
- Fields are the normalised event fields; `data.X` reaches into `data`.
- A bare list (`farm_id: [1, 2]`) is refused as ambiguous: write `{in: [...]}`.
"""

from __future__ import annotations

from typing import Any

from app.rules.checker import Checker, suggest
from app.rules.model import EVENT_FIELDS, Condition, FieldCondition, Group
from app.rules.operators import GLOB_CHARS, OPERATORS, SCALAR_TYPES, type_name
from app.rules.yamlsource import child, item

GROUP_KEYS = ("any", "all", "not")


def parse_where(check: Checker, value: Any, path: str) -> Group:
    """Return the `all` group of the `where:` mapping at `path` (empty when absent)."""
    if value is None:
        return Group(check.relative(path), "all", ())
    return Group(check.relative(path), "all", tuple(_entries(check, value, path)))


def _entries(check: Checker, value: Any, path: str) -> list[Condition]:
    mapping = check.mapping(value, path)
    if mapping is None:
        return []
    conditions: list[Condition] = []
    for key, expected in mapping.items():
        sub = child(path, key)
        if key in GROUP_KEYS:
            group = _group(check, key, expected, sub)
            if group is not None:
                conditions.append(group)
            continue
        field = _field(check, key, sub)
        if field is not None:
            conditions.extend(_field_conditions(check, field, expected, sub))
    return conditions


def _group(check: Checker, op: str, value: Any, path: str) -> Group | None:
    if op == "not":
        if not isinstance(value, dict) or not value:
            check.error(path, f"`not` takes a non-empty mapping, got {type_name(value)}")
            return None
        return Group(check.relative(path), "not", tuple(_entries(check, value, path)))
    if not isinstance(value, list) or not value:
        check.error(path, f"`{op}` takes a non-empty list of mappings, got {type_name(value)}")
        return None
    children = tuple(
        Group(check.relative(item(path, i)), "all", tuple(_entries(check, entry, item(path, i))))
        for i, entry in enumerate(value)
    )
    return Group(check.relative(path), "any" if op == "any" else "all", children)


def _field(check: Checker, key: str, path: str) -> tuple[str, ...] | None:
    parts = tuple(key.split("."))
    if parts[0] not in EVENT_FIELDS:
        choices = [*EVENT_FIELDS, *GROUP_KEYS]
        check.error(path, f"unknown event field {parts[0]!r}{suggest(parts[0], choices)}")
        return None
    if len(parts) > 1 and parts[0] != "data":
        check.error(path, f"only `data` has sub-fields; {parts[0]!r} is a plain value")
        return None
    if not all(parts):
        check.error(path, f"empty part in field path {key!r}")
        return None
    return parts


def _field_conditions(
    check: Checker, field: tuple[str, ...], expected: Any, path: str
) -> list[FieldCondition]:
    if isinstance(expected, dict):
        if not expected:
            check.error(path, "empty operator mapping")
        result = []
        for op, value in expected.items():
            result += _one(check, field, op, value, child(path, op))
        return result
    if isinstance(expected, list):
        check.error(path, "a list is ambiguous here: write {in: [...]} to match any of the values")
        return []
    if not isinstance(expected, SCALAR_TYPES):
        check.error(path, f"expected a value or an operator mapping, got {type_name(expected)}")
        return []
    glob = isinstance(expected, str) and not GLOB_CHARS.isdisjoint(expected)
    return _one(check, field, "glob" if glob else "eq", expected, path)


def _one(
    check: Checker, field: tuple[str, ...], op: str, value: Any, path: str
) -> list[FieldCondition]:
    operator = OPERATORS.get(op)
    if operator is None:
        check.error(path, f"unknown operator {op!r}{suggest(op, OPERATORS)}")
        return []
    try:
        operand = operator.prepare(value)
    except ValueError as exc:
        check.error(path, f"{op}: {exc}")
        return []
    return [FieldCondition(check.relative(path), field, op, value, operand)]
