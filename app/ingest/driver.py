"""The group-commit writer's insert, run on the database driver's own connection.

The same `INSERT ... ON CONFLICT DO NOTHING RETURNING id, ingest_key` as
`store.insert_rows`, compiled by SQLAlchemy for the engine's dialect once per batch size
and bound with the columns' own bind processors (so JSON and timestamps are stored
exactly as the ORM stores them), but executed on the DBAPI connection the writer thread
keeps while it is busy: no Session, no Core execution context and no pool checkout (nor
PostgreSQL pre-ping) per batch. Measured in bench/cpu.py, that machinery cost more CPU
than the insert itself.

- SQLite: ONE statement in autocommit, the insert without `RETURNING`: the statement is
  its own transaction, committed within the one `sqlite3_step` that runs it. The ids
  come from `lastrowid` and `rowcount`, not from returned rows. The sqlite3 module gives
  up the GIL around every step, and each time it has to win the GIL back from the
  request threads while it holds the machine's ingest lock (`writer._file_lock`).
  `BEGIN IMMEDIATE`, the insert, one step per returned row and `COMMIT` were four or
  more such waits a batch; this is one.
- PostgreSQL: ONE statement in autocommit, `WITH ins AS (INSERT ...) SELECT ...,
  pg_notify(...)`: a single statement is its own transaction, committed (and its NOTIFY
  delivered) before the server answers, so a batch costs one round trip instead of five
  (ping, BEGIN, INSERT, NOTIFY, COMMIT).

On SQLite the insert waits for the write lock by trying again every millisecond, not in
SQLite's busy handler: the handler sleeps 1, 2, 5, 10, 15, 20 ms and more between tries
(sqlite3.c, `sqliteDefaultBusyCallback`), so a writer that meets the worker's transaction
of 8 ms slept 18 ms, holding the machine's ingest lock, while every request of both web
processes waited behind it. The writer's connection has a busy timeout of 1 ms: one sleep
of 1 ms with the GIL given up, then `SQLITE_BUSY`, and the next try; nothing of a
statement refused that way was written. With the worker matching every event: 1,426-1,512
-> 1,677-1,684 req/s (scratch A/B, wrk at 16 connections, two runs each); without it, no
change.

Either way a batch is committed when `DriverInsert.commit` returns, and not before.
Driver errors are raised as SQLAlchemy's `DBAPIError` subclasses, as the Session path
raises them, so the writer tells "database away" from "bad row" the same way.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import JSON, Engine, String, bindparam, text
from sqlalchemy.exc import DBAPIError

from app.ingest.store import (
    INSERT_COLUMNS,
    Stored,
    count_received,
    insert_bindparams,
    insert_sql,
    insert_statement,
    stored_in_order,
)
from app.jobs.notify import EVENTS_CHANNEL
from app.models.event import Event

Processor = Callable[[Any], Any] | None
TABLE = Event.__tablename__
# SQLite: the writer's busy timeout (ms), and how long it keeps trying in all, as long as
# the engine's own busy timeout (app.db).
BUSY_POLL_MS = 1
BUSY_WAIT_SECONDS = 30.0


class DriverInsert:
    """Insert and commit event rows on a raw DBAPI connection of `engine`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.postgres = self.dialect.name == "postgresql"
        table = Event.__table__
        self._processors: list[tuple[str, Processor]] = [
            (column, table.c[column].type.dialect_impl(self.dialect).bind_processor(self.dialect))
            for column in INSERT_COLUMNS
        ]
        # The JSON columns' values a delivery's row nearly always has ({} and []), bound
        # once: the same text the processor writes, without a json.dumps per row.
        self._processors = [
            (
                c,
                _with_constants(p)
                if isinstance(table.c[c].type.dialect_impl(self.dialect), JSON)
                else p,
            )
            for c, p in self._processors
        ]
        self._compiled: dict[int, tuple[str, tuple[str, ...]]] = {}

    def _statement(self, rows: int) -> tuple[str, tuple[str, ...]]:
        """Return the driver's SQL for `rows` rows and its positional parameter order."""
        found = self._compiled.get(rows)
        if found is None:
            if self.postgres:
                # A CTE's INSERT runs once whatever the outer query reads; the NOTIFY is sent
                # only when a row is new (no row returned, no call) and delivered at commit.
                cte = insert_sql(rows)  # constants of store: nothing comes from input
                statement = text(
                    f"WITH ins AS ({cte}) SELECT id, ingest_key, "  # noqa: S608
                    "pg_notify(:notify_channel, (SELECT max(id) FROM ins)::text) FROM ins"
                ).bindparams(*insert_bindparams(rows), bindparam("notify_channel", type_=String()))
            else:
                statement = insert_statement(rows, returning=False)
            compiled = statement.compile(dialect=self.dialect)
            if self.postgres:
                # PostgreSQL's own $n placeholders, for psycopg's RawCursor: psycopg parses a
                # %(name)s query on every execute once it is past 4 KiB (it caches shorter
                # ones), which a batch of a few rows already is.
                names: list[str] = []

                def number(match: re.Match[str]) -> str:
                    names.append(match.group(1))
                    return f"${len(names)}"

                found = (re.sub(r"%\((\w+)\)s", number, compiled.string), tuple(names))
            else:
                positions = tuple(compiled.positiontup or ())
                found = (compiled.string, positions)
            self._compiled[rows] = found
        return found

    def _parameters(self, rows: Sequence[dict[str, Any]], positions: tuple[str, ...]) -> list[Any]:
        if positions == self._row_major(len(rows)):
            # The placeholders run row by row, column by column (and the channel last): the
            # list is built straight in that order, with no name per value.
            params = [
                process(row[column]) if process is not None else row[column]
                for row in rows
                for column, process in self._processors
            ]
            if self.postgres:
                params.append(EVENTS_CHANNEL)
            return params
        values: dict[str, Any] = {"notify_channel": EVENTS_CHANNEL} if self.postgres else {}
        for i, row in enumerate(rows):
            for column, process in self._processors:
                value = row[column]
                values[f"{column}_{i}"] = process(value) if process is not None else value
        return [values[name] for name in positions]

    @functools.cache  # noqa: B019 -- one entry per batch size, for the writer's one driver
    def _row_major(self, rows: int) -> tuple[str, ...]:
        names = tuple(f"{column}_{i}" for i in range(rows) for column in INSERT_COLUMNS)
        return (*names, "notify_channel") if self.postgres else names

    def connect(self) -> Any:
        """Return a DBAPI connection of the caller's own, set up by the engine's listeners.

        Detached from the pool: the writer thread keeps it while busy and closes it itself,
        so it is never handed back into a pool that was disposed meanwhile.
        """
        try:
            pooled = self.engine.raw_connection()
        except self.dialect.loaded_dbapi.Error as exc:
            raise self._wrapped(exc, None) from exc
        pooled.detach()
        connection = pooled.dbapi_connection
        if self.postgres:
            connection.autocommit = True  # type: ignore[union-attr]
        else:
            connection.execute(f"PRAGMA busy_timeout={BUSY_POLL_MS}")  # type: ignore[union-attr]
        return connection

    def alive(self, connection: Any) -> bool:
        """Say whether a connection kept idle for a while still answers (a pre-ping)."""
        if not self.postgres:
            return True  # a file: nothing to lose while idle
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            return True
        except self.dialect.loaded_dbapi.Error:
            return False

    @staticmethod
    def release(connection: Any) -> None:
        """Close a connection of `connect`."""
        connection.close()

    def _wrapped(self, exc: Exception, sql: str | None) -> DBAPIError:
        """Return the driver's `exc` as SQLAlchemy raises it (`OperationalError`, ...)."""
        return DBAPIError.instance(  # type: ignore[return-value]
            sql, None, exc, self.dialect.loaded_dbapi.Error, hide_parameters=True
        )

    def _cursor(self, connection: Any) -> Any:
        if self.postgres:
            import psycopg

            return psycopg.RawCursor(connection)
        return connection.cursor()

    def _marks(self, count: int) -> str:
        """Return `count` positional placeholders for this driver, comma-separated."""
        if self.postgres:
            return ", ".join(f"${i}" for i in range(1, count + 1))
        return ", ".join(["?"] * count)

    def commit(self, connection: Any, rows: Sequence[dict[str, Any]]) -> list[Stored]:
        """Insert `rows` in one transaction and commit it; count the new ones."""
        sql, positions = self._statement(len(rows))
        params = self._parameters(rows, positions)
        cursor = self._cursor(connection)
        try:
            # Committed when it returns, on either database: no transaction is left open
            # to roll back when it fails (the writer drops the connection anyway).
            self._execute(cursor, sql, params)
            if self.postgres:
                by_key: dict[str, int] = {row[1]: row[0] for row in cursor.fetchall()}
            else:
                by_key = inserted_ids(cursor.rowcount, cursor.lastrowid, rows)
            stored = self._resolve(cursor, rows, by_key)
        except self.dialect.loaded_dbapi.Error as exc:
            raise self._wrapped(exc, sql) from exc
        finally:
            cursor.close()
        count_received([row for row, s in zip(rows, stored, strict=True) if not s.duplicate])
        return stored

    def _execute(self, cursor: Any, sql: str, params: list[Any]) -> None:
        """Run the insert; on SQLite, try again while another connection holds the write lock."""
        if self.postgres:
            cursor.execute(sql, params)
            return
        deadline: float | None = None
        while True:
            try:
                cursor.execute(sql, params)
                return
            except self.dialect.loaded_dbapi.OperationalError as exc:
                # SQLITE_BUSY, or SQLITE_BUSY_SNAPSHOT: refused before anything was written.
                if not getattr(exc, "sqlite_errorname", "").startswith("SQLITE_BUSY"):
                    raise
                now = time.monotonic()
                if deadline is None:
                    deadline = now + BUSY_WAIT_SECONDS
                elif now >= deadline:
                    raise

    def _resolve(
        self, cursor: Any, rows: Sequence[dict[str, Any]], by_key: dict[str, int]
    ) -> list[Stored]:
        """Return each row's `Stored`, looking up the rows a conflict kept out (rare)."""
        missing = [row for row in rows if row["ingest_key"] not in by_key]
        by_external: dict[str, int] = {}
        if missing:
            keys = [row["ingest_key"] for row in missing]
            cursor.execute(
                f"SELECT id, ingest_key FROM {TABLE} WHERE ingest_key IN "  # noqa: S608
                f"({self._marks(len(keys))})",
                keys,
            )
            by_key.update((key, id_) for id_, key in cursor.fetchall())
            externals = [row["external_id"] for row in missing if row["external_id"] is not None]
            if externals:
                cursor.execute(
                    f"SELECT id, external_id FROM {TABLE} WHERE external_id IN "  # noqa: S608
                    f"({self._marks(len(externals))})",
                    externals,
                )
                by_external.update((ext, id_) for id_, ext in cursor.fetchall())
        return stored_in_order(rows, by_key, by_external)


