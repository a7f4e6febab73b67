"""Generate rules files of realistic size: N rules over four event names, three-field `where`s.

Every rule tests three fields, and the one that tells them apart (`farm_id`) comes last,
so a non-matching rule costs all three tests, not one. Per event name, exactly one rule
matches the benchmark's event (farm 1439, role web-nginx, environment 3).
"""

from __future__ import annotations

from typing import Any

from app.rules.loader import load_rules
from app.rules.model import RuleSet

EVENT_NAMES = ("HostDown", "HostUp", "HostCrash", "RebootComplete")
MATCHED_FARM = 1439
CHUNK = 1000  # a rules file is at most 1 MiB and 100,000 YAML nodes: load in chunks

# What a legacy HostDown delivery from farm 1439 becomes once parsed and enriched.
EVENT: dict[str, Any] = {
    "id": 1,
    "name": "HostDown",
    "message": "Instance 5bbd72c5-908c-4535-a7ec-2fbf56486ff3 (54.211.17.89) "
    "Internal IP: 10.183.42.7 terminated",
    "server_id": "5bbd72c5-908c-4535-a7ec-2fbf56486ff3",
    "public_ip": "54.211.17.89",
    "internal_ip": "10.183.42.7",
    "new_ip": None,
    "farm_id": MATCHED_FARM,
    "farm_role_id": 1978,
    "role_name": "web-nginx",
    "env_id": 3,
    "source": "observer",
    "received_at": "2024-05-01T12:00:00+00:00",
    "data": {},
    "enriched_fields": ["farm_role_id", "role_name"],
}


def rules_yaml(count: int, start: int = 0, action: str | None = None, *, keyed: bool = True) -> str:
    """Return a rules file of `count` rules (names r<start>...), four event names in turn.

    `keyed=False` writes the farm test as a range (`{gte: N, lte: N}`): the same rules,
    with no equality for the index to file them by, so every rule of the name is scanned.
    """
    action = action or "{email: ops@example.com}"
    lines = ["rules:"]
    per_name = max(1, count // len(EVENT_NAMES))
    for index in range(start, start + count):
        name = EVENT_NAMES[index % len(EVENT_NAMES)]
        # The rule of slot `per_name // 2` (per name) is the one that matches farm 1439.
        slot = index // len(EVENT_NAMES)
        farm = MATCHED_FARM if slot % per_name == per_name // 2 else 100_000 + index
        test = str(farm) if keyed else f"{{gte: {farm}, lte: {farm}}}"
        lines.append(
            f"  - {{name: r{index}, events: [{name}], "
            f'where: {{role_name: "web-*", env_id: {{gte: 1}}, farm_id: {test}}}, '
            f"actions: [{action}]}}"
        )
    return "\n".join(lines) + "\n"


def ruleset(count: int, *, keyed: bool = True) -> RuleSet:
    """Return a loaded rule set of `count` generated rules (built from 1,000-rule files)."""
    rules = []
    for start in range(0, count, CHUNK):
        rules += load_rules(rules_yaml(min(CHUNK, count - start), start, keyed=keyed)).rules
    return RuleSet(rules, text=f"generated {count}")
