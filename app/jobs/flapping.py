"""Flapping: the facts the claim gathers for `policy.flapping`, and `FlapDetected` once per episode.

A server whose events change between down (HostDown, HostCrash, RebootBegin)
and up (HostInit, HostUp, RebootComplete) more than `max` times in `per`
has its jobs skipped until it has been quiet for `per`. The first skip of
an episode emits `FlapDetected`; the `flap_episodes` row remembers it.
Jobs of Lifeguard's own events are never held back by it (a rule on
`FlapDetected` must be able to tell people).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Config
from app.jobs import own_events, policy
from app.models.event import SOURCE_LIFEGUARD, Event
from app.models.job import ActionJob
from app.models.loop import FlapEpisode
from app.rules.model import RuleSet

if TYPE_CHECKING:
    from app.jobs.claim_reads import ClaimReads

MAX_EVENTS = 1000


def limits(ruleset: RuleSet, rule_name: str, config: Config) -> tuple[int, int]:
    """Return the rule's (max, per): its own `flap:`, else FLAP_MAX and FLAP_WINDOW_SECONDS."""
    rule = ruleset.get(rule_name)
    if rule is not None and rule.flap is not None:
        return rule.flap.max, rule.flap.per
    return config.flap_max, config.flap_window_seconds


def flap_events(
    session: Session, servers: list[str], since: datetime
) -> dict[str, list[tuple[str, datetime]]]:
    """Return each server's down and up events since `since`, oldest first, MAX_EVENTS each."""
    if not servers:
        return {}
    numbered = (
        select(
            Event.id,
            Event.server_id,
            Event.name,
            Event.received_at,
            func.row_number().over(partition_by=Event.server_id, order_by=Event.id).label("number"),
        )
        .where(Event.server_id.in_(servers))
        .where(Event.name.in_(policy.FLAP_DOWN + policy.FLAP_UP))
        .where(Event.source != SOURCE_LIFEGUARD)
        .where(Event.received_at >= since)
        .subquery()
    )
    found: dict[str, list[tuple[str, datetime]]] = {}
    for server_id, name, received_at in session.execute(
        select(numbered.c.server_id, numbered.c.name, numbered.c.received_at)
        .where(numbered.c.number <= MAX_EVENTS)
        .order_by(numbered.c.id)
    ):
        found.setdefault(server_id, []).append((name, received_at))
    return found


def flapping_verdict(reads: ClaimReads, job: ActionJob) -> policy.Verdict | None:
    """Skip a job for a flapping server; emit `FlapDetected` at the start of an episode."""
    if not job.server_id or (job.spec or {}).get("manual"):
        return None
    session, now = reads.session, reads.now
    most, per = limits(reads.ruleset, job.rule, reads.config)
    if most <= 0:
        return None
    trigger = reads.event(job.event_id)
    if trigger is None or trigger.source == SOURCE_LIFEGUARD:
        return None
    rows = reads.flap_events(job.server_id, per)
    transitions = policy.flap_transitions([name for name, _ in rows])
    verdict = policy.flapping(job.server_id, transitions, most, per)
    if verdict is None:
        return None
    reads.lock("flap", job.server_id)
    episode = session.get(FlapEpisode, job.server_id, with_for_update=True)
    last_change = max(at for _, at in rows)
    if episode is None:
        episode = FlapEpisode(server_id=job.server_id, started_at=now, last_change_at=last_change)
        session.add(episode)
        new = True
    else:
        new = policy.new_flap_episode(episode.last_change_at, now, per)
        if new:
            episode.started_at = now
    episode.last_change_at = last_change
    episode.transitions = transitions
    if new:
        emitted = own_events.emit_event(
            session,
            "FlapDetected",
            verdict.reason,
            now,
            about=trigger,
            job=job,
            data={
                "status": verdict.status,
                "reason": verdict.reason,
                "transitions": transitions,
                "max": most,
                "per_seconds": per,
            },
        )
        episode.event_id = emitted.id if emitted is not None else None
    return verdict
