"""Event searches for the dashboard and the API: filters, keyset pages newest first, one event."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from app.eventnames import strip_on_prefix
from app.limits import MAX_ID, whole_number
from app.models.event import Event
from app.models.job import ActionJob
from app.queries.pagination import Page, keyset_page

PAGE_SIZE = 50
# A text search reads at most this many ids per page, so a rare word cannot scan the table.
TEXT_WINDOW = 100_000
# The filters' names, the same in the dashboard and the API; the right side is an older
# name the dashboard's links used, still read.
FILTER_KEYS = ("name", "server_id", "role_name", "farm_id", "farm_role_id", "since", "until", "q")
ALIASES = {"server_id": "server", "farm_id": "farm", "farm_role_id": "farm_role"}


@dataclass
class EventFilters:
    """The filters of the events page, parsed; `errors` names the ones ignored."""

    name: str = ""
    server: str = ""
    role_name: str = ""
    farm: int | None = None
    farm_role: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    q: str = ""
    errors: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)

    def any(self) -> bool:
        """Say whether any filter is set."""
        return any(self.raw.values())


def _int(args: Mapping[str, str], key: str, label: str, errors: list[str]) -> int | None:
    raw = (args.get(key) or "").strip()
    if not raw:
        return None
    value = whole_number(raw)
    if value is None:
        errors.append(f"{label} must be a whole number; {raw!r} was ignored.")
    return value


def _time(args: Mapping[str, str], key: str, label: str, errors: list[str]) -> datetime | None:
    raw = (args.get(key) or "").strip()
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        errors.append(f"{label} must be a date and time like 2024-05-01T12:00; ignored.")
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _arg(args: Mapping[str, str], key: str) -> str:
    value = args.get(key)
    if not value and key in ALIASES:
        value = args.get(ALIASES[key])
    return (value or "").strip()[:200]


def parse_filters(args: Mapping[str, str]) -> EventFilters:
    """Read the filters from a query string; a bad value is reported, not fatal."""
    errors: list[str] = []
    raw = {key: _arg(args, key) for key in FILTER_KEYS}
    return EventFilters(
        name=raw["name"],
        server=raw["server_id"],
        role_name=raw["role_name"],
        farm=_int(raw, "farm_id", "Farm", errors),
        farm_role=_int(raw, "farm_role_id", "Farm role", errors),
        since=_time(raw, "since", "Since", errors),
        until=_time(raw, "until", "Until", errors),
        q=raw["q"],
        errors=errors,
        raw={k: v for k, v in raw.items() if v},
    )


def _same_text(column: Any, value: str) -> Any:
    """Compare case-insensitively: people type `hostdown` and mean `HostDown`."""
    return func.lower(column) == value.lower()


def filtered(query: Select[tuple[Event]], f: EventFilters) -> Select[tuple[Event]]:
    """Apply every filter but the text search."""
    if f.name:
        wanted = {f.name.lower(), strip_on_prefix(f.name).lower()}
        if f.name.lower().startswith("on") and len(f.name) > 2:
            wanted.add(f.name[2:].lower())  # `onhostdown`: the legacy prefix, typed in lower case
        query = query.where(func.lower(Event.name).in_(sorted(wanted)))
    if f.server:
        query = query.where(_same_text(Event.server_id, f.server))
    if f.role_name:
        query = query.where(_same_text(Event.role_name, f.role_name))
    if f.farm is not None:
        query = query.where(Event.farm_id == f.farm)
    if f.farm_role is not None:
        query = query.where(Event.farm_role_id == f.farm_role)
    if f.since is not None:
        query = query.where(Event.received_at >= f.since)
    if f.until is not None:
        query = query.where(Event.received_at < f.until)
    return query


@dataclass(frozen=True)
class EventPage(Page[Event, int]):
    """One page of events, newest first; a text search also says how far down it read."""

    searched_from: int | None = None  # lowest id a text search read on this page


def search_events(
    session: Session, f: EventFilters, before: int | None, limit: int = PAGE_SIZE
) -> EventPage:
    """Return the newest events below id `before` that pass the filters."""
    query = filtered(select(Event), f)
    floor: int | None = None
    if f.q:
        top = before if before is not None else latest_event_id(session) + 1
        floor = max(0, top - TEXT_WINDOW)
        query = query.where(Event.id >= floor, Event.message.icontains(f.q, autoescape=True))
    page = keyset_page(session, query, Event.id, before, limit)
    if page.next_key is not None:
        return EventPage(page.items, page.next_key)
    if floor:
        return EventPage(page.items, floor, searched_from=floor)
    return EventPage(page.items, None, searched_from=0 if f.q else None)


def events_after(session: Session, f: EventFilters, after: int, limit: int = 100) -> list[Event]:
    """Return events newer than id `after` that pass the filters, newest first."""
    query = filtered(select(Event), f).where(Event.id > after)
    if f.q:
        query = query.where(Event.message.icontains(f.q, autoescape=True))
    return list(session.scalars(query.order_by(Event.id.desc()).limit(limit)))


def get_event(session: Session, event_id: int) -> Event | None:
    """Return one stored event, or None (an id past the column's range is none)."""
    return session.get(Event, event_id) if event_id <= MAX_ID else None


def latest_event_id(session: Session) -> int:
    """Return the newest event id, 0 when there is none."""
    return int(session.scalar(select(func.max(Event.id))) or 0)


@dataclass
class EventOutcome:
    """What became of one event: the rules it matched and the statuses of their jobs."""

    processed: bool
    rules: dict[str, dict[str, int]] = field(default_factory=dict)  # rule -> status -> jobs

    @property
    def worst(self) -> str:
        """Return the status that most needs a look, for the row's colour."""
        statuses = {s for counts in self.rules.values() for s in counts}
        for status in ("dead", "retrying", "running", "scheduled", "skipped", "cancelled"):
            if status in statuses:
                return status
        return "succeeded" if statuses else "none"


def outcomes_of(session: Session, events: list[Event]) -> dict[int, EventOutcome]:
    """Return each event's outcome: matched rules from its verdicts, job statuses in one query."""
    found = {
        e.id: EventOutcome(
            processed=e.processed_at is not None,
            rules={
                str(ev.get("rule_name")): {}
                for ev in (e.evaluations or [])
                if ev.get("matched") and not str(ev.get("rule_name", "")).startswith("(")
            },
        )
        for e in events
    }
    if not found:
        return found
    rows = session.execute(
        select(ActionJob.event_id, ActionJob.rule, ActionJob.status, func.count())
        .where(ActionJob.event_id.in_(list(found)))
        .group_by(ActionJob.event_id, ActionJob.rule, ActionJob.status)
    )
    for event_id, rule, status, n in rows:
        found[int(event_id)].rules.setdefault(str(rule), {})[str(status)] = int(n)
    return found
