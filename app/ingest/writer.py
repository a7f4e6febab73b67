"""Group commit: one writer thread per process commits the rows of many requests at once.

A request hands its normalised row to `GroupWriter.submit` and waits (boundedly) on the
ticket it gets back. The writer takes whatever has queued (up to `max_batch` rows),
inserts it in ONE transaction (`driver.DriverInsert`: one insert, one NOTIFY, on the
driver connection the writer keeps while busy), and then releases every waiting request
with its row's id. While it commits, new rows queue up, so the batch grows with the load
and an idle service commits a row at once.

When the database cannot take a batch (any `DBAPIError` but an integrity or data error)
every ticket of it fails with `DatabaseUnavailable` and the writer is marked down, so
the next requests go straight to the spool instead of waiting for it; the spool's
replayer marks it up again once the database answers. A batch refused for one row's
integrity or data error is retried row by row, so only that row's request fails.

No Flask: the writer is built by `app.ingest.service` and tested without HTTP.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.ingest.driver import DriverInsert
from app.ingest.store import Stored

log = logging.getLogger(__name__)

MAX_BATCH = 500
# A request waits at most this long for its commit, then falls through to the spool.
COMMIT_WAIT_SECONDS = 1.0
# The writer thread ends after this long without work (a later submit starts another).
IDLE_EXIT_SECONDS = 5.0
# It keeps one database connection while it runs; one left idle longer than this is
# pinged before its next batch (and replaced if it does not answer), as pool_pre_ping would.
PING_AFTER_IDLE_SECONDS = 1.0


class DatabaseUnavailable(Exception):
    """The database could not take the row now (refused, reset, timed out, locked)."""


def is_unavailable(exc: BaseException) -> bool:
    """Say whether `exc` means the database is away rather than that the row is wrong."""
    return isinstance(exc, DBAPIError) and not isinstance(exc, IntegrityError | DataError)


_lock_files: dict[str, int] = {}
_lock_files_lock = threading.Lock()


def _lock_file(path: str) -> int:
    """Return this process's descriptor of the lock file `path` (one per path)."""
    with _lock_files_lock:
        if path not in _lock_files:
            _lock_files[path] = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        return _lock_files[path]


