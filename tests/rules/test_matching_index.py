"""The field index and the compiled conditions decide exactly as the explaining walk does."""

from __future__ import annotations

from typing import Any

import pytest

from app.rules.matching import explain, matching_rules
from app.rules.model import FIELD_INDEX_MIN_RULES
from tests.rules.helpers import event, load

OPERANDS = [
    "1439", "1439.0", '"1439"', '"007"', "7", '"abc"', "null", "true", "1",
    "{in: [1439, 2]}", '{in: ["1439"]}', "{in: [1, null]}", "{ne: 1439}", "{gte: 1439}",
    '"14*"', "{exists: true}",
]  # fmt: skip
VALUES: list[Any] = [1439, "1439", 1439.0, "1439.0", 7, "007", "7", True, 1, None, "abc", [1]]


@pytest.fixture(scope="module")
def ruleset():
    lines = ["rules:"]
    for index in range(FIELD_INDEX_MIN_RULES * 2):
        operand = OPERANDS[index % len(OPERANDS)]
        extra = ", role_name: 'web-*'" if index % 3 else ""
        lines.append(
            f"  - {{name: r{index}, events: [HostDown], where: {{farm_id: {operand}{extra}}}, "
            "actions: [{email: ops@example.com}]}"
        )
    return load("\n".join(lines) + "\n")


@pytest.mark.parametrize("value", VALUES, ids=repr)
@pytest.mark.parametrize("name", ["HostDown", "OnHostDown"])
def test_indexed_matching_agrees_with_the_walk(ruleset, value: Any, name: str) -> None:
    ev = event(name=name, farm_id=value)
    expected = [r.name for r in ruleset.rules if explain(r, ev).matched]
    assert [r.name for r in matching_rules(ruleset, ev)] == expected


def test_a_miss_explains_itself_only_when_asked(ruleset) -> None:
    from app.rules.matching import evaluate

    rule = ruleset.rules[0]
    lazy = evaluate(rule, event(farm_id=1))
    assert lazy == explain(rule, event(farm_id=1))
    assert lazy.reason == "where.farm_id: expected 1439, got 1"
