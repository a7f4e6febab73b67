"""Validate a parsed rules document into `Rule` objects, collecting every problem.

Decisions where the file format leaves room:
- Top level: a mapping with `rules:` (a list; `rules:` left empty means no
  rules). Keys starting with `x-` are ignored, so anchors can live there
  (`x-notify: &notify {email: ops@example.com}`), as in Docker Compose files.
- `events:` takes a list (or one name); `OnHostDown` is read as `HostDown`;
  a name Scalr does not send is allowed (custom events) but warned about.
- `delay` is at most 7 days; `throttle.per` between 1 second and 30 days.
- `actions:` must not be empty: a rule that does nothing is a mistake.
"""

from __future__ import annotations

import re
from typing import Any

from app.eventnames import strip_on_prefix
from app.rules.checker import Checker, suggest
from app.rules.model import KNOWN_EVENTS, Action, Flap, Rule, Storm, Throttle
from app.rules.schema_actions import check_templates, parse_action
from app.rules.schema_where import parse_where
from app.rules.yamlsource import Document, child, item

RULE_KEYS = (
    "name", "description", "enabled", "events", "where", "delay", "cancel_on",
    "throttle", "dry_run", "on_failure", "actions", "flap", "storm",
)  # fmt: skip
_RULE_HINTS = {
    key: f"`{key}:` is read by YAML 1.1 as a boolean, not a word: write `events:` instead"
    for key in ("on", "On", "ON")
} | {
    "trigger": "unknown key 'trigger': the events a rule listens for go under `events:`",
    "conditions": "unknown key 'conditions': conditions go under `where:`",
    "criteria": "unknown key 'criteria': conditions go under `where:`",
    "match": "unknown key 'match': conditions go under `where:`",
}
NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
EVENT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
MAX_DELAY = 7 * 86400
MAX_THROTTLE_PERIOD = 30 * 86400


def parse_document(doc: Document) -> tuple[list[Rule], Checker]:
    """Return the rules of `doc` and the checker holding its problems and warnings."""
    check = Checker(doc)
    if doc.data is None:
        check.error("", "the rules file is empty: write `rules: []` for no rules")
        return [], check
    if not isinstance(doc.data, dict):
        check.error(
            "",
            f"the top level must be a mapping with a `rules:` list, got {type(doc.data).__name__}",
        )
        return [], check
    for key in doc.data:
        if key != "rules" and not key.startswith("x-"):
            check.error(key, f"unknown top-level key {key!r}{suggest(key, ['rules'])}")
    if "rules" not in doc.data:
        check.error("", "missing required key 'rules' (write `rules: []` for no rules)")
        return [], check
    entries = doc.data["rules"]
    if entries is None:
        return [], check
    if not isinstance(entries, list):
        check.error("rules", f"`rules` must be a list, got {type(entries).__name__}")
        return [], check
    rules: list[Rule] = []
    seen: dict[str, int | None] = {}
    for index, entry in enumerate(entries):
        path = item("rules", index)
        check.base = path
        rule = _rule(check, entry, path)
        if rule is None:
            continue
        if rule.name in seen:
            check.error(
                child(path, "name"),
                f"duplicate rule name {rule.name!r} (first at line {seen[rule.name]})",
            )
            continue
        seen[rule.name] = rule.line
        rules.append(rule)
    return rules, check


