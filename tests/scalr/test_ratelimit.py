"""The hourly budget, counted in the shared database (protocol 3.5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.models.scalr import ScalrApiUsage
from app.scalr.client import ScalrClient
from app.scalr.environments import ScalrEnvironment
from app.scalr.errors import ScalrRateLimited
from app.scalr.ratelimit import DatabaseRateLimiter, seconds_to_next_window, window_start
from simulator import SimState, SimulatorServer
from tests.scalr.conftest import ENV_ID, KEY_ID, SECRET_KEY
from tests.scalr.rate_worker import FROZEN

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def env(limit: int, url: str = "http://127.0.0.1:9/api/api.php") -> ScalrEnvironment:
    return ScalrEnvironment("prod", url, "key", "secret", 3, requests_per_hour=limit)


def test_window_arithmetic() -> None:
    moment = datetime(2024, 5, 1, 10, 59, 30, tzinfo=UTC)
    assert window_start(moment) == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert seconds_to_next_window(moment) == 30


def test_reserve_until_spent_then_next_hour(session_factory: sessionmaker[Session]) -> None:
    clock = Clock(datetime(2024, 5, 1, 10, 15, tzinfo=UTC))
    limiter = DatabaseRateLimiter(session_factory, clock)
    assert [limiter.reserve(env(3)) for _ in range(3)] == [1, 2, 3]
    with pytest.raises(ScalrRateLimited) as caught:
        limiter.reserve(env(3), action="Hello")
    assert caught.value.retry_after_seconds == 45 * 60
    assert caught.value.local is True and caught.value.retryable is True
    assert limiter.usage("prod") == 3
    clock.now += timedelta(minutes=45)
    assert limiter.reserve(env(3)) == 1
    with session_factory() as session:
        rows = session.execute(select(ScalrApiUsage).order_by(ScalrApiUsage.window_start))
        stored = [(r.environment, r.window_start, r.count) for r in rows.scalars()]
    assert stored == [
        ("prod", datetime(2024, 5, 1, 10, tzinfo=UTC), 3),
        ("prod", datetime(2024, 5, 1, 11, tzinfo=UTC), 1),
    ]


def test_environments_are_counted_apart(session_factory: sessionmaker[Session]) -> None:
    limiter = DatabaseRateLimiter(session_factory)
    limiter.reserve(env(1))
    other = ScalrEnvironment("other", "http://127.0.0.1:9/", "k", "s", requests_per_hour=1)
    assert limiter.reserve(other) == 1


def test_spent_budget_sends_nothing(
    session_factory: sessionmaker[Session], sim: SimulatorServer, sim_state: SimState
) -> None:
    limiter = DatabaseRateLimiter(session_factory, Clock(datetime(2024, 5, 1, 10, 15, tzinfo=UTC)))
    environment = ScalrEnvironment("prod", sim.url, KEY_ID, SECRET_KEY, ENV_ID, requests_per_hour=2)
    with ScalrClient(environment, rate_limiter=limiter) as client:
        client.hello()
        client.hello()
        with pytest.raises(ScalrRateLimited):
            client.hello()
    assert len(sim_state.calls()) == 2


def test_limit_is_shared_by_two_os_processes(
    database_url: str,
    session_factory: sessionmaker[Session],
    sim: SimulatorServer,
    tmp_path: Path,
) -> None:
    start = tmp_path / "go"
    command = [sys.executable, "-m", "tests.scalr.rate_worker", database_url, sim.url, "6", "5"]
    environ = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(
            [*command, str(start)],
            cwd=ROOT,
            env=environ,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    start.touch()
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=60)
        assert worker.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sum(r["ok"] for r in results) == 5
    assert sum(r["limited"] for r in results) == 7
    assert DatabaseRateLimiter(session_factory).usage("shared", at=FROZEN) == 5
