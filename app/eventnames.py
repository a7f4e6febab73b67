"""Scalr event names: the legacy `On` prefix (protocol section 1.2) is dropped in one place.

The PHP observer posts `OnHostDown`; 5.x webhooks and the rules file say
`HostDown`. Ingest, the rules loader and the matcher all read names through
`strip_on_prefix`, so `OnHostDown` and `HostDown` are one event everywhere.
"""

from __future__ import annotations

import re

_ON_PREFIX_RE = re.compile(r"On(?=[A-Z])")


def strip_on_prefix(name: str) -> str:
    """Return `name` without one leading `On` before an uppercase letter."""
    return name[2:] if _ON_PREFIX_RE.match(name) else name


# Events Lifeguard emits itself (`source: lifeguard`), matched by rules like Scalr's.
LIFEGUARD_EVENTS: tuple[str, ...] = (
    "RemediationUnverified",
    "FlapDetected",
    "StormDetected",
    "IngestGap",
    "BreakerOpened",
    "JobDead",
    "KillSwitchEngaged",
)
