"""Wake idle workers: transactional PostgreSQL NOTIFY, and the listener that waits for it.

NOTIFY is delivered at commit, so a worker never wakes for a row it cannot
see yet. SQLite has no NOTIFY; there the listener watches `PRAGMA data_version`,
which changes for a connection whenever another connection (any process) has
committed to the file (https://www.sqlite.org/pragma.html#pragma_data_version),
and wakes when it does. Reading it takes no lock and starts no transaction.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.db import on_postgres

log = logging.getLogger(__name__)

EVENTS_CHANNEL = "lifeguard_events"
JOBS_CHANNEL = "lifeguard_jobs"
SQLITE_POLL_SECONDS = 0.1  # a plain sleep, when there is no file to watch (in-memory)
DATA_VERSION_SECONDS = 0.005  # how often the SQLite file's commit counter is read
SQLITE_LINGER_SECONDS = 0.02  # after a change is seen, before the worker looks for work


def notify(session: Session, channel: str, payload: str = "") -> None:
    """Queue a NOTIFY on `channel` for this transaction's commit (PostgreSQL only)."""
    if on_postgres(session):
        session.execute(text("SELECT pg_notify(:c, :p)"), {"c": channel, "p": payload})


class Listener:
    """Wait for NOTIFY on the event and job channels (or just sleep on SQLite).

    The listening connection is opened lazily and opened again after it
    breaks: a database that goes away only turns the wait into a plain sleep
    until it is back, and the loop's poll finds whatever was missed.
    """

    def __init__(self, engine: Engine) -> None:
        self._conn: Any = None
        self._url: str | None = None
        self._broken = False
        self._sqlite_path: str | None = None
        self._watch: sqlite3.Connection | None = None
        self._version: int | None = None
        if engine.dialect.name == "postgresql":
            url = make_url(engine.url).set(drivername="postgresql")
            self._url = url.render_as_string(hide_password=False)
        elif engine.dialect.name == "sqlite":
            database = engine.url.database
            if database and database != ":memory:" and not database.startswith("file:"):
                self._sqlite_path = database
                # The baseline is taken before the worker's first look for work, so a
                # commit between that look and the first wait still wakes it.
                self._version = self._data_version()

    def _data_version(self) -> int | None:
        """Return the SQLite file's data_version for our own connection (None if unreadable)."""
        assert self._sqlite_path is not None
        try:
            if self._watch is None:
                # Autocommit: the PRAGMA must not open a read transaction that would pin
                # a WAL snapshot (and hold back checkpoints) between two reads.
                self._watch = sqlite3.connect(
                    self._sqlite_path, isolation_level=None, check_same_thread=False
                )
            return int(self._watch.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error as exc:
            log.debug("reading data_version failed (%s); polling", exc)
            self._close_watch()
            return None

    def _wait_sqlite(self, seconds: float) -> None:
        """Sleep until a connection commits to the file (since the last wait), or `seconds`
        pass. The worker's own commits count too: they cost one more look for work."""
        if self._version is None:
            self._version = self._data_version()
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(
                min(
                    left, DATA_VERSION_SECONDS if self._version is not None else SQLITE_POLL_SECONDS
                )
            )
            version = self._data_version()
            if version is None or version != self._version:
                self._version = version
                # Let the commits of the next moments join the batch this wake starts:
                # a worker that woke for every group commit of the web process would take
                # SQLite's one write lock for a few events at a time, and the web's
                # writers would queue (and back off) behind it.
                time.sleep(max(0.0, min(SQLITE_LINGER_SECONDS, deadline - time.monotonic())))
                return

    def _close_watch(self) -> None:
        if self._watch is not None:
            try:
                self._watch.close()
            except sqlite3.Error:
                log.debug("closing the data_version connection failed", exc_info=True)
            self._watch = None

    def _connect(self) -> Any:
        import psycopg

        assert self._url is not None
        conn = psycopg.connect(self._url, autocommit=True, connect_timeout=5)
        conn.execute(f"LISTEN {EVENTS_CHANNEL}")
        conn.execute(f"LISTEN {JOBS_CHANNEL}")
        return conn

    def wait(self, seconds: float) -> None:
        """Return after `seconds`, or as soon as a notification arrives."""
        if seconds <= 0:
            return
        if self._sqlite_path is not None:
            self._wait_sqlite(seconds)
            return
        if self._url is None:
            time.sleep(min(seconds, SQLITE_POLL_SECONDS))
            return
        try:
            if self._conn is None:
                self._conn = self._connect()
                if self._broken:
                    log.info("LISTEN connection open again")
                self._broken = False
            for _ in self._conn.notifies(timeout=seconds, stop_after=1):
                break
        except Exception as exc:  # psycopg.Error, OSError: the database is away
            if not self._broken:
                log.warning("LISTEN connection lost (%s); polling until it is back", exc)
            self._broken = True
            self.close()
            time.sleep(min(seconds, 1.0))

    def close(self) -> None:
        """Close the listening connection."""
        self._close_watch()
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # closing a broken connection may raise; it is gone either way
                log.debug("closing the LISTEN connection failed", exc_info=True)
            self._conn = None
