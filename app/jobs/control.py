"""What a person may do to jobs, rules and breakers: plain functions over a session.

The dashboard and the API call these; each is one transaction the caller
commits, except `apply_control`, which commits the job controls it dispatches.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.jobs.chain import finish, reopen_followers
from app.models.job import (
    AWAITING_APPROVAL,
    CANCELLED,
    DEAD,
    HELD,
    RETRYING,
    SCHEDULED,
    SKIPPED,
    ActionJob,
)
from app.models.ops import Breaker, RuleState


class ControlError(Exception):
    """The operation does not apply to the object in its current state."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _job(session: Session, job_id: int) -> ActionJob:
    job = session.get(ActionJob, job_id, with_for_update=True)
    if job is None:
        raise ControlError("not_found", f"No action job {job_id}.")
    return job


def _why(who: str, reason: str | None) -> str:
    """Say who did it, and why when they said."""
    reason = (reason or "").strip()[:200]
    return f"{who}: {reason}" if reason else who


def retry_job(
    session: Session, job_id: int, who: str, now: datetime | None = None, reason: str | None = None
) -> ActionJob:
    """Queue a dead, skipped or cancelled job to run again now, with a fresh attempt budget."""
    job = _job(session, job_id)
    if job.status not in (DEAD, SKIPPED, CANCELLED):
        raise ControlError(
            "not_retryable",
            f"Job {job_id} is {job.status}; only dead, skipped or cancelled jobs can be retried.",
        )
    now = now or utcnow()
    job.status = RETRYING
    job.reason = f"retried by {_why(who, reason)}"
    job.max_attempts = job.attempts + max(1, job.spec.get("max_attempts", 1) if job.spec else 1)
    job.run_at = now
    job.finished_at = None
    job.lease_expires_at = None
    job.locked_by = None
    job.blocked = False
    # Kept in the spec: the outcome of the retry replaces the reason, the note stays.
    job.spec = {
        **(job.spec or {}),
        "manual": True,
        "retried_by": who,
        "retried_at": now.isoformat(),
    }
    reopen_followers(session, job)
    return job


def cancel_job(
    session: Session, job_id: int, who: str, now: datetime | None = None, reason: str | None = None
) -> ActionJob:
    """Cancel a job that has not started: scheduled, retrying, held or awaiting approval."""
    job = _job(session, job_id)
    if job.status not in (SCHEDULED, RETRYING, HELD, AWAITING_APPROVAL):
        raise ControlError(
            "not_cancellable",
            f"Job {job_id} is {job.status}; only scheduled or retrying jobs can be cancelled "
            "(and held ones, and those awaiting approval).",
        )
    return finish(session, job, CANCELLED, f"cancelled by {_why(who, reason)}", now or utcnow())


def run_job_now(
    session: Session, job_id: int, who: str, now: datetime | None = None, reason: str | None = None
) -> ActionJob:
    """Make a scheduled job due at once (its guards still apply)."""
    job = _job(session, job_id)
    if job.status not in (SCHEDULED, RETRYING):
        raise ControlError(
            "not_runnable",
            f"Job {job_id} is {job.status}; only scheduled or retrying jobs can be run now.",
        )
    if job.blocked:
        raise ControlError(
            "blocked", f"Job {job_id} waits for an earlier action of its rule to finish."
        )
    job.run_at = now or utcnow()
    job.reason = f"run now by {_why(who, reason)}"
    return job


CONTROLS: dict[str, Callable[..., ActionJob]] = {
    "retry": retry_job,
    "cancel": cancel_job,
    "run": run_job_now,
}


def apply_control(
    session: Session, job_id: int, operation: str, who: str, reason: str | None = None
) -> ActionJob:
    """Retry, cancel or run a job now, and commit; ControlError when it does not apply."""
    job = CONTROLS[operation](session, job_id, who, reason=reason)
    session.commit()
    return job


def rule_state(session: Session, name: str) -> RuleState:
    """Return the stored switches of rule `name`, creating the row on first use."""
    state = session.get(RuleState, name)
    if state is None:
        state = RuleState(name=name, paused=False, dry_run=None)
        session.add(state)
        session.flush()
    return state


def set_rule_paused(
    session: Session, name: str, paused: bool, who: str, reason: str | None = None
) -> RuleState:
    """Pause or resume a rule; the worker honours it for jobs not yet started."""
    state = rule_state(session, name)
    state.paused = paused
    # The skip reason of its jobs reads "rule paused by <updated_by>": the why goes with it.
    state.updated_by = _why(who, reason)[:128]
    state.updated_at = utcnow()
    return state


def set_rule_dry_run(session: Session, name: str, dry_run: bool | None, who: str) -> RuleState:
    """Force a rule into dry run (True), out of it (False), or back to its file's setting (None)."""
    state = rule_state(session, name)
    state.dry_run = dry_run
    state.updated_by = who
    state.updated_at = utcnow()
    return state


def close_breaker(
    session: Session, environment: str, who: str, reason: str | None = None
) -> Breaker:
    """Close an open remediation breaker so Scalr actions may run again."""
    breaker = session.get(Breaker, environment, with_for_update=True)
    if breaker is None or not breaker.is_open:
        raise ControlError("not_open", f"The breaker of environment {environment!r} is not open.")
    breaker.is_open = False
    breaker.closed_at = utcnow()
    breaker.closed_by = _why(who, reason)[:128]
    return breaker


def open_breakers(session: Session) -> list[Breaker]:
    """Return every open breaker."""
    return list(session.scalars(select(Breaker).where(Breaker.is_open.is_(True))))
