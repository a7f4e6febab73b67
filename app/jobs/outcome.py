"""Record how an attempt ended: the job's next status, its attempt row, its followers."""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.job import (
    DEAD,
    GOOD_ENDINGS,
    RETRYING,
    RUNNING,
    SCHEDULED,
    SKIPPED,
    SUCCEEDED,
    ActionJob,
    JobAttempt,
)
from app.worker.execute import Outcome

log = logging.getLogger(__name__)


def backoff_seconds(
    attempt: int, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Exponential backoff with equal jitter: half fixed, half random (AWS architecture blog)."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def release_followers(session: Session, job: ActionJob, now: datetime) -> None:
    """Unblock the rule's next action, or skip the rest when the rule says `on_failure: stop`."""
    followers = session.scalars(
        select(ActionJob)
        .where(ActionJob.event_id == job.event_id)
        .where(ActionJob.rule == job.rule)
        .where(ActionJob.action_index > job.action_index)
        .where(ActionJob.status == SCHEDULED)
        .order_by(ActionJob.action_index)
        .with_for_update()
    ).all()
    if not followers:
        return
    if job.status in GOOD_ENDINGS or job.on_failure == "continue":
        nxt = followers[0]
        nxt.blocked = False
        nxt.run_at = max(nxt.run_at, now) if nxt.run_at else now
        return
    for follower in followers:
        follower.status = SKIPPED
        follower.reason = (
            f"action {job.action_index} ({job.action}) ended {job.status}; on_failure is stop"
        )
        follower.finished_at = now


def record_outcome(
    session: Session,
    job_id: int,
    outcome: Outcome,
    worker: str,
    started: datetime,
    now: datetime,
    retry_base: float,
    retry_cap: float,
) -> ActionJob | None:
    """Write the attempt and the job's new status (caller commits); None if the job moved on."""
    job = session.get(ActionJob, job_id, with_for_update=True)
    if job is None or job.status != RUNNING or job.locked_by != worker:
        # Our lease expired and someone else owns the job now: record nothing over theirs.
        log.warning(
            "job %s no longer ours (status %s); outcome %s dropped",
            job_id,
            job and job.status,
            outcome.kind,
        )
        return None
    duration_ms = int((now - started).total_seconds() * 1000)
    session.add(
        JobAttempt(
            job_id=job.id,
            number=job.attempts,
            worker=worker,
            started_at=started,
            finished_at=now,
            duration_ms=duration_ms,
            outcome=outcome.kind,
            transaction_id=outcome.transaction_id,
            error=outcome.error or outcome.reason,
        )
    )
    job.transaction_id = outcome.transaction_id or job.transaction_id
    if outcome.result is not None:
        job.result = outcome.result
    job.error = outcome.error
    job.locked_by = None
    job.lease_expires_at = None
    if outcome.kind == "succeeded":
        job.status, job.reason, job.finished_at = SUCCEEDED, None, now
    elif outcome.kind == "skipped":
        job.status, job.reason, job.finished_at = SKIPPED, outcome.reason, now
    elif outcome.kind == "retry" and job.attempts < job.max_attempts:
        delay = backoff_seconds(job.attempts, retry_base, retry_cap)
        if outcome.retry_after is not None:
            delay = max(delay, outcome.retry_after)
        job.status = RETRYING
        job.run_at = now + timedelta(seconds=delay)
        job.reason = f"attempt {job.attempts} of {job.max_attempts} failed; next in {delay:.1f}s"
    else:
        job.status = DEAD
        job.finished_at = now
        if outcome.kind == "retry":
            job.reason = f"gave up after {job.attempts} attempts"
        else:
            job.reason = (
                "Scalr answered with an error"
                if job.kind == "scalr" and job.transaction_id
                else "not retryable"
            )
    if job.status != RETRYING:
        release_followers(session, job, now)
    log.info(
        "job %s %s %s attempt %d -> %s in %d ms%s",
        job.id,
        job.rule,
        job.action,
        job.attempts,
        job.status,
        duration_ms,
        f" transaction_id={job.transaction_id}" if job.transaction_id else "",
    )
    return job
