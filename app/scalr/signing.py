"""AuthVersion 3 request signing (protocol 3.3) and redaction of what must stay secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from datetime import UTC, datetime

AUTH_VERSION = "3"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.000Z"


def format_timestamp(moment: datetime) -> str:
    """Format a moment as the UTC TimeStamp value, free of '+' and '%' (protocol 3.3)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; a TimeStamp needs an aware datetime")
    return moment.astimezone(UTC).strftime(TIMESTAMP_FORMAT)


def string_to_sign(action: str, key_id: str, timestamp: str) -> str:
    """Return the AuthVersion 3 string to sign: Action:KeyID:TimeStamp."""
    return f"{action}:{key_id}:{timestamp}"


def sign_v3(secret_key: str, action: str, key_id: str, timestamp: str) -> str:
    """Return the base64 HMAC-SHA256 signature of one request, not yet URL-encoded."""
    digest = hmac.new(
        secret_key.encode("utf-8"),
        string_to_sign(action, key_id, timestamp).encode("utf-8"),
        hashlib.sha256,
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def signed_params(
    *,
    action: str,
    version: str,
    key_id: str,
    secret_key: str,
    timestamp: str,
    env_id: int | None,
    params: Iterable[tuple[str, str]] = (),
) -> list[tuple[str, str]]:
    """Return every request parameter in wire order, Signature last (protocol 6.5)."""
    fields: list[tuple[str, str]] = [
        ("Action", action),
        ("Version", version),
        ("AuthVersion", AUTH_VERSION),
    ]
    if env_id is not None:
        fields.append(("EnvID", str(env_id)))
    fields.append(("KeyID", key_id))
    fields.append(("TimeStamp", timestamp))
    fields.extend(params)
    fields.append(("Signature", sign_v3(secret_key, action, key_id, timestamp)))
    return fields
