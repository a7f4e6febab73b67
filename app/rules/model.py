"""The validated shape of a rules file: rules, conditions, throttles, the rule set.

Each action's shape belongs to its kind (app.actions); a rule holds them as `Action`s.

Everything here is immutable and built only by the loader; the worker, the
dashboard and the CLI read it. A `RuleSet` indexes its rules by event name so
matching an event costs the rules that listen for it, not the whole file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

from app.actions import Action
from app.eventnames import LIFEGUARD_EVENTS
from app.rules.operators import as_number

if TYPE_CHECKING:
    from app.rules.matching import MissCache

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
class Storm:
    """More than `share` of a farm role's known servers down within `per` s is a storm.

    `share` 0 (`storm: false`) turns the check off for the rule.
    """

    share: float
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
    storm: Storm | None = None  # None: the global default (STORM_SHARE, STORM_WINDOW_SECONDS)
    # Per action: how many seconds its `approve: {within: ...}` waits for a person, or None.
    approvals: tuple[int | None, ...] = ()

    def approve_within(self, index: int) -> int | None:
        """Return how long action `index` waits for approval, or None when it needs none."""
        return self.approvals[index] if index < len(self.approvals) else None

    @cached_property
    def reads(self) -> tuple[tuple[str, ...], ...]:
        """Return the field paths the rule's conditions read, each once, in file order."""
        found: dict[tuple[str, ...], None] = {}
        pending: list[Condition] = [self.where]
        while pending:
            cond = pending.pop(0)
            if isinstance(cond, FieldCondition):
                found[cond.field] = None
            else:
                pending[:0] = cond.children
        return tuple(found)

    @cached_property
    def compiled(self) -> Callable[[Mapping[str, Any]], bool]:
        """Return the rule's conditions compiled once: does an event of its names pass `where`?"""
        from app.rules.matching import compile_rule  # matching builds on this module

        return compile_rule(self.events, self.where)


# Below this many rules for one event name a scan costs less than the index's lookups.
FIELD_INDEX_MIN_RULES = 32
_KEYED_OPS = ("eq", "in")


def _value_keys(value: Any) -> tuple[tuple[str, Any], ...] | None:
    """Return the keys an event value is filed under (None: this value cannot be keyed).

    Equality treats a number and numeric text alike, but two strings as text
    (operators.equals): text is filed as text, and as a number when it is one.
    """
    if value is None or isinstance(value, bool):
        return ()
    if isinstance(value, str):
        number = as_number(value)
        return (("s", value),) if number is None else (("s", value), ("n", number))
    if isinstance(value, int | float):
        return (("n", value),)
    return None


class FieldIndex:
    """The rules of one event name filed by the value one field must equal.

    A rule whose top-level `where` says `field: value` (or `field: {in: [...]}`) can only
    match an event with that value, so an event is checked against the rules filed under
    its own value and the rules that do not test the field; every candidate is still
    decided in full by the matcher.
    """

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        counts: dict[str, int] = {}
        for rule in rules:
            for name in {c.field[0] for c in self._keyed(rule)}:
                counts[name] = counts.get(name, 0) + 1
        self.rules = rules
        self.field = max(counts, key=lambda k: counts[k]) if counts else None
        self._buckets: dict[tuple[str, Any], list[int]] = {}
        always: list[int] = []
        for position, rule in enumerate(rules):
            accepted = self._operand_keys(rule)
            if accepted is None:
                always.append(position)
            for key in accepted or ():
                self._buckets.setdefault(key, []).append(position)
        self._always = tuple(always)

    @staticmethod
    def _keyed(rule: Rule) -> list[FieldCondition]:
        return [
            c
            for c in rule.where.children
            if isinstance(c, FieldCondition) and c.op in _KEYED_OPS and len(c.field) == 1
        ]

    def _operand_keys(self, rule: Rule) -> set[tuple[str, Any]] | None:
        """Return the keys of the values `rule` accepts in the field (None: any value)."""
        for cond in self._keyed(rule):
            if cond.field[0] != self.field:
                continue
            values = cond.operand if cond.op == "in" else (cond.operand,)
            keys: set[tuple[str, Any]] = set()
            for value in values:
                found = _value_keys(value)
                if found is None or found == ():
                    break  # null, booleans and odd types: not filed, always checked
                # Text matches a number only through its numeric value, text only as text.
                keys.update(found)
            else:
                return keys
        return None

    def candidates(self, event: Mapping[str, Any]) -> tuple[Rule, ...]:
        """Return the rules that may match `event`, in file order."""
        if self.field is None:
            return self.rules
        keys = _value_keys(event.get(self.field))
        if keys is None:
            return self.rules
        found: set[int] = set(self._always)
        for key in keys:
            found.update(self._buckets.get(key, ()))
        return tuple(self.rules[i] for i in sorted(found))


class RuleSet:
    """The rules of one file version, indexed by event name (and, when many, by a field)."""

    def __init__(
        self,
        rules: tuple[Rule, ...] | list[Rule] = (),
        *,
        text: str = "",
        source: str = "<rules>",
        warnings: tuple[Any, ...] | list[Any] = (),
        loaded_at: datetime | None = None,
        maintenance: tuple[Any, ...] | list[Any] = (),
    ) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        # MaintenanceWindow (app.rules.maintenance): the file's top-level `maintenance:` list.
        self.maintenance: tuple[Any, ...] = tuple(maintenance)
        self.source = source
        self.warnings = tuple(warnings)  # RuleProblem: suspicious but not refused
        self.loaded_at = loaded_at
        self.sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self._by_name = {rule.name: rule for rule in self.rules}
        index: dict[str, list[Rule]] = {}
        for rule in self.rules:
            rule.compiled  # noqa: B018 -- compiled at load, not on the first event
            for event in rule.events:
                index.setdefault(event, []).append(rule)
        self._index = {name: tuple(rules) for name, rules in index.items()}
        self._fields = {
            name: FieldIndex(rules)
            for name, rules in self._index.items()
            if len(rules) >= FIELD_INDEX_MIN_RULES
        }

    @property
    def version(self) -> str:
        """Return the short content hash that names this version of the file."""
        return self.sha256[:12]

    def rules_for(self, event_name: str) -> tuple[Rule, ...]:
        """Return the rules listening for `event_name` (disabled ones too), in file order."""
        return self._index.get(event_name, ())

    def candidates(self, event_name: str, event: Mapping[str, Any]) -> tuple[Rule, ...]:
        """Return the rules listening for `event_name` that may match `event`, in file order."""
        index = self._fields.get(event_name)
        return index.candidates(event) if index is not None else self._index.get(event_name, ())

    @cached_property
    def misses(self) -> MissCache:
        """Return this version's memory of explained non-matches (what the worker stores)."""
        from app.rules.matching import MissCache  # matching builds on this module

        return MissCache()

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
