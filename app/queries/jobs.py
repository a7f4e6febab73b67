"""Action jobs as the dashboard and the API read them: a filtered keyset list and one job."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.limits import MAX_ID
from app.models.job import STATUSES, ActionJob
from app.queries.pagination import Page, keyset_page


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
) -> Page[ActionJob, int]:
    """Return the newest jobs below id `before` passing `f`, and the next page's `before`."""
    query = select(ActionJob)
    if f.status:
        query = query.where(ActionJob.status == f.status)
    if f.rule:
        query = query.where(ActionJob.rule == f.rule)
    if f.server_id:
        query = query.where(ActionJob.server_id == f.server_id)
    if f.event_id is not None:
        query = query.where(ActionJob.event_id == f.event_id)
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
