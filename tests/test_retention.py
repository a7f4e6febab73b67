"""Retention: old events go with their jobs and attempts; nothing the worker still owes goes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app import retention
from app.db import utcnow
from app.models.event import Event
from app.models.job import ActionJob, JobAttempt
from tests.dashboard.helpers import gen_attempt, gen_job
from tests.factories import gen_event
from tests.stack import make_stack

__all__ = ["make_stack"]  # a fixture

DAY = 86400


def counts(factory) -> tuple[int, int, int]:
    with factory() as session:
        return tuple(  # type: ignore[return-value]
            session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Event, ActionJob, JobAttempt)
        )


def old_event(session, days: float, **fields):
    when = utcnow() - timedelta(days=days)
    fields.setdefault("processed_at", when)
    return gen_event(session, received_at=when, **fields)


@pytest.fixture
def history(db_session):
    """Events of every kind a prune must tell apart; returns their ids by label."""
    now = utcnow()
    ids = {}
    ids["old_done"] = old_event(db_session, 100).id
    job = gen_job(
        db_session,
        ids["old_done"],
        status="succeeded",
        fired_at=now - timedelta(days=100),
        finished_at=now - timedelta(days=100),
    )
    gen_attempt(db_session, job, 1)
    ids["old_plain"] = old_event(db_session, 95).id
    ids["old_unmatched"] = old_event(db_session, 120, processed_at=None).id
    ids["old_waiting"] = old_event(db_session, 100).id
    gen_job(db_session, ids["old_waiting"], status="retrying")
    ids["old_but_fired_recently"] = old_event(db_session, 100).id
    gen_job(db_session, ids["old_but_fired_recently"], status="succeeded", fired_at=now)
    ids["young"] = old_event(db_session, 10).id
    return ids


def remaining(factory) -> set[int]:
    with factory() as session:
        return set(session.scalars(select(Event.id)))


def test_a_dry_run_counts_and_deletes_nothing(session_factory, history):
    before = counts(session_factory)
    result = retention.prune_events(session_factory, 90 * DAY, utcnow())
    assert (result.events, result.jobs, result.attempts, result.dry_run) == (2, 1, 1, True)
    assert counts(session_factory) == before
    assert result.summary().startswith("would delete 2 events received before ")


def test_prune_keeps_what_the_worker_still_owes(session_factory, history):
    result = retention.prune_events(session_factory, 90 * DAY, utcnow(), dry_run=False, batch=1)
    assert (result.events, result.jobs, result.attempts) == (2, 1, 1)
    assert remaining(session_factory) == {
        history[k] for k in ("old_unmatched", "old_waiting", "old_but_fired_recently", "young")
    }
    again = retention.prune_events(session_factory, 90 * DAY, utcnow(), dry_run=False)
    assert again.events == 0


def test_batches_are_bounded(session_factory, db_session):
    for _ in range(5):
        old_event(db_session, 200)
    result = retention.prune_events(
        session_factory, 90 * DAY, utcnow(), dry_run=False, batch=2, max_batches=1
    )
    assert result.events == 2
    assert len(remaining(session_factory)) == 3


def test_less_than_a_day_of_retention_is_refused(session_factory):
    with pytest.raises(ValueError, match="at least one day"):
        retention.prune_events(session_factory, 3600, utcnow(), dry_run=False)


def test_console_prune_is_a_dry_run_without_yes(app, session_factory, history):
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["events", "prune", "--older-than", "90d"])
    assert dry.exit_code == 0, dry.output
    assert "would delete 2 events" in dry.output and "add --yes to delete" in dry.output
    assert len(remaining(session_factory)) == 6
    real = runner.invoke(args=["events", "prune", "--older-than", "90d", "--yes"])
    assert real.exit_code == 0, real.output
    assert "deleted 2 events" in real.output and "with 1 jobs and 1 attempts" in real.output
    assert len(remaining(session_factory)) == 4


@pytest.mark.parametrize("bad", ["12h", "abc", "-3d", ""])
def test_console_prune_refuses_a_bad_age(app, bad):
    result = app.test_cli_runner().invoke(args=["events", "prune", "--older-than", bad])
    assert result.exit_code == 2, result.output
    assert "--older-than" in result.output


def test_the_worker_prunes_past_retention_days_once_per_interval(make_stack, db_session):
    stack = make_stack("rules: []\n", retention_days=30)
    old = old_event(db_session, 40).id
    kept = old_event(db_session, 20).id
    stack.worker.housekeeping()  # the pass runs beside the loop
    assert stack.worker.join_background(10) == []
    assert remaining(stack.factory) == {kept}
    # Within the interval a second look (this worker or another) deletes nothing more.
    newer_old = old_event(db_session, 45).id
    stack.worker._last["prune"] = 0
    stack.worker.housekeeping()
    assert stack.worker.join_background(10) == []
    assert remaining(stack.factory) == {kept, newer_old}
    assert old not in remaining(stack.factory)
