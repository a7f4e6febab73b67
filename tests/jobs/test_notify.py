"""The SQLite listener wakes the worker when another connection commits to the file."""

from __future__ import annotations

import sqlite3
import threading
import time

from sqlalchemy import text

from app.db import make_engine
from app.jobs.notify import Listener


def _engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'wake.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    return engine


def test_a_commit_by_another_process_connection_wakes_the_wait(tmp_path):
    engine = _engine(tmp_path)
    listener = Listener(engine)
    try:

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
    finally:
        listener.close()
        engine.dispose()


def test_a_commit_between_the_look_for_work_and_the_wait_is_not_missed(tmp_path):
    engine = _engine(tmp_path)
    listener = Listener(engine)  # as the worker makes it, before its first look
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
        started = time.monotonic()
        listener.wait(30)
        assert time.monotonic() - started < 10
    finally:
        listener.close()
        engine.dispose()


def test_without_a_commit_the_wait_lasts_its_time_and_holds_no_snapshot(tmp_path):
    engine = _engine(tmp_path)
    listener = Listener(engine)
    try:
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
    finally:
        listener.close()
        engine.dispose()


def test_an_in_memory_database_only_sleeps(tmp_path):
    engine = make_engine("sqlite://")
    listener = Listener(engine)
    started = time.monotonic()
    listener.wait(0.05)
    assert time.monotonic() - started >= 0.05
    listener.close()
    engine.dispose()
