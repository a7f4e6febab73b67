"""Matching a batch of events in one transaction behaves as matching them one by one."""

from __future__ import annotations

from sqlalchemy import event, select, update

from app.db import transaction
from app.jobs import create
from app.jobs.create import claim_events, process_events
from app.models.event import Event
from app.models.job import ActionJob
from tests.worker.test_remediation_e2e import host_down, host_up, rules

SERVER = "5bbd72c5-908c-4535-a7ec-2fbf56486ff3"


def match_batch(stack) -> create.BatchResult:
    with transaction(stack.factory) as session:
        events = claim_events(session, 100)
        return process_events(session, events, stack.worker.rules.current, stack.worker.clock())


def test_a_hostup_cancels_the_job_an_earlier_hostdown_of_the_same_batch_made(make_stack):
    stack = make_stack(rules(extra="delay: 1h\n    cancel_on: [HostUp]"))
    host_down(stack, SERVER, "&farm_role_id=1978")
    host_up(stack, SERVER)
    result = match_batch(stack)
    assert (result.events, result.jobs, result.cancelled) == (2, 1, 1)
    [job] = stack.jobs()
    assert job.status == "cancelled" and "HostUp" in job.reason


def test_one_event_that_breaks_leaves_the_others_of_its_batch_matched(make_stack, monkeypatch):
    stack = make_stack(rules(extra="delay: 1h"))
    first = host_down(stack, "00000000-0000-4000-8000-000000000001", "&farm_role_id=1978")
    bad = host_down(stack, "00000000-0000-4000-8000-000000000002", "&farm_role_id=1978")
    last = host_down(stack, "00000000-0000-4000-8000-000000000003", "&farm_role_id=1978")
    real = create._match

    def breaks_on_bad(session, event, *rest):
        if event.id == bad:
            # After it has written: the savepoint must undo this event's work alone.
            done = real(session, event, *rest)
            session.flush()
            raise RuntimeError(f"a bug after {len(done.created)} jobs")
        return real(session, event, *rest)

    monkeypatch.setattr(create, "_match", breaks_on_bad)
    result = match_batch(stack)
    assert result.failed == [bad] and result.jobs == 2
    assert sorted(j.event_id for j in stack.jobs()) == [first, last]
    with stack.factory() as session:
        broken = session.get(Event, bad)
        assert broken.processed_at is not None
        assert "a bug after 1 jobs" in broken.evaluations[0]["reason"]
        assert all(session.get(Event, i).processed_at for i in (first, last))


def test_a_batch_matched_again_makes_no_second_job(make_stack):
    stack = make_stack(rules(extra="delay: 1h"))
    ids = [
        host_down(stack, f"00000000-0000-4000-8000-{i:012d}", "&farm_role_id=1978")
        for i in range(5)
    ]
    assert match_batch(stack).jobs == 5
    # As after a crash between commit and acknowledgement: the events are claimed again.
    with transaction(stack.factory) as session:
        session.execute(update(Event).where(Event.id.in_(ids)).values(processed_at=None))
    again = match_batch(stack)
    assert (again.events, again.jobs) == (5, 0)
    with stack.factory() as session:
        keys = list(session.scalars(select(ActionJob.idempotency_key)))
    assert len(keys) == len(set(keys)) == 5


def test_the_worker_drains_a_backlog_in_batches(make_stack):
    stack = make_stack(rules(extra="delay: 1h"))
    for i in range(150):
        host_down(stack, f"00000000-0000-4000-8000-{i:012d}", "&farm_role_id=1978")
    assert stack.worker.process_events() is True  # the first hundred in one transaction
    with stack.factory() as session:
        left = session.scalars(select(Event.id).where(Event.processed_at.is_(None))).all()
    assert len(left) == 50
    assert stack.worker.process_events() is True
    assert stack.worker.process_events() is False
    assert len(stack.jobs()) == 150


def test_the_worker_matches_a_batch_again_event_by_event_when_one_event_breaks_it(
    make_stack, monkeypatch
):
    stack = make_stack(rules(extra="delay: 1h"))
    ids = [
        host_down(stack, f"00000000-0000-4000-8000-{i:012d}", "&farm_role_id=1978")
        for i in range(4)
    ]
    bad = ids[2]
    real = create._match
    attempts: list[bool] = []

    def breaks_on_bad(session, event, *rest):
        if event.id == bad:
            attempts.append(session.in_nested_transaction())
            raise RuntimeError("a template bug")
        return real(session, event, *rest)

    monkeypatch.setattr(create, "_match", breaks_on_bad)
    assert stack.worker.process_events() is True
    # First the whole batch with no savepoint, then again one savepoint an event.
    assert attempts == [False, True]
    assert sorted(j.event_id for j in stack.jobs()) == [i for i in ids if i != bad]
    with stack.factory() as session:
        assert all(session.get(Event, i).processed_at for i in ids)
        assert "a template bug" in session.get(Event, bad).evaluations[0]["reason"]
    # Nothing of the failed attempt was kept: one job an event, no duplicates.
    assert len(stack.jobs()) == 3


def test_the_worker_matches_a_clean_batch_without_a_savepoint_an_event(make_stack):
    stack = make_stack(rules(extra="delay: 1h"))
    for i in range(20):
        host_down(stack, f"00000000-0000-4000-8000-{i:012d}", "&farm_role_id=1978")
    statements: list[str] = []
    engine = stack.factory.kw["bind"]

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert stack.worker.process_events() is True
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(stack.jobs()) == 20
    assert not [s for s in statements if "SAVEPOINT" in s.upper()]
    # The twenty events' marks go in one executemany (at most two: the first event's are
    # flushed when the batch first reads the rules' states), not an UPDATE an event.
    updates = [s for s in statements if s.startswith("UPDATE events")]
    server_inserts = [s for s in statements if s.startswith("INSERT INTO servers")]
    assert len(updates) <= 2 and len(server_inserts) <= 2, statements
