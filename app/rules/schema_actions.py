"""Read a rule's `actions:` list; each kind's own keys are read by its module in app.actions.

Each action is a mapping with exactly one key that names a registered kind
(`scalr:`, `webhook:`, `email:`); `max_attempts:` is common to every kind.
Every string the action will render is checked as a template here, by
`check_templates`, which the kinds call for their own strings.
"""

from __future__ import annotations

from typing import Any

from app.actions import COMMON_KEYS, Action, kinds
from app.rules.checker import Checker
from app.rules.templating import template_problems
from app.rules.yamlsource import child, item


def check_templates(check: Checker, value: Any, path: str) -> None:
    """Record a problem for every string inside `value` that is not a valid template."""
    if isinstance(value, str):
        for problem in template_problems(value):
            check.error(path, problem)
    elif isinstance(value, dict):
        for key, sub in value.items():
            check_templates(check, sub, child(path, key))
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            check_templates(check, sub, item(path, index))


MAX_APPROVAL_WAIT = 7 * 86400


def parse_approve(check: Checker, raw: Any, path: str) -> int | None:
    """Return how long an action's `approve: {within: 30m}` waits for a person (None: no wait)."""
    if not isinstance(raw, dict) or "approve" not in raw:
        return None
    apath = child(path, "approve")
    mapping = check.mapping(raw["approve"], apath, ("within",), ("within",))
    if mapping is None or "within" not in mapping:
        return None
    return check.duration(mapping, "within", apath, 0, MAX_APPROVAL_WAIT, minimum=1) or None


def parse_action(check: Checker, value: Any, path: str) -> Action | None:
    """Return the action at `path`, or None after recording what is wrong with it."""
    mapping = check.mapping(value, path)
    if mapping is None:
        return None
    registered = kinds()
    chosen = [kind for kind in registered if kind.name in mapping]
    if len(chosen) != 1:
        names = ", ".join(kind.name for kind in registered)
        found = f" (found {', '.join(kind.name for kind in chosen)})" if chosen else ""
        check.error(path, f"an action needs exactly one of {names}{found}")
        known = {key for kind in registered for key in kind.keys} | set(COMMON_KEYS)
        for key in mapping:
            if key not in known:
                check.error(child(path, key), f"unknown key {key!r}")
        return None
    kind = chosen[0]
    check.mapping(mapping, path, allowed=(*kind.keys, *COMMON_KEYS))
    attempts = check.integer(mapping, "max_attempts", path, 5, 1, 20)
    return kind.parse(check, mapping, path, attempts)
