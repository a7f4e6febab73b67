"""Record how an attempt ended: its attempt row, the job's next status, its followers.

`next_step` is the retry decision as a value (after procrastinate's
`retry.py`): how an attempt ended and how many are left go in, the status,
reason and next run time come out. `record_outcome` writes it.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session

from app.jobs import policy, verify
from app.jobs.chain import finish
from app.jobs.kill_switch import kill_switch_verdict
from app.models.job import DEAD, RETRYING, RUNNING, SKIPPED, SUCCEEDED, ActionJob, JobAttempt

log = logging.getLogger(__name__)


class AttemptOutcome(Protocol):
    """How one attempt ended, as the worker's executor reports it (`app.worker.execute.Outcome`)."""

    @property
    def kind(self) -> str:  # succeeded | retry | dead | skipped
        """Say how the attempt ended."""

    @property
    def result(self) -> dict[str, Any] | None:
        """Return the parsed answer, if any."""

    @property
    def transaction_id(self) -> str | None:
        """Return the Scalr TransactionID, if any."""

    @property
    def error(self) -> str | None:
        """Return the error text, if any."""

    @property
    def reason(self) -> str | None:
        """Return why the action skipped itself, if it did."""

    @property
    def retry_after(self) -> float | None:
        """Return the least wait the other side asked for, if any."""


@dataclass(frozen=True)
class NextStep:
    """What becomes of a job after an attempt: its status, why, and when it runs again."""

    status: str
    reason: str | None
    run_at: datetime | None = None  # set when the job retries


def backoff_seconds(
    attempt: int, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Exponential backoff with equal jitter: half fixed, half random (AWS architecture blog)."""
    ceiling = min(cap, base * (2 ** max(0, attempt - 1)))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def next_step(
    outcome: AttemptOutcome,
    *,
    attempts: int,
    max_attempts: int,
    scalr_answered: bool,
    now: datetime,
    retry_base: float,
    retry_cap: float,
    rng: random.Random | None = None,
    first_tried_at: datetime | None = None,
    retry_window: float = 0.0,
) -> NextStep:
    """Decide the job's next status after attempt number `attempts` ended with `outcome`.

    A transient failure is tried again while attempts are left, and also, whatever the
    count, until `retry_window` seconds have passed since `first_tried_at`: five attempts
    of a 5 s backoff span under a minute and a half, and an outage of Scalr longer
    than that must not kill every job it met.
    """
    if outcome.kind == "succeeded":
        return NextStep(SUCCEEDED, None)
    if outcome.kind == "skipped":
        return NextStep(SKIPPED, outcome.reason)
    within_window = (
        first_tried_at is not None and (now - first_tried_at).total_seconds() < retry_window
    )
    if outcome.kind == "retry" and (attempts < max_attempts or within_window):
        delay = backoff_seconds(attempts, retry_base, retry_cap, rng)
        if outcome.retry_after is not None:
            delay = max(delay, outcome.retry_after)
        if attempts < max_attempts:
            reason = f"attempt {attempts} of {max_attempts} failed; next in {delay:.1f}s"
        else:
            reason = f"attempt {attempts} failed, within the retry window; next in {delay:.1f}s"
        return NextStep(RETRYING, reason, now + timedelta(seconds=delay))
    if outcome.kind == "retry":
        return NextStep(DEAD, f"gave up after {attempts} attempts")
    # A dead outcome (a Scalr <Error> answer, a refused webhook) is final: no retry.
    return NextStep(DEAD, "Scalr answered with an error" if scalr_answered else "not retryable")


def record_outcome(
    session: Session,
    job_id: int,
    outcome: AttemptOutcome,
    worker: str,
    started: datetime,
    now: datetime,
    retry_base: float,
    retry_cap: float,
    retry_window: float = 0.0,
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
    step = next_step(
        outcome,
        attempts=job.attempts,
        max_attempts=job.max_attempts,
        scalr_answered=job.kind == "scalr" and bool(job.transaction_id),
        now=now,
        retry_base=retry_base,
        retry_cap=retry_cap,
        first_tried_at=job.fired_at,
        retry_window=retry_window,
    )
    if step.status == RETRYING and (held := kill_switch_verdict(session)) is not None:
        # The call in flight has ended; while the kill switch is engaged no retry starts.
        held = policy.kill_switch_stops_retry(held, job.attempts)
        step = NextStep(held.status, held.reason)
    if step.status == RETRYING:
        assert step.run_at is not None
        job.status, job.reason, job.run_at = step.status, step.reason, step.run_at
        job.locked_by = None
        job.lease_expires_at = None
    else:
        finish(session, job, step.status, step.reason, now)
        verify.start_expecting(session, job, now)
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
