"""Lifeguard's own events (`source: lifeguard`): stored like Scalr's and matched by the rules.

`JobDead`, `BreakerOpened`, `RemediationUnverified`, `FlapDetected` are
written here, never through ingest: the worker's matcher picks them up as it
does any unprocessed event, so people alert on them with ordinary rules.
Each carries the farm, farm role, role and server of the event it concerns
in the normal fields, and the job, rule and reason in `data`.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.jobs import policy
from app.jobs.notify import EVENTS_CHANNEL, notify
from app.models.event import SOURCE_LIFEGUARD, Event
from app.models.job import ActionJob

log = logging.getLogger(__name__)


def emit_event(
    session: Session,
    name: str,
    message: str,
    now: datetime,
    *,
    about: Event | None = None,
    job: ActionJob | None = None,
    data: dict[str, Any] | None = None,
) -> Event | None:
    """Store one of Lifeguard's own events for the matcher (caller commits); None if refused.

    `about` is the event the job (or the finding) concerns: its farm, role and
    server are copied. A job that a Lifeguard event triggered emits nothing
    (`policy.emits_own_event`), so a rule on `JobDead` cannot feed itself.
    """
    if about is not None and not policy.emits_own_event(about.source):
        log.warning(
            "%s not emitted for job %s: it was triggered by Lifeguard's own %s event #%s",
            name,
            job.id if job is not None else None,
            about.name,
            about.id,
        )
        return None
    body: dict[str, Any] = {}
    if job is not None:
        body.update(
            job_id=job.id,
            rule=job.rule,
            action=job.action,
            kind=job.kind,
            status=job.status,
            reason=job.reason,
            environment=job.environment,
        )
    if about is not None:
        body.update(trigger_event_id=about.id, trigger_event=about.name)
    body.update(data or {})
    event = Event(
        name=name,
        message=message[:2000],
        source=SOURCE_LIFEGUARD,
        received_at=now,
        server_id=about.server_id if about is not None else (job.server_id if job else None),
        public_ip=None,
        internal_ip=None,
        new_ip=None,
        farm_id=about.farm_id if about is not None else None,
        farm_role_id=about.farm_role_id if about is not None else None,
        role_name=about.role_name if about is not None else None,
        env_id=about.env_id if about is not None else None,
        data=body,
        enriched_fields=[],
        raw={},
        evaluations=[],
    )
    session.add(event)
    session.flush()
    notify(session, EVENTS_CHANNEL)
    log.info("emitted %s event #%s: %s", name, event.id, message)
    return event


def job_dead(session: Session, job: ActionJob, now: datetime) -> Event | None:
    """Emit `JobDead` for a job that just ended dead."""
    about = session.get(Event, job.event_id)
    return emit_event(
        session,
        "JobDead",
        f"job {job.id} ({job.rule}: {job.action}) is dead: {job.reason or job.error or ''}",
        now,
        about=about,
        job=job,
        data={"error": job.error, "attempts": job.attempts},
    )


def breaker_opened(
    session: Session, job: ActionJob, environment: str, reason: str, now: datetime
) -> Event | None:
    """Emit `BreakerOpened` for the job whose claim found the budget spent."""
    about = session.get(Event, job.event_id)
    return emit_event(
        session,
        "BreakerOpened",
        f"remediation breaker of environment {environment!r} opened: {reason}",
        now,
        about=about,
        job=job,
        data={
            "status": "skipped",
            "reason": reason,
            "breaker_environment": environment,
            "breaker_reason": reason,
        },
    )
