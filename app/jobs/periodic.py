"""Deployment-wide periodic tasks: however many workers run, one does the task per interval."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.models.ops import PeriodicTask


def claim_periodic(
    session: Session, name: str, every_seconds: float, worker: str, now: datetime
) -> bool:
    """Say whether `worker` should run task `name` now, and mark it taken (caller commits).

    The row lock makes a second worker wait for the first one's commit and then
    see the fresh `last_run_at`, so the task runs once per interval in total.
    """
    task = session.get(PeriodicTask, name, with_for_update=True)
    if task is None:
        task = PeriodicTask(name=name)
        session.add(task)
        session.flush()
    if task.last_run_at is not None and now - task.last_run_at < timedelta(seconds=every_seconds):
        return False
    task.last_run_at = now
    task.last_run_by = worker
    return True


def record_periodic(session: Session, name: str, result: str) -> None:
    """Keep a one-line summary of the task's last run, for the health page."""
    task = session.get(PeriodicTask, name)
    if task is not None:
        task.last_result = result[:1000]
