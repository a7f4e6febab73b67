"""Who may post events: the ingest token, the address allow-list, the flood limit, and the
5.x webhook signature.

No Flask and no HTTP: a refusal is an `AuthError`; `app.ingest.routes` gives it its answer.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import struct
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from app.security import bearer_token, secrets_equal
from app.sharedmap import MappedSlots

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Scalr 5.x formats Date as "Tue 11 Apr 2017 11:01:11 UTC" (scalr-protocol.md 2.4).
SCALR_DATE_FORMAT = "%a %d %b %Y %H:%M:%S UTC"


class AuthError(Exception):
    """A delivery refused before anything of it is read: who sent it, or whether it was signed."""


class IngestNotConfigured(AuthError):
    """No ingest token is configured, so every post is refused."""


class MissingToken(AuthError):
    """The post presents no ingest token."""


class BadToken(AuthError):
    """The post presents a token that is not the ingest token."""


class AddressNotAllowed(AuthError):
    """The sender's address is outside the allow-list."""

    def __init__(self, address: str | None) -> None:
        super().__init__(f"Posts from {address} are not allowed.")
        self.address = address


class Flooded(AuthError):
    """The sender failed authentication more often than the flood limit allows this minute."""

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many posts from this address; slow down.")
        self.retry_after = retry_after


class WebhooksDisabled(AuthError):
    """No webhook signing key is configured, so webhooks are off."""


class SignatureError(AuthError):
    """A webhook whose signature or Date cannot be trusted."""


class MissingDate(SignatureError):
    """The signed webhook has no Date header."""


class MissingSignature(SignatureError):
    """The signed webhook has no X-Signature header."""


class BadDate(SignatureError):
    """The Date header cannot be read as a date."""


class StaleDate(SignatureError):
    """The Date header is too far from now: a replay, or a wrong clock."""

    def __init__(self, skew: float, max_skew: int) -> None:
        super().__init__(f"The Date header is {int(skew)} s away from now (at most {max_skew} s).")
        self.skew = skew
        self.max_skew = max_skew


class BadSignature(SignatureError):
    """X-Signature does not match the body and the Date."""


# --- the legacy observer: a token in the URL, an allow-list, a flood limit ------------------


def address_allowed(address: str | None, networks: Iterable[Network]) -> bool:
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


def admit(address: str | None, networks: Iterable[Network]) -> None:
    """Refuse a sender outside the allow-list."""
    if not address_allowed(address, networks):
        raise AddressNotAllowed(address)


def counted_refusal(address: str | None, limiter: FloodLimiter, error: AuthError) -> AuthError:
    """Count a post that failed authentication; return `Flooded` past the limit, else `error`.

    Only failures are counted: a delivery with a good token or signature is never refused
    for its rate (Scalr's legacy sender never retries, and posts a storm from one address).
    """
    allowed, retry_after = limiter.allow(address)
    return error if allowed else Flooded(retry_after)


def presented_token(query: Mapping[str, list[str]], authorization: str | None) -> str | None:
    """Return the token the request presents, from `Authorization: Bearer` or `?token=`."""
    token = bearer_token(authorization)
    if token is not None:
        return token
    values = query.get("token") or []
    return values[0] if values else None


def check_ingest_token(expected: str | None, presented: str | None) -> None:
    """Refuse the post unless it presents the configured ingest token (constant time)."""
    if not expected:
        raise IngestNotConfigured("INGEST_TOKEN is not set: this endpoint refuses every request.")
    if presented is None:
        raise MissingToken("Give the ingest token as ?token= or Authorization: Bearer.")
    if not secrets_equal(presented, expected):
        raise BadToken("The ingest token is not valid.")


class FloodLimiter:
    """A per-address fixed-window counter of failed posts: at most `per_minute` a minute.

    Counted in this process's memory, or, given `path`, in a small table of a shared file
    that every web process of the machine maps (`SharedCounts`), so the limit holds
    across gunicorn workers instead of multiplying with them.
    """

    def __init__(
        self, per_minute: int, clock: object = time.monotonic, path: Path | None = None
    ) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._lock = threading.Lock()
        self._window = 0
        self._counts: dict[str, int] = {}
        self._shared = SharedCounts(path) if path is not None and per_minute > 0 else None

    def allow(self, address: str | None) -> tuple[bool, int]:
        """Count one post from `address`; return (allowed, seconds until the window resets)."""
        if self.per_minute <= 0:
            return True, 0
        now = self._clock()  # type: ignore[operator]
        window = int(now // 60)
        key = address or "-"
        if self._shared is not None:
            count = self._shared.add(key, window)
        else:
            with self._lock:
                if window != self._window:
                    self._window = window
                    self._counts.clear()
                count = self._counts.get(key, 0) + 1
                self._counts[key] = count
        retry_after = max(1, int(60 - now % 60))
        return count <= self.per_minute, retry_after


class SharedCounts:
    """Counts per (address, minute) in a memory-mapped file shared by the machine's processes.

    A `MappedSlots` table (8-byte address hash, 4-byte window, 4-byte count a slot); a
    slot of an older minute is free. Updates hold the table's lock. Full
    probes share the last slot's count, which errs towards limiting, never towards
    letting more through. Only failed posts are counted, so this is off the hot path.
    """

    SLOTS = 4096

    def __init__(self, path: Path) -> None:
        self._table = MappedSlots(path, struct.Struct("<QII"), slots=self.SLOTS)

    def add(self, key: str, window: int) -> int:
        """Count one for `key` in `window`; return its count there."""
        table = self._table
        digest = table.digest(key)
        window &= 0xFFFFFFFF
        with table.locked():
            for offset in table.offsets(digest):
                slot_key, slot_window, count = table.read(offset)
                if slot_key == digest and slot_window == window:
                    break
                if slot_key == 0 or slot_window != window:
                    count = 0
                    break
            count += 1
            table.write(offset, digest, window, count)
            return int(count)


# --- 5.x webhooks: HMAC-SHA1 over body + Date (scalr-protocol.md 2.4) -----------------------


def webhook_signature(key: str, body: bytes, date_header: str) -> str:
    """Return the X-Signature Scalr sends: hex HMAC-SHA1(key, body + Date)."""
    return hmac.new(
        key.encode("utf-8"), body + date_header.encode("utf-8"), hashlib.sha1
    ).hexdigest()


def parse_webhook_date(value: str) -> datetime | None:
    """Read Scalr's `Tue 11 Apr 2017 11:01:11 UTC`, or an RFC 1123 date."""
    try:
        return datetime.strptime(value.strip(), SCALR_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed.tzinfo is None:
        return None
    return parsed.astimezone(UTC)


def check_webhook_signature(
    key: str | None,
    body: bytes,
    date_header: str | None,
    signature: str | None,
    max_skew: int,
    now: datetime,
) -> None:
    """Refuse a webhook unless X-Signature signs the raw body and a Date near `now`."""
    if not key:
        raise WebhooksDisabled("SCALR_WEBHOOK_KEY is not set: webhooks are off.")
    if not date_header:
        raise MissingDate("The Date header is required for a signed webhook.")
    if not signature:
        raise MissingSignature("The X-Signature header is required.")
    sent_at = parse_webhook_date(date_header)
    if sent_at is None:
        raise BadDate("The Date header cannot be read.")
    skew = abs((now - sent_at).total_seconds())
    if skew > max_skew:
        raise StaleDate(skew, max_skew)
    expected = webhook_signature(key, body, date_header)
    if not secrets_equal(signature.strip().lower(), expected):
        raise BadSignature("The X-Signature does not match the body and Date.")
