"""Slow down password guessing: per-address and per-user lockouts that double each time.

Counted in this process's memory, or, given a `path`, in a small table of a file that
every web process of the machine maps (`SharedRecords`, the approach of the ingest
flood limiter), so N gunicorn workers allow the free attempts once, not N times. Only
failed logins write to it; a good login clears its keys.
"""

from __future__ import annotations

import math
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.sharedmap import MappedSlots

# The shared table's file under the instance path.
LOGIN_FAILURES_FILE = "login-failures.bin"


@dataclass
class _Record:
    failures: int
    last_failure: float
    locked_until: float


class _MemoryRecords:
    """Records of this process, the oldest dropped past `max_keys`."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self._records: OrderedDict[str, _Record] = OrderedDict()

    @contextmanager
    def locked(self) -> Iterator[None]:
        yield

    def get(self, key: str) -> _Record | None:
        return self._records.get(key)

    def put(self, key: str, record: _Record) -> None:
        self._records[key] = record
        self._records.move_to_end(key)
        while len(self._records) > self.max_keys:
            self._records.popitem(last=False)

    def pop(self, key: str) -> None:
        self._records.pop(key, None)

    def __len__(self) -> int:
        return len(self._records)


class SharedRecords:
    """Records in a memory-mapped file shared by the machine's web processes.

    A `MappedSlots` table (8-byte key hash, 4-byte failure count, 4 spare, two 8-byte
    times a slot). A full probe run overwrites its
    least recently failed slot. Callers hold `locked()` (an `flock` on the file for other
    processes, a lock for this process's threads) around a read and its write.
    """

    SLOTS = 4096

    def __init__(self, path: Path) -> None:
        self._table = MappedSlots(path, struct.Struct("<QIIdd"), slots=self.SLOTS)

    def locked(self) -> AbstractContextManager[None]:
        return self._table.locked()

    def get(self, key: str) -> _Record | None:
        table = self._table
        digest = table.digest(key)
        for offset in table.offsets(digest):
            slot_key, failures, _, last, until = table.read(offset)
            if slot_key == digest:
                return _Record(failures, last, until)
        return None

    def put(self, key: str, record: _Record) -> None:
        table = self._table
        digest = table.digest(key)
        target, oldest = None, math.inf
        for offset in table.offsets(digest):
            slot_key, _, _, last, _ = table.read(offset)
            if slot_key in (digest, 0):
                target = offset
                break
            if last < oldest:
                target, oldest = offset, last
        assert target is not None
        table.write(target, digest, record.failures, 0, record.last_failure, record.locked_until)

    def pop(self, key: str) -> None:
        table = self._table
        digest = table.digest(key)
        for offset in table.offsets(digest):
            if table.read(offset)[0] == digest:
                # Mark it forgotten rather than empty, so later slots of its run stay found.
                table.write(offset, digest, 0, 0, -math.inf, 0.0)
                return


class LoginThrottle:
    """Allow `free` failures per key, then lock the key for base * 2**n seconds (capped)."""

    def __init__(
        self,
        free: int = 5,
        base_seconds: float = 2.0,
        cap_seconds: float = 900.0,
        forget_seconds: float = 3600.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        path: Path | None = None,
    ) -> None:
        self.free = free
        self.base_seconds = base_seconds
        self.cap_seconds = cap_seconds
        self.forget_seconds = forget_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._records: _MemoryRecords | SharedRecords = (
            SharedRecords(path) if path is not None else _MemoryRecords(max_keys)
        )

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock, self._records.locked():
            yield

    def _live(self, key: str, now: float) -> _Record | None:
        record = self._records.get(key)
        if record is not None and now - record.last_failure > self.forget_seconds:
            self._records.pop(key)
            return None
        return record

    def retry_after(self, *keys: str) -> int:
        """Return the whole seconds to wait before another try with these keys (0: go ahead)."""
        now = self._clock()
        with self._locked():
            waits = [
                record.locked_until - now
                for key in keys
                if (record := self._live(key, now)) is not None
            ]
        wait = max(waits, default=0.0)
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, *keys: str) -> None:
        """Count a failed login against every key."""
        now = self._clock()
        with self._locked():
            for key in keys:
                record = self._live(key, now) or _Record(0, now, now)
                record.failures += 1
                record.last_failure = now
                over = record.failures - self.free
                if over >= 0:
                    delay = min(self.cap_seconds, self.base_seconds * 2.0**over)
                    record.locked_until = now + delay
                self._records.put(key, record)

    def succeeded(self, *keys: str) -> None:
        """Forget the failures of these keys after a good login."""
        with self._locked():
            for key in keys:
                self._records.pop(key)
