"""Silences as the dashboard and the API read them: newest first, by state."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.controls import Silence
from app.queries.pagination import Page, keyset_page

STATES = ("active", "pending", "expired")


def list_silences(
    session: Session, state: str, now: datetime, before: int | None, limit: int
) -> Page[Silence, int]:
    """Return the newest silences below id `before` in `state` (any when empty)."""
    query = select(Silence)
    if state == "active":
        query = query.where(Silence.starts_at <= now, Silence.ends_at > now)
    elif state == "pending":
        query = query.where(Silence.starts_at > now)
    elif state == "expired":
        query = query.where(Silence.ends_at <= now)
    return keyset_page(session, query, Silence.id, before, limit)
