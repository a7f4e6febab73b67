"""Wake idle workers: transactional PostgreSQL NOTIFY, and the listener that waits for it.

NOTIFY is delivered at commit, so a worker never wakes for a row it cannot
see yet. SQLite has no NOTIFY; the listener then sleeps a short poll interval.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

EVENTS_CHANNEL = "lifeguard_events"
JOBS_CHANNEL = "lifeguard_jobs"
SQLITE_POLL_SECONDS = 0.1


def notify(session: Session, channel: str, payload: str = "") -> None:
    """Queue a NOTIFY on `channel` for this transaction's commit (PostgreSQL only)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_notify(:c, :p)"), {"c": channel, "p": payload})


class Listener:
    """Wait for NOTIFY on the event and job channels (or just sleep on SQLite)."""

    def __init__(self, engine: Engine) -> None:
        self._conn: Any = None
        if engine.dialect.name != "postgresql":
            return
        import psycopg

        url = make_url(engine.url).set(drivername="postgresql")
        self._conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        self._conn.execute(f"LISTEN {EVENTS_CHANNEL}")
        self._conn.execute(f"LISTEN {JOBS_CHANNEL}")

    def wait(self, seconds: float) -> None:
        """Return after `seconds`, or as soon as a notification arrives."""
        if seconds <= 0:
            return
        if self._conn is None:
            # A poll of the partial index on a local file is cheap.
            time.sleep(min(seconds, SQLITE_POLL_SECONDS))
            return
        for _ in self._conn.notifies(timeout=seconds, stop_after=1):
            break

    def close(self) -> None:
        """Close the listening connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
