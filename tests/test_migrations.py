"""Migrations: upgrade from empty, downgrade to base, and the models agree with them."""

from __future__ import annotations

import warnings
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, inspect, select

from app import migrate, rollup
from app.db import Base, make_engine, make_session_factory, utcnow
from app.models.event import Event
from app.models.rollup import FOLD_ROW, EventFold, EventHour
from tests.conftest import PG_URL, scratch_schema
from tests.factories import gen_event


@pytest.fixture
def empty_url(tmp_path):
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    with scratch_schema(PG_URL, prefix="m") as url:
        yield url


def test_upgrade_check_downgrade(empty_url):
    migrate.upgrade(empty_url)
    engine = make_engine(empty_url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision()
        with engine.connect() as conn, warnings.catch_warnings():
            # SQLite's reflection skips expression indexes, with a warning; that one is
            # looked for by name below.
            warnings.filterwarnings(
                "ignore", "Skipped unsupported reflection of expression-based index"
            )
            warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
            catalog = (
                "SELECT name FROM sqlite_master WHERE type = 'index'"
                if engine.dialect.name == "sqlite"
                else "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
            )
            indexes = set(conn.exec_driver_sql(catalog).scalars())
        assert diff == [], f"models and migrations disagree: {diff}"
        assert "ix_events_server_lower_id" in indexes
        migrate.downgrade(empty_url)
        tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
        assert tables == set()
        migrate.upgrade(empty_url)  # and back up again: downgrade left nothing behind
        assert migrate.current_revision(engine) == migrate.head_revision()
    finally:
        engine.dispose()


def test_upgrade_counts_the_stored_events_into_event_hours(empty_url):
    """An upgraded install shows the right overview before any worker folds."""
    migrate.upgrade(empty_url, "0006")
    engine = make_engine(empty_url)
    try:
        factory = make_session_factory(engine)
        now = utcnow().replace(minute=30)
        with factory() as session:
            for hours, name in ((0, "HostDown"), (0, "HostDown"), (1, "HostUp"), (50, "HostUp")):
                gen_event(session, name=name, received_at=now - timedelta(hours=hours))
            top = session.scalar(select(func.max(Event.id)))
        migrate.upgrade(empty_url)
        with factory() as session:
            rows = {(r.hour, r.name): r.events for r in session.scalars(select(EventHour))}
            fold = session.get(EventFold, FOLD_ROW)
            assert fold is not None and fold.folded_id == top
            assert rollup.hour_counts(session, now - timedelta(days=3)) == rows
        hour = now.replace(minute=0, second=0, microsecond=0)
        assert rows == {
            (hour, "HostDown"): 2,
            (hour - timedelta(hours=1), "HostUp"): 1,
            (hour - timedelta(hours=50), "HostUp"): 1,
        }
        migrate.downgrade(empty_url, "0006")
        assert not {"event_hours", "event_fold"} & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
