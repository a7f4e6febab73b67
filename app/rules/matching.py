"""Decide whether a rule matches an event, and explain why (or why not).

A pure decision function over the event as a plain dict of the normalised
fields: `evaluate` walks the rule's condition tree in file order and stops at
the first failing condition, so the explanation names it with the value the
event actually had. Field tests go through the operator table
(operators.OPERATORS); groups through `_GROUPS`. A missing field is null.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from app.eventnames import strip_on_prefix
from app.rules.model import Condition, FieldCondition, Group, Rule, RuleSet
from app.rules.operators import OPERATORS


def to_jsonable(value: Any) -> Any:
    """Return `value` with dates as ISO text and unknown types as text, for JSON."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return str(value)


def _show(value: Any) -> str:
    return json.dumps(to_jsonable(value), ensure_ascii=False)


@dataclass(frozen=True)
class ConditionFailure:
    """The condition that did not hold, with the event's actual value."""

    path: str  # "where.farm_id", "where.any"
    op: str  # an operator name, or any / all / not
    expected: Any
    actual: Any
    children: tuple[ConditionFailure, ...] = ()  # why each alternative of `any` failed

    def describe(self) -> str:
        """Return one readable line: `where.farm_id: expected 1439, got 1440`."""
        if self.op == "any":
            why = "; ".join(child.describe() for child in self.children)
            return f"{self.path}: none of {len(self.children)} alternatives matched ({why})"
        if self.op == "not":
            return f"{self.path}: excluded, because all of its conditions held"
        if self.op == "exists":
            wanted = "a value" if self.expected else "null"
            return f"{self.path}: expected {wanted}, got {_show(self.actual)}"
        phrase = OPERATORS[self.op].phrase
        return f"{self.path}: expected {phrase}{_show(self.expected)}, got {_show(self.actual)}"

    def to_dict(self) -> dict[str, Any]:
        """Return the failure as a JSON-ready dict."""
        return {
            "path": self.path,
            "op": self.op,
            "expected": to_jsonable(self.expected),
            "actual": to_jsonable(self.actual),
            "children": [child.to_dict() for child in self.children],
            "message": self.describe(),
        }


@dataclass(frozen=True)
class Evaluation:
    """Whether one rule matched one event, and the reason when it did not."""

    rule_name: str
    matched: bool
    reason: str | None = None
    failures: list[ConditionFailure] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the evaluation as a JSON-ready dict."""
        return {
            "rule_name": self.rule_name,
            "matched": self.matched,
            "reason": self.reason,
            "failures": [failure.to_dict() for failure in self.failures],
        }


def field_value(event: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """Return the value at `path` in `event` (`("data", "X")`), or None when absent."""
    value: Any = event
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _check_field(cond: FieldCondition, event: Mapping[str, Any]) -> ConditionFailure | None:
    actual = field_value(event, cond.field)
    if OPERATORS[cond.op].check(actual, cond.operand):
        return None
    return ConditionFailure(cond.path, cond.op, cond.expected, actual)


def _all(group: Group, event: Mapping[str, Any]) -> ConditionFailure | None:
    for child in group.children:
        failure = check_condition(child, event)
        if failure is not None:
            return failure
    return None


def _any(group: Group, event: Mapping[str, Any]) -> ConditionFailure | None:
    failures = []
    for child in group.children:
        failure = check_condition(child, event)
        if failure is None:
            return None
        failures.append(failure)
    return ConditionFailure(group.path, "any", len(group.children), None, tuple(failures))


def _not(group: Group, event: Mapping[str, Any]) -> ConditionFailure | None:
    if _all(group, event) is not None:
        return None
    return ConditionFailure(group.path, "not", "not all to hold", "all held")


_GROUPS: dict[str, Callable[[Group, Mapping[str, Any]], ConditionFailure | None]] = {
    "all": _all,
    "any": _any,
    "not": _not,
}


def check_condition(cond: Condition, event: Mapping[str, Any]) -> ConditionFailure | None:
    """Return why `cond` does not hold for `event`, or None when it holds."""
    if isinstance(cond, FieldCondition):
        return _check_field(cond, event)
    return _GROUPS[cond.op](cond, event)


def event_name(event: Mapping[str, Any]) -> str:
    """Return the event's name without Scalr's `On` prefix."""
    name = str(event.get("name") or "")
    return strip_on_prefix(name)


def evaluate(rule: Rule, event: Mapping[str, Any]) -> Evaluation:
    """Decide whether `rule` fires for `event`, explaining a non-match."""
    name = event_name(event)
    if name not in rule.events:
        listens = ", ".join(rule.events)
        return Evaluation(rule.name, False, f"listens for {listens}; event is {name or '(none)'}")
    failure = check_condition(rule.where, event)
    if not rule.enabled:
        would = "would have matched" if failure is None else "would not have matched either"
        return Evaluation(
            rule.name,
            False,
            f"rule is disabled (its conditions {would})",
            [failure] if failure else [],
        )
    if failure is not None:
        return Evaluation(rule.name, False, failure.describe(), [failure])
    return Evaluation(rule.name, True)


def matching_rules(ruleset: RuleSet, event: Mapping[str, Any]) -> list[Rule]:
    """Return the enabled rules of `ruleset` that fire for `event`, in file order."""
    return [rule for rule in ruleset.rules_for(event_name(event)) if evaluate(rule, event).matched]


def explain_all(ruleset: RuleSet, event: Mapping[str, Any]) -> list[Evaluation]:
    """Return the evaluation of every rule in `ruleset` for `event`, in file order."""
    return [evaluate(rule, event) for rule in ruleset.rules]
