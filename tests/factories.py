"""Plain factory and helper functions for tests (CTFd's gen_* style)."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.db import utcnow
from app.models.event import Event

SID = "5bbd72c5-908c-4535-a7ec-2fbf56486ff3"
PUB = "54.211.17.89"
PRIV = "10.183.42.7"


def count_events(factory: sessionmaker[Session]) -> int:
    """Return how many events are stored."""
    with factory() as session:
        return session.scalar(select(func.count()).select_from(Event)) or 0


def only_event(factory: sessionmaker[Session]) -> Event:
    """Return the single stored event, failing if there is not exactly one."""
    with factory() as session:
        rows = list(session.scalars(select(Event)))
    assert len(rows) == 1, rows
    return rows[0]


def gen_event(session: Session, **fields: Any) -> Event:
    """Store an event with sensible defaults."""
    values: dict[str, Any] = {
        "name": "HostDown",
        "message": f"Instance {SID} ({PUB}) Internal IP: {PRIV} terminated",
        "server_id": SID,
        "public_ip": PUB,
        "internal_ip": PRIV,
        "source": "observer",
        "received_at": utcnow(),
        "data": {},
        "enriched_fields": [],
        "raw": {},
    }
    values.update(fields)
    event = Event(**values)
    session.add(event)
    session.commit()
    return event


def sign_webhook(key: str, body: bytes, date: str) -> str:
    """Sign a body the way Scalr 5.x does: hex HMAC-SHA1 over body + Date."""
    return hmac.new(key.encode(), body + date.encode(), hashlib.sha1).hexdigest()
