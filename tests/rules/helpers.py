"""Helpers shared by the rules tests."""

from __future__ import annotations

import textwrap
from typing import Any

import pytest

from app.rules.errors import RuleProblem, RulesError
from app.rules.loader import load_rules
from app.rules.model import RuleSet

HOST_DOWN: dict[str, Any] = {
    "id": 7,
    "name": "HostDown",
    "message": "Instance 5bbd72c5-908c-4535-a7ec-2fbf56486ff3 (54.211.17.89) "
    "Internal IP: 10.183.42.7 terminated",
    "server_id": "5bbd72c5-908c-4535-a7ec-2fbf56486ff3",
    "public_ip": "54.211.17.89",
    "internal_ip": "10.183.42.7",
    "new_ip": None,
    "farm_id": 1439,
    "farm_role_id": 1978,
    "role_name": "web-nginx",
    "env_id": 3,
    "source": "observer",
    "received_at": "2024-05-01T12:00:00+00:00",
    "data": {},
    "enriched_fields": ["farm_role_id", "role_name"],
}


def event(**changes: Any) -> dict[str, Any]:
    """Return the HostDown event with `changes` applied."""
    return {**HOST_DOWN, **changes}


def load(text: str) -> RuleSet:
    """Load dedented `text`."""
    return load_rules(textwrap.dedent(text))


def problems(text: str) -> list[RuleProblem]:
    """Return the problems that refuse the dedented `text`."""
    with pytest.raises(RulesError) as info:
        load_rules(textwrap.dedent(text))
    return info.value.errors


def only_problem(text: str) -> RuleProblem:
    """Return the single problem that refuses `text`."""
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def rule_yaml(body: str = "", actions: str = "") -> str:
    """Return a one-rule file: `body` lines go into the rule, `actions` replace the default."""
    actions = actions or "      - email: ops@example.com\n"
    body = textwrap.indent(textwrap.dedent(body), "    ") if body else ""
    return f"rules:\n  - name: r1\n    events: [HostDown]\n{body}    actions:\n{actions}"
