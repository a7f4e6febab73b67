"""`flask demo seed-events N`: fill the events table fast, for demos and benchmarks."""

from __future__ import annotations

import itertools
import random
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import click
from flask.cli import with_appcontext
from sqlalchemy import Engine

from app.db import utcnow
from app.services import get_services

NAMES = (
    ("HostUp", 25), ("HostInit", 20), ("HostDown", 15), ("IPAddressChanged", 10),
    ("RebootComplete", 10), ("BeforeHostTerminate", 10), ("HostCrash", 5), ("CustomEvent", 5),
)  # fmt: skip
TEXTS = {
    "HostUp": "Host {sid} ({pub}) Internal IP: {priv} is up",
    "HostInit": "Host {sid} ({pub}) Internal IP: {priv} initialized",
    "HostDown": "Instance {sid} ({pub}) Internal IP: {priv} terminated",
    "IPAddressChanged": "IP address of {sid} changed to {pub}",
    "RebootComplete": "Host {sid} ({pub}) rebooted",
    "BeforeHostTerminate": "Host {sid} ({pub}) is about to be terminated",
    "HostCrash": "Host {sid} ({pub}) Internal IP: {priv} crashed",
    "CustomEvent": "Custom event from {sid}",
}


def _pools(rng: random.Random, servers: int) -> list[dict[str, Any]]:
    pool = []
    for i in range(servers):
        farm = 1400 + i % 20
        pool.append(
            {
                "server_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "public_ip": f"54.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
                "internal_ip": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
                "farm_id": farm,
                "farm_role_id": farm * 10 + i % 7,
                "role_name": ("web-", "db-", "worker-")[i % 3] + str(i % 7),
                "env_id": 3,
            }
        )
    return pool


COLUMNS = (
    "name", "message", "server_id", "public_ip", "internal_ip", "new_ip", "farm_id",
    "farm_role_id", "role_name", "env_id", "source", "received_at", "processed_at",
    "data", "enriched_fields", "raw", "evaluations",
)  # fmt: skip
JSON_COLUMNS = frozenset({"data", "enriched_fields", "raw", "evaluations"})


def _insert_sql(dialect: str) -> str:
    """Return a driver-level INSERT: the ORM's per-row processing would dominate the run."""
    if dialect == "sqlite":
        marks = ", ".join("?" for _ in COLUMNS)
    else:
        marks = ", ".join("%s::jsonb" if c in JSON_COLUMNS else "%s" for c in COLUMNS)
    return f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({marks})"  # noqa: S608  (constant names)


def seed_events(
    engine: Engine,
    count: int,
    *,
    days: float = 30.0,
    end: datetime | None = None,
    batch: int = 20_000,
    servers: int = 5_000,
    seed: int = 1,
) -> int:
    """Insert `count` plausible events spread evenly over `days` ending at `end`, oldest first."""
    rng = random.Random(seed)
    pool = _pools(rng, servers)
    names = [name for name, _ in NAMES]
    cumulative = list(itertools.accumulate(weight for _, weight in NAMES))
    end = end or utcnow()
    start = end - timedelta(days=days)
    step = (end - start) / max(1, count)
    sqlite = engine.dialect.name == "sqlite"
    sql = _insert_sql(engine.dialect.name)
    done = 0
    while done < count:
        rows = []
        for i in range(done, min(count, done + batch)):
            name = rng.choices(names, cum_weights=cumulative)[0]
            server = pool[rng.randrange(servers)]
            text = TEXTS[name].format(sid=server["server_id"], pub=server["public_ip"],
                                      priv=server["internal_ip"])  # fmt: skip
            at = start + step * (i + 1)
            # app.db stores SQLite times as naive UTC text; PostgreSQL takes the aware value.
            stamp: Any = at.strftime("%Y-%m-%d %H:%M:%S.%f") if sqlite else at
            new_ip = server["public_ip"] if name == "IPAddressChanged" else None
            rows.append((
                name, text, server["server_id"], server["public_ip"], server["internal_ip"],
                new_ip, server["farm_id"], server["farm_role_id"], server["role_name"],
                server["env_id"], "observer", stamp, stamp, "{}", "[]", "{}", "[]",
            ))  # fmt: skip
        with engine.begin() as conn:
            conn.exec_driver_sql(sql, rows)
        done += len(rows)
    return done


@click.command("seed-events")
@click.argument("count", type=click.IntRange(1, 10_000_000))
@click.option("--days", default=30.0, show_default=True, help="Spread them over this many days.")
@with_appcontext
def seed_events_command(count: int, days: float) -> None:
    """Insert COUNT generated events (already matched) for demos and benchmarks."""
    engine: Engine = get_services().engine
    started = time.perf_counter()
    seed_events(engine, count, days=days)
    click.echo(f"inserted {count} events in {time.perf_counter() - started:.1f}s")
