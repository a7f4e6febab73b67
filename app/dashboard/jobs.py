"""Read action jobs for the dashboard and the API."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.models.job import STATUSES, ActionJob


@dataclass
class JobFilters:
    """What the actions list may be narrowed to."""

    status: str = ""
    rule: str = ""
    server_id: str = ""
    event_id: int | None = None

    def problems(self) -> list[str]:
        """Return what is wrong with the filters."""
        if self.status and self.status not in STATUSES:
            return [f"status must be one of {', '.join(STATUSES)}."]
        return []


def list_jobs(
    session: Session, f: JobFilters, before: int | None, limit: int
) -> tuple[list[ActionJob], int | None]:
    """Return the newest jobs below id `before` passing `f`, and the next page's `before`."""
    query = select(ActionJob).order_by(ActionJob.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(ActionJob.id < before)
    if f.status:
        query = query.where(ActionJob.status == f.status)
    if f.rule:
        query = query.where(ActionJob.rule == f.rule)
    if f.server_id:
        query = query.where(ActionJob.server_id == f.server_id)
    if f.event_id is not None:
        query = query.where(ActionJob.event_id == f.event_id)
    rows = list(session.scalars(query))
    if len(rows) > limit:
        return rows[:limit], rows[limit - 1].id
    return rows, None


def get_job(session: Session, job_id: int) -> ActionJob | None:
    """Return one job with its attempts, or None."""
    if job_id > 2**63 - 1:
        return None
    query = (
        select(ActionJob).where(ActionJob.id == job_id).options(selectinload(ActionJob.attempt_log))
    )
    return session.scalars(query).first()
