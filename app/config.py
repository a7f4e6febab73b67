"""Configuration: one class read from environment variables, no default for secrets."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE_PATH = PROJECT_ROOT / "instance"
DEFAULT_RULES_FILE = "rules.yml"
DEMO_RULES_FILE = "rules.example.yml"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the variable."""


def parse_bool(name: str, raw: str | None, default: bool = False) -> bool:
    """Read a boolean strictly: a typo is an error, not a silent False."""
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be one of 1/0/true/false/yes/no/on/off, got {raw!r}")


def parse_int(name: str, raw: str | None, default: int, minimum: int = 0) -> int:
    """Read a whole number no smaller than `minimum`."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def parse_public_url(name: str, raw: str | None) -> str:
    """Read the dashboard's public address: http(s)://host[/path], without a trailing slash."""
    value = (raw or "").strip().rstrip("/")
    if not value:
        return ""
    rest = value.partition("://")[2]
    if (
        not value.startswith(("http://", "https://"))
        or not rest
        or any(ch in value for ch in "?#\\ \t\n")
    ):
        raise ConfigError(f"{name} must be an http(s):// address such as https://lifeguard.example")
    return value


def parse_float(name: str, raw: str | None, default: float, minimum: float = 0.0) -> float:
    """Read a number of seconds no smaller than `minimum`."""
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not value >= minimum or value == float("inf"):
        raise ConfigError(f"{name} must be a finite number of at least {minimum}, got {raw!r}")
    return value


def parse_share(name: str, raw: str | None, default: float) -> float:
    """Read a share: 0 (off), or a number above 0 and below 1."""
    value = parse_float(name, raw, default)
    if value >= 1:
        raise ConfigError(f"{name} must be 0 (off) or a number below 1 such as 0.5, got {raw!r}")
    return value


def parse_farm_bounds(name: str, raw: str | None) -> tuple[tuple[int, int], ...]:
    """Read `farm_id=seconds` pairs separated by commas (`12=3600,14=600`); 0 seconds: off."""
    bounds: dict[int, int] = {}
    for part in (raw or "").split(","):
        if not part.strip():
            continue
        farm, sep, seconds = part.partition("=")
        try:
            farm_id, bound = int(farm.strip()), int(seconds.strip())
        except ValueError:
            farm_id = bound = -1
        if not sep or farm_id < 1 or bound < 0:
            raise ConfigError(
                f"{name} must be farm_id=seconds pairs separated by commas "
                f"(like 12=3600,14=600), got {part.strip()!r}"
            )
        if farm_id in bounds:
            raise ConfigError(f"{name} names farm {farm_id} twice")
        bounds[farm_id] = bound
    return tuple(sorted(bounds.items()))


