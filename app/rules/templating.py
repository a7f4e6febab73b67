"""Render actions' templates against an event, and check templates at load.

Every string in an action (params, nested too; url, headers, body, subject)
is a template with `event` (the normalised fields) and `rule` (`name`,
`description`) in scope. Rendered values stay strings; non-string values
(`IncreaseMaxInstances: 0`) pass through unchanged. Keys are never rendered.

At load, `template_problems` refuses syntax errors, names other than `event`,
`rule` and the sandbox's globals, and `event.<field>` that is not a
normalised field — so a typo is a load error, not a 3 a.m. render failure.
At render, null fields are undefined: `{{ event.farm_role_id }}` on an event
without a farm role raises `TemplateUndefinedError`; write
`{{ event.farm_role_id | default('') }}` to opt in to a fallback.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError

from app.actions import Action, get_kind
from app.rules.checker import suggest
from app.rules.errors import (
    TemplateError,
    TemplateLimitError,
    TemplateSecurityError,
    TemplateUndefinedError,
)
from app.rules.model import EVENT_FIELDS, Rule, Throttle
from app.rules.sandbox import MAX_OUTPUT, Fields, LifeguardSandbox, new_range_budget

ENV = LifeguardSandbox()
RULE_FIELDS = ("name", "description")
# Links into the dashboard a rule's message may carry: `approval_url` is the page of the
# rule's first action with `approve:` (only such a rule may name it; the schema checks).
LINK_NAMES = ("approval_url",)
_FORBIDDEN_STATEMENTS: dict[type[nodes.Node], str] = {
    nodes.Assign: "set",
    nodes.AssignBlock: "set",
    nodes.Macro: "macro",
    nodes.CallBlock: "call",
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "from ... import",
    nodes.Extends: "extends",
    nodes.Block: "block",
}


@dataclass(frozen=True)
class RenderedAction:
    """An action with every template rendered, ready to become a job."""

    kind: str  # the name of a registered kind: scalr | webhook | email
    action: str  # the Scalr action, or the kind's name ("webhook", "email")
    params: dict[str, Any]
    env: str | None = None
    guard: str | None = None
    retry_on_error: bool = False
    max_attempts: int = 5
    mutating: bool = False
    # `expect:` of a Scalr action: {"events": [...], "within": seconds} (app.jobs.verify).
    expect: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the rendered action as a JSON-ready dict."""
        return {
            "kind": self.kind,
            "action": self.action,
            "params": self.params,
            "env": self.env,
            "guard": self.guard,
            "retry_on_error": self.retry_on_error,
            "max_attempts": self.max_attempts,
            "mutating": self.mutating,
            "expect": self.expect,
        }


@functools.lru_cache(maxsize=4096)
def compile_template(source: str) -> Template:
    """Return the compiled template for `source` (cached)."""
    return ENV.from_string(source)


@functools.lru_cache(maxsize=4096)
def template_problems(source: str) -> tuple[str, ...]:
    """Return what is wrong with the template `source`, checked without an event."""
    if "{" not in source:
        return ()  # plain text: nothing to check
    try:
        tree = ENV.parse(source)
    except TemplateSyntaxError as exc:
        where = f" (template line {exc.lineno})" if "\n" in source.strip() else ""
        return (f"template syntax error{where}: {exc.message}",)
    problems = []
    statements = {
        _FORBIDDEN_STATEMENTS[type(node)] for node in tree.find_all(tuple(_FORBIDDEN_STATEMENTS))
    }
    for word in sorted(statements):
        problems.append(f"template statement `{word}` is not allowed in rules")
    if any(name.startswith("_") for name in _constant_attribute_names(tree)):
        problems.append("attributes starting with `_` are not allowed in templates")
    allowed = {"event", "rule", *LINK_NAMES, *ENV.globals}
    for name in sorted(meta.find_undeclared_variables(tree) - allowed):
        problems.append(f"unknown name {name!r} in template{suggest(name, ['event', 'rule'])}")
    for scope, attr in _attributes(tree):
        fields = EVENT_FIELDS if scope == "event" else RULE_FIELDS
        if attr not in fields:
            problems.append(f"{scope} has no field {attr!r}{suggest(attr, fields)}")
    return tuple(problems)


