"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from app import migrate
from app.db import utcnow
from app.ingest.service import ingest_of
from app.ingest.spool import Spool
from app.metrics import process_registry
from app.models.event import Event
from app.models.ops import Breaker
from app.queries.stats import (
    job_counts,
    last_heartbeat,
    oldest_due_age,
    queued_jobs,
    unprocessed_events,
)
from app.scalr.client import ScalrClient
from app.scalr.environments import ScalrEnvironments
from app.scalr.errors import ScalrConfigError, ScalrError
from app.scalr.ratelimit import DatabaseRateLimiter
from app.services import get_services
from app.web import get_rules_store

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)

HEARTBEAT_FRESH = timedelta(seconds=60)


@bp.get("/healthz")
def healthz() -> Response:
    """Say the process is alive; touches nothing else."""
    return jsonify(status="ok")


def readiness(
    engine: Engine, factory: sessionmaker[Session], spool: Spool | None = None
) -> tuple[bool, dict[str, Any]]:
    """Check the database, the schema revision, the worker heartbeat and the spool.

    With the database away, the process is ready while its spool accepts deliveries:
    taking it out of rotation then would refuse what it can keep (Scalr never retries).
    """
    checks: dict[str, Any] = {}
    if spool is not None:
        checks["spool"] = spool.stats().as_dict()
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = {"ok": True}
    except Exception as exc:
        checks["database"] = {"ok": False, "error": type(exc).__name__}
        return spool is not None and checks["spool"]["ok"], checks
    head = migrate.head_revision()
    current = migrate.current_revision(engine)
    checks["schema"] = {"ok": current == head, "current": current, "head": head}
    if not checks["schema"]["ok"]:
        checks["worker"] = {"ok": False, "last_beat_at": None}
        return False, checks
    with factory() as session:
        beat = last_heartbeat(session)
    fresh = beat is not None and utcnow() - beat <= HEARTBEAT_FRESH
    # Reported, not required: taking the web process out of rotation because the
    # worker is down would refuse Scalr's posts, and Scalr never retries them.
    checks["worker"] = {"ok": fresh, "last_beat_at": beat.isoformat() if beat else None}
    return checks["database"]["ok"] and checks["schema"]["ok"], checks


def current_spool() -> Spool:
    """Return the running application's ingest spool (for the health page)."""
    return ingest_of(current_app).spool


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Answer 200 when this process can take traffic, 503 otherwise."""
    ingest = ingest_of(current_app)
    ingest.start()  # a process's first probe adopts what a dead process left in the spool
    ok, checks = readiness(get_services().engine, get_services().session_factory, ingest.spool)
    return jsonify(ready=ok, checks=checks), 200 if ok else 503


class SpoolCollector(Collector):
    """Read the spool's depth and age at scrape time (every process under its SPOOL_DIR)."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool

    def collect(self) -> Iterator[Metric]:
        stats = self.spool.stats()
        yield GaugeMetricFamily(
            "lifeguard_spool_depth",
            "Deliveries in the local spool, waiting for the database (this SPOOL_DIR).",
            value=stats.depth,
        )
        yield GaugeMetricFamily(
            "lifeguard_spool_oldest_seconds",
            "Age of the oldest delivery in the local spool (0: empty).",
            value=stats.oldest_seconds,
        )
        yield GaugeMetricFamily(
            "lifeguard_spool_bytes", "Bytes in the local spool.", value=stats.bytes
        )


