"""Every action by its name, and how a call finds one (protocol section 4)."""

from __future__ import annotations

from simulator.actions import account, dns, events, farms, scripts, servers, variables
from simulator.actions.common import Spec


def gather(*tables: dict[str, Spec]) -> dict[str, Spec]:
    """Merge the areas' tables, refusing a name twice in any case (PHP ignores case)."""
    specs: dict[str, Spec] = {}
    for table in tables:
        for name, spec in table.items():
            if any(name.lower() == known.lower() for known in specs):
                raise ValueError(f"action {name} is registered twice")
            specs[name] = spec
    return specs


SPECS = gather(
    servers.SPECS,
    farms.SPECS,
    scripts.SPECS,
    variables.SPECS,
    events.SPECS,
    account.SPECS,
    dns.SPECS,
)


def find_spec(action: str, version: tuple[int, ...]) -> tuple[str, Spec] | None:
    """Find an action the way PHP finds a method: case-insensitively, in this Version's class."""
    for name, spec in SPECS.items():
        if name.lower() == action.lower() and version >= spec.since:
            return name, spec
    return None
