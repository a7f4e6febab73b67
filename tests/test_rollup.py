"""The overview's hourly counts: folded + tail is exactly a live count, whatever the fold did.

The expected figures are counted here in Python from the stored rows, the way a live
GROUP BY over events counts them; every test compares the rollup's read with that.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select, text

from app import retention, rollup
from app.db import make_engine, make_session_factory, transaction, utcnow
from app.models.event import Event
from app.models.rollup import FOLD_ROW, EventFold, EventHour
from app.queries.overview import WINDOWS, bucket_starts, hour_keys, load_overview
from tests.factories import gen_event
from tests.stack import make_stack

__all__ = ["make_stack"]  # a fixture

SETTLE = timedelta(seconds=rollup.SETTLE_SECONDS)
NAMES = ("HostDown", "HostUp", "HostCrash")
DAY = 86400


def hour_of(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def stored(factory) -> list[tuple[datetime, str]]:
    with factory() as session:
        return [(at, name) for at, name in session.execute(select(Event.received_at, Event.name))]


def live_hours(factory, since: datetime) -> dict[tuple[datetime, str], int]:
    """Count the stored events per (UTC hour, name) received since `since`."""
    return dict(Counter((hour_of(at), name) for at, name in stored(factory) if at >= since))


def read_hours(factory, since: datetime) -> dict[tuple[datetime, str], int]:
    with factory() as session:
        return rollup.hour_counts(session, since)


def folded_rows(factory) -> dict[tuple[datetime, str], int]:
    with factory() as session:
        return {(r.hour, r.name): r.events for r in session.scalars(select(EventHour))}


def watermark(factory) -> int:
    with factory() as session:
        return session.scalar(select(EventFold.folded_id).where(EventFold.id == FOLD_ROW)) or 0


def max_id(factory) -> int:
    with factory() as session:
        return session.scalar(select(func.max(Event.id))) or 0


def fold(factory, now: datetime) -> rollup.FoldResult:
    with transaction(factory) as session:
        return rollup.fold_events(session, now)


def fold_all(factory, now: datetime) -> rollup.FoldResult:
    """Two passes a settle apart: everything stored before the first is folded."""
    fold(factory, now)
    return fold(factory, now + SETTLE)


def expected_overview(factory, now: datetime, window: str):
    """What load_overview must show, counted from the rows."""
    chosen = WINDOWS[window]
    starts = bucket_starts(now, chosen)
    hours = hour_keys(now)
    bars: Counter[tuple[datetime, str]] = Counter()
    step = chosen.bucket.total_seconds()
    rows = stored(factory)
    for at, name in rows:
        if at >= starts[0]:
            index = int((at - starts[0]).total_seconds() // step)
            if index < len(starts):
                bars[(starts[index], name)] += 1
    day = sum(1 for at, _ in rows if at >= hours[0])
    hour = sum(1 for at, _ in rows if hour_of(at) == hours[-1])
    return dict(bars), day, hour


def assert_overview_is_live(factory, now: datetime) -> None:
    for window in WINDOWS:
        with factory() as session:
            shown = load_overview(session, now, window)
        bars, day, hour = expected_overview(factory, now, window)
        assert (shown.counts, shown.events_24h, shown.events_1h) == (bars, day, hour), window


def spread(session, now: datetime, count: int, rng: random.Random, days: float = 8) -> None:
    """Store `count` events at random times over the last `days` days, in no time order."""
    for _ in range(count):
        at = now - timedelta(seconds=rng.uniform(0, days * DAY))
        gen_event(session, name=rng.choice(NAMES), received_at=at, processed_at=at)


@pytest.fixture
def now() -> datetime:
    return utcnow().replace(minute=37, second=12, microsecond=0)


def test_without_any_fold_every_event_is_read_live(session_factory, db_session, now):
    spread(db_session, now, 40, random.Random(1))
    assert watermark(session_factory) == 0
    week = now - timedelta(days=7)
    assert read_hours(session_factory, week) == live_hours(session_factory, hour_of(week))
    assert_overview_is_live(session_factory, now)


def test_a_fold_folds_only_what_an_earlier_pass_saw_and_only_once_settled(
    session_factory, db_session, now
):
    spread(db_session, now, 10, random.Random(2))
    seen = max_id(session_factory)
    first = fold(session_factory, now)
    assert (first.events, first.folded_id, first.candidate_id) == (0, 0, seen)
    assert folded_rows(session_factory) == {}
    spread(db_session, now, 5, random.Random(3))  # after the candidate
    top = max_id(session_factory)
    early = fold(session_factory, now + SETTLE - timedelta(seconds=1))
    assert (early.events, early.folded_id) == (0, 0)
    settled = fold(session_factory, now + SETTLE)
    # Up to the candidate an earlier pass saw, never to the max(id) this pass sees.
    assert (settled.events, settled.folded_id, settled.candidate_id) == (10, seen, top)
    assert sum(folded_rows(session_factory).values()) == 10
    last = fold(session_factory, now + 2 * SETTLE)
    assert (last.events, last.folded_id, last.candidate_id) == (5, top, top)
    everything = now - timedelta(days=30)
    assert folded_rows(session_factory) == live_hours(session_factory, everything)
    assert last.summary() == f"folded 5 events; event_hours counts ids <= {top}"


def test_counts_are_live_counts_at_every_fold_state(session_factory, db_session, now):
    """Events arrive in any time order, folds come at any moment; the figures never move."""
    rng = random.Random(4)
    clock = now - timedelta(minutes=30)
    for step in range(12):
        spread(db_session, now, rng.randrange(0, 15), rng)
        if step % 3 == 1:  # a spool replay: an old delivery stored with a fresh id
            old = now - timedelta(days=rng.choice([2, 6, 9]), minutes=rng.randrange(60))
            gen_event(db_session, name="HostDown", received_at=old, processed_at=old)
        clock += timedelta(seconds=rng.choice([5, 30, 61, 125, 300]))
        fold(session_factory, clock)
        for since in (now - timedelta(hours=24), now - timedelta(days=7)):
            want = live_hours(session_factory, hour_of(since))
            assert read_hours(session_factory, since) == want, (step, since)
        assert_overview_is_live(session_factory, now)
    assert watermark(session_factory) > 0  # the loop did fold, not only read live


def test_a_replayed_old_event_is_folded_into_its_old_hour(session_factory, db_session, now):
    spread(db_session, now, 8, random.Random(5), days=1)
    fold_all(session_factory, now)
    three_days = now - timedelta(days=3, minutes=12)
    replay = gen_event(db_session, name="HostCrash", received_at=three_days)
    key = (hour_of(three_days), "HostCrash")
    assert read_hours(session_factory, now - timedelta(days=7))[key] == 1  # the live tail
    assert key not in folded_rows(session_factory)
    fold_all(session_factory, now + 2 * SETTLE)
    assert watermark(session_factory) == replay.id
    assert folded_rows(session_factory)[key] == 1
    assert read_hours(session_factory, now - timedelta(days=7))[key] == 1
    assert_overview_is_live(session_factory, now)


def test_an_id_below_the_candidate_committed_after_it_is_still_counted(
    session_factory, db_session, now
):
    """What PostgreSQL's sequences do, played with explicit ids: a lower id commits later.

    Id 3 is handed out before the first pass sees 5 and commits before the settled
    pass; id 6 is handed out before that pass sees 7 and commits after it.
    """

    def store(event_id: int) -> Event:
        at = now - timedelta(hours=event_id)
        return gen_event(db_session, id=event_id, name=NAMES[event_id % 3], received_at=at)

    for i in (1, 2, 4, 5):
        store(i)
    assert fold(session_factory, now).candidate_id == 5
    store(3)
    store(7)
    result = fold(session_factory, now + SETTLE)
    # Up to the candidate, 5, never to the max(id) it sees: 6 may still be in flight.
    assert (result.events, result.folded_id, result.candidate_id) == (5, 5, 7)
    store(6)
    day = now - timedelta(days=1)
    assert read_hours(session_factory, day) == live_hours(session_factory, hour_of(day))
    fold(session_factory, now + 2 * SETTLE)
    assert watermark(session_factory) == 7
    assert folded_rows(session_factory) == live_hours(session_factory, hour_of(day))


@pytest.mark.postgres
def test_an_open_transaction_holding_a_lower_id_is_not_passed_over(
    engine, session_factory, db_session, now
):
    """Two real PostgreSQL sessions: the lower id commits after a higher one was seen."""
    first = gen_event(db_session, name="HostDown", received_at=now)
    assert fold(session_factory, now).candidate_id == first.id
    slow = session_factory()
    held = Event(name="HostCrash", message="", source="observer", received_at=now)
    slow.add(held)
    slow.flush()  # the sequence has handed out its id; not committed
    quick = gen_event(db_session, name="HostUp", received_at=now)
    assert first.id < held.id < quick.id
    result = fold(session_factory, now + SETTLE)
    assert (result.folded_id, result.candidate_id) == (first.id, quick.id)
    assert read_hours(session_factory, now) == {
        (hour_of(now), "HostDown"): 1,
        (hour_of(now), "HostUp"): 1,
    }
    slow.commit()
    slow.close()
    assert read_hours(session_factory, now) == live_hours(session_factory, hour_of(now))
    assert len(read_hours(session_factory, now)) == 3
    result = fold(session_factory, now + 2 * SETTLE)
    assert (result.events, result.folded_id) == (2, quick.id)
    assert folded_rows(session_factory) == live_hours(session_factory, hour_of(now))


@pytest.mark.postgres
def test_hours_are_utc_hours_whatever_the_session_time_zone(database_url, db_session, now):
    other = make_engine(database_url)

    @sa_event.listens_for(other, "connect")
    def _zone(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'Asia/Kolkata'")  # UTC+05:30: hours half an hour off

    try:
        factory = make_session_factory(other)
        for minutes in (5, 35, 65, 95):
            gen_event(db_session, name="HostUp", received_at=now - timedelta(minutes=minutes))
        fold_all(factory, now)
        with factory() as session:
            assert session.scalar(text("SHOW TIME ZONE")) == "Asia/Kolkata"
        day = hour_of(now - timedelta(days=1))
        assert folded_rows(factory) == live_hours(factory, day)
        assert len(folded_rows(factory)) == 2
        assert read_hours(factory, now - timedelta(hours=3)) == live_hours(factory, day)
    finally:
        other.dispose()


def test_a_pass_with_nothing_settled_writes_nothing(engine, session_factory, db_session, now):
    spread(db_session, now, 5, random.Random(6))
    fold(session_factory, now)  # records the candidate
    gen_event(db_session, received_at=now)
    statements: list[str] = []

    def _count(_conn, _cursor, statement, *_args):
        statements.append(statement.split(None, 1)[0].upper())

    sa_event.listen(engine, "before_cursor_execute", _count)
    try:
        result = fold(session_factory, now + timedelta(seconds=5))
    finally:
        sa_event.remove(engine, "before_cursor_execute", _count)
    assert result.events == 0
    assert [s for s in statements if s not in ("SELECT", "BEGIN")] == []


def old(session, days: float, name: str = "HostDown") -> Event:
    at = utcnow() - timedelta(days=days)
    return gen_event(session, name=name, received_at=at, processed_at=at)


def test_prune_takes_the_folded_events_it_deletes_out_of_the_counts(session_factory, db_session):
    now = utcnow()
    for days in (100, 100, 99, 95):
        old(db_session, days, "HostDown")
    old(db_session, 98, "HostUp")
    kept = old(db_session, 10, "HostUp")
    fold_all(session_factory, now)
    mark = watermark(session_factory)
    # Stored after the fold: an old delivery replayed from the spool, not folded yet.
    replay = old(db_session, 97, "HostCrash")
    gen_event(db_session, received_at=now)  # the newest, which retention keeps
    assert replay.id > mark
    result = retention.prune_events(session_factory, 90 * DAY, now, dry_run=False, batch=2)
    assert result.events == 6
    everything = now - timedelta(days=365)
    assert read_hours(session_factory, everything) == live_hours(session_factory, everything)
    assert folded_rows(session_factory) == {(hour_of(kept.received_at), "HostUp"): 1}
    fold_all(session_factory, now + 2 * SETTLE)
    assert read_hours(session_factory, everything) == live_hours(session_factory, everything)


def test_prune_then_overview(session_factory, db_session, now):
    rng = random.Random(7)
    spread(db_session, now, 30, rng, days=40)
    fold_all(session_factory, now)
    spread(db_session, now, 10, rng, days=40)  # in the tail
    retention.prune_events(session_factory, 3 * DAY, now, dry_run=False, batch=7)
    assert_overview_is_live(session_factory, now)
    fold_all(session_factory, now + 2 * SETTLE)
    assert_overview_is_live(session_factory, now)


def test_prune_keeps_the_newest_event_so_sqlite_never_hands_its_id_out_again(
    session_factory, db_session
):
    ids = [old(db_session, days).id for days in (120, 110, 100)]
    fold_all(session_factory, utcnow())
    result = retention.prune_events(session_factory, 90 * DAY, utcnow(), dry_run=False)
    assert result.events == 2
    with session_factory() as session:
        assert list(session.scalars(select(Event.id))) == [ids[-1]]
    assert gen_event(db_session).id > watermark(session_factory)


def test_the_worker_folds_in_its_housekeeping(make_stack, db_session, now):
    stack = make_stack("rules: []\n")
    stack.worker.clock = lambda: now
    spread(db_session, now, 6, random.Random(8))
    top = max_id(stack.factory)
    stack.worker.housekeeping()
    assert watermark(stack.factory) == 0
    stack.worker.clock = lambda: now + SETTLE
    stack.worker._last["fold"] = 0
    stack.worker.housekeeping()
    assert watermark(stack.factory) == top
    assert folded_rows(stack.factory) == live_hours(stack.factory, now - timedelta(days=30))


def test_console_fold(app, session_factory, db_session, monkeypatch, now):
    spread(db_session, now, 4, random.Random(9))
    top = max_id(session_factory)
    runner = app.test_cli_runner()
    once = runner.invoke(args=["events", "fold"])
    assert once.exit_code == 0, once.output
    assert f"folded 0 events; event_hours counts ids <= 0; events up to id {top}" in once.output
    monkeypatch.setattr(rollup, "SETTLE_SECONDS", 0.0)
    waited = runner.invoke(args=["events", "fold", "--wait"])
    assert waited.exit_code == 0, waited.output
    assert f"folded 4 events; event_hours counts ids <= {top}" in waited.output
    with session_factory() as session:
        assert session.scalar(select(func.sum(EventHour.events))) == 4
