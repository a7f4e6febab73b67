"""Operator controls kept in the database, so every web and worker process sees them at once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow
from app.models.types import BigIntPK

KILL_SWITCH_ROW = 1


class KillSwitch(Base):
    """The one deployment-wide kill switch: while engaged, no job performs its action."""

    __tablename__ = "kill_switch"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    engaged: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text)
    engaged_by: Mapped[str | None] = mapped_column(String(128))
    engaged_at: Mapped[datetime | None] = mapped_column()
    released_by: Mapped[str | None] = mapped_column(String(128))
    released_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Silence(Base):
    """A person's "do not act on these events" for a while: matchers, a window, a comment."""

    __tablename__ = "silences"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    # A `where:` mapping in the rules' syntax, over the fields of SILENCE_FIELDS.
    matchers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    starts_at: Mapped[datetime] = mapped_column(default=utcnow)
    ends_at: Mapped[datetime] = mapped_column(index=True)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when a person ended it before its time (ends_at moves to that moment).
    expired_by: Mapped[str | None] = mapped_column(String(128))


class AuditEntry(Base):
    """One thing a person did (or tried to do): who, when, what, on what, from where, why."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(128), index=True)
    role: Mapped[str | None] = mapped_column(String(16))
    # dashboard, api or console
    via: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str | None] = mapped_column(String(200), index=True)
    address: Mapped[str | None] = mapped_column(String(45))
    reason: Mapped[str | None] = mapped_column(Text)
    # ok, refused (the control did not apply) or denied (the role may not)
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
