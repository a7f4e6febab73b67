"""Who may post events: the ingest token, the address allow-list, the flood limit."""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterable, Mapping

from app.config import Config
from app.errors import APIError
from app.security import bearer_token, secrets_equal


def address_allowed(
    address: str | None, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> bool:
    """Say whether `address` is inside one of `networks` (no networks: everyone is)."""
    networks = tuple(networks)
    if not networks:
        return True
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in networks)


def presented_token(query: Mapping[str, list[str]], authorization: str | None) -> str | None:
    """Return the token the request presents, from `Authorization: Bearer` or `?token=`."""
    token = bearer_token(authorization)
    if token is not None:
        return token
    values = query.get("token") or []
    return values[0] if values else None


def check_ingest_token(config: Config, presented: str | None) -> None:
    """Refuse the request unless it presents the configured ingest token."""
    if not config.ingest_token:
        raise APIError(
            401,
            "ingest_not_configured",
            "INGEST_TOKEN is not set: this endpoint refuses every request.",
        )
    if presented is None:
        raise APIError(
            401, "missing_token", "Give the ingest token as ?token= or Authorization: Bearer."
        )
    if not secrets_equal(presented, config.ingest_token):
        raise APIError(401, "bad_token", "The ingest token is not valid.")


class FloodLimiter:
    """A per-address fixed-window counter: at most `per_minute` posts a minute per process."""

    def __init__(self, per_minute: int, clock: object = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._window = 0
        self._counts: dict[str, int] = {}

    def allow(self, address: str | None) -> tuple[bool, int]:
        """Count one post from `address`; return (allowed, seconds until the window resets)."""
        if self.per_minute <= 0:
            return True, 0
        now = self._clock()  # type: ignore[operator]
        window = int(now // 60)
        key = address or "-"
        with self._lock:
            if window != self._window:
                self._window = window
                self._counts.clear()
            count = self._counts.get(key, 0) + 1
            self._counts[key] = count
        retry_after = max(1, int(60 - now % 60))
        return count <= self.per_minute, retry_after
