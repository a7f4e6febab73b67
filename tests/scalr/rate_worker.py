"""Run in a separate OS process: call Hello N times through the database rate limiter."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from app.db import make_engine, make_session_factory
from app.scalr.client import ScalrClient
from app.scalr.environments import ScalrEnvironment
from app.scalr.errors import ScalrRateLimited
from app.scalr.ratelimit import DatabaseRateLimiter
from tests.scalr.conftest import ENV_ID, KEY_ID, SECRET_KEY

# One clock hour for both processes: a run at hh:59:59 must not split into two windows.
FROZEN = datetime(2024, 5, 1, 10, 30, tzinfo=UTC)


def main(database_url: str, api_url: str, calls: int, limit: int, start_file: str) -> None:
    """Wait for the start signal, then call and report the counts as JSON."""
    engine = make_engine(database_url)
    limiter = DatabaseRateLimiter(make_session_factory(engine), clock=lambda: FROZEN)
    env = ScalrEnvironment("shared", api_url, KEY_ID, SECRET_KEY, ENV_ID, requests_per_hour=limit)
    deadline = time.monotonic() + 30
    while not Path(start_file).exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    ok = limited = 0
    with ScalrClient(env, rate_limiter=limiter) as client:
        for _ in range(calls):
            try:
                client.hello()
                ok += 1
            except ScalrRateLimited:
                limited += 1
    engine.dispose()
    print(json.dumps({"ok": ok, "limited": limited}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
