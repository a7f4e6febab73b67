"""A small fixed table of slots in a file every process of the machine maps.

The ingest flood limit and the login throttle count failures per client across the
gunicorn workers of one machine: each keeps its slots here, found by an 8-byte hash of
the key with open addressing over a few neighbouring slots. Readers and writers hold
`locked()`: an `flock` on the file for other processes and a lock for this process's
threads. What a slot holds, and when one is free, is the owner's business.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class MappedSlots:
    """`slots` records of `layout` (whose first field is the key's hash) in a mapped file."""

    def __init__(self, path: Path, layout: struct.Struct, slots: int = 4096, probes: int = 16):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.layout, self.slots, self.probes = layout, slots, probes
        size = slots * layout.size
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size < size:
            os.ftruncate(self._fd, size)
        self._map = mmap.mmap(self._fd, size)
        self._lock = threading.Lock()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the table against this process's threads and the machine's other processes."""
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    @staticmethod
    def digest(key: str) -> int:
        """Return the key's 8-byte hash; never 0, which marks an empty slot."""
        value = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")
        return value or 1

    def offsets(self, digest: int) -> Iterator[int]:
        """Yield the byte offsets of the slots a key may live in, in probe order."""
        for probe in range(self.probes):
            yield ((digest + probe) % self.slots) * self.layout.size

    def read(self, offset: int) -> tuple[Any, ...]:
        return self.layout.unpack_from(self._map, offset)

    def write(self, offset: int, *values: Any) -> None:
        self.layout.pack_into(self._map, offset, *values)