def inserted_ids(
    rowcount: int, lastrowid: int | None, rows: Sequence[dict[str, Any]]
) -> dict[str, int]:
    """Return the id of each row of SQLite's multi-row insert, by ingest key, when all went in.

    SQLite gives a new row of a table without AUTOINCREMENT the largest rowid plus one
    (sqlite.org/autoinc.html: "one larger than the largest ROWID in the table prior to the
    insert"), and one statement inserts its VALUES in order under the write lock, so the k
    rows of an insert that stored all k hold the k ids ending at `lastrowid`. When a
    conflict kept any row out (`rowcount` < k), the ids are not known here: an empty dict,
    and `DriverInsert._resolve` reads them by ingest key.
    """
    if lastrowid is None or rowcount != len(rows):
        return {}
    first = lastrowid - len(rows) + 1
    return {row["ingest_key"]: first + i for i, row in enumerate(rows)}


def _with_constants(process: Processor) -> Processor:
    """Wrap a bind processor so that an empty dict or list is bound as its processed text."""
    if process is None:
        return None
    bound = process
    empty_dict, empty_list = bound({}), bound([])

    def processed(value: Any) -> Any:
        if value == {} and type(value) is dict:
            return empty_dict
        if value == [] and type(value) is list:
            return empty_list
        return bound(value)

    return processed
