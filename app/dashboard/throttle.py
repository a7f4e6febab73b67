"""Slow down password guessing: per-address and per-user lockouts that double each time.

Kept in process memory: each web process counts on its own, so N gunicorn workers
allow at most N times the free attempts before everyone waits. That is enough
to make guessing a long password hopeless without a table written on every
failed login; a restart forgets the counts.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Record:
    failures: int
    last_failure: float
    locked_until: float


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
    ) -> None:
        self.free = free
        self.base_seconds = base_seconds
        self.cap_seconds = cap_seconds
        self.forget_seconds = forget_seconds
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._records: OrderedDict[str, _Record] = OrderedDict()

    def _live(self, key: str, now: float) -> _Record | None:
        record = self._records.get(key)
        if record is not None and now - record.last_failure > self.forget_seconds:
            del self._records[key]
            return None
        return record

    def retry_after(self, *keys: str) -> int:
        """Return the whole seconds to wait before another try with these keys (0: go ahead)."""
        now = self._clock()
        with self._lock:
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
        with self._lock:
            for key in keys:
                record = self._live(key, now) or _Record(0, now, now)
                record.failures += 1
                record.last_failure = now
                over = record.failures - self.free
                if over >= 0:
                    delay = min(self.cap_seconds, self.base_seconds * 2.0**over)
                    record.locked_until = now + delay
                self._records[key] = record
                self._records.move_to_end(key)
            while len(self._records) > self.max_keys:
                self._records.popitem(last=False)

    def succeeded(self, *keys: str) -> None:
        """Forget the failures of these keys after a good login."""
        with self._lock:
            for key in keys:
                self._records.pop(key, None)
