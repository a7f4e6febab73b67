"""The simulated Scalr installation: farms, servers, their life cycle, faults and calls."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from simulator.calllog import CallLog, CallRecord
from simulator.faults import Fault, Faults
from simulator.model import (
    ACTIVE_STATUSES,
    FARM_RUNNING,
    INITIALIZING,
    PENDING,
    PENDING_TERMINATE,
    RUNNING,
    TERMINATED,
    ApiKey,
    DNSZone,
    EventRecord,
    Farm,
    FarmRole,
    LogRecord,
    Script,
    Server,
    SimEnvironment,
    Timings,
)
from simulator.notify import Notifier, NotifyConfig
from simulator.payloads import event_message, server_vars


class SimState:
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
        self.lock = threading.RLock()
        self.timings = timings or Timings()
        self.notifier = Notifier(notify)
        self._clock = clock
        self._offset = 0.0
        # True: Scalr 3.0 - 4.1, the TimeStamp is URL-decoded twice before signing.
        # False: 4.4+, which also accepts the single-decoded value (protocol 3.3).
        self.legacy_timestamp = legacy_timestamp
        self.autotick = autotick
        self.scaling = scaling
        self.random = random.Random(seed)
        self.stopping = threading.Event()
        self.environments: dict[int, SimEnvironment] = {}
        self.api_keys: dict[str, ApiKey] = {}
        self.farms: dict[int, Farm] = {}
        self.farm_roles: dict[int, FarmRole] = {}
        self.servers: dict[str, Server] = {}
        self.scripts: dict[int, Script] = {}
        self.dns_zones: dict[str, DNSZone] = {}
        self.global_variables: dict[tuple[str, str], dict[str, str]] = {}
        self.events: list[EventRecord] = []
        self.logs: list[LogRecord] = []
        self._faults = Faults(self.lock)
        self.chaos_rate_per_minute = 0.0
        self.chaos_kinds: tuple[str, ...] = ("terminate", "reboot")
        self._chaos_budget = 0.0
        self._last_tick = self.now()
        self.call_log = CallLog(self.lock)
        self._ip_counter = 10
        self._next_ids = {"record": 1}
        self._ticker: threading.Thread | None = None

    # time and threads

    def now(self) -> float:
        """Return the simulated time: the clock plus every advance()."""
        return self._clock() + self._offset

    def start(self) -> None:
        """Start the notification sender and, when autotick is on, the ticker thread."""
        self.stopping.clear()
        self.notifier.start()
        if self.autotick and self._ticker is None and self.timings.tick_seconds > 0:
            self._ticker = threading.Thread(target=self._tick_loop, name="scalr-sim-tick")
            self._ticker.daemon = True
            self._ticker.start()

    def stop(self) -> None:
        """Stop the ticker and the sender (after it sent what is queued)."""
        self.stopping.set()
        if self._ticker is not None:
            self._ticker.join(timeout=10)
            self._ticker = None
        self.notifier.stop()

    def _tick_loop(self) -> None:
        while not self.stopping.wait(self.timings.tick_seconds):
            self.tick()

    def advance(self, seconds: float) -> None:
        """Move simulated time forward and run every transition now due."""
        with self.lock:
            self._offset += seconds
            self.tick()

    # seeding

    def add_environment(
        self, env_id: int, name: str, requests_per_hour: int | None = None
    ) -> SimEnvironment:
        """Add an environment (requests_per_hour None: no API limit)."""
        with self.lock:
            env = SimEnvironment(env_id, name, requests_per_hour)
            self.environments[env_id] = env
            return env

    def add_api_key(self, key_id: str, secret_key: str, env_ids: list[int]) -> ApiKey:
        """Add an API key whose user may use the given environments (first is default)."""
        with self.lock:
            key = ApiKey(key_id, secret_key, list(env_ids))
            self.api_keys[key_id] = key
            return key

    def add_farm(self, farm_id: int, name: str, env_id: int, status: int = FARM_RUNNING) -> Farm:
        """Add a farm."""
        with self.lock:
            farm = Farm(farm_id, name, env_id, status, hash=uuid.uuid4().hex[:14])
            self.farms[farm_id] = farm
            return farm

    def add_farm_role(self, role: FarmRole) -> FarmRole:
        """Add a farm role to its farm."""
        with self.lock:
            self.farm_roles[role.id] = role
            return role

    def add_script(self, script: Script) -> Script:
        """Add a script."""
        with self.lock:
            self.scripts[script.id] = script
            return script

    def add_dns_zone(self, zone: DNSZone) -> DNSZone:
        """Add a DNS zone."""
        with self.lock:
            self.dns_zones[zone.name] = zone
            return zone

    def next_id(self, kind: str) -> int:
        """Return a fresh id of a kind of record."""
        with self.lock:
            value = self._next_ids.get(kind, 1)
            self._next_ids[kind] = value + 1
            return value

    def add_server(
        self,
        farm_role_id: int,
        *,
        status: str = RUNNING,
        server_id: str | None = None,
        public_ip: str | None = None,
        internal_ip: str | None = None,
    ) -> Server:
        """Add a server to a farm role, by default already Running and without events."""
        with self.lock:
            role = self.farm_roles[farm_role_id]
            used = {s.index for s in self.servers.values() if s.farm_role_id == role.id}
            index = next(i for i in range(1, len(used) + 2) if i not in used)
            self._ip_counter += 1
            octet_a, octet_b = divmod(self._ip_counter, 250)
            now = self.now()
            server = Server(
                server_id=server_id or str(uuid.uuid4()),
                farm_id=role.farm_id,
                farm_role_id=role.id,
                index=index,
                status=status,
                public_ip=public_ip or f"54.211.{octet_a}.{octet_b + 1}",
                internal_ip=internal_ip or f"10.0.{octet_a}.{octet_b + 1}",
                added_at=now,
                status_since=now,
                cloud_server_id=f"i-{uuid.uuid4().hex[:8]}",
            )
            self.servers[server.server_id] = server
            return server

    # server life cycle

    def active_servers(self, farm_role_id: int) -> list[Server]:
        """Return the servers of a farm role that are pending, initializing or running."""
        with self.lock:
            return [
                s
                for s in self.servers.values()
                if s.farm_role_id == farm_role_id and s.status in ACTIVE_STATUSES
            ]

    def launch_server(self, farm_role_id: int) -> Server:
        """Start a new server: Pending now, then Initializing (HostInit) and Running (HostUp)."""
        return self.add_server(farm_role_id, status=PENDING)

    def terminate_server(self, server: Server) -> None:
        """Begin termination: Pending terminate now, Terminated (HostDown) later."""
        with self.lock:
            if server.status in (PENDING_TERMINATE, TERMINATED):
                return
            self._set_status(server, PENDING_TERMINATE, self.now())
            self.emit("BeforeHostTerminate", server, message="BeforeHostTerminate")

    def crash_server(self, server: Server) -> None:
        """Lose a server at once (HostCrash, no HostDown: protocol 1.5)."""
        with self.lock:
            self._set_status(server, TERMINATED, self.now())
            self.emit("HostCrash", server)

    def reboot_server(self, server: Server) -> None:
        """Reboot a server: RebootBegin now, RebootComplete after reboot_seconds."""
        with self.lock:
            server.rebooting_until = self.now() + self.timings.reboot_seconds
            self.emit("RebootBegin", server)

    def change_ip(self, server: Server, new_ip: str | None = None) -> str:
        """Give a server a new public address and announce IPAddressChanged."""
        with self.lock:
            self._ip_counter += 1
            server.public_ip = (
                new_ip or f"54.212.{self._ip_counter // 250}.{self._ip_counter % 250}"
            )
            self.emit("IPAddressChanged", server, new_ip=server.public_ip)
            return server.public_ip

    def _set_status(self, server: Server, status: str, since: float) -> None:
        server.status = status
        server.status_since = since

    def tick(self) -> None:
        """Run every server transition that is due, then chaos and scaling."""
        with self.lock:
            now = self.now()
            t = self.timings
            for server in list(self.servers.values()):
                if server.status == PENDING and now >= server.status_since + t.pending_seconds:
                    self._set_status(server, INITIALIZING, server.status_since + t.pending_seconds)
                    self.emit("HostInit", server)
                if server.status == INITIALIZING and (
                    now >= server.status_since + t.initializing_seconds
                ):
                    since = server.status_since + t.initializing_seconds
                    self._set_status(server, RUNNING, since)
                    self.emit("HostUp", server)
                if server.status == PENDING_TERMINATE and (
                    now >= server.status_since + t.terminating_seconds
                ):
                    since = server.status_since + t.terminating_seconds
                    self._set_status(server, TERMINATED, since)
                    self.emit("HostDown", server)
                if server.rebooting_until is not None and now >= server.rebooting_until:
                    server.rebooting_until = None
                    if server.status == RUNNING:
                        self.emit("RebootComplete", server)
                if server.status == TERMINATED and (
                    now >= server.status_since + t.terminated_retention_seconds
                ):
                    del self.servers[server.server_id]
            self._chaos(now)
            self._scale()
            self._last_tick = now

    def _chaos(self, now: float) -> None:
        if self.chaos_rate_per_minute <= 0:
            self._chaos_budget = 0.0
            return
        self._chaos_budget += self.chaos_rate_per_minute * max(0.0, now - self._last_tick) / 60
        while self._chaos_budget >= 1:
            self._chaos_budget -= 1
            running = [s for s in self.servers.values() if s.status == RUNNING]
            if not running:
                return
            victim = self.random.choice(running)
            kind = self.random.choice(self.chaos_kinds)
            if kind == "terminate":
                self.terminate_server(victim)
            elif kind == "crash":
                self.crash_server(victim)
            elif kind == "reboot" and victim.rebooting_until is None:
                self.reboot_server(victim)
            elif kind == "ip":
                self.change_ip(victim)

    def _scale(self) -> None:
        if not self.scaling:
            return
        for role in self.farm_roles.values():
            farm = self.farms.get(role.farm_id)
            if farm is None or farm.status != FARM_RUNNING or not role.scaling_enabled:
                continue
            for _ in range(role.min_instances - len(self.active_servers(role.id))):
                self.launch_server(role.id)

    def set_chaos(self, rate_per_minute: float, kinds: tuple[str, ...] | None = None) -> None:
        """Hit random running servers at this average rate (0 turns chaos off)."""
        with self.lock:
            self.chaos_rate_per_minute = rate_per_minute
            if kinds:
                unknown = set(kinds) - {"terminate", "reboot", "crash", "ip"}
                if unknown:
                    raise ValueError(f"unknown chaos kinds: {', '.join(sorted(unknown))}")
                self.chaos_kinds = tuple(kinds)

    # events

    def server_vars(self, server: Server, event_name: str) -> dict[str, str]:
        """Return the SCALR_* variables a 5.x webhook carries for a server event."""
        farm = self.farms[server.farm_id]
        return server_vars(
            server,
            self.farm_roles[server.farm_role_id],
            farm,
            self.environments.get(farm.env_id),
            event_name,
        )

    def emit(
        self,
        event_name: str,
        server: Server | None = None,
        *,
        farm_id: int | None = None,
        message: str | None = None,
        new_ip: str = "",
    ) -> EventRecord:
        """Store an event (EventsList) and hand it to the notifier."""
        with self.lock:
            if message is None:
                message = event_message(event_name, server, new_ip)
            record = EventRecord(
                id=str(uuid.uuid4()),
                farm_id=server.farm_id if server else (farm_id or 0),
                type=event_name,
                timestamp=self.now(),
                message=message,
                server_id=server.server_id if server else None,
            )
            self.events.append(record)
            data = self.server_vars(server, event_name) if server else None
        self.notifier.emit(event_name, message, data)
        return record

    # faults and the call record

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
