"""Apply a person's control to an action job (retry, cancel, run now), for both view layers."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from app.models.job import ActionJob
from app.worker import control

CONTROLS: dict[str, Callable[..., ActionJob]] = {
    "retry": control.retry_job,
    "cancel": control.cancel_job,
    "run": control.run_job_now,
}


def apply_control(session: Session, job_id: int, operation: str, who: str) -> ActionJob:
    """Retry, cancel or run a job now, and commit; ControlError when it does not apply."""
    job = CONTROLS[operation](session, job_id, who)
    session.commit()
    return job
