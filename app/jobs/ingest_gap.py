"""Ingest gaps: learn each farm's traffic in the worker, and tell people when a farm goes quiet.

Scalr never retries a notification, so a farm whose notification URL broke
just goes silent. Nothing here runs on the ingest path: the worker's
periodic task reads the events stored since its last pass (`learn`), keeps
per farm the last event and a typical gap between two (an exponentially
weighted mean), and finds the farms silent longer than their bound
(`silent_farms`). For each, it asks Scalr's `EventsList` how many events
Scalr recorded that never arrived (`missed_events`: Scalr's list against the
deliveries stored, from a clock margin before the farm's last one), then
emits `IngestGap` once (`open_gap`); the farm's next event closes the gap.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.config import Config
from app.jobs import own_events
from app.models.event import SOURCE_LIFEGUARD, Event
from app.models.inventory import Server
from app.models.loop import FarmTraffic
from app.rules.durations import format_duration
from app.scalr.environments import ScalrEnvironments
from app.scalr.errors import ScalrConfigError, ScalrError

log = logging.getLogger(__name__)

LEARN_BATCH = 5000
# How much one new gap moves the typical gap: about the last ten gaps count.
SMOOTHING = 0.2
EVENTS_PAGE = 100
MAX_PAGES = 10
# Scalr's and Lifeguard's clocks may differ by up to this much.
CLOCK_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class Missed:
    """What Scalr's EventsList said about a silent farm: how many never arrived, or why unknown."""

    count: int | None
    note: str


def enabled(config: Config) -> bool:
    """Say whether any farm has a silence bound."""
    return config.ingest_gap_seconds > 0 or any(b > 0 for _, b in config.ingest_gap_farms)


def learn(session: Session, now: datetime) -> int:
    """Fold the events stored since the last pass into the farms' traffic; return how many.

    Only matched events are read (their farm may come from the inventory), and
    never past the oldest one still waiting, so none is passed over.
    """
    mark = session.scalar(select(func.max(FarmTraffic.last_event_id))) or 0
    waiting = session.scalar(select(func.min(Event.id)).where(Event.processed_at.is_(None)))
    query = (
        select(Event.id, Event.farm_id, Event.received_at)
        .where(Event.id > mark)
        .where(Event.farm_id.is_not(None))
        .where(Event.source != SOURCE_LIFEGUARD)
        .where(Event.processed_at.is_not(None))
        .order_by(Event.id)
        .limit(LEARN_BATCH)
    )
    if waiting is not None:
        query = query.where(Event.id < waiting)
    rows = session.execute(query).all()
    farms: dict[int, FarmTraffic] = {}
    for event_id, farm_id, received_at in rows:
        traffic = farms.get(farm_id) or session.get(FarmTraffic, farm_id, with_for_update=True)
        if traffic is None:
            traffic = FarmTraffic(
                farm_id=farm_id,
                first_event_at=received_at,
                last_event_at=received_at,
                last_event_id=event_id,
                events=1,
            )
            session.add(traffic)
        else:
            _fold(traffic, event_id, received_at)
        farms[farm_id] = traffic
    session.flush()
    return len(rows)


def _fold(traffic: FarmTraffic, event_id: int, received_at: datetime) -> None:
    gap = (received_at - traffic.last_event_at).total_seconds()
    if gap > 0:
        mean = traffic.mean_gap_seconds
        traffic.mean_gap_seconds = gap if mean is None else (1 - SMOOTHING) * mean + SMOOTHING * gap
        traffic.last_event_at = received_at
    traffic.events += 1
    traffic.last_event_id = max(traffic.last_event_id, event_id)
    if traffic.gap_since is not None:
        log.info("farm %s speaks again after its ingest gap (event #%s)", traffic.farm_id, event_id)
        traffic.gap_since = None
        traffic.gap_event_id = None
        traffic.gap_missed = None


def silent_farms(session: Session, config: Config, now: datetime) -> list[FarmTraffic]:
    """Return the farms silent longer than their bound whose gap is not yet open."""
    quiet = []
    for traffic in session.scalars(
        select(FarmTraffic).where(FarmTraffic.gap_since.is_(None)).order_by(FarmTraffic.farm_id)
    ):
        bound = config.ingest_gap_bound(traffic.farm_id)
        traffic.checked_at = now
        if bound > 0 and (now - traffic.last_event_at).total_seconds() > bound:
            quiet.append(traffic)
    return quiet


