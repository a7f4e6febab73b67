"""Group commit, the spool and its replay: batches, repeats, a full spool, a crash mid-replay."""

from __future__ import annotations

import json
import threading
import time

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from app.ingest import store
from app.ingest.service import ingest_of, replay_commit
from app.ingest.spool import Spool, decode, encode
from app.ingest.writer import DatabaseUnavailable, GroupWriter, Ticket
from app.models.event import Event
from tests.conftest import INGEST_TOKEN
from tests.ingest.test_store import hook, observer

FORM = "application/x-www-form-urlencoded"


def count(session_factory) -> int:
    with session_factory() as session:
        return session.scalar(select(func.count()).select_from(Event)) or 0


def webhook_row(event_id: str) -> dict:
    body = json.dumps({"eventName": "HostUp", "eventId": event_id, "data": {}}).encode()
    return store.webhook_row(hook(body), keep_user_variables=False)


def test_one_batch_stores_many_rows_and_knows_repeats_within_it(session_factory):
    writer = GroupWriter(session_factory)
    first, again, other = webhook_row("e-1"), webhook_row("e-1"), store.observer_row(observer())
    tickets = [Ticket(first), Ticket(again), Ticket(other)]
    writer.commit_batch(tickets)
    results = [t.wait(1) for t in tickets]
    assert [r.duplicate for r in results] == [False, True, False]
    assert results[1].id == results[0].id
    assert writer.batches == 1 and count(session_factory) == 2
    later = Ticket(webhook_row("e-1"))  # across batches too
    writer.commit_batch([later])
    assert later.wait(1).duplicate and later.wait(1).id == results[0].id


def test_a_database_error_fails_the_batch_for_the_spool(session_factory):
    def away(session, rows):
        raise OperationalError("INSERT", {}, ConnectionRefusedError("refused"))

    writer = GroupWriter(session_factory, commit=away)
    ticket = Ticket(store.observer_row(observer()))
    writer.commit_batch([ticket])
    assert writer.down
    try:
        ticket.wait(1)
    except Exception as exc:
        assert type(exc).__name__ == "DatabaseUnavailable"
    else:
        raise AssertionError("the ticket should have failed")


def test_spool_lines_round_trip_and_torn_lines_are_refused():
    row = store.observer_row(observer(b"event=OnCustom&message=caf%C3%A9+%E2%9C%93"))
    line = encode(row)
    assert decode(line) == row
    assert decode(line[:-1]) is None  # torn: no newline
    assert decode(line[:20] + b"x" + line[21:]) is None  # damaged: the checksum says so


def test_spooled_rows_replay_once_even_after_a_crash_mid_replay(session_factory, tmp_path):
    spool = Spool(tmp_path / "spool", max_bytes=1 << 20)
    rows = [store.observer_row(observer()) for _ in range(5)]
    refs = [spool.append(row) for row in rows]
    assert refs == [row["ingest_key"] for row in rows]
    assert spool.stats().depth == 5 and spool.stats().oldest_seconds >= 0
    # A first replay commits two rows, then the process dies before deleting the file.
    spool.seal()
    with session_factory() as session:
        replay_commit(session, rows[:2])
    moved = spool.replay(session_factory, replay_commit)
    assert moved == 5 and count(session_factory) == 5
    assert spool.is_empty() and spool.stats().depth == 0
    with session_factory() as session:
        keys = set(session.scalars(select(Event.ingest_key)))
    assert keys == set(refs)


def test_a_full_spool_refuses_with_503_and_the_database_away_spools(make_app, session_factory):
    app = make_app(database_url="postgresql://nobody@127.0.0.1:1/none", spool_max_bytes=4096)
    client = app.test_client()
    first = client.post(
        f"/events?token={INGEST_TOKEN}", data=b"event=OnHostUp&message=m", content_type=FORM
    )
    assert first.status_code == 202, first.get_json()
    body = first.get_json()
    assert body["id"] is None and body["spooled"]
    codes = [
        client.post(
            f"/events?token={INGEST_TOKEN}", data=b"event=OnHostUp&message=m", content_type=FORM
        ).status_code
        for _ in range(10)
    ]
    assert codes[0] == 202 and codes[-1] == 503
    full = client.post(
        f"/events?token={INGEST_TOKEN}", data=b"event=OnHostUp&message=m", content_type=FORM
    )
    assert full.get_json()["error"] == "spool_full"
    stats = ingest_of(app).stats()
    assert stats.depth == 1 + codes.count(202)
    assert client.get("/readyz").get_json()["checks"]["spool"]["depth"] == stats.depth


def replayers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "spool-replayer"]


def test_stop_ends_a_replayer_whose_database_never_comes_back(make_app):
    before = set(replayers())
    app = make_app(database_url="postgresql://nobody@127.0.0.1:1/none")
    response = app.test_client().post(
        f"/events?token={INGEST_TOKEN}", data=b"event=OnHostUp&message=m", content_type=FORM
    )
    assert response.get_json()["spooled"]
    mine = [t for t in replayers() if t not in before]
    assert len(mine) == 1 and mine[0].is_alive()
    started = time.monotonic()
    ingest_of(app).stop()
    assert not mine[0].is_alive()
    assert time.monotonic() - started < 3, "stop waited out the replayer's back-off"
    # Stopped for good: a later spooled delivery starts no replayer again.
    app.test_client().post(
        f"/events?token={INGEST_TOKEN}", data=b"event=OnHostUp&message=m", content_type=FORM
    )
    assert [t for t in replayers() if t not in before] == []
    assert ingest_of(app).stats().depth == 2


