"""Time the dashboard's heaviest pages over a large events table, on SQLite and PostgreSQL.

    make bench                        # 1,000,000 events (BENCH_EVENTS to change it)
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test make bench

Each page is fetched through the Flask test client with a logged-in session;
p50 and p99 are printed with their ratio to /healthz measured in the same run,
and EXPLAIN shows which index each query uses.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app
from app.config import Config
from app.dashboard.cli import seed_events
from app.db import Base, make_engine, make_session_factory, normalise_url, transaction, utcnow
from app.models.event import Event
from app.models.rollup import EventFold
from app.rollup import SETTLE_SECONDS, fold_events, hour_counts_query
from app.services import services_of

N_EVENTS = int(os.environ.get("BENCH_EVENTS", "1000000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "30"))
USER, PASSWORD = "bench", "bench-password-0123"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def explain(engine: Engine) -> None:
    """Print the plan of the queries behind the timed pages."""
    week = (utcnow() - timedelta(days=7)).replace(minute=0, second=0, microsecond=0)
    with engine.connect() as conn:
        seen = conn.execute(select(EventFold.folded_id)).scalar() or 0
    queries = {
        "events, first page": select(Event.id).order_by(Event.id.desc()).limit(51),
        "events, name filter": select(Event.id)
        .where(Event.name == "HostDown")
        .order_by(Event.id.desc())
        .limit(51),
        "events, farm filter": select(Event.id)
        .where(Event.farm_id == 1401)
        .order_by(Event.id.desc())
        .limit(51),
        "overview 7 days, folded + tail": hour_counts_query(week, seen),
        "overview 7 days, nothing folded (no worker ever)": hour_counts_query(week, 0),
    }
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as conn:
        for label, query in queries.items():
            sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
            rows = conn.exec_driver_sql(prefix + sql).fetchall()
            plan = " | ".join(str(r[-1]) for r in rows)
            print(f"  plan {label}: {plan}")


def fold_as_a_worker_would(engine: Engine) -> int:
    """Fold the seeded events the way a worker running meanwhile would have; return how many.

    seed_events writes the rows directly, as no production path does: a worker folds
    every few seconds, up to the ids seen SETTLE_SECONDS before. The first pass records
    the candidate, the second comes SETTLE_SECONDS later on the fold's clock.
    """
    factory = make_session_factory(engine)
    now = utcnow()
    with transaction(factory) as session:
        fold_events(session, now)
    with transaction(factory) as session:
        return fold_events(session, now + timedelta(seconds=SETTLE_SECONDS)).events


def run(label: str, url: str) -> dict[str, tuple[float, float]]:
    """Seed, then time each page; return p50 and p99 (ms) by page."""
    instance = Path(tempfile.mkdtemp(prefix="lifeguard-bench-"))
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    started = time.perf_counter()
    seed_events(engine, N_EVENTS, days=30)
    seeded = time.perf_counter() - started
    print(f"\n{label}: {N_EVENTS:,} events inserted in {seeded:.1f}s")
    started = time.perf_counter()
    folded = fold_as_a_worker_would(engine)
    print(f"  folded {folded:,} events into event_hours in {time.perf_counter() - started:.1f}s")
    if engine.dialect.name == "postgresql":
        # What autovacuum does after a bulk load; without statistics the planner guesses.
        with engine.begin() as conn:
            conn.execute(text("ANALYZE events"))
            conn.execute(text("ANALYZE event_hours"))
    explain(engine)
    config = Config.from_env({}).with_overrides(
        database_url=url,
        instance_path=instance,
        secret_key="bench",
        admin_user=USER,
        admin_password=PASSWORD,
        rules_file=str(instance / "rules.yml"),
    )
    app = create_app(config)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/login", data={"username": USER, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 303, response.status_code
    with engine.connect() as conn:
        server = conn.execute(select(Event.server_id).limit(1)).scalar()
    pages: dict[str, str] = {
        "/healthz (baseline)": "/healthz",
        "events, first page": "/events",
        "events, name=HostDown": "/events?name=HostDown",
        "events, name=HostCrash": "/events?name=HostCrash",
        "events, farm=1401": "/events?farm=1401",
        "events, server": f"/events?server={server}",
        "events, text search": "/events?q=crashed",
        "events, page 100 deep": "",
        "overview": "/",
    }
    with engine.connect() as conn:
        top = conn.execute(text("SELECT max(id) FROM events")).scalar() or 0
    pages["events, page 100 deep"] = f"/events?before={top - 5000}"
    results: dict[str, tuple[float, float]] = {}
    for name, path in pages.items():
        samples = []
        for _ in range(ROUNDS + 2):
            t = time.perf_counter()
            response = client.get(path)
            samples.append((time.perf_counter() - t) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        samples = samples[2:]  # warm-up
        results[name] = (statistics.median(samples), percentile(samples, 0.99))
    base = results["/healthz (baseline)"][0]
    print(f"  {'page':28} {'p50 ms':>9} {'p99 ms':>9} {'p50/baseline':>13}")
    for name, (p50, p99) in results.items():
        print(f"  {name:28} {p50:9.1f} {p99:9.1f} {p50 / base:12.0f}x")
    services_of(app).engine.dispose()
    engine.dispose()
    return results


def with_schema(url: str, body: Callable[[str], object]) -> None:
    """Run `body` against a fresh PostgreSQL schema, dropped afterwards."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    base = normalise_url(url)
    sep = "&" if "?" in base else "?"
    try:
        body(f"{base}{sep}options=-csearch_path%3D{schema}")
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="lifeguard-bench-") as tmp:
        run("SQLite", f"sqlite:///{tmp}/bench.db")
    pg = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if pg:
        with_schema(pg, lambda url: run("PostgreSQL", url))
    else:
        print("\nPostgreSQL skipped: set BENCH_DATABASE_URL (or TEST_DATABASE_URL)")


if __name__ == "__main__":
    main()
