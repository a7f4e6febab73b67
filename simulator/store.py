"""The simulated installation's records, the lock that guards them, and simulated time."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

from simulator.model import (
    ACTIVE_STATUSES,
    FARM_RUNNING,
    RUNNING,
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


class Store:
    """Environments, keys, farms, roles, servers, scripts, zones, events and logs.

    Every method takes `lock` (re-entrant); a caller reading several records at
    once holds it too. Events are stored here and handed to the notifier.
    """

    def __init__(
        self,
        *,
        timings: Timings | None = None,
        notify: NotifyConfig | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.lock = threading.RLock()
        self.timings = timings or Timings()
        self.notifier = Notifier(notify)
        self._clock = clock
        self._offset = 0.0
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
        # Server addresses are numbered from 11 on, DNS records from 1.
        self._next_ids = {"record": 1, "address": 11}

    def now(self) -> float:
        """Return the simulated time: the clock plus every advance()."""
        return self._clock() + self._offset

    def next_id(self, kind: str) -> int:
        """Return a fresh id of a kind of record."""
        with self.lock:
            value = self._next_ids.get(kind, 1)
            self._next_ids[kind] = value + 1
            return value

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
            octet_a, octet_b = divmod(self.next_id("address"), 250)
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

    def active_servers(self, farm_role_id: int) -> list[Server]:
        """Return the servers of a farm role that are pending, initializing or running."""
        with self.lock:
            return [
                s
                for s in self.servers.values()
                if s.farm_role_id == farm_role_id and s.status in ACTIVE_STATUSES
            ]

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
            dropped = self.drops_notification(event_name, record.farm_id)
        if dropped:
            self.notifier.record_dropped(event_name)
        else:
            self.notifier.emit(event_name, message, data)
        return record

    def drops_notification(self, event_name: str, farm_id: int) -> bool:
        """Say whether an injected fault drops this event's notification (none here)."""
        return False