class DatabaseCollector(Collector):
    """Read gauges from the database at scrape time, so every process reports the same."""

    def __init__(
        self, factory: sessionmaker[Session], environments: ScalrEnvironments | None = None
    ) -> None:
        self.factory = factory
        self.environments = environments or ScalrEnvironments()

    def collect(self) -> Iterator[Metric]:
        with self.factory() as session:
            jobs = GaugeMetricFamily(
                "lifeguard_action_jobs", "Action jobs by status.", labels=["status"]
            )
            for status, count in job_counts(session).items():
                jobs.add_metric([status], count)
            yield jobs
            yield GaugeMetricFamily(
                "lifeguard_events_unprocessed",
                "Events stored but not yet matched.",
                value=unprocessed_events(session),
            )
            last = session.scalar(select(func.max(Event.id)))
            yield GaugeMetricFamily(
                "lifeguard_events_last_id", "Id of the newest stored event.", value=last or 0
            )
            open_breakers = session.scalar(
                select(func.count()).select_from(Breaker).where(Breaker.is_open.is_(True))
            )
            yield GaugeMetricFamily(
                "lifeguard_breakers_open",
                "Remediation breakers open (Scalr actions stopped until a person closes them).",
                value=open_breakers or 0,
            )
            now = utcnow()
            due, waiting = queued_jobs(session, now)
            yield GaugeMetricFamily(
                "lifeguard_queue_due", "Jobs due now and not yet claimed.", value=due
            )
            yield GaugeMetricFamily(
                "lifeguard_queue_waiting", "Jobs scheduled or retrying, due or not.", value=waiting
            )
            yield GaugeMetricFamily(
                "lifeguard_queue_oldest_due_seconds",
                "How long the longest-waiting due job has been due (0: none).",
                value=oldest_due_age(session, now),
            )
            budget = GaugeMetricFamily(
                "lifeguard_scalr_budget_left",
                "Scalr API calls left in this clock hour, per environment (all processes).",
                labels=["environment"],
            )
            limiter = DatabaseRateLimiter(self.factory)
            for env in self.environments.by_name.values():
                left = env.requests_per_hour - limiter.usage(env.name, now)
                budget.add_metric([env.name], max(0, left))
            yield budget
            beat = last_heartbeat(session)
            age = (now - beat).total_seconds() if beat else float("inf")
            yield GaugeMetricFamily(
                "lifeguard_worker_heartbeat_age_seconds",
                "Seconds since a worker last beat.",
                value=age,
            )


@bp.get("/metrics")
def metrics() -> Response:
    """Expose metrics in the Prometheus text format."""
    services = get_services()
    # The spool is reported even when the database is away and its gauges cannot be read.
    spool_registry = CollectorRegistry(auto_describe=False)
    spool_registry.register(SpoolCollector(ingest_of(current_app).spool))
    registry = CollectorRegistry(auto_describe=False)
    # Read-only sessions: a writer's session would hold SQLite's write lock for the whole
    # collection (stalling ingest), and the budget lookup inside it would wait for that lock.
    registry.register(DatabaseCollector(services.read_session_factory, services.scalr_environments))
    status = get_rules_store().status()
    rules_ok = Gauge(
        "lifeguard_rules_file_ok",
        "1 when the rules file on disk is the one running, 0 when it was refused.",
        registry=registry,
    )
    rules_ok.set(1 if status.ok else 0)
    # Shared state from the database, then this process's (or every process's) counters.
    try:
        shared = generate_latest(registry)
    except DBAPIError:
        log.warning("/metrics: the database is away; its gauges are left out")
        shared = b""
    body = generate_latest(spool_registry) + shared + generate_latest(process_registry())
    return Response(body, mimetype="text/plain; version=0.0.4")


def scalr_checks(
    environments: ScalrEnvironments, factory: sessionmaker[Session]
) -> list[dict[str, Any]]:
    """Call `Hello` on every configured Scalr environment, with a short timeout."""
    try:
        by_name = environments.all()
    except ScalrConfigError as exc:
        return [{"name": "(configuration)", "ok": False, "detail": str(exc)}]
    results = []
    for name, env in by_name.items():
        quick = dataclasses.replace(env, timeout_seconds=min(env.timeout_seconds, 3.0))
        started = time.monotonic()
        try:
            with ScalrClient(quick, rate_limiter=DatabaseRateLimiter(factory)) as client:
                answer = client.hello()
            detail = f"Hello answered in {(time.monotonic() - started) * 1000:.0f} ms"
            results.append(
                {
                    "name": name,
                    "ok": True,
                    "detail": detail,
                    "transaction_id": answer.transaction_id,
                }
            )
        except ScalrError as exc:
            results.append(
                {"name": name, "ok": False, "detail": f"{type(exc).__name__}: {exc.message}"}
            )
    return results
