"""Every action by its name, and how a call finds one (protocol section 4)."""

from __future__ import annotations

from simulator.actions import account, dns, events, farms, scripts, servers, variables
from simulator.actions.common import Spec

SPECS: dict[str, Spec] = {
    **servers.SPECS,
    **farms.SPECS,
    **scripts.SPECS,
    **variables.SPECS,
    **events.SPECS,
    **account.SPECS,
    **dns.SPECS,
}


def find_spec(action: str, version: tuple[int, ...]) -> tuple[str, Spec] | None:
    """Find an action the way PHP finds a method: case-insensitively, in this Version's class."""
    for name, spec in SPECS.items():
        if name.lower() == action.lower() and version >= spec.since:
            return name, spec
    return None
