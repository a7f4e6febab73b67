"""What the overview page shows, read with a handful of small queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models.event import Event
from app.models.job import DEAD, RETRYING, SCHEDULED, ActionJob
from app.models.ops import Breaker, WorkerHeartbeat
from app.queries.sqlfuncs import hour_bucket, minute_bucket
from app.queries.stats import job_counts, unprocessed_events

LIST_SIZE = 20
HOURS = 24


@dataclass(frozen=True)
class Window:
    """A span the chart can show, and the width of one of its bars."""

    name: str
    label: str
    span: timedelta
    bucket: timedelta
    by_minute: bool  # read per minute (short spans) or per hour
    bar: str  # what one bar covers, in words


WINDOWS = {
    w.name: w
    for w in (
        Window("1h", "last hour", timedelta(hours=1), timedelta(minutes=5), True, "5 minutes"),
        Window("6h", "6 h", timedelta(hours=6), timedelta(minutes=30), True, "30 minutes"),
        Window("24h", "24 h", timedelta(hours=24), timedelta(hours=1), False, "hour"),
        Window("7d", "7 days", timedelta(days=7), timedelta(hours=6), False, "6 hours"),
    )
}


def bucket_starts(end: datetime, window: Window) -> list[datetime]:
    """Return the starts of the window's bars, oldest first, the last holding `end`."""
    step = int(window.bucket.total_seconds())
    midnight = end.replace(hour=0, minute=0, second=0, microsecond=0)
    last = midnight + timedelta(seconds=(end - midnight).total_seconds() // step * step)
    count = int(window.span / window.bucket)
    return [last - window.bucket * (count - 1 - i) for i in range(count)]


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


def window_counts(
    session: Session, window: Window, starts: list[datetime]
) -> dict[tuple[datetime, str], int]:
    """Count events per (bar start, name) in the window: one GROUP BY per minute or hour."""
    bucket = (
        minute_bucket(Event.received_at) if window.by_minute else hour_bucket(Event.received_at)
    )
    fmt = "%Y-%m-%d %H:%M" if window.by_minute else "%Y-%m-%d %H"
    rows = session.execute(
        select(bucket, Event.name, func.count())
        .where(Event.received_at >= starts[0])
        .group_by(bucket, Event.name)
    )
    step = window.bucket.total_seconds()
    counts: dict[tuple[datetime, str], int] = {}
    for key, name, n in rows:
        at = datetime.strptime(str(key), fmt).replace(tzinfo=UTC)
        index = int((at - starts[0]).total_seconds() // step)
        if 0 <= index < len(starts):
            slot = (starts[index], str(name))
            counts[slot] = counts.get(slot, 0) + int(n)
    return counts


def fitting_window(session: Session, now: datetime) -> Window:
    """Return the shortest window that holds every event of the last seven days."""
    widest = WINDOWS["7d"]
    oldest = session.scalar(
        select(func.min(Event.received_at)).where(Event.received_at >= now - widest.span)
    )
    if oldest is None:
        return WINDOWS["24h"]
    if oldest.tzinfo is None:  # SQLite hands naive values back
        oldest = oldest.replace(tzinfo=UTC)
    for window in WINDOWS.values():
        if now - oldest <= window.span - window.bucket:
            return window
    return widest


@dataclass
class Overview:
    """The numbers and lists of the overview page."""

    now: datetime
    window: Window
    buckets: list[datetime]  # the starts of the chart's bars, oldest first
    counts: dict[tuple[datetime, str], int]  # {(bar start, event name): count}
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


def load_overview(session: Session, now: datetime, window: str | None = None) -> Overview:
    """Read everything the overview page shows; the chart's window fits the data unless named."""
    chosen = WINDOWS[window] if window in WINDOWS else fitting_window(session, now)
    buckets = bucket_starts(now, chosen)
    hours = hour_keys(now)
    counts = hourly_counts(session, hours[0])
    last_hour = hours[-1].strftime("%Y-%m-%d %H")
    return Overview(
        now=now,
        window=chosen,
        buckets=buckets,
        counts=window_counts(session, chosen, buckets),
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
