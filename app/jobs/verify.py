"""Verification: a succeeded action with `expect:` ends verified or unverified.

`start_expecting` (after the success is recorded) notes the server whose
event confirms the action and the deadline; `confirm_by_event` (when an
event is matched) ends a waiting job `verified`; `expire_expectations` (the
worker's housekeeping) ends the ones past their deadline `unverified`,
emits `RemediationUnverified` and holds the rule's launches for the job's
throttle key until a person clears the hold (app.jobs.holds).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import one_of
from app.jobs import holds, own_events, policy
from app.models.event import SOURCE_LIFEGUARD, Event
from app.models.job import SUCCEEDED, UNVERIFIED, ActionJob

log = logging.getLogger(__name__)

EXPIRE_BATCH = 100


def _expectation(job: ActionJob) -> tuple[list[str], int] | None:
    expect = (job.spec or {}).get("expect")
    if not isinstance(expect, dict) or not expect.get("events"):
        return None
    return list(expect["events"]), int(expect.get("within") or 0)


def _confirm(job: ActionJob, event: Event) -> None:
    since = job.finished_at or event.received_at
    verdict = policy.verified(
        event.name,
        event.id,
        event.server_id or "",
        (event.received_at - since).total_seconds(),
    )
    job.status = verdict.status
    job.reason = verdict.reason
    job.verified_event_id = event.id
    log.info("job %s %s %s: %s", job.id, job.rule, job.status, job.reason)


def start_expecting(session: Session, job: ActionJob, now: datetime) -> None:
    """Note what confirms a job that just succeeded, and confirm at once if it is already here."""
    expectation = _expectation(job)
    if expectation is None or job.status != SUCCEEDED or job.dry_run:
        return
    events, within = expectation
    server = policy.expected_server(job.action, job.params or {}, job.result)
    job.expect_server_id = server
    job.expect_deadline = now + timedelta(seconds=within)
    job.reason = policy.waiting_for(events, server, job.expect_deadline)
    if not server:
        return
    # Scalr may have told us before the worker recorded the answer.
    early = session.scalars(
        select(Event)
        .where(Event.server_id == server)
        .where(Event.name.in_(events))
        .where(Event.source != SOURCE_LIFEGUARD)
        .where(Event.received_at >= (job.started_at or now))
        .order_by(Event.id)
        .limit(1)
    ).first()
    if early is not None:
        _confirm(job, early)


def expecting(session: Session, server_ids: set[str]) -> dict[str, list[ActionJob]]:
    """Lock and return, by server, the succeeded jobs waiting for an event of these servers."""
    if not server_ids:
        return {}
    waiting: dict[str, list[ActionJob]] = {}
    for job in session.scalars(
        select(ActionJob)
        .where(one_of(session, ActionJob.expect_server_id, server_ids))
        .where(ActionJob.expect_deadline.is_not(None))
        .where(ActionJob.status == SUCCEEDED)
        .order_by(ActionJob.id)
        .with_for_update()
    ):
        waiting.setdefault(job.expect_server_id or "", []).append(job)
    return waiting


def confirm_by_event(
    session: Session, event: Event, waiting: dict[str, list[ActionJob]] | None = None
) -> int:
    """End the jobs waiting for this event of this server `verified`; return how many.

    `waiting` is what `expecting` read for the event's batch; a job an earlier
    event of the batch confirmed is no longer `succeeded` and is passed over.
    """
    if not event.server_id or event.source == SOURCE_LIFEGUARD:
        return 0
    if waiting is None:
        waiting = expecting(session, {event.server_id})
    confirmed = 0
    for job in waiting.get(event.server_id, []):
        expectation = _expectation(job)
        if expectation is None or job.expect_deadline is None or job.status != SUCCEEDED:
            continue
        in_time = event.received_at <= job.expect_deadline
        if in_time and policy.confirms(
            expectation[0], job.expect_server_id, event.name, event.server_id
        ):
            _confirm(job, event)
            confirmed += 1
    return confirmed


def expire_expectations(session: Session, now: datetime) -> int:
    """End waiting jobs past their deadline `unverified`: emit the event, hold the rule."""
    overdue = session.scalars(
        select(ActionJob)
        .where(ActionJob.status == SUCCEEDED)
        .where(ActionJob.expect_deadline.is_not(None))
        .where(ActionJob.expect_deadline < now)
        .order_by(ActionJob.expect_deadline)
        .limit(EXPIRE_BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    for job in overdue:
        events, within = _expectation(job) or ([], 0)
        verdict = policy.unverified(events, job.expect_server_id, within)
        job.status = UNVERIFIED
        reason = policy.hold_reason(
            job.rule, job.throttle_key or "", job.id, f"ended unverified ({verdict.reason})"
        )
        hold = holds.place_hold(session, job, UNVERIFIED, reason, now)
        job.reason = f"{verdict.reason}; launches held (hold #{hold.id})"
        emitted = own_events.emit_event(
            session,
            "RemediationUnverified",
            f"job {job.id} ({job.rule}: {job.action}) unverified: {verdict.reason}",
            now,
            about=session.get(Event, job.event_id),
            job=job,
            data={
                "expected_server_id": job.expect_server_id,
                "expect_events": events,
                "within_seconds": within,
                "deadline": job.expect_deadline.isoformat() if job.expect_deadline else None,
                "hold_id": hold.id,
            },
        )
        if emitted is not None and hold.event_id is None:
            hold.event_id = emitted.id
        log.warning("job %s %s unverified: %s", job.id, job.rule, job.reason)
    return len(overdue)
