"""PostgreSQL sessions notice a vanished peer and never wait for a lock without bound."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from app.db import PG_SESSION_SETTINGS, make_engine, postgres_connect_args

pytestmark = pytest.mark.postgres


def test_every_session_gets_the_timeouts(database_url):
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            shown = {name: conn.scalar(text(f"SHOW {name}")) for name in PG_SESSION_SETTINGS}
            search_path = conn.scalar(text("SHOW search_path"))
    finally:
        engine.dispose()
    assert shown == {
        "lock_timeout": "10s",
        "idle_in_transaction_session_timeout": "1min",
        "tcp_keepalives_idle": "30",
        "tcp_keepalives_interval": "10",
        "tcp_keepalives_count": "3",
    }
    assert search_path.startswith("t_")  # the URL's own options are kept


def test_a_setting_the_url_gives_is_kept():
    args = postgres_connect_args(
        {"options": "-c lock_timeout=2s -csearch_path=x", "connect_timeout": "3"}
    )
    assert "connect_timeout" not in args  # libpq reads the URL's own
    assert args["keepalives"] == 1 and args["tcp_user_timeout"] == 30000
    assert "lock_timeout=10s" not in args["options"]
    assert args["options"].startswith("-c lock_timeout=2s -csearch_path=x")
    assert "-c idle_in_transaction_session_timeout=60s" in args["options"]


def test_a_lock_wait_ends_with_an_error(database_url):
    engine = make_engine(database_url)
    quick = make_engine(database_url, connect_args={"options": "-c lock_timeout=500ms"})
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS lock_probe (id int primary key)"))
            conn.execute(text("INSERT INTO lock_probe VALUES (1) ON CONFLICT DO NOTHING"))
        with engine.connect() as holder, quick.connect() as waiter:
            holder.begin()
            holder.execute(text("SELECT * FROM lock_probe WHERE id = 1 FOR UPDATE"))
            started = time.monotonic()
            with pytest.raises(OperationalError, match="lock timeout"):
                waiter.execute(text("SELECT * FROM lock_probe WHERE id = 1 FOR UPDATE"))
            assert time.monotonic() - started < 5
            holder.rollback()
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS lock_probe"))
        engine.dispose()
        quick.dispose()
