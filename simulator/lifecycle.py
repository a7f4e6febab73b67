"""Server life cycles: launch, terminate, crash, reboot, new addresses, timed steps, the ticker.

Pending -> Initializing (HostInit) -> Running (HostUp); Pending terminate ->
Terminated (HostDown), kept for a while and then forgotten. Each step happens
once its time in the previous status is over (protocol 1.5).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from simulator.model import (
    FARM_RUNNING,
    INITIALIZING,
    PENDING,
    PENDING_TERMINATE,
    RUNNING,
    TERMINATED,
    Server,
)
from simulator.store import Store


def launch(store: Store, farm_role_id: int) -> Server:
    """Start a new server: Pending now, then Initializing (HostInit) and Running (HostUp)."""
    return store.add_server(farm_role_id, status=PENDING)


def terminate(store: Store, server: Server) -> None:
    """Begin termination: Pending terminate now, Terminated (HostDown) later."""
    with store.lock:
        if server.status in (PENDING_TERMINATE, TERMINATED):
            return
        _set_status(server, PENDING_TERMINATE, store.now())
        store.emit("BeforeHostTerminate", server, message="BeforeHostTerminate")


def crash(store: Store, server: Server) -> None:
    """Lose a server at once (HostCrash, no HostDown: protocol 1.5)."""
    with store.lock:
        _set_status(server, TERMINATED, store.now())
        store.emit("HostCrash", server)


def reboot(store: Store, server: Server) -> None:
    """Reboot a server: RebootBegin now, RebootComplete after reboot_seconds."""
    with store.lock:
        server.rebooting_until = store.now() + store.timings.reboot_seconds
        store.emit("RebootBegin", server)


def change_ip(store: Store, server: Server, new_ip: str | None = None) -> str:
    """Give a server a new public address and announce IPAddressChanged."""
    with store.lock:
        number = store.next_id("address")
        server.public_ip = new_ip or f"54.212.{number // 250}.{number % 250}"
        store.emit("IPAddressChanged", server, new_ip=server.public_ip)
        return server.public_ip


def _set_status(server: Server, status: str, since: float) -> None:
    server.status = status
    server.status_since = since


def run_due_steps(store: Store, now: float) -> None:
    """Take every server through the steps due by now, forgetting long-terminated ones."""
    with store.lock:
        t = store.timings
        for server in list(store.servers.values()):
            if server.status == PENDING and now >= server.status_since + t.pending_seconds:
                _set_status(server, INITIALIZING, server.status_since + t.pending_seconds)
                store.emit("HostInit", server)
            if server.status == INITIALIZING and (
                now >= server.status_since + t.initializing_seconds
            ):
                _set_status(server, RUNNING, server.status_since + t.initializing_seconds)
                store.emit("HostUp", server)
            if server.status == PENDING_TERMINATE and (
                now >= server.status_since + t.terminating_seconds
            ):
                _set_status(server, TERMINATED, server.status_since + t.terminating_seconds)
                store.emit("HostDown", server)
            if server.rebooting_until is not None and now >= server.rebooting_until:
                server.rebooting_until = None
                if server.status == RUNNING:
                    store.emit("RebootComplete", server)
            if server.status == TERMINATED and (
                now >= server.status_since + t.terminated_retention_seconds
            ):
                del store.servers[server.server_id]


def scale(store: Store) -> None:
    """Launch servers for every scaling role of a running farm that is below MinInstances."""
    with store.lock:
        for role in store.farm_roles.values():
            farm = store.farms.get(role.farm_id)
            if farm is None or farm.status != FARM_RUNNING or not role.scaling_enabled:
                continue
            for _ in range(role.min_instances - len(store.active_servers(role.id))):
                launch(store, role.id)


class Ticker:
    """Call `tick` every `interval()` seconds from a daemon thread until `stopping` is set."""

    def __init__(
        self, tick: Callable[[], None], interval: Callable[[], float], stopping: threading.Event
    ) -> None:
        self._tick = tick
        self._interval = interval
        self._stopping = stopping
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread, unless it runs already or the interval is 0 (only advance())."""
        if self._thread is None and self._interval() > 0:
            self._thread = threading.Thread(target=self._run, name="scalr-sim-tick")
            self._thread.daemon = True
            self._thread.start()

    def stop(self) -> None:
        """Wait for the thread to end (set `stopping` first)."""
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        # The interval is read on every round: it may change while the state runs.
        while not self._stopping.wait(self._interval()):
            self._tick()
