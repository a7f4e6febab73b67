"""Small security primitives shared by ingest, the API and the dashboard."""

from __future__ import annotations

import hmac


def secrets_equal(presented: str | None, expected: str | None) -> bool:
    """Compare a presented secret with the expected one in constant time (None never matches)."""
    if presented is None or not expected:
        return False
    return hmac.compare_digest(presented.encode("utf-8", "replace"), expected.encode("utf-8"))


def bearer_token(authorization: str | None) -> str | None:
    """Return the token of an `Authorization: Bearer <token>` header, if it is one."""
    if not authorization:
        return None
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
