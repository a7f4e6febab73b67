"""The server inventory: what Lifeguard knows of each Scalr server."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class Server(Base):
    """A Scalr server: its farm, farm role and role, last seen state and addresses."""

    __tablename__ = "servers"

    server_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    farm_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    farm_role_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    role_name: Mapped[str | None] = mapped_column(String(255))
    env_id: Mapped[int | None] = mapped_column(BigInteger)
    environment: Mapped[str | None] = mapped_column(String(64))
    public_ip: Mapped[str | None] = mapped_column(String(45))
    internal_ip: Mapped[str | None] = mapped_column(String(45))
    status: Mapped[str | None] = mapped_column(String(32))
    # Where the last update came from: webhook, hint, event or sync.
    source: Mapped[str | None] = mapped_column(String(16))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    last_event_id: Mapped[int | None] = mapped_column(BigInteger)
