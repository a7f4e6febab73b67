"""Plain records the simulated Scalr keeps in memory."""

from __future__ import annotations

from dataclasses import dataclass, field

# Farm Status values of FarmsList (protocol section 4).
FARM_TERMINATED, FARM_RUNNING, FARM_TERMINATING = 0, 1, 2

PENDING, INITIALIZING, RUNNING = "Pending", "Initializing", "Running"
PENDING_TERMINATE, TERMINATED = "Pending terminate", "Terminated"
ACTIVE_STATUSES = frozenset({PENDING, INITIALIZING, RUNNING})


@dataclass
class Timings:
    """How long each server transition takes, in seconds of simulated time."""

    pending_seconds: float = 3.0
    initializing_seconds: float = 5.0
    terminating_seconds: float = 3.0
    reboot_seconds: float = 5.0
    terminated_retention_seconds: float = 600.0
    tick_seconds: float = 0.5


@dataclass
class SimEnvironment:
    """A Scalr environment; requests_per_hour None means the API limit is off."""

    id: int
    name: str
    requests_per_hour: int | None = None
    usage: dict[str, int] = field(default_factory=dict)


@dataclass
class ApiKey:
    """An API key pair of one user, with the environments that user may use."""

    key_id: str
    secret_key: str = field(repr=False)
    env_ids: list[int] = field(default_factory=list)
    enabled: bool = True


@dataclass
class Farm:
    """A farm of one environment."""

    id: int
    name: str
    env_id: int
    status: int = FARM_RUNNING
    comments: str = ""
    hash: str = ""


@dataclass
class FarmRole:
    """A role placed in a farm, with its scaling bounds."""

    id: int
    farm_id: int
    role_name: str
    role_id: int
    platform: str = "ec2"
    cloud_location: str = "us-east-1"
    min_instances: int = 1
    max_instances: int = 2
    scaling_enabled: bool = True


@dataclass
class Server:
    """A server of a farm role and where it is in its life."""

    server_id: str
    farm_id: int
    farm_role_id: int
    index: int
    status: str
    public_ip: str
    internal_ip: str
    added_at: float
    status_since: float
    rebooting_until: float | None = None
    cloud_server_id: str = ""


@dataclass
class Script:
    """A script with numbered revisions (revision -> body)."""

    id: int
    name: str
    description: str = ""
    revisions: dict[int, str] = field(default_factory=dict)


@dataclass
class DNSRecord:
    """One record of a DNS zone."""

    id: int
    type: str
    ttl: int
    name: str
    value: str
    priority: int = 0
    weight: int = 0
    port: int = 0
    is_system: bool = False


@dataclass
class DNSZone:
    """A DNS zone hosted by Scalr."""

    name: str
    farm_id: int = 0
    farm_role_id: int = 0
    records: list[DNSRecord] = field(default_factory=list)


@dataclass
class EventRecord:
    """An event as EventsList shows it."""

    id: str
    farm_id: int
    type: str
    timestamp: float
    message: str
    server_id: str | None = None


@dataclass
class LogRecord:
    """A farm log line as LogsList shows it."""

    farm_id: int
    server_id: str
    message: str
    severity: int
    timestamp: float
    source: str
