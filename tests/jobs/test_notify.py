"""The SQLite listener wakes the worker when another connection commits to the file."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import text

from app.db import make_engine
from app.jobs.notify import Listener


@pytest.fixture
def watched(tmp_path):
    """A file database with one table, and a Listener made on it as the worker makes one."""
    engine = make_engine(f"sqlite:///{tmp_path / 'wake.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    listener = Listener(engine)
    yield engine, listener
    listener.close()
    engine.dispose()


def test_a_commit_by_another_process_connection_wakes_the_wait(tmp_path, watched):
    _, listener = watched

    def commit_soon():
        time.sleep(0.2)
        other = sqlite3.connect(tmp_path / "wake.db")
        other.execute("INSERT INTO t VALUES (1)")
        other.commit()
        other.close()

    threading.Thread(target=commit_soon).start()
    started = time.monotonic()
    listener.wait(30)
    # Woken by the commit, long before the 30 s the worker would otherwise sleep.
    assert time.monotonic() - started < 10


def test_a_commit_between_the_look_for_work_and_the_wait_is_not_missed(watched):
    engine, listener = watched  # the listener is made before the worker's first look
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
    started = time.monotonic()
    listener.wait(30)
    assert time.monotonic() - started < 10


def test_without_a_commit_the_wait_lasts_its_time_and_holds_no_snapshot(tmp_path, watched):
    _, listener = watched
    listener.wait(0.01)  # catch up with the table's creation
    started = time.monotonic()
    listener.wait(0.3)
    assert time.monotonic() - started >= 0.3
    # The watching connection keeps no read transaction open between reads, so a
    # checkpoint can reset the WAL file.
    other = sqlite3.connect(tmp_path / "wake.db", isolation_level=None)
    busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    other.close()
    assert busy == 0


def test_an_in_memory_database_only_sleeps(tmp_path):
    engine = make_engine("sqlite://")
    listener = Listener(engine)
    started = time.monotonic()
    listener.wait(0.05)
    assert time.monotonic() - started >= 0.05
    listener.close()
    engine.dispose()
