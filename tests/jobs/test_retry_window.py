"""Transient failures are retried through the retry window, past max_attempts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from app.jobs.outcome import next_step
from app.models.job import DEAD, RETRYING
from app.worker.execute import Outcome

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def step(kind: str, attempts: int, first_tried_seconds_ago: float, window: float):
    return next_step(
        Outcome(kind=kind, error="connection refused"),
        attempts=attempts,
        max_attempts=5,
        scalr_answered=False,
        now=NOW,
        retry_base=5.0,
        retry_cap=600.0,
        rng=random.Random(3),
        first_tried_at=NOW - timedelta(seconds=first_tried_seconds_ago),
        retry_window=window,
    )


def test_past_max_attempts_within_the_window_it_retries():
    result = step("retry", attempts=7, first_tried_seconds_ago=120, window=900)
    assert result.status == RETRYING
    assert result.reason is not None and "within the retry window" in result.reason
    assert result.run_at is not None and result.run_at > NOW


def test_past_max_attempts_and_the_window_it_is_dead():
    result = step("retry", attempts=7, first_tried_seconds_ago=901, window=900)
    assert (result.status, result.reason) == (DEAD, "gave up after 7 attempts")


def test_no_window_leaves_max_attempts_alone():
    assert step("retry", attempts=5, first_tried_seconds_ago=1, window=0).status == DEAD
    assert step("retry", attempts=4, first_tried_seconds_ago=1, window=0).status == RETRYING


def test_an_error_answer_is_never_retried_in_the_window():
    assert step("dead", attempts=1, first_tried_seconds_ago=1, window=900).status == DEAD
