"""app.table_stats: ANALYZE the busiest tables when their statistics are missing or stale.

The PostgreSQL tests run in a schema of their own, so the server's counters of changed
rows belong to these tables alone.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from app import table_stats
from app.db import Base, make_engine, make_session_factory, transaction, utcnow
from app.models.ops import PeriodicTask
from app.table_stats import MIN_CHANGED, TableState, refresh_stale, table_states
from tests.conftest import PG_URL, scratch_schema


@pytest.mark.parametrize(
    ("changed", "rows", "stale"),
    [
        (MIN_CHANGED - 1, -1, False),  # never analyzed, but too small to matter
        (MIN_CHANGED, -1, True),  # never analyzed
        (MIN_CHANGED, 0, True),  # analyzed while empty
        (5000, 10_000, True),  # half of it changed since
        (4999, 10_000, False),
        (MIN_CHANGED * 10, 1_000_000, False),  # autovacuum's to keep
    ],
)
def test_stale_needs_enough_changed_rows_and_a_large_share(changed, rows, stale):
    assert TableState("events", changed, rows).stale is stale


def test_sqlite_is_left_alone(db_session):
    if db_session.get_bind().dialect.name != "sqlite":
        pytest.skip("the SQLite case")
    assert refresh_stale(db_session).analyzed == {}


@pytest.fixture
def own_schema() -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    if not PG_URL:
        pytest.skip("needs PostgreSQL: set TEST_DATABASE_URL")
    with scratch_schema(PG_URL, "stats") as url:
        engine = make_engine(url)
        Base.metadata.create_all(engine)
        try:
            yield engine, make_session_factory(engine)
        finally:
            engine.dispose()


def add_servers(engine: Engine, count: int, prefix: str = "s") -> None:
    """Insert `count` servers and have the server count them at once."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO servers (server_id, status, source, first_seen_at, last_seen_at) "
                "SELECT :p || g, 'Running', 'event', now(), now() FROM generate_series(1, :n) g"
            ),
            {"p": prefix, "n": count},
        )
        # Counters reach pg_stat_user_tables when a backend reports them (at most once a
        # second): report these now.
        conn.execute(text("SELECT pg_stat_force_next_flush()"))


def last_analyzed(engine: Engine, table: str) -> tuple[object, float]:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT s.last_analyze, c.reltuples FROM pg_stat_user_tables s "
                "JOIN pg_class c ON c.oid = s.relid "
                "WHERE s.schemaname = current_schema() AND s.relname = :t"
            ),
            {"t": table},
        ).one()


@pytest.mark.postgres
def test_a_table_never_analyzed_is_analyzed_once_then_left(own_schema, caplog):
    engine, factory = own_schema
    add_servers(engine, MIN_CHANGED + 200)
    caplog.set_level("INFO", logger="app.table_stats")
    with transaction(factory) as session:
        states = {s.name: s for s in table_states(session)}
        assert set(states) == set(table_stats.TABLES)
        assert states["servers"].rows == -1 and states["servers"].changed >= MIN_CHANGED
        result = refresh_stale(session)
    assert list(result.analyzed) == ["servers"]  # the empty tables have nothing to tell
    when, rows = last_analyzed(engine, "servers")
    assert when is not None and rows == MIN_CHANGED + 200
    assert "servers" in result.summary() and "ms" in result.summary()
    # docs/operations.md: the worker's log says what was analyzed and how long it took.
    logged = [r.getMessage() for r in caplog.records if r.name == "app.table_stats"]
    assert len(logged) == 1 and logged[0].startswith("analyzed servers for the planner: ")
    assert f"{MIN_CHANGED + 200} rows changed since it was created" in logged[0]
    assert logged[0].endswith(" ms")
    with transaction(factory) as session:
        again = refresh_stale(session)
    assert again.analyzed == {} and again.summary() == "statistics current"


@pytest.mark.postgres
def test_growth_since_the_last_analyze_counts_against_what_it_holds(own_schema):
    engine, factory = own_schema
    add_servers(engine, 4000, "a")
    with transaction(factory) as session:
        assert list(refresh_stale(session).analyzed) == ["servers"]
    add_servers(engine, 1500, "b")  # 1,500 changed against 4,000 held: not yet
    with transaction(factory) as session:
        assert refresh_stale(session).analyzed == {}
    add_servers(engine, 600, "c")  # 2,100 against 4,000: over half
    with transaction(factory) as session:
        assert list(refresh_stale(session).analyzed) == ["servers"]
    assert last_analyzed(engine, "servers")[1] == 6100


@pytest.mark.postgres
def test_a_table_whose_lock_is_held_is_skipped_and_the_others_analyzed(own_schema, monkeypatch):
    engine, factory = own_schema
    monkeypatch.setattr(table_stats, "LOCK_TIMEOUT", "200ms")
    add_servers(engine, MIN_CHANGED)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO events (name, message, source, received_at, data, raw, evaluations,"
                " enriched_fields) SELECT 'HostUp', 'm' || g, 'observer', now(), '{}', '{}',"
                " '[]', '[]' FROM generate_series(1, :n) g"
            ),
            {"n": MIN_CHANGED},
        )
        conn.execute(text("SELECT pg_stat_force_next_flush()"))
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:  # what an autovacuum ANALYZE of servers would hold
        with engine.begin() as conn:
            conn.execute(text("LOCK TABLE servers IN SHARE UPDATE EXCLUSIVE MODE"))
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(5)
        with transaction(factory) as session:
            result = refresh_stale(session)
    finally:
        release.set()
        holder.join(10)
    assert list(result.analyzed) == ["events"] and result.skipped == ["servers"]
    assert "skipped (lock held): servers" in result.summary()
    assert last_analyzed(engine, "servers")[0] is None
    with transaction(factory) as session:
        assert list(refresh_stale(session).analyzed) == ["servers"]  # its next turn


