"""Build rules, events and jobs for the app/jobs tests, through the real creation path."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import Config
from app.db import utcnow
from app.jobs.claim import claim_job
from app.jobs.create import process_event
from app.jobs.outcome import record_outcome
from app.models.event import Event
from app.models.job import ActionJob
from app.rules.loader import load_rules
from app.rules.model import RuleSet
from app.worker.execute import Outcome
from tests.factories import gen_event

WORKER = "w1"
TWO_STEPS = """
rules:
  - name: two-steps
    events: [HostDown]
    cancel_on: [HostUp]
    on_failure: {on_failure}
    actions:
      - webhook: https://chat.example/first
      - webhook: https://chat.example/second
"""


def config(**overrides: Any) -> Config:
    """A configuration with nothing from the environment."""
    return Config.from_env({}).with_overrides(**overrides)


def two_steps(on_failure: str = "stop") -> RuleSet:
    """A rule of two webhook actions that a HostUp of the same server cancels."""
    return load_rules(TWO_STEPS.format(on_failure=on_failure))


def matched(session: Session, ruleset: RuleSet, **fields: Any) -> list[ActionJob]:
    """Store a HostDown received a minute ago, match it, commit; return its jobs in order."""
    values: dict[str, Any] = {"received_at": utcnow() - timedelta(minutes=1), **fields}
    event = gen_event(session, **values)
    process_event(session, event, ruleset, utcnow())
    session.commit()
    return jobs_of(session, event.id)


def jobs_of(session: Session, event_id: int) -> list[ActionJob]:
    """Return the jobs of one event by action index, fresh from the database."""
    session.expire_all()
    query = select(ActionJob).where(ActionJob.event_id == event_id)
    return list(session.scalars(query.order_by(ActionJob.action_index)))


def claim(session: Session, ruleset: RuleSet, now: datetime | None = None, **cfg: Any):  # type: ignore[no-untyped-def]
    """Claim the next due job and commit."""
    job = claim_job(session, ruleset, config(**cfg), WORKER, now or utcnow())
    session.commit()
    return job


def record(session: Session, job_id: int, kind: str, **fields: Any) -> ActionJob | None:
    """Record an attempt of `job_id` that ended `kind`, and commit."""
    now = utcnow()
    job = record_outcome(
        session, job_id, Outcome(kind=kind, **fields), WORKER, now, now, 0.01, 0.05
    )
    session.commit()
    return job


def later_event(session: Session, name: str = "HostUp", **fields: Any) -> Event:
    """Store (without matching) a later event of the default server."""
    return gen_event(session, name=name, **fields)
