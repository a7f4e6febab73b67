"""Keyset pagination with opaque cursors: `?cursor=` and `?limit=` (default 50, at most 500)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping

from app.errors import APIError

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def encode_cursor(last_id: int) -> str:
    """Make the opaque cursor that continues after row `last_id`."""
    return base64.urlsafe_b64encode(f"v1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """Read a cursor made by `encode_cursor`; anything else is a 400."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")
        prefix, _, value = raw.partition(":")
        if prefix != "v1" or not value.isdigit() or len(value) > 19:
            raise ValueError(raw)
        return int(value)
    except (ValueError, UnicodeError, binascii.Error):
        raise APIError(400, "invalid_cursor", "The cursor is not one this API gave out.") from None


def read_limit(args: Mapping[str, str]) -> int:
    """Read `?limit=`: a whole number from 1 to MAX_LIMIT."""
    raw = args.get("limit")
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise APIError(400, "invalid_limit", f"limit must be a whole number from 1 to {MAX_LIMIT}.")
    return int(raw)


def read_after(args: Mapping[str, str]) -> int | None:
    """Read `?cursor=`, if any, as the id to continue below."""
    cursor = args.get("cursor")
    return decode_cursor(cursor) if cursor else None