class Ticket:
    """One row waiting for its commit.

    The request waits on a bare lock the ticket holds from birth and the writer releases
    when it finishes the row: one C-level call on either side, where a threading.Event
    (a Condition, its lock and a waiter lock allocated per wait) cost several Python ones.
    """

    __slots__ = ("_done", "abandoned", "error", "result", "row", "taken")

    def __init__(self, row: dict[str, Any]) -> None:
        self.row = row
        self._done = threading.Lock()
        self._done.acquire()
        self.result: Stored | None = None
        self.error: BaseException | None = None
        self.taken = False
        self.abandoned = False

    def finish(self, result: Stored | None = None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self._done.release()

    def wait(self, timeout: float) -> Stored:
        """Return the stored row, or raise: `DatabaseUnavailable`, or the row's own error."""
        if not self._done.acquire(timeout=timeout):
            raise DatabaseUnavailable(f"no commit within {timeout:.1f} s")
        self._done.release()  # finished for good: a second wait returns at once
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


class GroupWriter:
    """Commit queued rows in batches from one thread of this process."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        max_batch: int = MAX_BATCH,
        commit: Callable[[Session, list[dict[str, Any]]], list[Stored]] | None = None,
    ) -> None:
        """`commit(session, rows)`, when given, replaces the driver insert (tests)."""
        self.factory = factory
        self.max_batch = max_batch
        self._commit = commit
        bind = factory.kw["bind"]
        self._driver = DriverInsert(getattr(bind, "engine", bind))
        self._connection: Any = None  # the writer thread's own, while it runs
        self._used_at = 0.0
        # The queue wakes the writer (SimpleQueue: put and get in C, no Condition per row);
        # the lock guards only the writer thread's start and exit.
        self._queue: queue.SimpleQueue[Ticket] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._down_since: float | None = None
        self._busy_since: float | None = None
        self.batches = 0
        self.rows = 0
        self._lock_fd: int | None = None
        url = factory.kw["bind"].url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            self._lock_fd = _lock_file(f"{os.path.abspath(url.database)}.ingest-lock")

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """On SQLite, queue the machine's ingest writers on an flock, not on busy_timeout.

        SQLite's busy handler sleeps up to 100 ms between tries for its write lock; a
        blocked flock wakes the moment the other process's writer lets go.
        """
        if self._lock_fd is None:
            yield
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    # -- health ------------------------------------------------------------------------------

    @property
    def down(self) -> bool:
        """Say whether the database is known to be away, or the writer stuck on a commit."""
        busy = self._busy_since
        stuck = busy is not None and time.monotonic() - busy > COMMIT_WAIT_SECONDS
        return self._down_since is not None or stuck

    def mark_down(self) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("database unavailable to ingest: deliveries go to the spool")

    def mark_up(self) -> None:
        if self._down_since is not None:
            self._down_since = None
            log.info("database available to ingest again")

    # -- the request side ----------------------------------------------------------------------

    def submit(self, row: dict[str, Any]) -> Ticket:
        """Queue `row` for the next batch and return its ticket."""
        ticket = Ticket(row)
        self._queue.put(ticket)
        # After the put: either the writer's exit (under the same lock) sees this ticket
        # queued and stays, or this sees the writer gone and starts another.
        with self._lock:
            self._ensure_thread()
        return ticket

    def store(self, row: dict[str, Any], wait: float = COMMIT_WAIT_SECONDS) -> Stored:
        """Commit `row` with others and return where it went; `DatabaseUnavailable` if not."""
        if self.down:
            raise DatabaseUnavailable("the database is away")
        ticket = self.submit(row)
        try:
            return ticket.wait(wait)
        except DatabaseUnavailable:
            # Not taken yet: the writer skips it. Taken (or taken as this is set): it may
            # still commit, and the spool's replay finds its ingest_key stored and stores
            # it no second time.
            ticket.abandoned = True
            raise

    # -- the writer thread ---------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        # Called with the lock held. A forked child has no writer thread of its own.
        if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
            self._thread.start()

    def _take(self) -> list[Ticket] | None:
        """Wait for a row, then take what has queued behind it; None when idle too long."""
        while True:
            try:
                ticket = self._queue.get(timeout=IDLE_EXIT_SECONDS)
                break
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return None
        batch: list[Ticket] = []
        while True:
            if not ticket.abandoned:
                ticket.taken = True
                batch.append(ticket)
            if len(batch) >= self.max_batch:
                break
            try:
                ticket = self._queue.get_nowait()
            except queue.Empty:
                break
        if batch:
            self._busy_since = time.monotonic()
        return batch

    def _run(self) -> None:
        try:
            while True:
                batch = self._take()
                if batch is None:
                    return
                if batch:
                    try:
                        self._commit_batch(batch, hold=True)
                    finally:
                        self._busy_since = None
        finally:
            self._release()

    def _release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                self._driver.release(connection)

    def _kept_connection(self) -> Any:
        """Return the writer thread's connection: kept, pinged after idling, or a new one."""
        now = time.monotonic()
        idle = now - self._used_at > PING_AFTER_IDLE_SECONDS
        if self._connection is not None and idle and not self._driver.alive(self._connection):
            self._release()
        if self._connection is None:
            self._connection = self._driver.connect()
        self._used_at = now
        return self._connection

    def commit_batch(self, batch: list[Ticket]) -> None:
        """Commit the rows of `batch` in one transaction and release their requests."""
        self._commit_batch(batch, hold=False)

    def _insert(self, rows: list[dict[str, Any]], hold: bool) -> list[Stored]:
        """Commit `rows`; `hold`: on the writer thread's kept connection (else a passing one)."""
        if self._commit is not None:
            with self.factory() as session:
                return self._commit(session, rows)
        connection = self._kept_connection() if hold else self._driver.connect()
        try:
            stored = self._driver.commit(connection, rows)
        except BaseException:
            # After any error the connection may be broken or mid-transaction: drop it.
            if hold:
                self._release()
            else:
                self._driver.release(connection)
            raise
        if not hold:
            self._driver.release(connection)
        return stored

    def _commit_batch(self, batch: list[Ticket], hold: bool) -> None:
        try:
            with self._file_lock():
                results = self._insert([t.row for t in batch], hold)
        except BaseException as exc:
            if is_unavailable(exc):
                self.mark_down()
                unavailable = DatabaseUnavailable(f"{type(exc).__name__}: {exc.orig!r}")  # type: ignore[attr-defined]
                for ticket in batch:
                    ticket.finish(error=unavailable)
            elif isinstance(exc, IntegrityError | DataError) and len(batch) > 1:
                for ticket in batch:  # one bad row must not fail the others
                    self._commit_batch([ticket], hold)
            else:
                for ticket in batch:
                    ticket.finish(error=exc)
            if not isinstance(exc, Exception):
                raise
            return
        self.batches += 1
        self.rows += len(batch)
        for ticket, result in zip(batch, results, strict=True):
            ticket.finish(result)
