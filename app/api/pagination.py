"""The API's side of keyset pages: opaque `?cursor=`, `?limit=` (default 50, at most 500).

A cursor is the url-safe base64 of `<kind>:<last key>`; the kind stops a cursor
of one list from being replayed against another. The page itself is read by
`app.queries.pagination.keyset_page`.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from typing import Any

from flask import Response, jsonify

from app.errors import APIError
from app.queries.pagination import Key, Page, Row

DEFAULT_LIMIT = 50
MAX_LIMIT = 500


def encode_key(kind: str, key: str | int) -> str:
    """Make the opaque cursor that continues after row `key`."""
    return base64.urlsafe_b64encode(f"{kind}:{key}".encode()).decode().rstrip("=")


def decode_key(kind: str, cursor: str, max_length: int = 64) -> str:
    """Read a cursor of `kind` made by `encode_key`; anything else is a 400."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
        prefix, _, value = raw.partition(":")
        if prefix != kind or not value or len(value) > max_length:
            raise ValueError(raw)
        return value
    except (ValueError, UnicodeError, binascii.Error):
        raise APIError(400, "invalid_cursor", "The cursor is not one this API gave out.") from None


def encode_cursor(last_id: int) -> str:
    """Make the cursor that continues below id `last_id` (lists newest first)."""
    return encode_key("v1", last_id)


def decode_cursor(cursor: str) -> int:
    """Read a cursor made by `encode_cursor`; anything else is a 400."""
    value = decode_key("v1", cursor, max_length=19)
    if not value.isdigit():
        raise APIError(400, "invalid_cursor", "The cursor is not one this API gave out.")
    return int(value)


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


def page_json(
    page: Page[Row, Key],
    serialise: Callable[[Row], dict[str, Any]],
    cursor_of: Callable[[Key], str],
) -> Response:
    """Answer a list: `{"items": [...], "next_cursor": <opaque> | null}`."""
    return jsonify(
        items=[serialise(row) for row in page.items],
        next_cursor=cursor_of(page.next_key) if page.next_key is not None else None,
    )
