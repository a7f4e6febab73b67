"""Approvals: an action with `approve: {within: 30m}` waits, when due, for a person's decision.

The claim stops such a job `awaiting_approval` once the guards before it let
it go (a kill switch, a pause, a silence or a window skips it without asking
anyone). Approving queues it to run now, and the claim asks every guard again:
an approval never passes the kill switch, a silence, the throttle or the
budget. Denying cancels it; nobody deciding within `within` cancels it with
`approval expired` (the worker's housekeeping). A job a person queued by hand
(a retry) needs no second approval: that person decided.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.jobs import policy
from app.jobs.chain import finish
from app.jobs.control import ControlError
from app.jobs.notify import JOBS_CHANNEL, notify
from app.jobs.policy import Verdict
from app.models.job import AWAITING_APPROVAL, CANCELLED, SCHEDULED, ActionJob

log = logging.getLogger(__name__)

# The spec keys: `approve_within` (seconds, from the rules file at creation) and `approval`
# (what happened: requested_at, expires_at, and decided_by/decided_at/decision/reason).
WITHIN_KEY = "approve_within"
APPROVAL_KEY = "approval"
EXPIRE_BATCH = 200
MAX_REASON = 200


def _stamp(value: datetime) -> str:
    return value.isoformat()


def approval(job: ActionJob) -> dict[str, Any]:
    """Return the job's approval record ({} when it never waited for one)."""
    found = (job.spec or {}).get(APPROVAL_KEY)
    return dict(found) if isinstance(found, dict) else {}


def _deadline(spec: object) -> datetime | None:
    found = spec.get(APPROVAL_KEY) if isinstance(spec, dict) else None
    raw = found.get("expires_at") if isinstance(found, dict) else None
    try:
        return datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def expires_at(job: ActionJob) -> datetime | None:
    """Return when the job's wait for approval ends, if it waits."""
    return _deadline(job.spec)


def approval_verdict(job: ActionJob, now: datetime, manual: bool) -> Verdict | None:
    """Say whether a claimed job must wait for a person now (None: it may go on)."""
    within = (job.spec or {}).get(WITHIN_KEY)
    if not isinstance(within, int) or isinstance(within, bool) or within <= 0 or manual:
        return None
    if approval(job).get("decision") == "approved":
        return None
    return policy.awaiting_approval(within, now + timedelta(seconds=within))


def await_approval(job: ActionJob, verdict: Verdict, now: datetime) -> ActionJob:
    """Park a claimed job `awaiting_approval` until its deadline (the caller commits)."""
    within = int((job.spec or {})[WITHIN_KEY])
    job.status = AWAITING_APPROVAL
    job.reason = verdict.reason
    job.spec = {
        **(job.spec or {}),
        APPROVAL_KEY: {
            "requested_at": _stamp(now),
            "expires_at": _stamp(now + timedelta(seconds=within)),
        },
    }
    job.locked_by = None
    job.lease_expires_at = None
    return job


def expire_approvals(session: Session, now: datetime) -> int:
    """Cancel waiting jobs nobody decided in time, with `approval expired` (caller commits).

    The deadline lives in the job's spec, so the waiting jobs are read first and only
    the overdue ones locked (skipping rows a person is deciding at this moment).
    """
    waiting = session.execute(
        select(ActionJob.id, ActionJob.spec)
        .where(ActionJob.status == AWAITING_APPROVAL)
        .order_by(ActionJob.id)
        .limit(EXPIRE_BATCH)
    ).all()
    overdue = [
        job_id
        for job_id, spec in waiting
        if (deadline := _deadline(spec)) is not None and deadline <= now
    ]
    if not overdue:
        return 0
    jobs = session.scalars(
        select(ActionJob)
        .where(ActionJob.id.in_(overdue))
        .where(ActionJob.status == AWAITING_APPROVAL)
        .order_by(ActionJob.id)
        .with_for_update(skip_locked=True)
    ).all()
    verdict = policy.approval_expired()
    for job in jobs:
        finish(session, job, verdict.status, verdict.reason, now)
        log.warning("job %s %s: approval expired", job.id, job.rule)
    return len(jobs)


def _decide(session: Session, job_id: int, now: datetime) -> ActionJob:
    job = session.get(ActionJob, job_id, with_for_update=True)
    if job is None:
        raise ControlError("not_found", f"No action job {job_id}.")
    if job.status == CANCELLED and job.reason == policy.APPROVAL_EXPIRED:
        raise ControlError(
            "approval_expired", f"Job {job_id} was not decided in time: its approval expired."
        )
    if job.status != AWAITING_APPROVAL:
        raise ControlError(
            "not_awaiting_approval",
            f"Job {job_id} is {job.status}; only a job awaiting approval can be decided.",
        )
    deadline = expires_at(job)
    if deadline is not None and deadline <= now:
        raise ControlError(
            "approval_expired",
            f"Job {job_id}'s approval expired at {deadline:%Y-%m-%d %H:%M:%S} UTC; "
            "it is being cancelled.",
        )
    return job


def _record(job: ActionJob, decision: str, who: str, reason: str, now: datetime) -> None:
    job.spec = {
        **(job.spec or {}),
        APPROVAL_KEY: {
            **approval(job),
            "decision": decision,
            "decided_by": who,
            "decided_at": _stamp(now),
            "reason": reason,
        },
    }


def _why(who: str, reason: str) -> str:
    return f"{who}: {reason}" if reason else who


def approve_job(
    session: Session, job_id: int, who: str, now: datetime, reason: str | None = None
) -> ActionJob:
    """Let a job awaiting approval run now, through every guard again (caller commits)."""
    job = _decide(session, job_id, now)
    why = (reason or "").strip()[:MAX_REASON]
    _record(job, "approved", who, why, now)
    job.status = SCHEDULED
    job.reason = f"approved by {_why(who, why)}"
    job.run_at = now
    job.finished_at = None
    notify(session, JOBS_CHANNEL)
    return job


def deny_job(
    session: Session, job_id: int, who: str, now: datetime, reason: str | None = None
) -> ActionJob:
    """Cancel a job awaiting approval: it never runs (caller commits)."""
    job = _decide(session, job_id, now)
    why = (reason or "").strip()[:MAX_REASON]
    _record(job, "denied", who, why, now)
    return finish(session, job, CANCELLED, f"denied by {_why(who, why)}", now)


DECISIONS = {"approve": approve_job, "deny": deny_job}
