"""What the closed loop's guards did, and say now, about one event: holds, storms, flapping.

One function per guard, each returning notes `{"guard", "rule", "job_id", "text"}`
for the explanation (the event page and the API). The texts of the decisions
are the claim's own (`app.jobs.policy`); nothing here changes any state.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Config
from app.jobs import policy, storms
from app.jobs.holds import active_hold
from app.models.event import SOURCE_LIFEGUARD, Event
from app.models.job import HELD, SKIPPED, ActionJob
from app.models.loop import Hold
from app.rules.model import RuleSet

Note = dict[str, Any]


def _note(guard: str, rule: str | None, job_id: int | None, text: str) -> Note:
    return {"guard": guard, "rule": rule, "job_id": job_id, "text": text}


def _hold_state(hold: Hold) -> str:
    if hold.cleared_at is None:
        return (
            f"hold #{hold.id} ({hold.kind}) is in force since {hold.created_at:%Y-%m-%d %H:%M} UTC"
        )
    return (
        f"hold #{hold.id} ({hold.kind}) was cleared by {hold.cleared_by} "
        f"at {hold.cleared_at:%Y-%m-%d %H:%M} UTC"
    )


def hold_notes(session: Session, jobs: list[ActionJob]) -> list[Note]:
    """Say which hold keeps a held job waiting (or kept it), and which hold a job placed."""
    notes = []
    for job in jobs:
        hold = session.get(Hold, job.hold_id) if job.hold_id is not None else None
        if hold is None and job.status == HELD and job.kind == "scalr":
            hold = active_hold(session, job.rule, job.throttle_key)
        if hold is not None:
            notes.append(
                _note(hold.kind, job.rule, job.id, f"held: {_hold_state(hold)}: {hold.reason}")
            )
        placed = session.scalars(select(Hold).where(Hold.job_id == job.id).order_by(Hold.id)).all()
        for hold in placed:
            if hold.id != job.hold_id:
                notes.append(
                    _note(hold.kind, job.rule, job.id, f"this job placed {_hold_state(hold)}")
                )
    return notes


def flapping_notes(
    session: Session,
    event: Event,
    ruleset: RuleSet,
    config: Config,
    rules: list[str],
    now: datetime,
) -> list[Note]:
    """Say whether the event's server is flapping now under each matching rule's limits."""
    if not event.server_id or event.source == SOURCE_LIFEGUARD:
        return []
    notes = []
    for name in rules:
        rule = ruleset.get(name)
        if rule is None:
            continue
        most, per = (
            (rule.flap.max, rule.flap.per)
            if rule.flap
            else (config.flap_max, config.flap_window_seconds)
        )
        if most <= 0:
            continue
        names = session.scalars(
            select(Event.name)
            .where(Event.server_id == event.server_id)
            .where(Event.name.in_(policy.FLAP_DOWN + policy.FLAP_UP))
            .where(Event.source != SOURCE_LIFEGUARD)
            .where(Event.received_at >= now - timedelta(seconds=per))
            .order_by(Event.id)
            .limit(1000)
        ).all()
        verdict = policy.flapping(event.server_id, policy.flap_transitions(list(names)), most, per)
        if verdict is not None:
            notes.append(_note("flapping", name, None, f"now: {verdict.reason}"))
    return notes


def storm_notes(
    session: Session,
    event: Event,
    ruleset: RuleSet,
    config: Config,
    rules: list[str],
    now: datetime,
) -> list[Note]:
    """Say whether the event's farm role is in a storm now, for each matching launching rule."""
    if event.farm_role_id is None or event.source == SOURCE_LIFEGUARD:
        return []
    notes = []
    hold = storms.storm_hold(session, event.farm_role_id)
    for name in rules:
        rule = ruleset.get(name)
        if rule is None or not any(
            getattr(a, "action", "") == "ServerLaunch" for a in rule.actions
        ):
            continue
        if hold is not None:
            notes.append(_note("storm", name, None, f"now: {_hold_state(hold)}: {hold.reason}"))
            continue
        share, per = storms.limits(ruleset, name, config)
        if share <= 0:
            continue
        since = policy.storm_since(now, per, storms.last_cleared(session, event.farm_role_id))
        down = storms.down_servers(session, event.farm_role_id, since)
        known = storms.known_servers(session, event.farm_role_id, down)
        verdict = policy.storm(event.farm_role_id, len(down), known, share, per)
        text = (
            f"now: {verdict.reason}"
            if verdict is not None
            else f"now: no storm ({len(down)} of {known} known servers of farm role "
            f"{event.farm_role_id} down in the last window, at most {share:.0%} allowed)"
        )
        notes.append(_note("storm", name, None, text))
    return notes


def loop_notes(
    session: Session,
    event: Event,
    jobs: list[ActionJob],
    ruleset: RuleSet | None,
    config: Config,
    now: datetime,
) -> list[Note]:
    """Return every closed-loop note about an event: its jobs' holds, flapping, storms now."""
    notes = hold_notes(session, jobs)
    for job in jobs:
        if job.status == SKIPPED and (job.reason or "").startswith("flapping:"):
            notes.append(_note("flapping", job.rule, job.id, f"skipped: {job.reason}"))
    if ruleset is not None:
        rules = sorted({job.rule for job in jobs})
        notes += flapping_notes(session, event, ruleset, config, rules, now)
        notes += storm_notes(session, event, ruleset, config, rules, now)
    return notes