def _constant_attribute_names(tree: nodes.Template) -> list[str]:
    """Return the attribute names the template spells out: `.x`, `['x']` and `|attr('x')`."""
    names = [node.attr for node in tree.find_all(nodes.Getattr)]
    for node in tree.find_all(nodes.Getitem):
        if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            names.append(node.arg.value)
    for flt in tree.find_all(nodes.Filter):
        if flt.name == "attr" and flt.args and isinstance(flt.args[0], nodes.Const):
            names.append(str(flt.args[0].value))
    return names


def _attributes(tree: nodes.Template) -> list[tuple[str, str]]:
    """Return the (`event` or `rule`, field) pairs the template reads by constant name."""
    found = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node  # type: ignore[attr-defined]
        if not isinstance(target, nodes.Name) or target.name not in {"event", "rule"}:
            continue
        if isinstance(node, nodes.Getattr):
            found.append((target.name, node.attr))
        elif isinstance(node, nodes.Getitem):
            key = node.arg
            if isinstance(key, nodes.Const) and isinstance(key.value, str):
                found.append((target.name, key.value))
    return found


def approval_url(public_url: str, event_id: object, rule: Rule) -> str | None:
    """Return the link to the page of `rule`'s first action with `approve:`, for `event_id`."""
    for index, within in enumerate(rule.approvals):
        if within:
            return f"{public_url.rstrip('/')}/actions/for/{event_id}/{rule.name}/{index}"
    return None


def template_context(
    event: Mapping[str, Any], rule: Rule | None = None, public_url: str | None = None
) -> dict[str, Any]:
    """Return the template context for `event`: null fields are left out (undefined).

    With `public_url` (the worker's PUBLIC_URL, '' for a path alone) a rule with an
    `approve:` action gets `approval_url`, the link to the page of the job to decide.
    """
    known = {name: event.get(name) for name in EVENT_FIELDS}
    extra = {k: v for k, v in event.items() if k not in known}
    context: dict[str, Any] = {"event": Fields({**extra, **known}, "event")}
    rule_fields = {"name": rule.name, "description": rule.description} if rule else {}
    context["rule"] = Fields(rule_fields, "rule", nulls=() if rule else RULE_FIELDS)
    if rule is not None and public_url is not None:
        link = approval_url(public_url, event.get("id"), rule)
        if link is not None:
            context["approval_url"] = link
    return context


def render_string(source: str, context: Mapping[str, Any]) -> str:
    """Render one template string, capping its output and turning every failure into ours."""
    new_range_budget()
    parts: list[str] = []
    size = 0
    try:
        for chunk in compile_template(source).generate(context):
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateLimitError(f"output is larger than {MAX_OUTPUT} characters")
            parts.append(chunk)
    except TemplateError:
        raise
    except SecurityError as exc:
        raise TemplateSecurityError(f"refused by the sandbox: {exc}") from None
    except UndefinedError as exc:
        raise TemplateUndefinedError("?", str(exc)) from None
    except (OverflowError, MemoryError, RecursionError) as exc:
        raise TemplateLimitError(f"template too expensive: {exc!r}") from None
    except Exception as exc:  # a template bug (TypeError, ZeroDivisionError, ...)
        raise TemplateError(f"template failed: {type(exc).__name__}: {exc}") from None
    return "".join(parts)


def render_value(value: Any, context: Mapping[str, Any], path: str) -> Any:
    """Render every string inside `value` (mappings and lists too), keeping its shape."""
    try:
        if isinstance(value, str):
            return render_string(value, context)
    except TemplateError as exc:
        raise exc.at(path) from None
    if isinstance(value, Mapping):
        return {k: render_value(v, context, f"{path}.{k}" if path else k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [render_value(v, context, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def render_action(
    action: Action,
    event: Mapping[str, Any],
    *,
    rule: Rule | None = None,
    public_url: str | None = None,
) -> RenderedAction:
    """Render `action` for `event`; raise a `TemplateError` subclass naming the failing part."""
    return get_kind(action.kind).render(action, template_context(event, rule, public_url))


def render_throttle_key(
    throttle: Throttle, event: Mapping[str, Any], *, rule: Rule | None = None
) -> str:
    """Render the throttle bucket key of `event` (the worker counts jobs per rule and key)."""
    if not throttle.key:
        return ""
    return str(render_value(throttle.key, template_context(event, rule), "throttle.key"))
