"""Counts of the system's state that the overview, /readyz and /metrics all report."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models.event import Event
from app.models.job import CLAIMABLE, STATUSES, ActionJob
from app.models.ops import WorkerHeartbeat


def job_counts(session: Session) -> dict[str, int]:
    """Count action jobs per status, every status present."""
    rows = session.execute(select(ActionJob.status, func.count()).group_by(ActionJob.status))
    counts = {status: 0 for status in STATUSES}
    counts.update({str(status): int(n) for status, n in rows})
    return counts


def unprocessed_events(session: Session) -> int:
    """Count events stored but not yet matched against the rules."""
    count = session.scalar(
        select(func.count()).select_from(Event).where(Event.processed_at.is_(None))
    )
    return int(count or 0)


def last_heartbeat(session: Session) -> datetime | None:
    """Return when any worker last beat."""
    return session.scalar(select(func.max(WorkerHeartbeat.last_beat_at)))


def queued_jobs(session: Session, now: datetime) -> tuple[int, int]:
    """Count jobs waiting to be claimed: (due by `now`, all of them)."""
    waiting = select(func.count()).select_from(ActionJob).where(ActionJob.status.in_(CLAIMABLE))
    due = session.scalar(waiting.where(ActionJob.run_at <= now))
    return int(due or 0), int(session.scalar(waiting) or 0)


def oldest_due_age(session: Session, now: datetime) -> float:
    """Return how many seconds the longest-waiting due job has been due (0 when none is)."""
    oldest = session.scalar(
        select(func.min(ActionJob.run_at))
        .where(ActionJob.status.in_(CLAIMABLE))
        .where(~ActionJob.blocked)  # as the claimable index says it, so it can be used
        .where(ActionJob.run_at <= now)
    )
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:  # SQLite hands naive values back
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - oldest).total_seconds())
