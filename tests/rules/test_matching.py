"""Matching: the operator table, groups, explanations, and the event-name index."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app.rules import matching
from app.rules.matching import evaluate, explain_all, matching_rules
from app.rules.model import Rule
from tests.rules.helpers import event, load


def rule_where(where: str, events: str = "[HostDown]", extra: str = "") -> Rule:
    """Return a rule with the given `where:` body (one YAML line per condition)."""
    body = "".join(f"      {line}\n" for line in where.splitlines())
    text = (
        f"rules:\n  - name: r1\n    events: {events}\n{extra}    where:\n{body}"
        "    actions:\n      - email: ops@example.com\n"
    )
    return load(text).rules[0]


def matches(where: str, **changes: Any) -> bool:
    return evaluate(rule_where(where), event(**changes)).matched


@pytest.mark.parametrize(
    ("where", "changes", "expected"),
    [
        # equality, with numbers and numeric text comparing as numbers
        ("farm_id: 1439", {}, True),
        ("farm_id: 1440", {}, False),
        ('farm_id: "1439"', {}, True),
        ("farm_id: 1439", {"farm_id": "1439"}, True),
        ("data.SCALR_FARM_ID: 1439", {"data": {"SCALR_FARM_ID": "1439"}}, True),
        ('role_name: "007"', {"role_name": "7"}, False),
        ("farm_id: 1439.0", {}, True),
        ("farm_id: true", {"farm_id": 1}, False),
        ("farm_id: 1", {"farm_id": True}, False),
        ("farm_id: 1439", {"farm_id": "fourteen"}, False),
        # null
        ("public_ip: null", {"public_ip": None}, True),
        ("public_ip: null", {}, False),
        ("public_ip: {ne: null}", {}, True),
        ("public_ip: {exists: true}", {"public_ip": None}, False),
        ("public_ip: {exists: false}", {"public_ip": None}, True),
        ("farm_id: 1439", {"farm_id": None}, False),
        # globs: whole value, case-sensitive; {eq: ...} is literal
        ('role_name: "web-*"', {}, True),
        ('role_name: "WEB-*"', {}, False),
        ('role_name: "web-?ginx"', {}, True),
        ('role_name: "web-[mn]ginx"', {}, True),
        ('role_name: "nginx*"', {}, False),
        ('role_name: {eq: "web-*"}', {}, False),
        ('role_name: {eq: "web-*"}', {"role_name": "web-*"}, True),
        ('farm_id: "14*"', {}, True),
        ('role_name: "web-*"', {"role_name": None}, False),
        # regex: search, compiled at load
        ('server_id: {regex: "^5bbd"}', {}, True),
        ('server_id: {regex: "908c"}', {}, True),
        ('server_id: {regex: "^908c"}', {}, False),
        ('server_id: {regex: "(?i)^5BBD"}', {}, True),
        ('server_id: {regex: "x"}', {"server_id": None}, False),
        # in / not_in
        ("farm_role_id: {in: [1978, 1979]}", {}, True),
        ('farm_role_id: {in: ["1978"]}', {}, True),
        ("farm_role_id: {in: [1, 2]}", {}, False),
        ("farm_role_id: {not_in: [1, 2]}", {}, True),
        ("farm_role_id: {in: [1, null]}", {"farm_role_id": None}, True),
        # numeric comparison
        ("env_id: {gt: 2}", {}, True),
        ("env_id: {gt: 3}", {}, False),
        ("env_id: {gte: 3}", {}, True),
        ("env_id: {lt: 3}", {}, False),
        ("env_id: {lte: 3}", {}, True),
        ("env_id: {ne: 3}", {}, False),
        ("env_id: {eq: 3}", {}, True),
        ("env_id: {gte: 2, lte: 5}", {}, True),
        ("env_id: {gte: 4, lte: 5}", {}, False),
        ("env_id: {gt: 2}", {"env_id": "3"}, True),
        ("env_id: {gt: 2}", {"env_id": None}, False),
        ("env_id: {gt: 2}", {"env_id": "three"}, False),
        # contains: lists and substrings
        ("enriched_fields: {contains: role_name}", {}, True),
        ("enriched_fields: {contains: farm_id}", {}, False),
        ("message: {contains: terminated}", {}, True),
        # dotted data paths; missing keys are null
        ('data.SCALR_FARM_NAME: "prod*"', {"data": {"SCALR_FARM_NAME": "prod-eu"}}, True),
        ('data.SCALR_FARM_NAME: "prod*"', {"data": {}}, False),
        ("data.SCALR_FARM_NAME: null", {"data": {}}, True),
        ("data.a.b: 1", {"data": {"a": {"b": "1"}}}, True),
        ("data.a.b: 1", {"data": {"a": "flat"}}, False),
        # groups
        ("any: [{farm_id: 1}, {farm_id: 1439}]", {}, True),
        ("any: [{farm_id: 1}, {farm_id: 2}]", {}, False),
        ("all: [{farm_id: 1439}, {env_id: 3}]", {}, True),
        ("all: [{farm_id: 1439}, {env_id: 4}]", {}, False),
        ("not: {farm_id: 1439}", {}, False),
        ("not: {farm_id: 1439, env_id: 4}", {}, True),
        ("any: [{not: {farm_id: 1439}}, {all: [{env_id: 3}, {role_name: 'web-*'}]}]", {}, True),
        ("any: [{not: {farm_id: 1439}}, {all: [{env_id: 3}, {role_name: 'db-*'}]}]", {}, False),
    ],
)
def test_operator_table(where: str, changes: dict[str, Any], expected: bool) -> None:
    assert matches(where, **changes) is expected


def test_empty_where_matches_every_event_of_the_name() -> None:
    assert evaluate(rule_where(""), event()).matched


def test_event_name_with_on_prefix_is_tolerated() -> None:
    assert evaluate(rule_where("farm_id: 1439"), event(name="OnHostDown")).matched


def test_non_match_names_the_first_failing_condition_and_actual_value() -> None:
    rule = rule_where("farm_id: 1439\nrole_name: 'db-*'\nenv_id: {gt: 10}")
    result = evaluate(rule, event())
    assert not result.matched
    assert result.reason == 'where.role_name: expected glob "db-*", got "web-nginx"'
    (failure,) = result.failures
    assert (failure.path, failure.op, failure.expected, failure.actual) == (
        "where.role_name", "glob", "db-*", "web-nginx",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("farm_id: 1440", "where.farm_id: expected 1440, got 1439"),
        ("farm_role_id: {in: [1, 2]}", "where.farm_role_id.in: expected one of [1, 2], got 1978"),
        ("env_id: {gt: 5}", "where.env_id.gt: expected > 5, got 3"),
        ("public_ip: null", 'where.public_ip: expected null, got "54.211.17.89"'),
        ("new_ip: {exists: true}", "where.new_ip.exists: expected a value, got null"),
        ('server_id: {regex: "^i-"}', 'where.server_id.regex: expected regex "^i-", got '
         '"5bbd72c5-908c-4535-a7ec-2fbf56486ff3"'),
        ("any: [{farm_id: 1}, {env_id: {lt: 2}}]", "where.any: none of 2 alternatives matched "
         "(where.any[0].farm_id: expected 1, got 1439; where.any[1].env_id.lt: expected < 2, got 3)"),
        ("not: {farm_id: 1439}", "where.not: excluded, because all of its conditions held"),
        ("all: [{farm_id: 1439}, {env_id: 4}]", "where.all[1].env_id: expected 4, got 3"),
    ],
)  # fmt: skip
def test_explanations(where: str, reason: str) -> None:
    assert evaluate(rule_where(where), event()).reason == reason


def test_any_failure_keeps_each_alternative() -> None:
    result = evaluate(rule_where("any: [{farm_id: 1}, {farm_id: 2}]"), event())
    (failure,) = result.failures
    assert [c.expected for c in failure.children] == [1, 2]
    assert all(c.actual == 1439 for c in failure.children)


def test_other_event_and_disabled_rule_get_reasons() -> None:
    rule = rule_where("farm_id: 1439", events="[HostDown, HostCrash]")
    result = evaluate(rule, event(name="HostUp"))
    assert (result.matched, result.reason) == (
        False,
        "listens for HostDown, HostCrash; event is HostUp",
    )
    disabled = rule_where("farm_id: 1439", extra="    enabled: false\n")
    assert (
        evaluate(disabled, event()).reason == "rule is disabled (its conditions would have matched)"
    )
    disabled_miss = rule_where("farm_id: 1", extra="    enabled: false\n")
    result = evaluate(disabled_miss, event())
    assert result.reason == "rule is disabled (its conditions would not have matched either)"
    assert result.failures[0].path == "where.farm_id"


def test_explain_all_covers_every_rule_and_is_json() -> None:
    ruleset = load(
        """\
        rules:
          - {name: down, events: [HostDown], where: {farm_id: 1439}, actions: [{email: a@b.c}]}
          - {name: up, events: [HostUp], actions: [{email: a@b.c}]}
          - {name: other-farm, events: [HostDown], where: {farm_id: 1}, actions: [{email: a@b.c}]}
        """
    )
    ev = event(received_at=__import__("datetime").datetime(2024, 5, 1, 12, 0))
    evaluations = explain_all(ruleset, ev)
    assert [(e.rule_name, e.matched) for e in evaluations] == [
        ("down", True), ("up", False), ("other-farm", False),
    ]  # fmt: skip
    assert evaluations[1].reason == "listens for HostUp; event is HostDown"
    decoded = json.loads(json.dumps([e.to_dict() for e in evaluations]))
    assert decoded[2]["failures"][0]["actual"] == 1439
    assert decoded[2]["failures"][0]["message"] == "where.farm_id: expected 1, got 1439"
    assert [r.name for r in matching_rules(ruleset, ev)] == ["down"]


def test_disabled_rules_never_match() -> None:
    ruleset = load(
        "rules:\n  - {name: paused, enabled: false, events: [HostDown], actions: [{email: a@b.c}]}\n"
    )
    assert ruleset.rules_for("HostDown") == ruleset.rules
    assert matching_rules(ruleset, event()) == []


def test_rules_for_uses_the_index(monkeypatch: pytest.MonkeyPatch) -> None:
    names = ["HostUp", "HostInit", "RebootComplete", "HostCrash"]
    lines = ["rules:"]
    for index in range(1000):
        name = "HostDown" if index % 100 == 0 else names[index % 4]
        lines.append(
            f"  - {{name: r{index}, events: [{name}], where: {{farm_id: {index}}}, "
            "actions: [{email: ops@example.com}]}"
        )
    ruleset = load("\n".join(lines) + "\n")
    assert len(ruleset) == 1000
    assert [r.name for r in ruleset.rules_for("HostDown")] == [f"r{i}" for i in range(0, 1000, 100)]
    assert ruleset.rules_for("NoSuchEvent") == ()

    calls: list[str] = []
    real = matching.evaluate

    def spy(rule: Rule, ev: dict[str, Any]) -> matching.Evaluation:
        calls.append(rule.name)
        return real(rule, ev)

    monkeypatch.setattr(matching, "evaluate", spy)
    matched = matching_rules(ruleset, event(farm_id=300))
    assert [r.name for r in matched] == ["r300"]
    assert len(calls) == 10  # only the rules listening for HostDown, not all 1,000
