"""Wake idle workers: transactional PostgreSQL NOTIFY, and the listener that waits for it.

NOTIFY is delivered at commit, so a worker never wakes for a row it cannot
see yet. SQLite has no NOTIFY; the listener then sleeps a short poll interval.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

EVENTS_CHANNEL = "lifeguard_events"
JOBS_CHANNEL = "lifeguard_jobs"
SQLITE_POLL_SECONDS = 0.1


def notify(session: Session, channel: str, payload: str = "") -> None:
    """Queue a NOTIFY on `channel` for this transaction's commit (PostgreSQL only)."""
    if session.get_bind().dialect.name == "postgresql":
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
        if engine.dialect.name == "postgresql":
            url = make_url(engine.url).set(drivername="postgresql")
            self._url = url.render_as_string(hide_password=False)

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
        if self._url is None:
            # A poll of the partial index on a local file is cheap.
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
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:  # closing a broken connection may raise; it is gone either way
                log.debug("closing the LISTEN connection failed", exc_info=True)
            self._conn = None
