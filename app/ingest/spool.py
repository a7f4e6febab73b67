"""The durable spool: deliveries the database could not take, kept on local disk until it can.

Layout: `SPOOL_DIR` holds segment files named `<ms since epoch, hex>-<pid>-<nonce>.spool`,
so their names sort in the order they were begun. Each process appends to its own
active segment, which it holds under an exclusive `flock` while it writes to it. A
record is one line, `<crc32 of the JSON, 8 hex> <JSON of the normalised row>\n`; an
append is `fsync`ed before `append` returns (appends that arrive together share one
`fsync`), so a `202 {"spooled": ...}` is answered only for a record on disk.

Replay (`Spool.replay`) seals this process's active segment, then takes each segment no
live process holds (its own sealed ones, and those left by a process that died), in
name order, inserts its records in order in batches (`store.commit_rows`: `ON CONFLICT
DO NOTHING` on `ingest_key`), and only after the last batch committed deletes the file.
A crash between a commit and the delete replays rows already stored: their
`ingest_key` is found and nothing is stored twice. A torn last line (a crash during an
append, which was therefore never acknowledged) is dropped.

No Flask: `app.ingest.service` owns the spool of a web process.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from app.db import utcnow
from app.ingest.store import Stored

log = logging.getLogger(__name__)

SUFFIX = ".spool"
REPLAY_BATCH = 500
SIZE_RESCAN_SECONDS = 1.0


class SpoolFull(Exception):
    """The spool is at SPOOL_MAX_BYTES (or its disk is full): the delivery is refused."""


@dataclass(frozen=True)
class SpoolStats:
    """What the spool holds right now, over every process sharing its directory."""

    depth: int
    oldest_seconds: float
    bytes: int
    segments: int
    max_bytes: int
    accepting: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.accepting,
            "depth": self.depth,
            "oldest_seconds": round(self.oldest_seconds, 3),
            "bytes": self.bytes,
            "max_bytes": self.max_bytes,
            "segments": self.segments,
        }


def encode(row: dict[str, Any]) -> bytes:
    """Return the spool line of `row`."""
    data = dict(row)
    data["received_at"] = row["received_at"].isoformat()
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return b"%08x %s\n" % (zlib.crc32(body), body)


def decode(line: bytes) -> dict[str, Any] | None:
    """Return the row of a spool line, or None for a line that is torn or damaged."""
    if not line.endswith(b"\n") or len(line) < 10 or line[8:9] != b" ":
        return None
    body = line[9:-1]
    try:
        if int(line[:8], 16) != zlib.crc32(body):
            return None
        row: dict[str, Any] = json.loads(body)
    except ValueError:
        return None
    row["received_at"] = datetime.fromisoformat(row["received_at"])
    return row


class _Segment:
    """The file this process appends to, held under flock while it is active."""

    def __init__(self, directory: Path) -> None:
        name = f"{int(time.time() * 1000):011x}-{os.getpid()}-{secrets.token_hex(3)}{SUFFIX}"
        self.path = directory / name
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        _fsync_dir(directory)  # the new name survives a crash as well as its contents
        self.offset = 0
        self.synced = 0
        self.records = 0


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """Append-only files of rows waiting for the database, per process, under one directory."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._active: _Segment | None = None
        self._pid = os.getpid()
        self._scanned_at = 0.0
        self._scanned_bytes = 0
        self._appended = 0
        # path name -> (bytes counted, records in them, first record's received_at)
        self._counts: dict[str, tuple[int, int, datetime | None]] = {}

    # -- appending -------------------------------------------------------------------------

    def append(self, row: dict[str, Any]) -> str:
        """Write `row` durably and return its reference (its ingest key); `SpoolFull` if not."""
        line = encode(row)
        with self._lock:
            if self._size() + len(line) > self.max_bytes:
                raise SpoolFull(f"The spool holds {self._size()} bytes (at most {self.max_bytes}).")
            segment = self._segment()
            try:
                written = os.write(segment.fd, line)
                if written != len(line):
                    raise OSError(errno.ENOSPC, "short write")
            except OSError as exc:
                os.ftruncate(segment.fd, segment.offset)  # no torn record left behind
                raise SpoolFull(f"The spool cannot write: {exc.strerror}.") from None
            segment.offset += len(line)
            segment.records += 1
            self._appended += len(line)
            target = segment.offset
        self._sync(segment, target)
        return str(row["ingest_key"])

    def _segment(self) -> _Segment:
        if self._pid != os.getpid():  # a forked child never writes to its parent's file
            self._pid, self._active = os.getpid(), None
        if self._active is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._active = _Segment(self.directory)
        return self._active

    def _sync(self, segment: _Segment, target: int) -> None:
        with self._sync_lock:
            if segment.synced >= target:
                return  # another thread's fsync covered this record
            upto = segment.offset
            os.fsync(segment.fd)
            segment.synced = max(segment.synced, upto)

    def seal(self) -> None:
        """Close this process's active segment, so it can be replayed."""
        with self._lock:
            segment, self._active = self._active, None
        if segment is None:
            return
        with self._sync_lock:
            os.fsync(segment.fd)
            segment.synced = segment.offset
            os.close(segment.fd)  # releases the flock

    def has_active_records(self) -> bool:
        active = self._active
        return active is not None and active.records > 0

    # -- size and what it holds --------------------------------------------------------------

    def segments(self) -> list[Path]:
        """Return every segment of the directory, oldest first."""
        try:
            names = sorted(n for n in os.listdir(self.directory) if n.endswith(SUFFIX))
        except FileNotFoundError:
            return []
        return [self.directory / n for n in names]

    def _size(self) -> int:
        now = time.monotonic()
        if now - self._scanned_at > SIZE_RESCAN_SECONDS:
            total = 0
            for path in self.segments():
                with contextlib.suppress(FileNotFoundError):
                    total += path.stat().st_size
            self._scanned_at, self._scanned_bytes, self._appended = now, total, 0
        return self._scanned_bytes + self._appended

    def accepting(self) -> bool:
        """Say whether an append would be taken now."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        return os.access(self.directory, os.W_OK) and self._size() < self.max_bytes

    def is_empty(self) -> bool:
        """Say whether no segment is waiting (of this or any other process)."""
        return not self.segments()

    def stats(self) -> SpoolStats:
        """Count the records and the age of the oldest, reading only what grew since last time."""
        depth = total = 0
        oldest: datetime | None = None
        seen = set()
        for path in self.segments():
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            seen.add(path.name)
            counted, records, first = self._counts.get(path.name, (0, 0, None))
            if size > counted:
                try:
                    with path.open("rb") as f:
                        f.seek(counted)
                        chunk = f.read(size - counted)
                except FileNotFoundError:
                    continue
                complete = chunk.rfind(b"\n") + 1
                records += chunk.count(b"\n")
                if first is None and complete:
                    row = decode(chunk[: chunk.find(b"\n") + 1])
                    first = row["received_at"] if row else None
                counted += complete
                self._counts[path.name] = (counted, records, first)
            depth += records
            total += size
            if first is not None and (oldest is None or first < oldest):
                oldest = first
        for name in set(self._counts) - seen:
            del self._counts[name]
        age = (utcnow() - oldest).total_seconds() if oldest else 0.0
        return SpoolStats(
            depth=depth,
            oldest_seconds=max(0.0, age),
            bytes=total,
            segments=len(seen),
            max_bytes=self.max_bytes,
            accepting=self.accepting(),
        )

    # -- replay ---------------------------------------------------------------------------------

    def replay(
        self,
        factory: sessionmaker[Session],
        commit: Callable[[Session, list[dict[str, Any]]], list[Stored]],
        batch: int = REPLAY_BATCH,
    ) -> int:
        """Move every segment no live process holds into the database; return rows moved.

        A database error propagates: the segment stays, to be replayed from its start.
        """
        if self.has_active_records():
            self.seal()
        moved = 0
        for path in self.segments():
            moved += self._replay_segment(path, factory, commit, batch)
        return moved

    def _replay_segment(
        self,
        path: Path,
        factory: sessionmaker[Session],
        commit: Callable[[Session, list[dict[str, Any]]], list[Stored]],
        batch: int,
    ) -> int:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            return 0  # another process replayed it meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return 0  # a live process writes it, or replays it now
            if os.fstat(fd).st_nlink == 0:
                return 0  # replayed and deleted between our listdir and open
            rows = list(self._records(path, fd))
            for start in range(0, len(rows), batch):
                with factory() as session:
                    commit(session, rows[start : start + batch])
            os.unlink(path)
            _fsync_dir(self.directory)
            if rows:
                log.info("spool: replayed %d deliveries from %s", len(rows), path.name)
            return len(rows)
        finally:
            os.close(fd)

    @staticmethod
    def _records(path: Path, fd: int) -> Iterator[dict[str, Any]]:
        with os.fdopen(os.dup(fd), "rb") as f:
            lines = f.read().splitlines(keepends=True)
        for number, line in enumerate(lines, 1):
            row = decode(line)
            if row is not None:
                yield row
            elif number == len(lines):
                log.warning("spool: %s ends in a torn record (never acknowledged)", path.name)
            else:
                # Never written by append (which fsyncs whole lines): keep the text for a person.
                log.error("spool: %s line %d is damaged; kept in .damaged", path.name, number)
                with open(f"{path}.damaged", "ab") as out:
                    out.write(line)
