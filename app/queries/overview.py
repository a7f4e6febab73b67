"""What the overview page shows, read with a handful of small queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models.event import Event
from app.models.job import DEAD, RETRYING, SCHEDULED, ActionJob
from app.models.ops import Breaker, WorkerHeartbeat
from app.queries.sqlfuncs import hour_bucket
from app.queries.stats import job_counts, unprocessed_events

LIST_SIZE = 20
HOURS = 24


def hour_keys(end: datetime, hours: int = HOURS) -> list[datetime]:
    """Return the starts of the `hours` whole UTC hours ending with the one holding `end`."""
    last = end.replace(minute=0, second=0, microsecond=0)
    return [last - timedelta(hours=hours - 1 - i) for i in range(hours)]


def hourly_counts(session: Session, since: datetime) -> dict[tuple[str, str], int]:
    """Count events per (UTC hour, name) received since `since`: one GROUP BY."""
    bucket = hour_bucket(Event.received_at)
    rows = session.execute(
        select(bucket, Event.name, func.count())
        .where(Event.received_at >= since)
        .group_by(bucket, Event.name)
    )
    return {(str(hour), str(name)): int(n) for hour, name, n in rows}


@dataclass
class Overview:
    """The numbers and lists of the overview page."""

    now: datetime
    hours: list[datetime]  # the starts of the last HOURS whole UTC hours, oldest first
    hourly: dict[tuple[str, str], int]  # {(hour "YYYY-MM-DD HH", event name): count}
    events_24h: int
    events_1h: int
    unprocessed: int
    job_counts: dict[str, int]
    scheduled: list[ActionJob]
    retrying: list[ActionJob]
    dead: list[ActionJob]
    breakers: list[Breaker]
    heartbeats: list[WorkerHeartbeat]


def jobs_with_status(session: Session, status: str, limit: int = LIST_SIZE) -> list[ActionJob]:
    """Return jobs of one status: the next due first, or the latest ended for dead ones."""
    query = select(ActionJob).where(ActionJob.status == status)
    if status == DEAD:
        query = query.order_by(ActionJob.id.desc())
    else:
        query = query.order_by(ActionJob.run_at, ActionJob.id)
    return list(session.scalars(query.limit(limit)))


def load_overview(session: Session, now: datetime) -> Overview:
    """Read everything the overview page shows."""
    hours = hour_keys(now)
    counts = hourly_counts(session, hours[0])
    last_hour = hours[-1].strftime("%Y-%m-%d %H")
    return Overview(
        now=now,
        hours=hours,
        hourly=counts,
        events_24h=sum(counts.values()),
        events_1h=sum(n for (hour, _), n in counts.items() if hour == last_hour),
        unprocessed=unprocessed_events(session),
        job_counts=job_counts(session),
        scheduled=jobs_with_status(session, SCHEDULED),
        retrying=jobs_with_status(session, RETRYING),
        dead=jobs_with_status(session, DEAD),
        breakers=list(session.scalars(select(Breaker).where(Breaker.is_open.is_(True)))),
        heartbeats=list(
            session.scalars(
                select(WorkerHeartbeat)
                .where(WorkerHeartbeat.last_beat_at >= now - timedelta(days=1))
                .order_by(WorkerHeartbeat.last_beat_at.desc())
                .limit(LIST_SIZE)
            )
        ),
    )
