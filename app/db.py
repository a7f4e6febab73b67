"""Database plumbing: the declarative base, engines, sessions and UTC timestamps.

Plain SQLAlchemy 2.x with no Flask import, so the worker, the CLI and the tests
use it without an application.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    DateTime,
    Engine,
    MetaData,
    any_,
    bindparam,
    create_engine,
    event,
    literal,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)

# Alembic's recommended convention (docs, naming.rst): every constraint has a
# predictable name, so every migration can be downgraded.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Store aware datetimes as UTC; always hand back aware UTC datetimes.

    SQLite keeps no zone, PostgreSQL keeps `timestamptz`; both read back the same.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Lifeguard stores aware UTC datetimes only")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSON everywhere, JSONB where PostgreSQL offers it.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base of every Lifeguard model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        datetime: UTCDateTime,
        dict[str, Any]: JSONType,
        list[str]: JSONType,
        list[dict[str, Any]]: JSONType,
    }


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain `postgresql://` URLs, the only PostgreSQL driver we ship."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings Lifeguard relies on for this backend."""
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            directory = os.path.dirname(os.path.abspath(parsed.database))
            os.makedirs(directory, exist_ok=True)
        kwargs.setdefault("connect_args", {})
        kwargs["connect_args"].setdefault("check_same_thread", False)
        kwargs["connect_args"].setdefault("timeout", 30)
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs["connect_args"] = postgres_connect_args(parsed.query, kwargs.get("connect_args"))
    return create_engine(url, **kwargs)


# How a PostgreSQL session notices a database or network that went away, instead of
# waiting forever. Found by the worker-outage fault test: a connection cut mid-transaction
# leaves the server's session open ("idle in transaction", its row locks held) until the
# server's own keepalive gives up, by default after two hours; the next transaction that
# wants one of those rows (a job's outcome, the heartbeat, a replayed ingest_key) waited
# behind it with no bound and ignored SIGTERM.
#
# - connect_timeout: a connection attempt to an unreachable host ends (seconds).
# - keepalives: a connection to a peer that vanished without a reset is noticed in about
#   idle + interval * count seconds; tcp_user_timeout ends one whose sent data stays
#   unacknowledged (milliseconds).
# - lock_timeout: a lock wait ends with an error the caller backs off from and tries again.
# - idle_in_transaction_session_timeout: the server ends a session left in a transaction
#   by a client that is gone, so its locks are released. No Lifeguard transaction stays
#   idle that long: the worker calls Scalr outside its transactions.
# - tcp_keepalives_*: the same keepalive from the server's side, for sessions not in a
#   transaction.
# A setting the URL or the caller already gives (`?connect_timeout=`,
# `?options=-c lock_timeout=...`) is kept as given.
PG_CONNECT_ARGS: dict[str, Any] = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30000,
}
PG_SESSION_SETTINGS = {
    "lock_timeout": "10s",
    "idle_in_transaction_session_timeout": "60s",
    # The server's side of keepalive: it notices a client that vanished in ~60 s, not 2 h.
    "tcp_keepalives_idle": "30",
    "tcp_keepalives_interval": "10",
    "tcp_keepalives_count": "3",
}


def postgres_connect_args(
    query: Mapping[str, str | tuple[str, ...]], given: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Return psycopg connect arguments with Lifeguard's timeouts, keeping what the URL sets."""
    args = dict(given or {})
    for name, value in PG_CONNECT_ARGS.items():
        if name not in query:
            args.setdefault(name, value)
    # connect_args replace the URL's parameters: keep both sets of options, the given last.
    raw = query.get("options", "")
    options = " ".join(raw) if isinstance(raw, tuple) else raw
    options = f"{options} {args.get('options', '')}".strip()
    for name, value in PG_SESSION_SETTINGS.items():
        if not re.search(rf"(^|\s)-c\s*{name}=", options):
            options = f"{options} -c {name}={value}".strip()
    args["options"] = options
    return args


def _configure_sqlite(engine: Engine) -> None:
    """Run SQLite in WAL mode with real transactions that take the write lock up front.

    pysqlite's own transaction handling begins lazily and lets a read-then-write
    transaction fail with SQLITE_BUSY that no timeout cures; the SQLAlchemy
    recipe below (docs: "Serializable isolation / Savepoints / Transactional
    DDL" for pysqlite) hands BEGIN to us. BEGIN IMMEDIATE makes writers queue on
    busy_timeout instead of failing, and WAL keeps readers from blocking.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Read-only sessions (make_read_session_factory) begin DEFERRED: under WAL they
        # never wait for, nor hold up, a writer such as the ingest endpoint.
        if conn.get_execution_options().get("sqlite_begin") == "DEFERRED":
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def on_postgres(session: Session) -> bool:
    """Say whether the session's database is PostgreSQL (else SQLite)."""
    return session.get_bind().dialect.name == "postgresql"


def one_of(session: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """Return `column IN (values)`; on PostgreSQL as `column = ANY(array)`, one parameter.

    The worker's batch reads name up to a batch's worth of job servers or event ids. As
    `IN` each value is a parameter of its own: SQLAlchemy expands the list at every
    execution and the driver converts a statement as long as the list. With one array
    parameter the text stays the same for any count (bench: the worker's CPU an event
    drained on PostgreSQL, 172-176 -> 165-169 us).

    Not for a read that may scan a table: PostgreSQL hashes a list of constants, but
    searches a parameter array element by element for each row (the batch's `servers`
    read took 6.8 ms a batch this way against 4.1 ms as `IN`). Such a read takes
    `planned_in`.
    """
    wanted = sorted(set(values))
    if on_postgres(session):
        return column == any_(literal(wanted, ARRAY(column.type)))
    return column.in_(wanted)


def planned_in(session: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """Return `column IN (values)`; on PostgreSQL with the values written into the text.

    For a read whose best plan depends on how large its table is now. psycopg prepares
    a statement it has run five times, and PostgreSQL may then keep one generic plan for
    it until the table is next analyzed. The worker's batch read of its servers was
    planned that way while `servers` was nearly empty: a sequential scan comparing every
    row with each of the 100 parameters, 16-26 ms a batch at 5,000 servers (auto_explain)
    and growing with the table. Values in the text make each batch's statement new, so
    it is planned with its own list, hashed, and with the table's size of now (bench: a
    worker draining 10,000 events, 1,373-1,457 -> 2,127-2,157 events/s).

    SQLAlchemy writes the values as literals with the dialect's own quoting (for PostgreSQL
    strings, quotes doubled); on SQLite they stay parameters, planned at each prepare.
    """
    wanted = sorted(set(values))
    return column.in_(
        bindparam(
            None, wanted, type_=column.type, expanding=True, literal_execute=on_postgres(session)
        )
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return the one session factory a process uses."""
    return sessionmaker(engine, expire_on_commit=False)


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Return a factory for sessions that only read (SQLite: no write lock taken)."""
    return sessionmaker(engine.execution_options(sqlite_begin="DEFERRED"), expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session, commit on success, roll back on error, always close."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
