"""Action jobs: the durable queue the worker drains, and their attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow
from app.models.types import BigIntPK

SCHEDULED = "scheduled"
RUNNING = "running"
SUCCEEDED = "succeeded"
RETRYING = "retrying"
DEAD = "dead"
CANCELLED = "cancelled"
SKIPPED = "skipped"
DRY_RUN = "dry_run"
# The closed loop (app.jobs.verify, app.jobs.holds): a succeeded action with `expect:`
# ends verified or unverified; a hold keeps a job waiting for a person.
VERIFIED = "verified"
UNVERIFIED = "unverified"
HELD = "held"
# An action with `approve:` waits for a person's approve or deny (app.jobs.approvals).
AWAITING_APPROVAL = "awaiting_approval"

STATUSES = (
    SCHEDULED, RUNNING, SUCCEEDED, RETRYING, DEAD, CANCELLED, SKIPPED, DRY_RUN,
    VERIFIED, UNVERIFIED, HELD, AWAITING_APPROVAL,
)  # fmt: skip
CLAIMABLE = (SCHEDULED, RETRYING)
FINISHED = (SUCCEEDED, DEAD, CANCELLED, SKIPPED, DRY_RUN, VERIFIED, UNVERIFIED)
# A follow-up action may run after these when its rule says `on_failure: stop`.
GOOD_ENDINGS = (SUCCEEDED, DRY_RUN, VERIFIED)


class ActionJob(Base):
    """One action of one rule for one event, with its whole life."""

    __tablename__ = "action_jobs"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("events.id", ondelete="CASCADE"), index=True
    )
    rule: Mapped[str] = mapped_column(String(64), index=True)
    action_index: Mapped[int] = mapped_column(Integer)
    # (event, rule, action index): a replay or a second worker never makes a second job.
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(200))
    environment: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Everything else the action needs at run time (guard, url, headers, retry policy).
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    # When the job passed its guards for the first time: throttle and budget count these.
    fired_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    lease_expires_at: Mapped[datetime | None] = mapped_column()
    locked_by: Mapped[str | None] = mapped_column(String(128))
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[dict[str, Any] | None] = mapped_column()
    error: Mapped[str | None] = mapped_column(Text)
    # Copied from the event so `cancel_on` and the server timeline need no join.
    server_id: Mapped[str | None] = mapped_column(String(64), index=True)
    cancel_on: Mapped[list[str]] = mapped_column(default=list)
    throttle_key: Mapped[str | None] = mapped_column(String(255))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    on_failure: Mapped[str] = mapped_column(String(16), default="stop")
    # Set while an earlier action of the same rule and event has not finished.
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    # `expect:` of a succeeded action: the server whose event confirms it, and by when.
    expect_server_id: Mapped[str | None] = mapped_column(String(64))
    # The hold that keeps this job `held` (a storm's or an unverified remediation's).
    hold_id: Mapped[int | None] = mapped_column(BigInteger)
    expect_deadline: Mapped[datetime | None] = mapped_column()
    verified_event_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    attempt_log: Mapped[list[JobAttempt]] = relationship(
        back_populates="job", order_by="JobAttempt.number", cascade="all, delete-orphan"
    )

    __table_args__ = (
        # The claim query reads only due, unblocked, claimable rows: keep that index small,
        # and in the claim's order, so a claim reads its first rows, not all due (0009).
        Index(
            "ix_action_jobs_claimable",
            "run_at",
            "id",
            postgresql_where=text("status IN ('scheduled', 'retrying') AND NOT blocked"),
            sqlite_where=text("status IN ('scheduled', 'retrying') AND NOT blocked"),
        ),
        Index("ix_action_jobs_rule_throttle", "rule", "throttle_key", "created_at"),
        Index("ix_action_jobs_env_fired", "environment", "fired_at"),
        Index("ix_action_jobs_lease", "lease_expires_at"),
        # Jobs waiting for their confirming event: few rows, read on every event and tick.
        Index(
            "ix_action_jobs_expecting",
            "expect_server_id",
            postgresql_where=text("expect_deadline IS NOT NULL AND status = 'succeeded'"),
            sqlite_where=text("expect_deadline IS NOT NULL AND status = 'succeeded'"),
        ),
    )


class JobAttempt(Base):
    """One try at running a job: when, by whom, how it ended."""

    __tablename__ = "job_attempts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("action_jobs.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    worker: Mapped[str | None] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str | None] = mapped_column(String(32))
    transaction_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)

    job: Mapped[ActionJob] = relationship(back_populates="attempt_log")
