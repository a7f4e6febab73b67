"""Decide whether a rule matches an event, and explain why (or why not).

A pure decision function over the event as a plain dict of the normalised
fields: `evaluate` walks the rule's condition tree in file order and stops at
the first failing condition, so the explanation names it with the value the
event actually had. Field tests go through the operator table
(operators.OPERATORS); groups through `_GROUPS`. A missing field is null.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


class Evaluation:
    """Whether one rule matched one event, and the reason when it did not.

    A non-match is explained on first use of `reason` or `failures`: the worker matches
    every rule of an event's name and needs only the verdicts, and the explanation (the
    failing condition, its text) costs many times the decision.
    """

    __slots__ = ("_failures", "_pending", "_reason", "matched", "rule_name")

    def __init__(
        self,
        rule_name: str,
        matched: bool,
        reason: str | None = None,
        failures: list[ConditionFailure] | None = None,
    ) -> None:
        self.rule_name = rule_name
        self.matched = matched
        self._reason = reason
        self._failures = failures if failures is not None else []
        self._pending: tuple[Rule, Mapping[str, Any]] | None = None

    @classmethod
    def unexplained(cls, rule: Rule, event: Mapping[str, Any]) -> Evaluation:
        """Return a non-match whose explanation is worked out when first read."""
        evaluation = cls(rule.name, False)
        evaluation._pending = (rule, event)
        return evaluation

    def _explain(self) -> None:
        if self._pending is not None:
            explained = explain(*self._pending)
            self._reason, self._failures, self._pending = explained.reason, explained.failures, None

    @property
    def reason(self) -> str | None:
        """Return why the rule did not fire (None for a match)."""
        self._explain()
        return self._reason

    @property
    def failures(self) -> list[ConditionFailure]:
        """Return the condition that did not hold, with the event's actual value."""
        self._explain()
        return self._failures

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Evaluation):
            return NotImplemented
        return (self.rule_name, self.matched, self.reason, self.failures) == (
            other.rule_name,
            other.matched,
            other.reason,
            other.failures,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Evaluation({self.rule_name!r}, {self.matched!r}, {self.reason!r})"

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


def explain(rule: Rule, event: Mapping[str, Any]) -> Evaluation:
    """Decide whether `rule` fires for `event` by walking its conditions, explaining a non-match."""
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


def evaluate(rule: Rule, event: Mapping[str, Any]) -> Evaluation:
    """Decide whether `rule` fires for `event`; a non-match explains itself when asked."""
    if rule.enabled and rule.compiled(event):
        return Evaluation(rule.name, True)
    return Evaluation.unexplained(rule, event)


def matching_rules(ruleset: RuleSet, event: Mapping[str, Any]) -> list[Rule]:
    """Return the enabled rules of `ruleset` that fire for `event`, in file order."""
    candidates = ruleset.candidates(event_name(event), event)
    return [rule for rule in candidates if evaluate(rule, event).matched]


# The field values a miss's explanation can be remembered by: compared by type and value, so
# `1`, `1.0` and `true` (equal in Python, shown apart) are three entries.
_REMEMBERED = (str, int, float, bool, type(None))


class MissCache:
    """The stored explanations of non-matches, remembered by rule and the values it read.

    Why a rule did not match depends on nothing but the rule and the values of the
    fields its conditions read (and the event's name): a stream of events repeats few
    of those (every HostDown of a server not in the inventory has no farm), so the
    worker explains each once, not once an event. A value that is not a plain scalar
    (a list, a mapping) is explained every time. At `limit` entries the oldest go.
    One per RuleSet (`RuleSet.misses`): a new file version starts empty.
    """

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._entries: dict[tuple[Any, ...], tuple[Rule, dict[str, Any]]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def explained(self, rule: Rule, event: Mapping[str, Any]) -> dict[str, Any]:
        """Return `explain(rule, event).to_dict()`: a fresh top-level dict, its parts shared."""
        key: list[Any] = [id(rule), event.get("name")]
        for path in rule.reads:
            value = event.get(path[0]) if len(path) == 1 else field_value(event, path)
            if value.__class__ not in _REMEMBERED:
                return explain(rule, event).to_dict()
            key += (value.__class__, value)
        found = self._entries.get(stored := tuple(key))
        # The entry holds its rule, so no other rule can have its id while it is here.
        if found is None or found[0] is not rule:
            if len(self._entries) >= self.limit:
                del self._entries[next(iter(self._entries))]
            found = self._entries[stored] = (rule, explain(rule, event).to_dict())
        return dict(found[1])


def explain_all(ruleset: RuleSet, event: Mapping[str, Any]) -> list[Evaluation]:
    """Return the evaluation of every rule in `ruleset` for `event`, in file order."""
    return [explain(rule, event) for rule in ruleset.rules]


# --- compiled conditions: the same decisions as check_condition, without explanations -------
#
# A rule's `where` is turned once into nested closures that only answer yes or no;
# `tests/rules` holds both paths to the same operator table, and `explain` stays the
# reference the explanations come from.

Test = Callable[[Mapping[str, Any]], bool]


_ORDERED: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def _compile_field(cond: FieldCondition) -> Test:
    operand, check = cond.operand, OPERATORS[cond.op].check
    if len(cond.field) > 1:
        path = cond.field
        return lambda event: check(field_value(event, path), operand)
    key = cond.field[0]
    # Fast paths for the common cases; anything unusual goes to the operator's own check.
    if cond.op == "eq" and type(operand) is int:
        # `farm_id: 1439`: an equal value that is not a bool matches (1439, 1439.0); only
        # text ("1439") can still be equal as a number.
        def eq_int(event: Mapping[str, Any]) -> bool:
            actual = event.get(key)
            if actual == operand:
                return actual.__class__ is not bool
            return actual.__class__ is str and check(actual, operand)

        return eq_int
    if cond.op == "eq" and type(operand) is str:

        def eq_str(event: Mapping[str, Any]) -> bool:
            actual = event.get(key)
            return actual == operand or (actual.__class__ is not str and check(actual, operand))

        return eq_str
    if cond.op == "glob":
        match = operand.match

        def glob(event: Mapping[str, Any]) -> bool:
            actual = event.get(key)
            if actual.__class__ is str:
                return match(actual) is not None
            return check(actual, operand)

        return glob
    if cond.op in _ORDERED:
        compare = _ORDERED[cond.op]

        def ordered(event: Mapping[str, Any]) -> bool:
            actual = event.get(key)
            if actual.__class__ is int or actual.__class__ is float:
                return compare(actual, operand)
            return check(actual, operand)

        return ordered
    return lambda event: check(event.get(key), operand)


def _all_of(tests: tuple[Test, ...]) -> Test:
    if not tests:
        return lambda event: True
    if len(tests) == 1:
        return tests[0]

    def all_hold(event: Mapping[str, Any]) -> bool:
        for test in tests:  # noqa: SIM110 -- a plain loop: all() of a generator costs twice
            if not test(event):
                return False
        return True

    return all_hold


def compile_condition(cond: Condition) -> Test:
    """Return a function deciding whether `cond` holds for an event."""
    if isinstance(cond, FieldCondition):
        return _compile_field(cond)
    tests = tuple(compile_condition(child) for child in cond.children)
    if cond.op == "all":
        return _all_of(tests)
    if cond.op == "any":
        return lambda event: any(test(event) for test in tests)
    every = _all_of(tests)
    return lambda event: not every(event)


def compile_rule(events: tuple[str, ...], where: Group) -> Test:
    """Return a function deciding whether an event has one of `events` and `where` holds."""
    # Every spelling event_name() reduces to a listened name, so no prefix is stripped per rule.
    names = frozenset(events) | {f"On{name}" for name in events if name[:1].isupper()}
    holds = compile_condition(where)

    def fires(event: Mapping[str, Any]) -> bool:
        name = event.get("name")
        if name.__class__ is not str:
            name = str(name or "")
        return name in names and holds(event)

    return fires