def environment_of(session: Session, farm_id: int, environments: ScalrEnvironments) -> str | None:
    """Return the Scalr environment a farm lives in: the inventory's, else `default`, else none."""
    try:
        names = environments.all()
    except ScalrConfigError:
        return None
    known = session.scalar(
        select(Server.environment)
        .where(Server.farm_id == farm_id)
        .where(Server.environment.is_not(None))
        .limit(1)
    )
    if known in names:
        return known
    if "default" in names:
        return "default"
    return next(iter(sorted(names)), None)


def since_for_scalr(last_event_at: datetime) -> datetime:
    """Return from when Scalr's list and ours are compared: a margin before the last event."""
    return last_event_at - timedelta(seconds=CLOCK_MARGIN_SECONDS)


def events_we_have(session: Session, farm_id: int, since: datetime) -> int:
    """Count the farm's deliveries stored since `since` (what Scalr's list is compared with)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.farm_id == farm_id)
            .where(Event.source != SOURCE_LIFEGUARD)
            .where(Event.received_at >= since)
        )
        or 0
    )


def missed_events(client: Any, farm_id: int, since: datetime, have: int) -> Missed:
    """Count the events Scalr's EventsList shows for a farm since `since` beyond the `have` we have.

    The lists are compared from a margin before the farm's last delivery, so
    a clock that differs between Scalr and Lifeguard by less than the margin
    does not count a delivered event as missed (EventsList only says when).
    """
    floor = math.floor(since.timestamp())
    listed = 0
    for page in range(MAX_PAGES):
        try:
            answer = client.events_list(
                farm_id, start_from=page * EVENTS_PAGE, records_limit=EVENTS_PAGE
            )
        except ScalrError as exc:
            return Missed(None, f"EventsList failed: {exc.message}")
        items = answer.get("EventSet") or []
        newer = [i for i in items if _timestamp(i) >= floor]
        listed += len(newer)
        if len(newer) < len(items) or len(items) < EVENTS_PAGE:
            return Missed(max(0, listed - have), f"EventsList lists {listed}, {have} arrived")
    return Missed(
        max(0, listed - have),
        f"EventsList lists at least {listed} (stopped after {MAX_PAGES} pages), {have} arrived",
    )


def _timestamp(item: Any) -> int:
    raw = (item or {}).get("Timestamp") if isinstance(item, dict) else None
    try:
        return int(raw) if raw is not None else 0
    except (TypeError, ValueError):
        return 0


def open_gap(
    session: Session, farm_id: int, config: Config, missed: Missed, now: datetime
) -> Event | None:
    """Emit `IngestGap` for a farm still silent and not yet reported (caller commits)."""
    traffic = session.get(FarmTraffic, farm_id, with_for_update=True, populate_existing=True)
    bound = config.ingest_gap_bound(farm_id)
    if traffic is None or traffic.gap_since is not None or bound <= 0:
        return None
    silent = (now - traffic.last_event_at).total_seconds()
    if silent <= bound:
        return None  # it spoke while Scalr was asked
    typical = traffic.mean_gap_seconds
    usual = (
        f"usually every {format_duration(max(1, round(typical)))}" if typical else "one event seen"
    )
    if missed.count is None:
        told = f"; whether Scalr recorded events meanwhile is unknown ({missed.note})"
    elif missed.count == 0:
        told = "; Scalr's EventsList shows no event that did not arrive"
    else:
        told = f"; Scalr's EventsList shows {missed.count} events that never arrived"
    message = (
        f"farm {farm_id} has sent no event for {format_duration(int(silent))} "
        f"(bound {format_duration(bound)}, {usual}; last event #{traffic.last_event_id} at "
        f"{traffic.last_event_at:%Y-%m-%d %H:%M:%S} UTC){told}"
    )
    event = own_events.emit_event(
        session,
        "IngestGap",
        message,
        now,
        data={
            "farm_id": farm_id,
            "silent_seconds": int(silent),
            "bound_seconds": bound,
            "last_event_at": traffic.last_event_at.isoformat(),
            "last_event_id": traffic.last_event_id,
            "typical_gap_seconds": round(typical, 1) if typical else None,
            "events_seen": traffic.events,
            "missed": missed.count,
            "missed_check": missed.note,
        },
    )
    if event is not None:
        event.farm_id = farm_id
        # The gap's own event must not count as the farm speaking again.
        traffic.gap_since = now
        traffic.gap_event_id = event.id
        traffic.gap_missed = missed.count
        log.warning("ingest gap: %s", message)
    return event


def open_gaps(session: Session) -> list[FarmTraffic]:
    """Return the farms whose ingest gap is open, longest silent first (the health page)."""
    return list(
        session.scalars(
            select(FarmTraffic)
            .where(FarmTraffic.gap_since.is_not(None))
            .order_by(FarmTraffic.last_event_at)
            .limit(200)
        )
    )
