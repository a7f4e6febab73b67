"""The validated shape of a rules file: rules, conditions, throttles, the rule set.

Each action's shape belongs to its kind (app.actions); a rule holds them as `Action`s.

Everything here is immutable and built only by the loader; the worker, the
dashboard and the CLI read it. A `RuleSet` indexes its rules by event name so
matching an event costs the rules that listen for it, not the whole file.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from app.actions import Action
from app.eventnames import LIFEGUARD_EVENTS

# The normalised event fields (DESIGN.md); `data` is the only one with sub-keys.
EVENT_FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "message",
    "server_id",
    "public_ip",
    "internal_ip",
    "new_ip",
    "farm_id",
    "farm_role_id",
    "role_name",
    "env_id",
    "source",
    "received_at",
    "data",
    "enriched_fields",
)

# Event names Scalr sends (scalr-protocol.md 1.5) and Lifeguard's own. Others are accepted,
# since custom events carry their own names, but draw a "did you mean" warning.
KNOWN_EVENTS: frozenset[str] = frozenset({
    "HostInit", "BeforeHostUp", "HostUp", "HostDown", "HostCrash", "BeforeInstanceLaunch",
    "BeforeHostTerminate", "RebootBegin", "RebootComplete", "IPAddressChanged",
    "RebundleComplete", "RebundleFailed", "FarmLaunched", "FarmTerminated", "NewMysqlMasterUp",
    "NewDbMsrMasterUp", "MysqlBackupComplete", "MysqlBackupFail", "MySQLReplicationFail",
    "MySQLReplicationRecovered", "DNSZoneUpdated", "EBSVolumeMounted", "EBSVolumeAttached",
    "RoleOptionChanged", "ServiceConfigurationPresetChanged", "CustomEvent", "CheckFailed",
    "CheckRecovered",
}) | frozenset(LIFEGUARD_EVENTS)  # fmt: skip


@dataclass(frozen=True)
class FieldCondition:
    """One test of one event field: `farm_id: 1439`, `server_id: {regex: ^5bbd}`."""

    path: str  # where it is written, e.g. "where.farm_id" (for explanations)
    field: tuple[str, ...]  # ("farm_id",) or ("data", "SCALR_FARM_NAME")
    op: str  # a key of operators.OPERATORS
    expected: Any  # as written in the file (JSON-ready)
    operand: Any  # prepared for the check: compiled regex, tuple, number


@dataclass(frozen=True)
class Group:
    """Conditions combined: `all` must all hold, `any` needs one, `not` needs them not all to."""

    path: str
    op: Literal["all", "any", "not"]
    children: tuple[Condition, ...]


Condition = FieldCondition | Group


@dataclass(frozen=True)
class Throttle:
    """At most `max` jobs of this rule per `per` seconds for each rendered `key`."""

    key: str  # template; "" puts every event of the rule in one bucket
    max: int
    per: int


@dataclass(frozen=True)
class Flap:
    """A server changing between down and up more than `max` times in `per` s is flapping.

    `max` 0 (`flap: false`) turns the check off for the rule.
    """

    max: int
    per: int


@dataclass(frozen=True)
class Rule:
    """One validated rule."""

    name: str
    events: tuple[str, ...]
    where: Group
    actions: tuple[Action, ...]
    description: str = ""
    enabled: bool = True
    delay: int = 0
    cancel_on: tuple[str, ...] = ()
    throttle: Throttle | None = None
    dry_run: bool = False
    on_failure: Literal["stop", "continue"] = "stop"
    line: int | None = None
    flap: Flap | None = None  # None: the global default (FLAP_MAX, FLAP_WINDOW_SECONDS)


class RuleSet:
    """The rules of one file version, indexed by event name."""

    def __init__(
        self,
        rules: tuple[Rule, ...] | list[Rule] = (),
        *,
        text: str = "",
        source: str = "<rules>",
        warnings: tuple[Any, ...] | list[Any] = (),
        loaded_at: datetime | None = None,
    ) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        self.source = source
        self.warnings = tuple(warnings)  # RuleProblem: suspicious but not refused
        self.loaded_at = loaded_at
        self.sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self._by_name = {rule.name: rule for rule in self.rules}
        index: dict[str, list[Rule]] = {}
        for rule in self.rules:
            for event in rule.events:
                index.setdefault(event, []).append(rule)
        self._index = {name: tuple(rules) for name, rules in index.items()}

    @property
    def version(self) -> str:
        """Return the short content hash that names this version of the file."""
        return self.sha256[:12]

    def rules_for(self, event_name: str) -> tuple[Rule, ...]:
        """Return the rules listening for `event_name` (disabled ones too), in file order."""
        return self._index.get(event_name, ())

    def get(self, name: str) -> Rule | None:
        """Return the rule called `name`, if any."""
        return self._by_name.get(name)

    def event_names(self) -> list[str]:
        """Return every event name some rule listens for, sorted."""
        return sorted(self._index)

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self) -> Any:
        return iter(self.rules)

    def __repr__(self) -> str:
        return f"<RuleSet {self.version} of {self.source}: {len(self.rules)} rules>"
