"""Claim due jobs and decide, in the same short transaction, whether each may run.

The guards' facts are gathered here, under the claim's row locks (and advisory
locks on PostgreSQL), so two workers can never both pass a throttle or budget
that has room for one more; `app.jobs.policy` makes each decision. What the
jobs of one claim share is read once for the claim (`app.jobs.claim_reads`).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from app.config import Config
from app.jobs import approvals, holds, own_events, policy
from app.jobs.chain import finish
from app.jobs.claim_reads import ClaimReads
from app.jobs.flapping import flapping_verdict
from app.jobs.policy import Verdict
from app.jobs.silences import first_match
from app.jobs.storms import storm_verdict
from app.models.job import (
    AWAITING_APPROVAL,
    CLAIMABLE,
    DEAD,
    HELD,
    RETRYING,
    RUNNING,
    ActionJob,
    JobAttempt,
)
from app.models.loop import Hold
from app.models.ops import Breaker
from app.rules.maintenance import active_window
from app.rules.model import RuleSet
from app.scalr.actions import MUTATING_ACTIONS

log = logging.getLogger(__name__)

# How many jobs one claim transaction may settle by their guards before it commits.
SETTLE_BATCH = 100
# At most this long settling guard-stopped jobs in one claim: the worker's loop must get
# back to matching events (a storm's jobs, all skipped by an open breaker, would otherwise
# take most of its time and leave events unmatched).
SETTLE_SECONDS = 0.1
# `NOT blocked`, as the claimable index's own WHERE says it: PostgreSQL cannot tell that
# `blocked IS false` implies it, and sorted every due row for each claim without the index.
UNBLOCKED = ~ActionJob.blocked


def due_job_query(now: datetime, limit: int = 1):  # type: ignore[no-untyped-def]
    """Select the next claimable, unblocked, due jobs, skipping rows other workers hold."""
    return (
        select(ActionJob)
        .where(ActionJob.status.in_(CLAIMABLE))
        .where(UNBLOCKED)
        .where(ActionJob.run_at <= now)
        .order_by(ActionJob.run_at, ActionJob.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def _claim_due(reads: ClaimReads, limit: int) -> list[tuple[ActionJob, bool]]:
    """Lock the next `limit` due jobs, in due order; say of each whether it has followers."""
    follower = aliased(ActionJob)
    has_followers = (
        select(follower.id)
        .where(follower.event_id == ActionJob.event_id)
        .where(follower.rule == ActionJob.rule)
        .where(follower.action_index > ActionJob.action_index)
        .exists()
    )
    rows = reads.session.execute(due_job_query(reads.now, limit).add_columns(has_followers))
    due = [(job, bool(followers)) for job, followers in rows.tuples()]
    reads.claimed([job for job, _ in due])
    return due


def _throttled(reads: ClaimReads, job: ActionJob) -> Verdict | None:
    rule = reads.ruleset.get(job.rule)
    if rule is None or rule.throttle is None or job.action_index != 0:
        return None
    key = job.throttle_key or ""
    reads.lock("throttle", job.rule, key)
    # Read each time: a job this claim settled in dry run counts as a fire.
    fired = reads.session.scalar(
        select(func.count())
        .select_from(ActionJob)
        .where(ActionJob.rule == job.rule)
        .where(ActionJob.throttle_key == job.throttle_key)
        .where(ActionJob.action_index == 0)
        .where(ActionJob.fired_at >= policy.throttle_since(reads.now, rule.throttle.per))
        .where(ActionJob.id != job.id)
    )
    return policy.throttled(fired or 0, rule.throttle.max, rule.throttle.per, key)


def _over_budget(reads: ClaimReads, job: ActionJob) -> Verdict | None:
    if not _mutating_scalr(job):
        return None
    session, config, now = reads.session, reads.config, reads.now
    env = job.environment or "default"
    reads.lock("budget", env)
    breaker = reads.breaker(env, locked=True)
    if breaker is not None and breaker.is_open:
        return policy.breaker_open(env, breaker.reason)
    since = policy.budget_since(
        now, config.budget_window_seconds, breaker.closed_at if breaker is not None else None
    )
    used = session.scalar(
        select(func.count())
        .select_from(ActionJob)
        .where(ActionJob.environment == env)
        .where(ActionJob.kind == "scalr")
        .where(ActionJob.action.in_(MUTATING_ACTIONS))
        .where(ActionJob.fired_at >= since)
        .where(ActionJob.dry_run.is_(False))
        .where(ActionJob.id != job.id)
    )
    verdict = policy.over_budget(used or 0, config.budget_max, config.budget_window_seconds, env)
    if verdict is None:
        return None
    if breaker is None:
        breaker = Breaker(environment=env)
        session.add(breaker)
        reads.opened_breaker(breaker)
    breaker.is_open = True
    breaker.opened_at = now
    breaker.reason = verdict.reason
    breaker.closed_at = None
    breaker.closed_by = None
    log.warning("remediation breaker opened for %s: %s", env, verdict.reason)
    own_events.breaker_opened(session, job, env, verdict.reason, now)
    return verdict


def _guard(reads: ClaimReads, job: ActionJob) -> Verdict | None:
    """Ask the policy, in order, whether the claimed job may run; the first no wins."""
    config, now = reads.config, reads.now
    manual = bool((job.spec or {}).get("manual"))
    if (verdict := _kill_switch(reads, job)) is not None:
        return verdict
    state = reads.rule_state(job.rule)
    if state is not None and (verdict := policy.paused(state.paused, state.updated_by, manual)):
        return verdict
    if verdict := policy.rule_gone(job.rule, reads.ruleset.get(job.rule) is not None, manual):
        return verdict
    if job.attempts == 0 and (canceller := reads.cancelling(job)) is not None:
        return policy.cancelled_by(*canceller)
    if (held := holds.held_verdict(reads, job)) is not None:
        return _held(job, *held)
    if (held := storm_verdict(reads, job)) is not None:
        return _held(job, *held)
    if (verdict := flapping_verdict(reads, job)) is not None:
        return verdict
    if (verdict := _silenced(reads, job, manual)) is not None:
        return verdict
    if (verdict := _in_maintenance(reads, job, manual)) is not None:
        return verdict
    # Asked only once every guard above lets the job go; an approved job meets them all again.
    if (verdict := approvals.approval_verdict(job, now, manual)) is not None:
        return verdict
    first_time = job.fired_at is None and not manual
    if first_time and (verdict := _throttled(reads, job)) is not None:
        return verdict
    override = state.dry_run if state is not None else None
    if (verdict := policy.dry_run(config.dry_run, override, job.dry_run)) is not None:
        job.dry_run = True
        job.fired_at = job.fired_at or now
        job.result = {"would_call": {"kind": job.kind, "action": job.action, "params": job.params}}
        return verdict
    if first_time:
        return _over_budget(reads, job)
    # A retry, or a person's retry, spends no budget; an open breaker still stops it.
    return _breaker_open(reads, job)


def _held(job: ActionJob, verdict: Verdict, hold: Hold) -> Verdict:
    """Note which hold keeps the job waiting; the claim parks it `held`."""
    job.hold_id = hold.id
    return verdict


def _kill_switch(reads: ClaimReads, job: ActionJob) -> Verdict | None:
    """Hold back every job, a person's retry too, while the kill switch is engaged.

    The notifications of the `KillSwitchEngaged` event itself still go out.
    """
    verdict = reads.kill_switch()
    if verdict is None or job.kind == "scalr":
        return verdict
    trigger = reads.event(job.event_id)
    if trigger is not None and policy.tells_of_kill_switch(trigger.name, trigger.source):
        return None
    return verdict


def _silenced(reads: ClaimReads, job: ActionJob, manual: bool) -> Verdict | None:
    """Skip a job whose event an active silence matches (a person's retry still runs)."""
    silences = reads.silences()
    if not silences:
        return None
    event = reads.event(job.event_id)
    if event is None:
        return None
    silence = first_match(silences, event.fields())
    if silence is None:
        return None
    return policy.silenced(silence.id, silence.comment, manual)


def _in_maintenance(reads: ClaimReads, job: ActionJob, manual: bool) -> Verdict | None:
    """Skip a job whose event a maintenance window of the rules file covers now."""
    if not reads.ruleset.maintenance:
        return None
    event = reads.event(job.event_id)
    if event is None:
        return None
    window = active_window(reads.ruleset.maintenance, event.fields(), reads.now)
    return policy.in_maintenance(window.name, manual) if window is not None else None


def _mutating_scalr(job: ActionJob) -> bool:
    return job.kind == "scalr" and bool((job.spec or {}).get("mutating"))


def _breaker_open(reads: ClaimReads, job: ActionJob) -> Verdict | None:
    if not _mutating_scalr(job):
        return None
    env = job.environment or "default"
    breaker = reads.breaker(env)
    if breaker is not None and breaker.is_open:
        return policy.breaker_open(env, breaker.reason)
    return None


def _decide(
    reads: ClaimReads, job: ActionJob, has_followers: bool, worker: str, *, recheck: bool = False
) -> ActionJob:
    """Mark a claimed job running, or end it as its first stopping guard says.

    With `recheck` (the claim settled other jobs first, on facts read earlier), a job
    its guards let go meets them again on facts read now: what a person changed
    meanwhile (the kill switch, a pause, a silence, a hold) still stops it. A guard
    that lets a job go changes nothing, so asking twice is safe.
    """
    now = reads.now
    verdict = _guard(reads, job)
    if verdict is None and recheck:
        fresh = ClaimReads(reads.session, reads.ruleset, reads.config, now)
        fresh.claimed([job])
        verdict = _guard(fresh, job)
    if verdict is not None:
        if verdict.status == HELD:
            return holds.hold_job(job, verdict)  # job.hold_id was set by _held
        if verdict.status == AWAITING_APPROVAL:
            return approvals.await_approval(job, verdict, now)
        return finish(
            reads.session, job, verdict.status, verdict.reason, now, followers=has_followers
        )
    job.status = RUNNING
    job.attempts += 1
    job.started_at = now
    job.fired_at = job.fired_at or now
    lease = policy.lease_seconds(
        reads.config.worker_lease_seconds, (job.params or {}).get("timeout")
    )
    job.lease_expires_at = now + timedelta(seconds=lease)
    job.locked_by = worker
    return job


def claim_job(
    session: Session, ruleset: RuleSet, config: Config, worker: str, now: datetime
) -> ActionJob | None:
    """Claim one due job; return it marked running, or ended by a guard (caller commits)."""
    reads = ClaimReads(session, ruleset, config, now)
    due = _claim_due(reads, 1)
    return _decide(reads, *due[0], worker) if due else None


def _still_ahead(
    queue: list[tuple[ActionJob, bool]], now: datetime
) -> list[tuple[ActionJob, bool]]:
    """Keep the claimed jobs a settled job's followers leave due and first in line.

    Settling a job may skip followers (out of the queue) or release the next one,
    due at `now`: it comes before any queued job due at `now` exactly, so then the
    queue is read again (the claim's own locks do not hide its rows from itself).
    """
    queue = [
        (j, f) for j, f in queue if j.status in CLAIMABLE and not j.blocked and j.run_at <= now
    ]
    return [] if queue and queue[-1][0].run_at >= now else queue


def claim_jobs(
    session: Session,
    ruleset: RuleSet,
    config: Config,
    worker: str,
    now: datetime,
    limit: int,
    seconds: float | None = None,
) -> tuple[list[ActionJob], ActionJob | None]:
    """Claim due jobs until one may run; return those its guards ended, and that one.

    Each job meets `_guard` exactly as `claim_job` alone would have it: in order,
    in the same transaction, every decision seeing the ones before (a breaker the
    budget opened skips the jobs after it). The facts the jobs share are read once
    (`ClaimReads`), and jobs are locked a chunk at a time, one at first and then as
    many as were settled so far: a claim whose first job runs locks only that one.
    Jobs locked but not reached stay as they were. The job that is to run is
    decided on facts read afresh when others were settled before it, so a person's
    change made meanwhile still stops it. At most `limit` jobs are taken, and none
    after `seconds` of settling (caller commits).
    """
    reads = ClaimReads(session, ruleset, config, now)
    settled: list[ActionJob] = []
    queue: list[tuple[ActionJob, bool]] = []
    deadline = time.monotonic() + seconds if seconds is not None else None
    while len(settled) < limit:
        if settled and deadline is not None and time.monotonic() >= deadline:
            return settled, None
        if not queue:
            queue = _claim_due(reads, min(limit - len(settled), max(1, len(settled))))
            if not queue:
                return settled, None
        job, has_followers = queue.pop(0)
        job = _decide(reads, job, has_followers, worker, recheck=bool(settled))
        if job.status == RUNNING:
            return settled, job
        settled.append(job)
        if has_followers:
            queue = _still_ahead(queue, now)
    return settled, None


def reap_expired_leases(session: Session, now: datetime) -> int:
    """Give jobs whose worker vanished back to the queue (or to `dead` when out of attempts)."""
    expired = session.scalars(
        select(ActionJob)
        .where(ActionJob.status == RUNNING)
        .where(ActionJob.lease_expires_at < now)
        .with_for_update(skip_locked=True)
    ).all()
    for job in expired:
        holder = job.locked_by or "a worker"
        # The attempt's outcome is unknown: say so in its history rather than leave a gap.
        session.add(
            JobAttempt(
                job_id=job.id,
                number=job.attempts,
                worker=job.locked_by,
                started_at=job.started_at or now,
                finished_at=now,
                outcome="lost",
                error=f"lease of {holder} expired before it recorded an outcome",
            )
        )
        if job.attempts >= job.max_attempts:
            finish(session, job, DEAD, f"lease of {holder} expired on the last attempt", now)
        else:
            job.status = RETRYING
            job.reason = f"lease of {holder} expired; taken again"
            job.run_at = now
            job.locked_by = None
            job.lease_expires_at = None
    return len(expired)


def next_due_at(session: Session) -> datetime | None:
    """Return when the next waiting job becomes due, for the worker's sleep."""
    return session.scalar(
        select(func.min(ActionJob.run_at)).where(ActionJob.status.in_(CLAIMABLE)).where(UNBLOCKED)
    )