def test_the_writers_driver_insert_stores_rows_as_the_session_path_does(session_factory):
    """JSON columns, the aware timestamp and every field read back the same either way."""
    body = json.dumps(
        {"eventName": "HostUp", "eventId": "e-same", "data": {"SCALR_FARM_ID": "7"}}
    ).encode()
    by_writer = store.webhook_row(hook(body), keep_user_variables=False)
    by_session = dict(by_writer, ingest_key=store.new_ingest_key(), external_id="e-other")
    ticket = Ticket(by_writer)
    GroupWriter(session_factory).commit_batch([ticket])
    with session_factory() as session:
        (other,) = replay_commit(session, [by_session])
    with session_factory() as session:
        a, b = session.get(Event, ticket.wait(1).id), session.get(Event, other.id)
        assert a is not None and b is not None
        skip = {"id", "ingest_key", "external_id"}
        for column in store.INSERT_COLUMNS:
            if column not in skip:
                assert getattr(a, column) == getattr(b, column), column
        assert a.received_at == by_writer["received_at"] and a.received_at.tzinfo is not None
        assert a.data == {"SCALR_FARM_ID": "7"} and a.raw == by_writer["raw"]


def stored_ids(session_factory, rows) -> list[int]:
    """Read back the id stored under each row's ingest key, in order."""
    keys = [row["ingest_key"] for row in rows]
    with session_factory() as session:
        query = select(Event.ingest_key, Event.id).where(Event.ingest_key.in_(keys))
        found = {key: id_ for key, id_ in session.execute(query)}
    return [found[key] for key in keys]


def test_each_row_of_a_batch_is_answered_with_its_own_stored_id(session_factory):
    """SQLite's ids come from lastrowid and rowcount, not returned rows: they must still be
    each row's own, batch after batch."""
    writer = GroupWriter(session_factory)
    for size in (1, 2, 7, 31):
        rows = [store.observer_row(observer()) for _ in range(size)]
        tickets = [Ticket(row) for row in rows]
        writer.commit_batch(tickets)
        answered = [t.wait(1) for t in tickets]
        assert not any(s.duplicate for s in answered)
        assert [s.id for s in answered] == stored_ids(session_factory, rows)


def test_a_batch_holding_an_already_stored_row_still_answers_every_id(session_factory):
    """A replayed row (its ingest key stored already) keeps the others' ids right."""
    writer = GroupWriter(session_factory)
    earlier = store.observer_row(observer())
    with session_factory() as session:
        (kept,) = replay_commit(session, [earlier])
    rows = [store.observer_row(observer()), dict(earlier), store.observer_row(observer())]
    tickets = [Ticket(row) for row in rows]
    writer.commit_batch(tickets)
    answered = [t.wait(1) for t in tickets]
    assert answered[1].id == kept.id
    assert [s.id for s in answered] == stored_ids(session_factory, rows)
    assert count(session_factory) == 3


def test_a_batch_waits_for_another_writer_and_still_answers_its_own_ids(session_factory):
    """On SQLite the writer's one-statement insert waits (busy timeout) for the write lock
    another connection's transaction holds, and fails the batch if it does not. On either
    database the ids it answers are each row's own, after that transaction's rows took
    the ids before them (PostgreSQL lets both insert at once: no lock to wait for)."""
    writer = GroupWriter(session_factory)
    other_rows = [store.observer_row(observer()) for _ in range(3)]
    holding, release = threading.Event(), threading.Event()

    def hold_the_write_lock() -> None:
        with session_factory() as session:
            store.insert_rows(session, other_rows)  # takes the write lock (SQLite: BEGIN IMMEDIATE)
            holding.set()
            release.wait(5)
            session.commit()

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    assert holding.wait(5)
    rows = [store.observer_row(observer()) for _ in range(4)]
    tickets = [Ticket(row) for row in rows]
    committing = threading.Thread(target=writer.commit_batch, args=(tickets,))
    committing.start()
    time.sleep(0.3)
    release.set()
    holder.join(5)
    committing.join(10)
    answered = [t.wait(1) for t in tickets]
    assert [s.id for s in answered] == stored_ids(session_factory, rows)
    assert min(s.id for s in answered) > max(stored_ids(session_factory, other_rows))
    assert count(session_factory) == 7


def test_the_sqlite_writer_tries_again_for_the_lock_and_gives_up_at_its_bound(
    session_factory, monkeypatch
):
    """The writer's connection waits 1 ms in SQLite's busy handler and tries again itself
    (the test above holds the lock 300 times that long); a lock held past the writer's
    bound fails the batch as 'database away', so its requests go to the spool."""
    from app.ingest import driver

    writer = GroupWriter(session_factory)
    connection = writer._driver.connect()
    try:
        if writer._driver.postgres:
            return  # PostgreSQL: no write lock to wait for
        assert connection.execute("PRAGMA busy_timeout").fetchone()[0] == driver.BUSY_POLL_MS
    finally:
        connection.close()
    monkeypatch.setattr(driver, "BUSY_WAIT_SECONDS", 0.2)
    with session_factory() as holder:
        store.insert_rows(holder, [store.observer_row(observer())])  # BEGIN IMMEDIATE: held
        tickets = [Ticket(store.observer_row(observer()))]
        writer.commit_batch(tickets)
        try:
            tickets[0].wait(1)
            raise AssertionError("committed while another connection held the write lock")
        except DatabaseUnavailable as exc:
            assert "locked" in str(exc)
        holder.rollback()
    assert writer.down
