"""On SQLite, a reader never holds up a writer: Scalr's POST does not wait for a dashboard page."""

from __future__ import annotations

import os
import threading

import pytest
from sqlalchemy import func, select

from app.db import make_read_session_factory
from app.models.event import Event
from tests.factories import gen_event

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("TEST_DATABASE_URL")), reason="SQLite's locking; PostgreSQL uses MVCC"
)


def test_an_open_read_transaction_does_not_block_a_write(engine, session_factory):
    reader = make_read_session_factory(engine)()
    try:
        assert reader.scalar(select(func.count()).select_from(Event)) == 0  # transaction open
        done = threading.Event()

        def write() -> None:
            with session_factory() as session:
                gen_event(session)
            done.set()

        thread = threading.Thread(target=write, daemon=True)
        thread.start()
        assert done.wait(5), "the writer waited for the reader's transaction"
    finally:
        reader.close()


def test_dashboard_gets_use_the_read_factory(client, app):
    from flask import g

    with app.test_request_context("/events", method="GET"):
        from app.web import get_session

        session = get_session()
        assert session.get_bind().get_execution_options().get("sqlite_begin") == "DEFERRED"
        g.pop("db_session").close()
    with app.test_request_context("/events", method="POST"):
        session = get_session()
        assert session.get_bind().get_execution_options().get("sqlite_begin") is None
        g.pop("db_session").close()
