"""Injected faults: what matching API calls suffer, and how counted faults are used up."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class Fault:
    """An injected misbehaviour for matching calls; remaining None means forever.

    kind: "latency" (seconds), "status" (an HTTP status with an empty body),
    "error" (an <Error> answer with `message`), "drop" (close the socket without
    answering), "huge" (a 200 answer of `size` bytes, generated as it is sent) or
    "launch_failure" (ServerLaunch answers an empty <ServerID/>).
    "drop_notifications" is not about API calls: the events of `farm_id` (every
    farm when None) named `action` (every event when None) are recorded (EventsList
    shows them) but their notifications are never sent, as when a farm's
    notification URL broke.
    """

    kind: str
    action: str | None = None
    remaining: int | None = None
    latency: float = 0.0
    status: int = 500
    message: str = "Simulated failure"
    size: int = 0
    farm_id: int | None = None


NOTIFY_DROP = "drop_notifications"


class Faults:
    """The faults in force, guarded by the state's lock."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self.active: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        """Inject a fault for matching calls."""
        with self._lock:
            self.active.append(fault)
            return fault

    def clear(self) -> None:
        """Remove every injected fault."""
        with self._lock:
            self.active.clear()

    def take(self, action: str) -> list[Fault]:
        """Return the faults that apply to one call, using up counted ones."""
        taken: list[Fault] = []
        with self._lock:
            for fault in list(self.active):
                if fault.kind == NOTIFY_DROP:
                    continue
                if fault.action is not None and fault.action.lower() != action.lower():
                    continue
                taken.append(fault)
                self._use(fault)
        return taken

    def drops_notification(self, event_name: str, farm_id: int) -> bool:
        """Say whether an event's notification is dropped, using up a counted fault."""
        with self._lock:
            for fault in list(self.active):
                if fault.kind != NOTIFY_DROP:
                    continue
                if fault.action is not None and fault.action.lower() != event_name.lower():
                    continue
                if fault.farm_id is not None and fault.farm_id != farm_id:
                    continue
                self._use(fault)
                return True
        return False

    def _use(self, fault: Fault) -> None:
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                self.active.remove(fault)
