"""Rules as the dashboard and the API show them: state, recent activity, and a dry test."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.actions import get_kind
from app.models.job import ActionJob
from app.models.ops import RuleState
from app.queries.events import get_event
from app.rules.errors import TemplateError
from app.rules.matching import evaluate
from app.rules.model import FieldCondition, Group, Rule, RuleSet
from app.rules.templating import render_action, render_throttle_key

MAX_PASTED_EVENT = 64 * 1024


@dataclass
class RuleRow:
    """A rule with its switches and its last day's activity."""

    rule: Rule
    state: RuleState | None
    matches_24h: int = 0
    actions_24h: int = 0
    last_fired: datetime | None = None

    @property
    def paused(self) -> bool:
        """Say whether a person paused the rule."""
        return bool(self.state and self.state.paused)

    @property
    def dry_run(self) -> bool:
        """Say whether the rule runs dry: a person's switch wins over the file."""
        if self.state is not None and self.state.dry_run is not None:
            return self.state.dry_run
        return self.rule.dry_run

    def to_dict(self) -> dict[str, Any]:
        """Return the rule as the API shows it."""
        rule = self.rule
        return {
            "name": rule.name,
            "description": rule.description,
            "events": list(rule.events),
            "enabled": rule.enabled,
            "paused": self.paused,
            "dry_run": self.dry_run,
            "dry_run_in_file": rule.dry_run,
            "dry_run_override": self.state.dry_run if self.state else None,
            "delay": rule.delay,
            "cancel_on": list(rule.cancel_on),
            "throttle": (
                {"key": rule.throttle.key, "max": rule.throttle.max, "per": rule.throttle.per}
                if rule.throttle
                else None
            ),
            "actions": [action_label(a) for a in rule.actions],
            "line": rule.line,
            "matches_24h": self.matches_24h,
            "actions_24h": self.actions_24h,
            "last_fired": self.last_fired.isoformat() if self.last_fired else None,
            "state_updated_by": self.state.updated_by if self.state else None,
        }


def action_label(action: Any) -> str:
    """Name an action briefly: `scalr ServerLaunch`, `webhook https://...`, `email a@b`."""
    return get_kind(action.kind).label(action)


def rule_rows(session: Session, ruleset: RuleSet, since: datetime) -> list[RuleRow]:
    """Return every rule of `ruleset` with its state and activity since `since`."""
    names = [rule.name for rule in ruleset]
    states = {
        s.name: s for s in session.scalars(select(RuleState).where(RuleState.name.in_(names)))
    }
    recent = {
        rule: (int(matches), int(actions))
        for rule, matches, actions in session.execute(
            select(ActionJob.rule, func.count(func.distinct(ActionJob.event_id)), func.count())
            .where(ActionJob.rule.in_(names), ActionJob.created_at >= since)
            .group_by(ActionJob.rule)
        )
    }
    last: dict[str, datetime] = {
        rule: fired
        for rule, fired in session.execute(
            select(ActionJob.rule, func.max(ActionJob.created_at))
            .where(ActionJob.rule.in_(names))
            .group_by(ActionJob.rule)
        )
    }
    rows = []
    for rule in ruleset:
        matches, actions = recent.get(rule.name, (0, 0))
        rows.append(RuleRow(rule, states.get(rule.name), matches, actions, last.get(rule.name)))
    return rows


def rule_row(session: Session, rule: Rule, since: datetime) -> RuleRow:
    """Return one rule with its state and activity since `since`."""
    return rule_rows(session, RuleSet([rule]), since)[0]


def condition_lines(group: Group, depth: int = 0) -> list[tuple[int, str]]:
    """Flatten a condition tree into indented readable lines."""
    lines: list[tuple[int, str]] = []
    for child in group.children:
        if isinstance(child, FieldCondition):
            field = ".".join(child.field)
            lines.append((depth, f"{field} {child.op} {json.dumps(child.expected, default=str)}"))
        else:
            lines.append((depth, f"{child.op}:"))
            lines.extend(condition_lines(child, depth + 1))
    return lines


class PastedEventError(ValueError):
    """Pasted event JSON that cannot be used."""


def event_from_json(text: str) -> dict[str, Any]:
    """Read a pasted event: a JSON object of normalised fields."""
    if len(text) > MAX_PASTED_EVENT:
        raise PastedEventError("The pasted event is larger than 64 KiB.")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise PastedEventError(f"Not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise PastedEventError("The pasted event must be a JSON object of event fields.")
    value.setdefault("name", "")
    return value


def stored_event_fields(session: Session, event_id: int) -> dict[str, Any] | None:
    """Return a stored event's normalised fields, or None."""
    event = get_event(session, event_id)
    return event.fields() if event is not None else None


def try_rule(rule: Rule, fields: dict[str, Any]) -> dict[str, Any]:
    """Evaluate `rule` on `fields` and render what it would do, changing nothing."""
    evaluation = evaluate(rule, fields)
    result: dict[str, Any] = {
        "evaluation": evaluation.to_dict(),
        "actions": [],
        "throttle_key": None,
    }
    if not evaluation.matched:
        return result
    if rule.throttle is not None:
        try:
            result["throttle_key"] = render_throttle_key(rule.throttle, fields, rule=rule)
        except TemplateError as exc:
            result["throttle_key_error"] = str(exc)
    for index, action in enumerate(rule.actions):
        try:
            # A preview: `approval_url` renders as the path of the job it would make.
            rendered = render_action(action, fields, rule=rule, public_url="").to_dict()
            result["actions"].append({"index": index, "ok": True, **rendered})
        except TemplateError as exc:
            result["actions"].append(
                {"index": index, "ok": False, "kind": action.kind, "error": str(exc)}
            )
    return result
