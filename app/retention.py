"""Retention: delete old events with their jobs and attempts, in short bounded batches.

What is never deleted, whatever its age:
- an event not yet matched (`processed_at` is null): the worker still owes it;
- an event with a job that has not ended (scheduled, running, retrying);
- an event with a job that fired within the longest throttle window a rule may
  have (30 days): throttles and the remediation budget count those rows.
The server inventory and the operator tables (rule states, breakers,
heartbeats) are not events and are kept by their own rules.

Each batch is one short transaction (at most `batch` events), so ingest's
writes on SQLite wait at most one batch, and PostgreSQL never holds a long lock.
The batch takes its folded events out of the hourly counts (app/rollup.py) in
the same transaction, so the overview never counts an event that is gone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.db import transaction
from app.models.event import Event
from app.models.job import FINISHED, ActionJob, JobAttempt
from app.rollup import unfold_events
from app.rules.schema import MAX_THROTTLE_PERIOD

log = logging.getLogger(__name__)

DEFAULT_BATCH = 1000
MIN_AGE_SECONDS = 86400


@dataclass(frozen=True)
class PruneResult:
    """What a prune deleted (or, in a dry run, would delete)."""

    cutoff: datetime
    events: int
    jobs: int
    attempts: int
    dry_run: bool

    def summary(self) -> str:
        """Return one line for the console and the log."""
        verb = "would delete" if self.dry_run else "deleted"
        return (
            f"{verb} {self.events} events received before {self.cutoff.isoformat()}, "
            f"with {self.jobs} jobs and {self.attempts} attempts"
        )


def _prunable(cutoff: datetime, now: datetime):  # type: ignore[no-untyped-def]
    """Select the ids of events old enough and owed nothing, oldest first."""
    throttle_floor = now - timedelta(seconds=MAX_THROTTLE_PERIOD)
    live_job = (
        select(ActionJob.id)
        .where(ActionJob.event_id == Event.id)
        .where((ActionJob.status.not_in(FINISHED)) | (ActionJob.fired_at >= throttle_floor))
    )
    return (
        select(Event.id)
        .where(Event.received_at < cutoff)
        .where(Event.processed_at.is_not(None))
        .where(~exists(live_job))
        .where(Event.id < select(func.max(Event.id)).correlate(None).scalar_subquery())
        .order_by(Event.id)
    )


def count_prunable(session: Session, cutoff: datetime, now: datetime) -> tuple[int, int, int]:
    """Return how many events, jobs and attempts a prune at `cutoff` would delete."""
    ids = _prunable(cutoff, now).subquery()
    events = session.scalar(select(func.count()).select_from(ids)) or 0
    jobs = session.scalar(
        select(func.count()).select_from(ActionJob).where(ActionJob.event_id.in_(select(ids)))
    )
    attempts = session.scalar(
        select(func.count())
        .select_from(JobAttempt)
        .join(ActionJob, JobAttempt.job_id == ActionJob.id)
        .where(ActionJob.event_id.in_(select(ids)))
    )
    return events, jobs or 0, attempts or 0


def prune_events(
    factory: sessionmaker[Session],
    older_than_seconds: int,
    now: datetime,
    *,
    dry_run: bool = True,
    batch: int = DEFAULT_BATCH,
    max_batches: int | None = None,
) -> PruneResult:
    """Delete (or count, in a dry run) events older than `older_than_seconds`, batch by batch."""
    if older_than_seconds < MIN_AGE_SECONDS:
        raise ValueError("retention must keep at least one day of events")
    cutoff = now - timedelta(seconds=older_than_seconds)
    if dry_run:
        with factory() as session:
            events, jobs, attempts = count_prunable(session, cutoff, now)
        return PruneResult(cutoff, events, jobs, attempts, dry_run=True)
    totals = [0, 0, 0]
    done = 0
    after = 0  # keyset: each batch starts past the last id seen, so no batch walks again
    # over the rows (or, on PostgreSQL, the dead index entries) of the batches before it
    while max_batches is None or done < max_batches:
        with transaction(factory) as session:
            query = _prunable(cutoff, now).where(Event.id > after).limit(batch)
            ids = list(session.scalars(query))
            if not ids:
                break
            after = ids[-1]
            unfold_events(session, ids)
            job_ids = select(ActionJob.id).where(ActionJob.event_id.in_(ids))
            quick = {"synchronize_session": False}
            results = [
                session.execute(
                    delete(JobAttempt).where(JobAttempt.job_id.in_(job_ids)),
                    execution_options=quick,
                ),
                session.execute(
                    delete(ActionJob).where(ActionJob.event_id.in_(ids)), execution_options=quick
                ),
                session.execute(delete(Event).where(Event.id.in_(ids)), execution_options=quick),
            ]
        counts = [getattr(r, "rowcount", 0) or 0 for r in results]
        totals = [totals[0] + counts[2], totals[1] + counts[1], totals[2] + counts[0]]
        done += 1
        if len(ids) < batch:
            break
    result = PruneResult(cutoff, totals[0], totals[1], totals[2], dry_run=False)
    if result.events:
        log.info("retention: %s", result.summary())
    return result
