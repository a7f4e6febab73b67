"""A web process's ingest: the group-commit writer, the spool, and the spool's replayer.

`Ingest.store(row)` commits a normalised row through the writer, or, when the database
cannot take it within the bound, appends it to the spool; the replayer thread moves the
spool into the database once it answers again. Both threads start on first use and
end when idle, so a process (or a test) that never ingests runs neither.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from flask import Flask
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from app.config import Config
from app.ingest.spool import Spool, SpoolStats
from app.ingest.store import Stored, commit_rows, count_received
from app.ingest.writer import DatabaseUnavailable, GroupWriter, is_unavailable

log = logging.getLogger(__name__)

# The spool replayer's thread name (one a process at most).
REPLAYER_THREAD = "spool-replayer"

EXTENSION_KEY = "lifeguard.ingest"
REPLAY_EVERY_SECONDS = 0.5
REPLAY_BACKOFF_MAX_SECONDS = 2.0
# The replayer thread ends after this many idle rounds (empty spool, database up).
REPLAYER_IDLE_ROUNDS = 20


@dataclass(frozen=True)
class Spooled:
    """A delivery kept in the spool: `reference` is its ingest key."""

    reference: str


def replay_commit(session: Session, rows: list[dict[str, Any]]) -> list[Stored]:
    """Commit replayed rows; they were counted when they were spooled."""
    return commit_rows(session, rows, count=False)


class Ingest:
    """Store deliveries: the database when it takes them, the spool when it does not."""

    def __init__(self, factory: sessionmaker[Session], spool: Spool) -> None:
        self.factory = factory
        self.spool = spool
        self.writer = GroupWriter(factory)
        self._lock = threading.Lock()
        self._replayer_running = False
        self._started_pid = 0
        # Set by `stop`: the replayer ends at its next wait, and none starts again.
        self._stopped = threading.Event()
        self._replayer: threading.Thread | None = None

    def store(self, row: dict[str, Any]) -> Stored | Spooled:
        """Commit `row` (with others), or spool it; raise `SpoolFull` when neither can."""
        try:
            return self.writer.store(row)
        except DatabaseUnavailable:
            pass
        reference = self.spool.append(row)
        count_received([row])
        self.ensure_replayer()
        return Spooled(reference)

    writer_commit_for_replay = staticmethod(replay_commit)

    def stats(self) -> SpoolStats:
        """Describe the spool (every process's, under this SPOOL_DIR)."""
        return self.spool.stats()

    # -- the replayer -------------------------------------------------------------------------

    def start(self) -> None:
        """Once per process: look for segments left by others (a process that died)."""
        if self._started_pid != os.getpid():
            self._started_pid = os.getpid()
            self._replayer_running = False
            if not self.spool.is_empty():
                self.ensure_replayer()

    def ensure_replayer(self) -> None:
        """Run the replayer thread if it is not running."""
        with self._lock:
            if self._replayer_running or self._stopped.is_set():
                return
            self._replayer_running = True
            self._replayer = threading.Thread(
                target=self._replay_loop, name=REPLAYER_THREAD, daemon=True
            )
        self._replayer.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End the replayer thread (what it has not moved stays in the spool for the next).

        For an application that is being thrown away in the same process (the tests'): a
        replayer whose database never comes back would otherwise go on for the life of
        the process.
        """
        self._stopped.set()
        replayer = self._replayer
        if replayer is not None and replayer is not threading.current_thread():
            replayer.join(timeout)

    def replay_once(self) -> int:
        """Probe the database if it was away, then replay what no live process holds."""
        if self.writer.down:
            with self.factory() as session:
                session.execute(text("SELECT 1"))
        moved = self.spool.replay(self.factory, replay_commit)
        self.writer.mark_up()
        return moved

    def _replay_loop(self) -> None:
        idle = 0
        backoff = REPLAY_EVERY_SECONDS
        while True:
            try:
                moved = self.replay_once()
                backoff = REPLAY_EVERY_SECONDS
                idle = 0 if moved else idle + 1
            except Exception as exc:
                idle = 0
                if is_unavailable(exc):
                    self.writer.mark_down()
                else:
                    log.exception("spool replay failed")
                if self._stopped.wait(backoff):
                    break
                backoff = min(backoff * 2, REPLAY_BACKOFF_MAX_SECONDS)
                continue
            with self._lock:
                if idle >= REPLAYER_IDLE_ROUNDS and self.spool.is_empty():
                    self._replayer_running = False
                    return
            if self._stopped.wait(REPLAY_EVERY_SECONDS):
                break
        with self._lock:
            self._replayer_running = False


def install(app: Flask, config: Config, factory: sessionmaker[Session]) -> Ingest:
    """Build the ingest of `app` (its writer and spool)."""
    ingest = Ingest(factory, Spool(config.spool_path, config.spool_max_bytes))
    app.extensions[EXTENSION_KEY] = ingest
    return ingest


def ingest_of(app: Flask) -> Ingest:
    """Return the ingest of `app`."""
    ingest: Ingest = app.extensions[EXTENSION_KEY]
    return ingest
