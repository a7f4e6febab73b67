"""Shared fixtures: a real database (SQLite, or PostgreSQL when asked) per test session.

`TEST_DATABASE_URL` switches the whole suite to PostgreSQL, as CTFd's CI does.
Each pytest process gets its own PostgreSQL schema, so parallel runs on one
server never see each other's rows.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

import app.models
from app.db import Base, make_engine, make_session_factory, normalise_url
from app.ingest.service import REPLAYER_THREAD, ingest_of
from app.services import services_of
from app.worker.loop import BACKGROUND_LOOKS

PG_URL = os.environ.get("TEST_DATABASE_URL")


def pytest_report_header(config: pytest.Config) -> str:
    return f"lifeguard database: {'postgresql' if PG_URL else 'sqlite'}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if PG_URL:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set TEST_DATABASE_URL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@contextmanager
def scratch_schema(base_url: str, prefix: str = "t") -> Iterator[str]:
    """Yield a PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = make_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    base = normalise_url(base_url)
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        # A process the test left behind (a killed server's backend, an idle transaction)
        # may still hold locks in the schema: end those sessions rather than wait on them.
        with admin.begin() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(l.pid) FROM pg_locks l"
                    " JOIN pg_class c ON c.oid = l.relation"
                    " JOIN pg_namespace n ON n.oid = c.relnamespace"
                    " WHERE n.nspname = :schema AND l.pid <> pg_backend_pid()"
                ),
                {"schema": schema},
            )
            conn.execute(text("SET LOCAL lock_timeout = '30s'"))
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database URL with an empty schema that only this test session uses."""
    if not PG_URL:
        path = tmp_path_factory.mktemp("db") / "lifeguard-test.db"
        yield f"sqlite:///{path}"
        return
    with scratch_schema(PG_URL) as url:
        yield url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """The session-wide engine with every table created."""
    eng = make_engine(database_url)
    Base.metadata.create_all(eng)
    yield eng
    eng.dispose()


def _empty_all_tables(eng: Engine) -> None:
    with eng.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def session_factory(engine: Engine) -> Iterator[sessionmaker[Session]]:
    """A session factory over empty tables."""
    _empty_all_tables(engine)
    yield make_session_factory(engine)


@pytest.fixture
def db_session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One session for a test; closed afterwards."""
    session = session_factory()
    yield session
    session.rollback()
    session.close()


# The threads the app and the worker start beside their callers (Ingest's replayer,
# Worker.in_background's looks).
BACKGROUND_THREADS = frozenset({REPLAYER_THREAD, *BACKGROUND_LOOKS})


@pytest.fixture(autouse=True)
def no_background_thread_left_running() -> Iterator[None]:
    """Fail a test that leaves a spool replayer or a worker's housekeeping look running (it
    would retry, or write, into later tests)."""
    before = {t for t in threading.enumerate() if t.name in BACKGROUND_THREADS}
    yield
    left = [t for t in threading.enumerate() if t.name in BACKGROUND_THREADS and t not in before]
    for thread in left:
        thread.join(5)
    assert not [t.name for t in left if t.is_alive()], "a background thread outlived its test"


@pytest.fixture
def artifacts_dir() -> Path:
    """Where tests leave files worth looking at (screenshots, logs)."""
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


INGEST_TOKEN = "test-ingest-token-0123456789"
API_TOKEN = "test-api-token-9876543210"
WEBHOOK_KEY = "kQ1v0m3Jb7QeXh0xYk2n8cJz5pWf4uR9tA6sD1gH3jK5lZ7xC9vB2nM4qW6eR8tY"


@pytest.fixture
def make_app(database_url: str, session_factory: sessionmaker[Session], tmp_path: Path) -> Iterator:
    """Build apps over the test database; `make_app(ingest_token=None, ...)` overrides config."""
    from app import create_app
    from app.config import Config

    apps = []

    def _make(environ: dict[str, str] | None = None, **overrides: object):
        base = Config.from_env(environ or {}).with_overrides(
            database_url=database_url,
            instance_path=tmp_path / "instance",
            testing=True,
            secret_key="test-secret-key",
            ingest_token=INGEST_TOKEN,
            api_token=API_TOKEN,
            scalr_webhook_key=WEBHOOK_KEY,
        )
        application = create_app(base.with_overrides(**overrides))
        apps.append(application)
        return application

    yield _make
    for application in apps:
        # A test that left the database away would leave its spool replayer retrying for
        # the rest of the run, in every later test's threads.
        ingest_of(application).stop()
        services_of(application).engine.dispose()


@pytest.fixture
def app(make_app):
    """An app with every secret set for tests."""
    return make_app()


@pytest.fixture
def client(app):
    """A test client of `app`."""
    return app.test_client()
