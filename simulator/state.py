"""SimState: the store with its life cycles, ticker, chaos, faults and call log wired in."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from simulator import lifecycle
from simulator.calllog import CallLog, CallRecord
from simulator.chaos import Chaos
from simulator.faults import Fault, Faults
from simulator.model import Server, Timings
from simulator.notify import NotifyConfig
from simulator.scenario import Scenario
from simulator.store import Store


class SimState(Store):
    """Everything the simulator knows; every method is safe to call from any thread."""

    def __init__(
        self,
        *,
        timings: Timings | None = None,
        notify: NotifyConfig | None = None,
        clock: Callable[[], float] = time.time,
        legacy_timestamp: bool = True,
        autotick: bool = True,
        scaling: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__(timings=timings, notify=notify, clock=clock)
        # True: Scalr 3.0 - 4.1, the TimeStamp is URL-decoded twice before signing.
        # False: 4.4+, which also accepts the single-decoded value (protocol 3.3).
        self.legacy_timestamp = legacy_timestamp
        self.autotick = autotick
        self.scaling = scaling
        self.random = random.Random(seed)
        self.stopping = threading.Event()
        self.chaos = Chaos(self.random, self.now())
        self.scenario = Scenario([], self.now())
        self._faults = Faults(self.lock)
        self.call_log = CallLog(self.lock)
        self._ticker = lifecycle.Ticker(self.tick, lambda: self.timings.tick_seconds, self.stopping)

    # time and threads

    def start(self) -> None:
        """Start the notification sender and, when autotick is on, the ticker thread."""
        self.stopping.clear()
        self.notifier.start()
        if self.autotick:
            self._ticker.start()

    def stop(self) -> None:
        """Stop the ticker and the sender (after it sent what is queued)."""
        self.stopping.set()
        self._ticker.stop()
        self.notifier.stop()

    def advance(self, seconds: float) -> None:
        """Move simulated time forward and run every transition now due."""
        with self.lock:
            self._offset += seconds
            self.tick()

    def tick(self) -> None:
        """Run every server transition that is due, then chaos and scaling."""
        with self.lock:
            now = self.now()
            lifecycle.run_due_steps(self, now)
            self.scenario.run_due(self, now)
            self.chaos.strike(self, now)
            if self.scaling:
                lifecycle.scale(self)

    # server life cycle

    def launch_server(self, farm_role_id: int) -> Server:
        """Start a new server: Pending now, then Initializing (HostInit) and Running (HostUp)."""
        return lifecycle.launch(self, farm_role_id)

    def terminate_server(self, server: Server) -> None:
        """Begin termination: Pending terminate now, Terminated (HostDown) later."""
        lifecycle.terminate(self, server)

    def crash_server(self, server: Server) -> None:
        """Lose a server at once (HostCrash, no HostDown: protocol 1.5)."""
        lifecycle.crash(self, server)

    def reboot_server(self, server: Server) -> None:
        """Reboot a server: RebootBegin now, RebootComplete after reboot_seconds."""
        lifecycle.reboot(self, server)

    def change_ip(self, server: Server, new_ip: str | None = None) -> str:
        """Give a server a new public address and announce IPAddressChanged."""
        return lifecycle.change_ip(self, server, new_ip)

    # chaos

    def set_chaos(self, rate_per_minute: float, kinds: tuple[str, ...] | None = None) -> None:
        """Hit random running servers at this average rate (0 turns chaos off)."""
        with self.lock:
            self.chaos.set(rate_per_minute, kinds)

    def set_scenario(self, steps: list[dict[str, Any]]) -> None:
        """Script strikes at seconds from now (see simulator.scenario)."""
        with self.lock:
            self.scenario = Scenario.from_config(steps, self.now())

    @property
    def chaos_rate_per_minute(self) -> float:
        """Return how many servers chaos hits per minute on average."""
        return self.chaos.rate_per_minute

    @property
    def chaos_kinds(self) -> tuple[str, ...]:
        """Return what chaos may do to a server."""
        return self.chaos.kinds

    # faults and the call log

    @property
    def faults(self) -> list[Fault]:
        """Return the faults in force (the live list)."""
        return self._faults.active

    def add_fault(self, fault: Fault) -> Fault:
        """Inject a fault for matching calls."""
        return self._faults.add(fault)

    def clear_faults(self) -> None:
        """Remove every injected fault."""
        self._faults.clear()

    def drops_notification(self, event_name: str, farm_id: int) -> bool:
        """Say whether a `drop_notifications` fault swallows this event's notification."""
        return self._faults.drops_notification(event_name, farm_id)

    def take_faults(self, action: str) -> list[Fault]:
        """Return the faults that apply to one call, using up counted ones."""
        return self._faults.take(action)

    def record_call(self, record: CallRecord) -> None:
        """Remember one received API call."""
        self.call_log.record(record)

    def calls(self, action: str | None = None) -> list[CallRecord]:
        """Return the received API calls, optionally of one action, oldest first."""
        return self.call_log.calls(action)

    def snapshot(self) -> dict[str, Any]:
        """Return farms, farm roles and servers as JSON-ready data."""
        with self.lock:
            return {
                "time": self.now(),
                "farms": [vars(f).copy() for f in self.farms.values()],
                "farm_roles": [vars(r).copy() for r in self.farm_roles.values()],
                "servers": [vars(s).copy() for s in self.servers.values()],
                "chaos": {"rate_per_minute": self.chaos_rate_per_minute, "kinds": self.chaos_kinds},
                "faults": [vars(f).copy() for f in self.faults],
            }
