"""Action jobs as the dashboard and the API read them: a filtered keyset list and one job."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.limits import MAX_ID, whole_number
from app.models.job import CLAIMABLE, STATUSES, ActionJob
from app.queries.pagination import Page, keyset_page

# The filters' names, the same in the dashboard and the API; the right side is an older
# name the dashboard's links used, still read.
FILTER_KEYS = ("status", "rule", "server_id", "event_id", "since", "until")
ALIASES = {"server_id": "server", "event_id": "event"}


@dataclass
class JobFilters:
    """What the actions list may be narrowed to (text compared ignoring case)."""

    status: str = ""
    rule: str = ""
    server_id: str = ""
    event_id: int | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created before
    errors: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """Return what is wrong with the filters."""
        if self.status and self.status not in STATUSES:
            return [f"status must be one of {', '.join(STATUSES)}.", *self.errors]
        return list(self.errors)

    def raw(self) -> dict[str, str]:
        """Return the set filters as query-string values, under their names."""
        values = {
            "status": self.status,
            "rule": self.rule,
            "server_id": self.server_id,
            "event_id": "" if self.event_id is None else str(self.event_id),
            "since": self.since.isoformat() if self.since else "",
            "until": self.until.isoformat() if self.until else "",
        }
        return {k: v for k, v in values.items() if v}


def _arg(args: Mapping[str, str], key: str) -> str:
    value = args.get(key)
    if not value and key in ALIASES:
        value = args.get(ALIASES[key])
    return (value or "").strip()[:200]


def _time(raw: str, key: str, errors: list[str]) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        errors.append(f"{key} must be an ISO date and time like 2024-05-01T12:00Z.")
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_job_filters(args: Mapping[str, str]) -> JobFilters:
    """Read the filters from a query string; a bad value is listed in `errors`."""
    errors: list[str] = []
    raw = {key: _arg(args, key) for key in FILTER_KEYS}
    event_id = None
    if raw["event_id"]:
        event_id = whole_number(raw["event_id"])
        if event_id is None:
            errors.append("event_id must be a whole number.")
    return JobFilters(
        status=raw["status"].lower(),
        rule=raw["rule"][:64],
        server_id=raw["server_id"][:64],
        event_id=event_id,
        since=_time(raw["since"], "since", errors),
        until=_time(raw["until"], "until", errors),
        errors=errors,
    )


def list_jobs(
    session: Session, f: JobFilters, before: int | None, limit: int
) -> Page[ActionJob, int]:
    """Return the newest jobs below id `before` passing `f`, and the next page's `before`."""
    query = select(ActionJob)
    if f.status:
        query = query.where(ActionJob.status == f.status)
    if f.rule:
        query = query.where(func.lower(ActionJob.rule) == f.rule.lower())
    if f.server_id:
        query = query.where(func.lower(ActionJob.server_id) == f.server_id.lower())
    if f.event_id is not None:
        query = query.where(ActionJob.event_id == f.event_id)
    if f.since is not None:
        query = query.where(ActionJob.created_at >= f.since)
    if f.until is not None:
        query = query.where(ActionJob.created_at < f.until)
    return keyset_page(session, query, ActionJob.id, before, limit)


def get_job(session: Session, job_id: int) -> ActionJob | None:
    """Return one job with its attempts, or None."""
    if job_id > MAX_ID:
        return None
    query = (
        select(ActionJob).where(ActionJob.id == job_id).options(selectinload(ActionJob.attempt_log))
    )
    return session.scalars(query).first()


def jobs_of_event(session: Session, event_id: int) -> list[ActionJob]:
    """Return the jobs an event made, in the order they were made."""
    query = select(ActionJob).where(ActionJob.event_id == event_id).order_by(ActionJob.id)
    return list(session.scalars(query))


def waiting_jobs(session: Session, rule: str) -> int:
    """Count a rule's jobs that have not started: what pausing it would hold."""
    count = session.scalar(
        select(func.count())
        .select_from(ActionJob)
        .where(ActionJob.rule == rule)
        .where(ActionJob.status.in_(CLAIMABLE))
    )
    return int(count or 0)


def job_id_for(session: Session, event_id: int, rule: str, index: int) -> int | None:
    """Return the id of action `index` of `rule` for event `event_id` (its idempotency key)."""
    return session.scalar(
        select(ActionJob.id).where(ActionJob.idempotency_key == f"{event_id}:{rule}:{index}")
    )
