"""The record of every Query API call the simulator received (Signature left out)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


@dataclass
class CallRecord:
    """One API call the simulator received (Signature left out)."""

    action: str
    method: str
    params: dict[str, Any]
    time: float
    outcome: str
    transaction_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data."""
        return {
            "action": self.action,
            "method": self.method,
            "params": self.params,
            "time": self.time,
            "outcome": self.outcome,
            "transaction_id": self.transaction_id,
        }


class CallLog:
    """Received calls, oldest first, guarded by the state's lock."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self._calls: list[CallRecord] = []

    def record(self, record: CallRecord) -> None:
        """Remember one received API call."""
        with self._lock:
            self._calls.append(record)

    def calls(self, action: str | None = None) -> list[CallRecord]:
        """Return the received API calls, optionally of one action, oldest first."""
        with self._lock:
            return [c for c in self._calls if action is None or c.action == action]
