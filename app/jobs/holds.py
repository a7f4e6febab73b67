"""Holds: a rule's changing Scalr jobs for one throttle key wait `held` until a person clears it.

A remediation left `unverified` places a hold (app.jobs.verify); a storm
places one on a farm role's launches (app.jobs.storms, rule ""). The claim
asks `held_verdict` before a changing Scalr job runs; a held job is not
finished (its followers keep waiting) and is not claimable. Clearing the
hold releases the held jobs to run now, or cancels them.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.jobs import policy
from app.jobs.chain import finish
from app.jobs.control import ControlError
from app.models.job import CANCELLED, HELD, SCHEDULED, ActionJob
from app.models.loop import Hold

if TYPE_CHECKING:
    from app.jobs.claim_reads import ClaimReads

RELEASE, CANCEL = "release", "cancel"


def active_hold(session: Session, rule: str, key: str | None) -> Hold | None:
    """Return the hold in force on `rule` for throttle key `key`, if any."""
    return session.scalars(
        select(Hold)
        .where(Hold.rule == rule)
        .where(Hold.throttle_key == (key or ""))
        .where(Hold.cleared_at.is_(None))
        .order_by(Hold.id)
        .limit(1)
    ).first()


def place_hold(session: Session, job: ActionJob, kind: str, reason: str, now: datetime) -> Hold:
    """Hold `job`'s rule for its throttle key (caller commits); an existing hold is kept."""
    hold = active_hold(session, job.rule, job.throttle_key)
    if hold is not None:
        return hold
    hold = Hold(
        rule=job.rule,
        throttle_key=job.throttle_key or "",
        kind=kind,
        reason=reason,
        job_id=job.id,
        created_at=now,
    )
    session.add(hold)
    session.flush()
    return hold


def held_verdict(reads: ClaimReads, job: ActionJob) -> tuple[policy.Verdict, Hold] | None:
    """Say whether a claimed job must wait for a person: its rule and key are held."""
    if job.kind != "scalr" or not (job.spec or {}).get("mutating"):
        return None
    if (job.spec or {}).get("manual"):
        return None  # a person queued it by hand: they have looked
    hold = reads.hold(job.rule, job.throttle_key)
    return (policy.held(hold.id, hold.reason), hold) if hold is not None else None


def hold_job(job: ActionJob, verdict: policy.Verdict, hold: Hold | None = None) -> ActionJob:
    """Park a claimed job `held`: not claimable, not finished, its followers still waiting."""
    job.status = HELD
    job.reason = verdict.reason
    job.hold_id = hold.id if hold is not None else job.hold_id
    job.locked_by = None
    job.lease_expires_at = None
    return job


def hold_of_job(session: Session, job: ActionJob) -> Hold | None:
    """Return the hold in force that keeps (or would keep) this job waiting, if any."""
    if job.hold_id is not None:
        hold = session.get(Hold, job.hold_id)
        if hold is not None and hold.cleared_at is None:
            return hold
    if job.kind != "scalr":
        return None
    return active_hold(session, job.rule, job.throttle_key)


def jobs_held_by(session: Session, hold: Hold) -> list[ActionJob]:
    """Return the jobs a hold keeps waiting, oldest first."""
    query = select(ActionJob).where(ActionJob.status == HELD)
    if hold.farm_role_id is not None:
        query = query.where(ActionJob.hold_id == hold.id)
    else:
        query = query.where(ActionJob.rule == hold.rule).where(
            ActionJob.throttle_key == (hold.throttle_key or None)
        )
    return list(session.scalars(query.order_by(ActionJob.id).with_for_update()))


def list_holds(session: Session, include_cleared: bool = False) -> list[Hold]:
    """Return the holds in force (and the cleared ones if asked), newest first."""
    query = select(Hold).order_by(Hold.id.desc()).limit(500)
    if not include_cleared:
        query = query.where(Hold.cleared_at.is_(None))
    return list(session.scalars(query))


def clear_hold(
    session: Session,
    hold_id: int,
    who: str,
    held_jobs: str = RELEASE,
    now: datetime | None = None,
) -> tuple[Hold, list[ActionJob]]:
    """Clear a hold; release its held jobs to run now, or cancel them (caller commits)."""
    if held_jobs not in (RELEASE, CANCEL):
        raise ControlError("bad_request", "held_jobs must be 'release' or 'cancel'.")
    hold = session.get(Hold, hold_id, with_for_update=True)
    if hold is None:
        raise ControlError("not_found", f"No hold {hold_id}.")
    if hold.cleared_at is not None:
        raise ControlError("not_held", f"Hold {hold_id} was cleared by {hold.cleared_by}.")
    now = now or utcnow()
    hold.cleared_at = now
    hold.cleared_by = who
    jobs = jobs_held_by(session, hold)
    for job in jobs:
        if held_jobs == CANCEL:
            finish(session, job, CANCELLED, f"cancelled by {who} with hold #{hold.id}", now)
        else:
            job.status = SCHEDULED
            job.reason = f"released by {who} (hold #{hold.id} cleared)"
            job.run_at = now
            job.hold_id = None
    return hold, jobs
