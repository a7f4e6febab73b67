"""A Scalr event notification as Lifeguard stored it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow
from app.models.types import BigIntPK

SOURCE_OBSERVER = "observer"
SOURCE_WEBHOOK = "webhook"
# Lifeguard's own events (JobDead, RemediationUnverified, ...): app.jobs.own_events.
SOURCE_LIFEGUARD = "lifeguard"


class Event(Base):
    """One delivery from Scalr, normalised; committed before the 202 answer."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text, default="")
    server_id: Mapped[str | None] = mapped_column(String(64), index=True)
    public_ip: Mapped[str | None] = mapped_column(String(45))
    internal_ip: Mapped[str | None] = mapped_column(String(45))
    new_ip: Mapped[str | None] = mapped_column(String(45))
    farm_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    farm_role_id: Mapped[int | None] = mapped_column(BigInteger)
    role_name: Mapped[str | None] = mapped_column(String(255))
    env_id: Mapped[int | None] = mapped_column(BigInteger)
    source: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The SCALR_* variables of a webhook; empty for observer deliveries.
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Names of the fields filled from the server inventory, not from the delivery.
    enriched_fields: Mapped[list[str]] = mapped_column(default=list)
    # What arrived on the wire, with secrets redacted: method, path, query, headers, body.
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    remote_addr: Mapped[str | None] = mapped_column(String(45))
    # A 5.x webhook's eventId: a repeated delivery is recognised by it.
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    # The key ingest gave the delivery on arrival: a spooled delivery replayed twice, or a
    # commit in doubt retried through the spool, is stored once (app/ingest/spool.py).
    ingest_key: Mapped[str | None] = mapped_column(String(40), unique=True)
    # Set by the rule matcher in the transaction that creates the event's jobs.
    processed_at: Mapped[datetime | None] = mapped_column()
    rules_version: Mapped[str | None] = mapped_column(String(64))
    # One explanation per rule: matched or not, and the failing condition.
    evaluations: Mapped[list[dict[str, Any]]] = mapped_column(default=list)

    __table_args__ = (
        Index("ix_events_name_received_at", "name", "received_at"),
        Index("ix_events_received_at", "received_at"),
        # The dashboard's events list by type, newest first: read in id order, stop at a page.
        Index("ix_events_name_id", "name", "id"),
        # The events list of one server (the filter is case-insensitive), newest first.
        Index("ix_events_server_lower_id", text("lower(server_id)"), "id"),
        # The matcher's queue: only unprocessed rows are in this index.
        Index(
            "ix_events_unprocessed",
            "id",
            postgresql_where=text("processed_at IS NULL"),
            sqlite_where=text("processed_at IS NULL"),
        ),
    )

    def fields(self) -> dict[str, Any]:
        """Return the normalised fields that rules and the API see."""
        return {
            "id": self.id,
            "name": self.name,
            "message": self.message,
            "server_id": self.server_id,
            "public_ip": self.public_ip,
            "internal_ip": self.internal_ip,
            "new_ip": self.new_ip,
            "farm_id": self.farm_id,
            "farm_role_id": self.farm_role_id,
            "role_name": self.role_name,
            "env_id": self.env_id,
            "source": self.source,
            "received_at": self.received_at.isoformat() if self.received_at else None,
            "data": dict(self.data or {}),
            "enriched_fields": list(self.enriched_fields or []),
        }
