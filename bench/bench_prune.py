"""Retention under load: prune a large table of old events while ingest runs.

For each database: seed BENCH_PRUNE_EVENTS matched events older than the retention
(default 1,000,000; smoke 3,000), start Lifeguard under gunicorn.conf.py, measure ingest
with wrk for a while with nothing else running (the baseline), then run the operator's
command `flask --app wsgi events prune --older-than 90d --yes` and keep wrk loading
ingest until the prune has finished. Reported: the prune's rate, ingest's throughput
and p99 during the prune against the baseline of the same server, and the check that
after it every delivery answered 202 is stored and every seeded event is gone.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from app.dashboard.cli import seed_events
from app.db import make_engine, utcnow
from app.models.event import Event
from bench import servers
from bench.ingest import Load, wrk


@dataclass(frozen=True)
class PruneFigures:
    """One database's prune under ingest."""

    seeded: int
    seed_seconds: float
    prune_seconds: float
    baseline: Load
    during: list[Load]
    acknowledged: int
    stored: int  # events received during the run
    old_left: int  # seeded events the prune did not delete

    @property
    def rate(self) -> float:
        return self.seeded / self.prune_seconds if self.prune_seconds else 0.0

    @property
    def during_rps(self) -> float:
        return sum(load.rps for load in self.during) / len(self.during) if self.during else 0.0

    @property
    def during_p99(self) -> float:
        return max((load.p99 for load in self.during), default=0.0)

    @property
    def wrong(self) -> bool:
        """An acknowledged delivery not stored, or a seeded event left behind.

        More rows than 202s is right: wrk stops counting while its last requests are
        still being answered, and those are stored.
        """
        return self.stored < self.acknowledged or self.old_left > 0


def run(
    label: str,
    url: str,
    workdir: Path,
    rules: Path,
    scalr: dict[str, str],
    events: int,
    seconds: float,
) -> PruneFigures:
    """Seed `events` old events in `url`, then prune them while wrk loads ingest."""
    engine = make_engine(url)
    started = time.perf_counter()
    try:
        seed_events(engine, events, days=30, end=utcnow() - timedelta(days=100))
    finally:
        engine.dispose()
    seed_seconds = time.perf_counter() - started
    print(f"    {label}: seeded {events:,} old events in {seed_seconds:.0f} s", flush=True)
    env = servers.lifeguard_env(url, workdir, rules, scalr)
    log = workdir / f"prune-{label}.log"
    with servers.lifeguard(f"prune {label}", url, workdir, rules, scalr, False) as running:
        baseline = wrk(running.url, 16, seconds)
        acknowledged = baseline.accepted
        with log.open("w") as out:
            began = time.perf_counter()
            prune = subprocess.Popen(  # noqa: S603 -- our own fixed command
                [str(servers.BIN / "flask"), "--app", "wsgi", "events", "prune",
                 "--older-than", "90d", "--yes"],
                env=env, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
            during: list[Load] = []
            while prune.poll() is None:
                load = wrk(running.url, 16, seconds)
                during.append(load)
                acknowledged += load.accepted
            prune_seconds = time.perf_counter() - began
        if prune.returncode != 0:
            raise RuntimeError(f"events prune failed:\n{log.read_text()}")
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            cutoff = utcnow() - timedelta(days=90)
            total = conn.scalar(select(func.count()).select_from(Event)) or 0
            old_left = (
                conn.scalar(
                    select(func.count()).select_from(Event).where(Event.received_at < cutoff)
                )
                or 0
            )
    finally:
        engine.dispose()
    return PruneFigures(
        events,
        seed_seconds,
        prune_seconds,
        baseline,
        during,
        acknowledged,
        total - old_left,
        old_left,
    )
