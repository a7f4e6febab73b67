"""End a job and settle the chain of its rule's actions, in the caller's transaction.

Every way a job ends goes through `finish`: success, dead, a guard's skip, a
cancel by a later event or by a person. A rule's actions for one event run in
order; a follower waits `blocked` until the action before it ends, and then
either runs or (`on_failure: stop` after a bad ending) is skipped.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.jobs import own_events, policy
from app.models.job import DEAD, SCHEDULED, SKIPPED, ActionJob


def _followers(session: Session, job: ActionJob, statuses: tuple[str, ...]) -> list[ActionJob]:
    return list(
        session.scalars(
            select(ActionJob)
            .where(ActionJob.event_id == job.event_id)
            .where(ActionJob.rule == job.rule)
            .where(ActionJob.action_index > job.action_index)
            .where(ActionJob.status.in_(statuses))
            .order_by(ActionJob.action_index)
            .with_for_update()
        )
    )


def release_followers(session: Session, job: ActionJob, now: datetime) -> None:
    """Unblock the rule's next action, or skip the rest when the rule says `on_failure: stop`."""
    followers = _followers(session, job, (SCHEDULED,))
    if not followers:
        return
    if policy.releases_next(job.status, job.on_failure):
        nxt = followers[0]
        nxt.blocked = False
        nxt.run_at = max(nxt.run_at, now) if nxt.run_at else now
        return
    verdict = policy.chain_stopped(job.action_index, job.action, job.status)
    for follower in followers:
        follower.status = verdict.status
        follower.reason = verdict.reason
        follower.finished_at = now


def finish(
    session: Session,
    job: ActionJob,
    status: str,
    reason: str | None,
    now: datetime,
    *,
    followers: bool = True,
) -> ActionJob:
    """End `job` with `status` and `reason`, free its lease, and settle its followers.

    A job that ends `dead` emits Lifeguard's own `JobDead` event (unless a
    Lifeguard event triggered it: `policy.emits_own_event`). `followers=False`
    says the caller knows the job has none: they are not looked for.
    """
    job.status = status
    job.reason = reason
    job.finished_at = now
    job.locked_by = None
    job.lease_expires_at = None
    if status == DEAD:
        own_events.job_dead(session, job, now)
    if followers:
        release_followers(session, job, now)
    return job


def reopen_followers(session: Session, job: ActionJob) -> int:
    """Make followers the chain skipped wait again for `job`, which a person queued anew.

    A retried action ends again later and `finish` settles them then, so a
    retry after a bad ending (or a person's cancel) resumes the rule's chain.
    Followers skipped by a guard of their own stay as they are.
    """
    reopened = 0
    for follower in _followers(session, job, (SKIPPED,)):
        if policy.stopped_by_chain(follower.status, follower.reason):
            follower.status = SCHEDULED
            follower.reason = None
            follower.finished_at = None
            follower.blocked = True
            reopened += 1
    return reopened
