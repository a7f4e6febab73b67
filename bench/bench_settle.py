"""Settle a backlog of jobs an open breaker skips, as the worker's claim does, and count the cost.

    python -m bench.bench_settle [--jobs 2000] [--url postgresql://...] [--analyze]

A storm's `HostDown`s, each matched to a `ServerLaunch` (bench_scale's rule), wait
due while the remediation breaker of their environment is open. The worker's claim
(`claim_jobs` with SETTLE_BATCH and SETTLE_SECONDS, one transaction a claim) settles
them until none is left. Reported: claims, statements and wall time per settled job.
Without --url the database is a fresh SQLite file; with it, a scratch PostgreSQL schema.
--analyze gathers the planner's statistics first, as autovacuum would have in a database
that has been running (with a fresh table's estimates PostgreSQL sorts every due job for
each claim).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, insert, select, text

from app.config import Config
from app.db import make_engine, make_session_factory, transaction, utcnow
from app.jobs.claim import SETTLE_BATCH, SETTLE_SECONDS, claim_jobs
from app.jobs.create import claim_events, process_events
from app.models.event import Event
from app.models.job import ActionJob
from app.models.ops import Breaker
from app.rules.loader import load_rules
from bench import servers
from bench.bench_scale import RULES


@dataclass(frozen=True)
class SettleFigures:
    """One backlog settled by the claim."""

    jobs: int
    claims: int
    statements: int
    seconds: float
    statuses: dict[str, int]

    def line(self) -> str:
        per = self.seconds / self.jobs * 1000 if self.jobs else 0.0
        return (
            f"{self.jobs} jobs settled in {self.claims} claims: "
            f"{self.statements / max(self.jobs, 1):.2f} statements and {per:.3f} ms a job "
            f"({self.statements} statements, {self.seconds:.2f} s); {self.statuses}"
        )


def backlog(factory: Any, count: int) -> None:
    """Store `count` HostDowns of distinct servers, a millisecond apart, and match them."""
    ruleset = load_rules(RULES)
    received = utcnow() - timedelta(minutes=1)
    rows = [
        {
            "name": "HostDown",
            "message": f"Instance srv-{n:06d} terminated",
            "server_id": f"srv-{n:06d}",
            "source": "observer",
            "received_at": received + timedelta(milliseconds=n),
            "data": {},
            "enriched_fields": [],
            "raw": {},
            "evaluations": [],
        }
        for n in range(count)
    ]
    with transaction(factory) as session:
        session.execute(insert(Event), rows)
    while True:
        with transaction(factory) as session:
            events = claim_events(session)
            if not events:
                break
            process_events(session, events, ruleset, utcnow())
    with transaction(factory) as session:
        session.add(Breaker(environment="default", is_open=True, reason="budget spent: bench"))


def settle(factory: Any, engine: Any) -> SettleFigures:
    """Claim until nothing is left, one transaction a claim, counting every statement."""
    ruleset = load_rules(RULES)
    config = Config.from_env({})
    counted = [0]

    def count(*_args: Any) -> None:
        counted[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    jobs = claims = 0
    started = time.perf_counter()
    try:
        while True:
            with transaction(factory) as session:
                settled, job = claim_jobs(
                    session, ruleset, config, "bench", utcnow(), SETTLE_BATCH, SETTLE_SECONDS
                )
            claims += 1
            jobs += len(settled)
            if job is not None:
                raise RuntimeError(f"job {job.id} passed its guards; the breaker should stop it")
            if not settled:
                break
    finally:
        seconds = time.perf_counter() - started
        event.remove(engine, "before_cursor_execute", count)
    with factory() as session:
        statuses = dict(
            session.execute(select(ActionJob.status, func.count()).group_by(ActionJob.status))
            .tuples()
            .all()
        )
    return SettleFigures(jobs, claims, counted[0], seconds, statuses)


def measure(base_url: str | None, count: int, analyze: bool = False) -> SettleFigures:
    """Settle a fresh backlog of `count` breaker-skipped jobs in a fresh database."""
    with tempfile.TemporaryDirectory(prefix="lifeguard-settle-") as tmp:
        url, schema = servers.fresh_database(base_url, Path(tmp), "settle")
        engine = make_engine(url)
        try:
            factory = make_session_factory(engine)
            backlog(factory, count)
            if analyze:
                with engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
            return settle(factory, engine)
        finally:
            engine.dispose()
            if schema and base_url:
                servers.drop_schema(base_url, schema)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--url", default=None, help="PostgreSQL base URL; SQLite if not given")
    parser.add_argument("--analyze", action="store_true", help="ANALYZE before settling")
    args = parser.parse_args()
    print(measure(args.url, args.jobs, args.analyze).line())


if __name__ == "__main__":
    main()