@pytest.mark.postgres
def test_a_table_another_role_owns_is_left_out(own_schema):
    engine, factory = own_schema
    owner, me = (f"lg_{name}_{uuid.uuid4().hex[:8]}" for name in ("owner", "me"))
    add_servers(engine, MIN_CHANGED)
    with engine.begin() as conn:
        schema = conn.execute(text("SELECT current_schema()")).scalar_one()
        conn.execute(text(f'CREATE ROLE "{owner}" NOLOGIN'))
        conn.execute(text(f'CREATE ROLE "{me}" NOLOGIN'))
        conn.execute(text(f'GRANT USAGE ON SCHEMA "{schema}" TO "{me}"'))
        conn.execute(text(f'ALTER TABLE servers OWNER TO "{owner}"'))
    try:
        # As a user who is not a member of the owner's role, as a deployment's user is.
        with transaction(factory) as session:
            session.execute(text(f'SET LOCAL ROLE "{me}"'))
            names = [state.name for state in table_states(session)]
        assert "servers" not in names and "events" not in names
        with transaction(factory) as session:  # the test's own user, a superuser
            assert "servers" in [state.name for state in table_states(session)]
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE servers OWNER TO CURRENT_USER"))
            conn.execute(text(f'REVOKE USAGE ON SCHEMA "{schema}" FROM "{me}"'))
            conn.execute(text(f'DROP ROLE "{me}"'))
            conn.execute(text(f'DROP ROLE "{owner}"'))


@pytest.mark.postgres
def test_the_worker_analyzes_once_an_interval_for_the_deployment(own_schema, tmp_path):
    from app.config import Config
    from app.rules.store import RulesStore
    from app.worker.loop import Worker

    engine, factory = own_schema
    rules = tmp_path / "rules.yml"
    rules.write_text("rules: []\n")
    config = Config.from_env({}).with_overrides(instance_path=tmp_path, rules_file=str(rules))
    first = Worker(config, factory, RulesStore(rules), worker_id="w1")
    second = Worker(config, factory, RulesStore(rules), worker_id="w2")
    assert first.postgres and second.postgres
    add_servers(engine, MIN_CHANGED)
    first.refresh_table_stats()
    with factory() as session:
        task = session.get(PeriodicTask, "table_stats")
        assert task is not None and task.last_run_by == "w1"
        assert task.last_result is not None and task.last_result.startswith("analyzed servers")
    add_servers(engine, MIN_CHANGED * 2, "again")
    second.refresh_table_stats()  # within the interval: the deployment's turn is taken
    assert last_analyzed(engine, "servers")[1] == MIN_CHANGED
    with transaction(factory) as session:
        task = session.get(PeriodicTask, "table_stats")
        task.last_run_at = utcnow() - timedelta(seconds=table_stats.STATS_CHECK_SECONDS + 1)
    second.refresh_table_stats()
    assert last_analyzed(engine, "servers")[1] == MIN_CHANGED * 3


@pytest.mark.postgres
def test_the_loop_does_not_wait_for_the_statistics_look(own_schema, tmp_path, monkeypatch, caplog):
    """An ANALYZE runs on a thread of its own: matching goes on while it runs, one look at a
    time, and a look that fails is logged and the next one runs."""
    from app.config import Config
    from app.rules.store import RulesStore
    from app.worker import loop
    from app.worker.loop import Worker

    engine, factory = own_schema
    rules = tmp_path / "rules.yml"
    rules.write_text("rules: []\n")
    config = Config.from_env({}).with_overrides(instance_path=tmp_path, rules_file=str(rules))
    worker = Worker(config, factory, RulesStore(rules), worker_id="w1")
    add_servers(engine, MIN_CHANGED)
    release, started = threading.Event(), threading.Event()
    real = loop.refresh_stale

    def slow_refresh(session: Session) -> table_stats.StatsResult:
        started.set()
        assert release.wait(10), "the test never let the look finish"
        return real(session)

    monkeypatch.setattr(loop, "refresh_stale", slow_refresh)
    first = worker.in_background(loop.STATS_LOOK, worker.refresh_table_stats)
    assert first is not None and started.wait(5)
    worker.housekeeping()  # the loop's own step returns while the ANALYZE is held up
    assert worker.in_background(loop.STATS_LOOK, worker.refresh_table_stats) is None, (
        "a second look started beside the first"
    )
    assert last_analyzed(engine, "servers")[0] is None
    release.set()
    first.join(10)
    assert not first.is_alive()
    assert last_analyzed(engine, "servers")[1] == MIN_CHANGED

    def broken(session: Session) -> table_stats.StatsResult:
        raise RuntimeError("catalog unreadable")

    monkeypatch.setattr(loop, "refresh_stale", broken)
    with transaction(factory) as session:
        task = session.get(PeriodicTask, "table_stats")
        task.last_run_at = utcnow() - timedelta(seconds=table_stats.STATS_CHECK_SECONDS + 1)
    caplog.set_level("WARNING", logger="app.worker.loop")
    failed = worker.in_background(loop.STATS_LOOK, worker.refresh_table_stats)
    assert failed is not None
    failed.join(10)
    assert any(f"{loop.STATS_LOOK} look failed" in r.getMessage() for r in caplog.records)
    # The failed look ended; the next may run.
    after = worker.in_background(loop.STATS_LOOK, worker.refresh_table_stats)
    assert after is not None
    after.join(10)
