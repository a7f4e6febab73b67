"""Operational state kept in the database: rule switches, breakers, worker heartbeats."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, utcnow


class RuleState(Base):
    """What a person switched for a rule: paused, dry run. Honoured by the worker."""

    __tablename__ = "rule_states"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    dry_run: Mapped[bool | None] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(String(128))


class Breaker(Base):
    """The remediation budget breaker of one Scalr environment; a person closes it."""

    __tablename__ = "breakers"

    environment: Mapped[str] = mapped_column(String(64), primary_key=True)
    is_open: Mapped[bool] = mapped_column(Boolean, default=False)
    opened_at: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column()
    closed_by: Mapped[str | None] = mapped_column(String(128))


class WorkerHeartbeat(Base):
    """A worker process saying it is alive, and what it is doing."""

    __tablename__ = "worker_heartbeats"

    worker_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_beat_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    current_job_id: Mapped[int | None] = mapped_column(BigInteger)
    jobs_done: Mapped[int] = mapped_column(Integer, default=0)
    stopped_at: Mapped[datetime | None] = mapped_column()


class PeriodicTask(Base):
    """When a deployment-wide periodic task (the inventory sync) last ran, and where."""

    __tablename__ = "periodic_tasks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_run_at: Mapped[datetime | None] = mapped_column()
    last_run_by: Mapped[str | None] = mapped_column(String(128))
    last_result: Mapped[str | None] = mapped_column(Text)
