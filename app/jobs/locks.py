"""Serialise the read-count-write guards (throttle, budget) across workers.

PostgreSQL: a transaction-scoped advisory lock per key. SQLite needs nothing:
every write transaction there begins with BEGIN IMMEDIATE, so writers already
take turns (app/db.py).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db import on_postgres


def lock_key(*parts: str) -> int:
    """Map a key to the signed 64-bit number PostgreSQL advisory locks take."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def advisory_lock(session: Session, *parts: str) -> None:
    """Hold a lock on `parts` until the session's transaction ends (PostgreSQL only)."""
    if on_postgres(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(*parts)})