def parse_networks(
    name: str, raw: str | None
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Read a comma-separated CIDR list; empty means no restriction."""
    if raw is None or raw.strip() == "":
        return ()
    networks = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigError(f"{name}: {part!r} is not an IP address or CIDR block") from None
    return tuple(networks)


def _secret(raw: str | None) -> str | None:
    if raw is None or raw.strip() == "":
        return None
    return raw.strip()


def _default_rules_file(env: Mapping[str, str]) -> str:
    """Return `rules.yml`, or in demo mode the demo's own rules file."""
    demo = parse_bool("LIFEGUARD_DEMO", env.get("LIFEGUARD_DEMO"))
    return DEMO_RULES_FILE if demo else DEFAULT_RULES_FILE


@dataclass(frozen=True)
class Config:
    """Everything Lifeguard reads from its environment, parsed and checked once."""

    database_url: str = f"sqlite:///{DEFAULT_INSTANCE_PATH / 'lifeguard.db'}"
    instance_path: Path = DEFAULT_INSTANCE_PATH
    secret_key: str | None = None
    demo_mode: bool = False
    ingest_token: str | None = None
    ingest_allowed_ips: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    trusted_proxies: int = 0
    max_body_bytes: int = 64 * 1024
    ingest_rate_per_minute: int = 6000
    # Where ingest keeps deliveries the database could not take (None: <instance>/spool).
    spool_dir: Path | None = None
    spool_max_bytes: int = 256 * 1024 * 1024
    scalr_webhook_key: str | None = None
    webhook_max_skew_seconds: int = 300
    webhook_keep_user_variables: bool = False
    rules_file: str = "rules.yml"
    api_token: str | None = None
    admin_user: str | None = None
    admin_password: str | None = None
    # Dashboard and API users with roles (YAML, hashes only); None: ADMIN_USER alone.
    users_file: str | None = None
    inventory_sync_seconds: int = 300
    # The worker deletes events older than this (with their finished jobs); 0 keeps them all.
    retention_days: int = 90
    dry_run: bool = False
    # Remediation budget: at most this many changing Scalr calls per window per environment.
    budget_max: int = 20
    budget_window_seconds: int = 3600
    # Flapping: a server changing between down and up more than this many times in the
    # window has its jobs skipped (a rule's `flap:` overrides; 0 turns the default off).
    flap_max: int = 3
    flap_window_seconds: int = 1800
    # Storms: more than this share of a farm role's known servers down within the window
    # holds its launches (a rule's `storm:` overrides; 0 turns the default off).
    storm_share: float = 0.0
    storm_window_seconds: int = 300
    # Ingest gaps: a farm that sent events and is silent longer than this emits IngestGap
    # (0: off); INGEST_GAP_FARMS sets other bounds for some farms ({farm_id: seconds}).
    ingest_gap_seconds: int = 0
    ingest_gap_farms: tuple[tuple[int, int], ...] = ()
    worker_lease_seconds: int = 120
    worker_poll_seconds: float = 0.5
    # The worker serves its own /metrics here (0: not at all); the web processes serve theirs.
    worker_metrics_port: int = 0
    worker_metrics_addr: str = "127.0.0.1"
    retry_base_seconds: float = 5.0
    retry_cap_seconds: float = 600.0
    # A transient failure is retried for at least this long after the first attempt,
    # whatever max_attempts says (a Scalr outage of minutes kills no job).
    retry_window_seconds: float = 900.0
    webhook_allowed_urls: tuple[str, ...] = ()
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_from: str = "lifeguard@localhost"
    session_cookie_secure: bool = False
    # The dashboard's address as people reach it, for links in messages (`approval_url`).
    public_url: str = ""
    testing: bool = False
    # Raw environment, for parts that read their own variables (Scalr environments).
    environ: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        """Build the configuration from environment variables."""
        env = dict(os.environ if environ is None else environ)
        instance_path = Path(env.get("LIFEGUARD_INSTANCE_PATH") or DEFAULT_INSTANCE_PATH)
        return cls(
            database_url=env.get("DATABASE_URL") or f"sqlite:///{instance_path / 'lifeguard.db'}",
            instance_path=instance_path,
            secret_key=_secret(env.get("SECRET_KEY")),
            demo_mode=parse_bool("LIFEGUARD_DEMO", env.get("LIFEGUARD_DEMO")),
            ingest_token=_secret(env.get("INGEST_TOKEN")),
            ingest_allowed_ips=parse_networks("INGEST_ALLOWED_IPS", env.get("INGEST_ALLOWED_IPS")),
            trusted_proxies=parse_int("TRUSTED_PROXIES", env.get("TRUSTED_PROXIES"), 0),
            max_body_bytes=parse_int(
                "INGEST_MAX_BODY_BYTES", env.get("INGEST_MAX_BODY_BYTES"), 64 * 1024, minimum=1
            ),
            ingest_rate_per_minute=parse_int(
                "INGEST_RATE_PER_MINUTE", env.get("INGEST_RATE_PER_MINUTE"), 6000
            ),
            spool_dir=Path(env["SPOOL_DIR"]) if env.get("SPOOL_DIR") else None,
            spool_max_bytes=parse_int(
                "SPOOL_MAX_BYTES", env.get("SPOOL_MAX_BYTES"), 256 * 1024 * 1024, minimum=0
            ),
            scalr_webhook_key=_secret(env.get("SCALR_WEBHOOK_KEY")),
            webhook_max_skew_seconds=parse_int(
                "WEBHOOK_MAX_SKEW_SECONDS", env.get("WEBHOOK_MAX_SKEW_SECONDS"), 300, minimum=1
            ),
            webhook_keep_user_variables=parse_bool(
                "WEBHOOK_KEEP_USER_VARIABLES", env.get("WEBHOOK_KEEP_USER_VARIABLES")
            ),
            rules_file=env.get("RULES_FILE") or _default_rules_file(env),
            api_token=_secret(env.get("API_TOKEN")),
            admin_user=_secret(env.get("ADMIN_USER")),
            admin_password=_secret(env.get("ADMIN_PASSWORD")),
            users_file=env.get("USERS_FILE") or None,
            inventory_sync_seconds=parse_int(
                "INVENTORY_SYNC_SECONDS", env.get("INVENTORY_SYNC_SECONDS"), 300
            ),
            retention_days=parse_int("RETENTION_DAYS", env.get("RETENTION_DAYS"), 90),
            dry_run=parse_bool("DRY_RUN", env.get("DRY_RUN")),
            budget_max=parse_int("REMEDIATION_BUDGET_MAX", env.get("REMEDIATION_BUDGET_MAX"), 20),
            budget_window_seconds=parse_int(
                "REMEDIATION_BUDGET_WINDOW_SECONDS",
                env.get("REMEDIATION_BUDGET_WINDOW_SECONDS"),
                3600,
                minimum=1,
            ),
            flap_max=parse_int("FLAP_MAX", env.get("FLAP_MAX"), 3),
            flap_window_seconds=parse_int(
                "FLAP_WINDOW_SECONDS", env.get("FLAP_WINDOW_SECONDS"), 1800, minimum=1
            ),
            storm_share=parse_share("STORM_SHARE", env.get("STORM_SHARE"), 0.0),
            storm_window_seconds=parse_int(
                "STORM_WINDOW_SECONDS", env.get("STORM_WINDOW_SECONDS"), 300, minimum=1
            ),
            ingest_gap_seconds=parse_int("INGEST_GAP_SECONDS", env.get("INGEST_GAP_SECONDS"), 0),
            ingest_gap_farms=parse_farm_bounds("INGEST_GAP_FARMS", env.get("INGEST_GAP_FARMS")),
            worker_lease_seconds=parse_int(
                "WORKER_LEASE_SECONDS", env.get("WORKER_LEASE_SECONDS"), 120, minimum=1
            ),
            worker_poll_seconds=parse_float(
                "WORKER_POLL_SECONDS", env.get("WORKER_POLL_SECONDS"), 0.5
            ),
            worker_metrics_port=parse_int("WORKER_METRICS_PORT", env.get("WORKER_METRICS_PORT"), 0),
            worker_metrics_addr=env.get("WORKER_METRICS_ADDR") or "127.0.0.1",
            retry_base_seconds=parse_float(
                "RETRY_BASE_SECONDS", env.get("RETRY_BASE_SECONDS"), 5.0
            ),
            retry_cap_seconds=parse_float("RETRY_CAP_SECONDS", env.get("RETRY_CAP_SECONDS"), 600.0),
            retry_window_seconds=parse_float(
                "RETRY_WINDOW_SECONDS", env.get("RETRY_WINDOW_SECONDS"), 900.0
            ),
            webhook_allowed_urls=tuple(
                u.strip() for u in (env.get("WEBHOOK_ALLOWED_URLS") or "").split(",") if u.strip()
            ),
            smtp_host=env.get("SMTP_HOST") or "localhost",
            smtp_port=parse_int("SMTP_PORT", env.get("SMTP_PORT"), 25, minimum=1),
            smtp_from=env.get("SMTP_FROM") or "lifeguard@localhost",
            session_cookie_secure=parse_bool(
                "SESSION_COOKIE_SECURE", env.get("SESSION_COOKIE_SECURE")
            ),
            public_url=parse_public_url("PUBLIC_URL", env.get("PUBLIC_URL")),
            environ=env,
        )

    @property
    def spool_path(self) -> Path:
        """Return the spool directory: SPOOL_DIR, or `spool/` in the instance folder."""
        return self.spool_dir if self.spool_dir is not None else self.instance_path / "spool"

    def ingest_gap_bound(self, farm_id: int) -> int:
        """Return how long a farm may be silent: its INGEST_GAP_FARMS entry, else the default."""
        return dict(self.ingest_gap_farms).get(farm_id, self.ingest_gap_seconds)

    def with_overrides(self, **overrides: Any) -> Config:
        """Return a copy with some values replaced (tests, the demo)."""
        known = {f.name for f in fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise ConfigError(f"unknown configuration keys: {', '.join(sorted(unknown))}")
        return replace(self, **overrides)