def _rule(check: Checker, value: Any, path: str) -> Rule | None:
    mapping = check.mapping(value, path, RULE_KEYS, ("name", "events", "actions"), _RULE_HINTS)
    if mapping is None:
        return None
    name = check.get(mapping, "name", path, str, "")
    if "name" in mapping and isinstance(mapping["name"], str) and not NAME.fullmatch(name):
        check.error(
            child(path, "name"),
            f"bad rule name {name!r}: use [a-z0-9][a-z0-9_.-], at most 64 characters",
        )
    events = _event_names(check, mapping.get("events"), child(path, "events"), required=True)
    cancel_on = _event_names(check, mapping.get("cancel_on", []), child(path, "cancel_on"))
    delay = check.duration(mapping, "delay", path, default=0, maximum=MAX_DELAY)
    if cancel_on and delay == 0:
        check.warn(child(path, "cancel_on"), "cancel_on has no effect without a delay")
    actions: list[Action] = []
    raw_actions = mapping.get("actions")
    if "actions" in mapping:
        if not isinstance(raw_actions, list) or not raw_actions:
            check.error(child(path, "actions"), "expected a non-empty list of actions")
        else:
            for index, raw in enumerate(raw_actions):
                action = parse_action(check, raw, item(child(path, "actions"), index))
                if action is not None:
                    actions.append(action)
    on_failure = check.choice(mapping, "on_failure", path, ("stop", "continue"), "stop")
    rule = Rule(
        name=name,
        events=tuple(events),
        where=parse_where(check, mapping.get("where"), child(path, "where")),
        actions=tuple(actions),
        description=check.get(mapping, "description", path, str, ""),
        enabled=check.get(mapping, "enabled", path, bool, True),
        delay=delay,
        cancel_on=tuple(cancel_on),
        throttle=_throttle(check, mapping.get("throttle"), child(path, "throttle")),
        dry_run=check.get(mapping, "dry_run", path, bool, False),
        on_failure="continue" if on_failure == "continue" else "stop",
        line=check.doc.line(path),
        flap=_flap(check, mapping.get("flap", None), child(path, "flap")),
        storm=_storm(check, mapping.get("storm", None), child(path, "storm")),
    )
    return rule if name else None


def _event_names(check: Checker, value: Any, path: str, *, required: bool = False) -> list[str]:
    names: list[str] = []
    for index, raw in enumerate(check.string_list(value, path, allow_single=True)):
        sub = item(path, index) if isinstance(value, list) else path
        name = strip_on_prefix(raw)
        if not EVENT_NAME.fullmatch(name):
            check.error(sub, f"bad event name {raw!r}: a plain identifier like HostDown")
        elif name not in names:
            names.append(name)
            if name not in KNOWN_EVENTS:
                check.warn(
                    sub,
                    f"{name!r} is not an event Scalr sends{suggest(name, KNOWN_EVENTS)}"
                    " (fine for a custom event)",
                )
    if required and not names and isinstance(value, list):
        check.error(path, "a rule must listen for at least one event")
    return names


def _throttle(check: Checker, value: Any, path: str) -> Throttle | None:
    if value is None:
        return None
    mapping = check.mapping(value, path, ("key", "max", "per"), ("max", "per"))
    if mapping is None:
        return None
    key = check.get(mapping, "key", path, str, "")
    check_templates(check, key, child(path, "key"))
    most = check.integer(mapping, "max", path, 1, 1, 1_000_000)
    per = check.duration(mapping, "per", path, default=3600, maximum=MAX_THROTTLE_PERIOD, minimum=1)
    return Throttle(key, most, per)


def _flap(check: Checker, value: Any, path: str) -> Flap | None:
    """Read `flap: {max: 3, per: 30m}`, or `flap: false` to turn the check off."""
    if value is None:
        return None
    if value is False:
        return Flap(0, 0)
    mapping = check.mapping(value, path, ("max", "per"), ("max", "per"))
    if mapping is None:
        return None
    most = check.integer(mapping, "max", path, 3, 1, 1000)
    per = check.duration(mapping, "per", path, default=1800, maximum=MAX_THROTTLE_PERIOD, minimum=1)
    return Flap(most, per)


def _storm(check: Checker, value: Any, path: str) -> Storm | None:
    """Read `storm: {share: 0.5, per: 5m}`, or `storm: false` to turn the check off."""
    if value is None:
        return None
    if value is False:
        return Storm(0.0, 0)
    mapping = check.mapping(value, path, ("share", "per"), ("share", "per"))
    if mapping is None:
        return None
    share = mapping.get("share", 0.5)
    if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share < 1:
        check.error(
            child(path, "share"),
            f"expected a number above 0 and below 1 (0.5: more than half), got {share!r}",
        )
        share = 0.5
    per = check.duration(mapping, "per", path, default=300, maximum=MAX_THROTTLE_PERIOD, minimum=1)
    return Storm(float(share), per)
