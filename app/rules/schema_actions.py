"""Read a rule's `actions:` list: Scalr calls, webhooks, e-mails.

Each action is a mapping with exactly one of `scalr:`, `webhook:`, `email:`.
Every string the action will render is checked as a template here.
Decisions: a mapping or list webhook `body` is sent as JSON (its strings
rendered one by one, so event text cannot break the JSON); Scalr parameters
that the client sets itself (`Action`, `Version`, `KeyID`, `Signature`, ...)
are refused, and `EnvID` is chosen by `env:`; a `ServerLaunch` without
`guard: below_min_instances` draws a warning, because Scalr's own scaling
also replaces servers below MinInstances and the two may double-launch.
"""

from __future__ import annotations

import re
from typing import Any

from app.rules.checker import Checker, suggest
from app.rules.model import GUARDS, Action, EmailAction, ScalrAction, WebhookAction
from app.rules.operators import SCALAR_TYPES, type_name
from app.rules.templating import template_problems
from app.rules.yamlsource import child, item
from app.scalr.actions import ACTIONS, COMMON_PARAMS, REQUIRED_PARAMS

KINDS = ("scalr", "webhook", "email")
_KEYS = {
    "scalr": ("scalr", "env", "params", "guard", "retry_on_error", "max_attempts"),
    "webhook": ("webhook", "method", "headers", "body", "timeout", "max_attempts"),
    "email": ("email", "subject", "body", "max_attempts"),
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
DEFAULT_SUBJECT = (
    "[Lifeguard] {{ event.name }}{% if event.server_id is defined %} on {{ event.server_id }}"
    "{% endif %} ({{ rule.name | default('rule') }})"
)
DEFAULT_BODY = """\
Rule {{ rule.name | default('?') }} matched {{ event.name }} (event {{ event.id | default('?') }}).
{% if event.message is defined %}
{{ event.message }}
{% endif %}
server:    {{ event.server_id | default('-') }}
farm:      {{ event.farm_id | default('-') }}
farm role: {{ event.farm_role_id | default('-') }} ({{ event.role_name | default('-') }})
IPs:       {{ event.public_ip | default('-') }} / {{ event.internal_ip | default('-') }}
"""


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


def parse_action(check: Checker, value: Any, path: str) -> Action | None:
    """Return the action at `path`, or None after recording what is wrong with it."""
    mapping = check.mapping(value, path)
    if mapping is None:
        return None
    kinds = [kind for kind in KINDS if kind in mapping]
    if len(kinds) != 1:
        found = f" (found {', '.join(kinds)})" if kinds else ""
        check.error(path, f"an action needs exactly one of scalr, webhook, email{found}")
        for key in mapping:
            if key not in {k for keys in _KEYS.values() for k in keys}:
                check.error(child(path, key), f"unknown key {key!r}")
        return None
    kind = kinds[0]
    check.mapping(mapping, path, allowed=_KEYS[kind])
    attempts = check.integer(mapping, "max_attempts", path, 5, 1, 20)
    if kind == "scalr":
        return _scalr(check, mapping, path, attempts)
    if kind == "webhook":
        return _webhook(check, mapping, path, attempts)
    return _email(check, mapping, path, attempts)


def _scalr(check: Checker, mapping: dict[str, Any], path: str, attempts: int) -> Action | None:
    name = mapping["scalr"]
    if not isinstance(name, str) or name not in ACTIONS:
        shown = name if isinstance(name, str) else type_name(name)
        check.error(
            child(path, "scalr"), f"unknown Scalr action {shown!r}{suggest(str(name), ACTIONS)}"
        )
        name = None
    params = check.get(mapping, "params", path, dict, {})
    for key, value in params.items():
        if key in COMMON_PARAMS:
            check.error(
                child(child(path, "params"), key),
                f"{key} is set by the Scalr client" + (" (use env:)" if key == "EnvID" else ""),
            )
        elif not isinstance(value, (*SCALAR_TYPES, dict, list)):
            check.error(child(child(path, "params"), key), f"unsupported value {type_name(value)}")
    check_templates(check, params, child(path, "params"))
    missing = [p for p in REQUIRED_PARAMS.get(name or "", ()) if p not in params]
    if missing:
        where = child(path, "params") if "params" in mapping else child(path, "scalr")
        names = ", ".join(missing)
        check.error(where, f"{name} needs {names} (Scalr answers 'Missing required parameter')")
    guard = check.get(mapping, "guard", path, str, None)
    if guard is not None and guard not in GUARDS:
        check.error(child(path, "guard"), f"unknown guard {guard!r}{suggest(guard, GUARDS)}")
        guard = None
    elif guard is not None and name is not None and GUARDS[guard] != name:
        check.error(child(path, "guard"), f"guard {guard!r} is only valid on {GUARDS[guard]}")
        guard = None
    if name == "ServerLaunch" and guard is None and "guard" not in mapping:
        check.warn(
            child(path, "scalr"),
            "ServerLaunch without `guard: below_min_instances` may "
            "double-launch: Scalr's own scaling also replaces servers below MinInstances",
        )
    env = check.get(mapping, "env", path, str, None)
    retry = check.get(mapping, "retry_on_error", path, bool, False)
    if name is None:
        return None
    return ScalrAction(name, params, env or None, guard, retry, attempts)


def _webhook(check: Checker, mapping: dict[str, Any], path: str, attempts: int) -> Action | None:
    url = check.get(mapping, "webhook", path, str, "")
    if url and "{" not in url and not url.startswith(("http://", "https://")):
        check.error(child(path, "webhook"), f"URL must start with http:// or https://, got {url!r}")
    method = str(mapping.get("method", "POST")).upper()
    if method not in METHODS:
        check.error(child(path, "method"), f"method must be one of {', '.join(METHODS)}")
    headers = check.get(mapping, "headers", path, dict, {})
    for key, value in headers.items():
        if not isinstance(value, str | int) or isinstance(value, bool):
            check.error(
                child(child(path, "headers"), key), f"expected a string, got {type_name(value)}"
            )
    headers = {key: str(value) for key, value in headers.items()}
    body = mapping.get("body")
    if body is not None and not isinstance(body, str | dict | list):
        check.error(
            child(path, "body"), f"expected a string, mapping or list, got {type_name(body)}"
        )
        body = None
    timeout = check.duration(mapping, "timeout", path, default=10, maximum=300, minimum=1)
    for key, value in (("webhook", url), ("headers", headers), ("body", body)):
        check_templates(check, value, child(path, key))
    return WebhookAction(url, method, headers, body, timeout, attempts) if url else None


def _email(check: Checker, mapping: dict[str, Any], path: str, attempts: int) -> Action | None:
    to = check.string_list(mapping["email"], child(path, "email"), allow_single=True)
    if not to and isinstance(mapping["email"], list):
        check.error(child(path, "email"), "at least one address is needed")
    for index, address in enumerate(to):
        if not _EMAIL.fullmatch(address):
            check.error(item(child(path, "email"), index), f"not an e-mail address: {address!r}")
    subject = check.get(mapping, "subject", path, str, DEFAULT_SUBJECT)
    body = check.get(mapping, "body", path, str, DEFAULT_BODY)
    check_templates(check, subject, child(path, "subject"))
    check_templates(check, body, child(path, "body"))
    return EmailAction(tuple(to), subject, body, attempts) if to else None
