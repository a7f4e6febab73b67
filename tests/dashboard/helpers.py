"""Factories for jobs, attempts and servers used by the dashboard and API tests."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from app.db import utcnow
from app.models.inventory import Server
from app.models.job import ActionJob, JobAttempt
from app.models.ops import Breaker, WorkerHeartbeat

_counter = {"n": 0}


def gen_job(session: Session, event_id: int, **fields: Any) -> ActionJob:
    """Store an action job with sensible defaults."""
    _counter["n"] += 1
    values: dict[str, Any] = {
        "event_id": event_id,
        "rule": "replace-terminated-web",
        "action_index": 0,
        "idempotency_key": f"{event_id}:test:{_counter['n']}",
        "kind": "scalr",
        "action": "ServerLaunch",
        "params": {"FarmRoleID": "5", "IncreaseMaxInstances": 0},
        "spec": {},
        "status": "scheduled",
        "run_at": utcnow() + timedelta(minutes=2),
        "attempts": 0,
        "max_attempts": 5,
        "environment": "default",
    }
    values.update(fields)
    job = ActionJob(**values)
    session.add(job)
    session.commit()
    return job


def gen_attempt(session: Session, job: ActionJob, number: int, **fields: Any) -> JobAttempt:
    """Store one attempt of `job`."""
    values: dict[str, Any] = {
        "job_id": job.id,
        "number": number,
        "worker": "worker-1",
        "started_at": utcnow(),
        "finished_at": utcnow(),
        "duration_ms": 120,
        "outcome": "error",
    }
    values.update(fields)
    attempt = JobAttempt(**values)
    session.add(attempt)
    session.commit()
    return attempt


def gen_server(session: Session, server_id: str, **fields: Any) -> Server:
    """Store an inventory server."""
    values: dict[str, Any] = {
        "server_id": server_id,
        "farm_id": 1439,
        "farm_role_id": 5,
        "role_name": "web-1",
        "status": "Running",
        "source": "event",
    }
    values.update(fields)
    server = Server(**values)
    session.add(server)
    session.commit()
    return server


def gen_heartbeat(session: Session, worker_id: str = "w1", **fields: Any) -> WorkerHeartbeat:
    """Store a worker heartbeat."""
    beat = WorkerHeartbeat(worker_id=worker_id, hostname="host", pid=42, **fields)
    session.add(beat)
    session.commit()
    return beat


def gen_breaker(session: Session, environment: str = "default", **fields: Any) -> Breaker:
    """Store an open breaker."""
    values: dict[str, Any] = {"is_open": True, "opened_at": utcnow(), "reason": "budget spent"}
    values.update(fields)
    breaker = Breaker(environment=environment, **values)
    session.add(breaker)
    session.commit()
    return breaker
