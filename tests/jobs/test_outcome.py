"""An attempt's record and the retry decision: backoff, dead after the last try, no retry of <Error>."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.jobs.outcome import NextStep, backoff_seconds, next_step
from app.models.job import JobAttempt
from app.worker.execute import Outcome
from tests.jobs.helpers import claim, matched, record, two_steps

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def step(outcome: Outcome, attempts: int = 1, max_attempts: int = 3, scalr: bool = False):
    return next_step(
        outcome,
        attempts=attempts,
        max_attempts=max_attempts,
        scalr_answered=scalr,
        now=NOW,
        retry_base=2.0,
        retry_cap=30.0,
        rng=random.Random(7),
    )


@pytest.mark.parametrize(
    ("attempt", "ceiling"), [(1, 2.0), (2, 4.0), (3, 8.0), (5, 30.0), (9, 30.0)]
)
def test_backoff_doubles_up_to_the_cap_with_equal_jitter(attempt, ceiling):
    rng = random.Random(1)
    delays = [backoff_seconds(attempt, 2.0, 30.0, rng) for _ in range(200)]
    assert all(ceiling / 2 <= d <= ceiling for d in delays)
    assert max(delays) - min(delays) > ceiling / 4  # the random half really varies


def test_success_and_a_skip_end_the_job():
    assert step(Outcome(kind="succeeded")) == NextStep("succeeded", None)
    assert step(Outcome(kind="skipped", reason="has 2")) == NextStep("skipped", "has 2")


def test_a_transient_failure_retries_after_the_backoff():
    result = step(Outcome(kind="retry", error="503"), attempts=2)
    assert result.status == "retrying" and result.run_at is not None
    delay = (result.run_at - NOW).total_seconds()
    assert 2.0 <= delay <= 4.0
    assert result.reason == f"attempt 2 of 3 failed; next in {delay:.1f}s"


def test_retry_after_is_the_least_wait():
    result = step(Outcome(kind="retry", retry_after=600.0))
    assert result.run_at == NOW + timedelta(seconds=600)


def test_dead_after_the_last_attempt():
    assert step(Outcome(kind="retry"), attempts=3) == NextStep("dead", "gave up after 3 attempts")


def test_a_scalr_error_answer_is_not_retried():
    result = step(Outcome(kind="dead", error="Farm Role not found"), attempts=1, scalr=True)
    assert result == NextStep("dead", "Scalr answered with an error")


def test_another_final_failure_is_not_retryable():
    assert step(Outcome(kind="dead", error="refused")) == NextStep("dead", "not retryable")


def test_record_writes_the_attempt_and_retries_then_dies(db_session):
    rules = two_steps()
    first, _ = matched(db_session, rules)
    first.max_attempts = 2
    db_session.commit()
    claim(db_session, rules)
    job = record(db_session, first.id, "retry", error="503 Service Unavailable")
    assert (job.status, job.error, job.locked_by, job.finished_at) == (
        "retrying",
        "503 Service Unavailable",
        None,
        None,
    )
    job.run_at = job.run_at - timedelta(minutes=1)
    db_session.commit()
    claim(db_session, rules)
    job = record(db_session, first.id, "retry", error="503 Service Unavailable")
    assert (job.status, job.reason, job.attempts) == ("dead", "gave up after 2 attempts", 2)
    attempts = db_session.scalars(
        select(JobAttempt).where(JobAttempt.job_id == first.id).order_by(JobAttempt.number)
    ).all()
    assert [(a.number, a.outcome, a.worker) for a in attempts] == [
        (1, "retry", "w1"),
        (2, "retry", "w1"),
    ]


def test_record_an_error_answer_keeps_the_transaction_id(db_session):
    rules = two_steps()
    first, _ = matched(db_session, rules)
    first.kind = "scalr"
    db_session.commit()
    claim(db_session, rules)
    job = record(db_session, first.id, "dead", error="not found", transaction_id="tx-1")
    assert (job.status, job.attempts, job.transaction_id) == ("dead", 1, "tx-1")
    assert job.reason == "Scalr answered with an error"
