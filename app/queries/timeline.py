"""A server's story: its events and its jobs interleaved by time, plus replacements launched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models.event import Event
from app.models.job import ActionJob
from app.queries.servers import MAX_SERVER_ID

LIMIT = 200
ARRIVAL_EVENTS = ("HostInit", "HostUp")


@dataclass
class Entry:
    """One line of the timeline: an event, a job, or the first events of a replacement."""

    at: datetime
    kind: str  # event | job | replacement
    event: Event | None = None
    job: ActionJob | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as JSON-ready data."""
        body: dict[str, Any] = {"at": self.at.isoformat(), "kind": self.kind}
        if self.event is not None:
            body["event"] = {
                "id": self.event.id,
                "name": self.event.name,
                "server_id": self.event.server_id,
                "message": self.event.message,
            }
        if self.job is not None:
            body["job"] = {
                "id": self.job.id,
                "rule": self.job.rule,
                "action": self.job.action,
                "status": self.job.status,
                "launched_server_id": launched_server(self.job),
            }
        return body


def job_time(job: ActionJob) -> datetime:
    """When a job happened: when it started, or when it is (was) due."""
    return job.started_at or job.run_at


def launched_server(job: ActionJob) -> str | None:
    """Return the ServerID a job's answer names (ServerLaunch), if any."""
    result = job.result
    if isinstance(result, dict) and isinstance(result.get("ServerID"), str):
        return str(result["ServerID"]) or None
    return None


def server_timeline(session: Session, server_id: str, limit: int = LIMIT) -> list[Entry]:
    """Return the newest `limit` events and jobs of `server_id`, oldest first."""
    if len(server_id) > MAX_SERVER_ID:
        return []
    events = session.scalars(
        select(Event).where(Event.server_id == server_id).order_by(Event.id.desc()).limit(limit)
    ).all()
    jobs = session.scalars(
        select(ActionJob)
        .where(ActionJob.server_id == server_id)
        .order_by(ActionJob.id.desc())
        .limit(limit)
    ).all()
    entries = [Entry(e.received_at, "event", event=e) for e in events]
    entries += [Entry(job_time(j), "job", job=j) for j in jobs]
    for job in jobs:
        launched = launched_server(job)
        if launched and launched != server_id:
            arrivals = session.scalars(
                select(Event)
                .where(Event.server_id == launched, Event.name.in_(ARRIVAL_EVENTS))
                .order_by(Event.id)
                .limit(2)
            ).all()
            entries += [Entry(e.received_at, "replacement", event=e, job=job) for e in arrivals]
    order = {"event": 0, "job": 1, "replacement": 2}
    entries.sort(key=lambda e: (e.at, order[e.kind], e.event.id if e.event else 0))
    return entries[-limit:]
