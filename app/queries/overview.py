"""What the overview page shows, read with a handful of small queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.models.event import Event
from app.models.job import DEAD, RETRYING, SCHEDULED, ActionJob
from app.models.ops import Breaker, WorkerHeartbeat
from app.queries.sqlfuncs import minute_bucket
from app.queries.stats import job_counts, unprocessed_events
from app.rollup import hour_counts

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


def minute_counts(
    session: Session, window: Window, starts: list[datetime]
) -> dict[tuple[datetime, str], int]:
    """Count events per (bar start, name) in a short window: one live GROUP BY per minute.

    An hour or six of events is few rows; the hourly windows read app.rollup instead.
    """
    bucket = minute_bucket(Event.received_at)
    rows = session.execute(
        select(bucket, Event.name, func.count())
        .where(Event.received_at >= starts[0])
        .group_by(bucket, Event.name)
    )
    per_minute = {
        (datetime.strptime(str(key), "%Y-%m-%d %H:%M").replace(tzinfo=UTC), str(name)): int(n)
        for key, name, n in rows
    }
    return into_bars(per_minute, window, starts)


def into_bars(
    counts: dict[tuple[datetime, str], int], window: Window, starts: list[datetime]
) -> dict[tuple[datetime, str], int]:
    """Add counts per (time, name) into the window's bars; times outside the bars are left."""
    step = window.bucket.total_seconds()
    bars: dict[tuple[datetime, str], int] = {}
    for (at, name), n in counts.items():
        index = int((at - starts[0]).total_seconds() // step)
        if 0 <= index < len(starts):
            slot = (starts[index], name)
            bars[slot] = bars.get(slot, 0) + n
    return bars


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
    # One read of the hourly counts serves the 24 h figures and an hourly chart.
    per_hour = hour_counts(session, hours[0] if chosen.by_minute else min(hours[0], buckets[0]))
    day = {key: n for key, n in per_hour.items() if key[0] >= hours[0]}
    if chosen.by_minute:
        counts = minute_counts(session, chosen, buckets)
    else:
        counts = into_bars(per_hour, chosen, buckets)
    return Overview(
        now=now,
        window=chosen,
        buckets=buckets,
        counts=counts,
        events_24h=sum(day.values()),
        events_1h=sum(n for (hour, _), n in day.items() if hour == hours[-1]),
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
