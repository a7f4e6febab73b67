"""SQL expressions that differ between SQLite and PostgreSQL, behind one name."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from app.db import UTCDateTime


class _time_bucket(FunctionElement[str]):  # reads like the SQL function it is
    """The UTC time of a timestamp column cut to a unit, as sortable text, on either backend.

    app.db stores UTC on SQLite as ISO text, "YYYY-MM-DD HH:MM:SS.ffffff", so a
    bucket is a prefix there; PostgreSQL formats the timestamp in UTC.
    """

    type = String()
    inherit_cache = True
    prefix_length: int  # of the ISO text on SQLite
    pg_format: str  # to_char's pattern on PostgreSQL


class hour_bucket(_time_bucket):
    """The UTC hour of a timestamp column as text, `YYYY-MM-DD HH`."""

    inherit_cache = True
    name = "hour_bucket"
    prefix_length = 13
    pg_format = "YYYY-MM-DD HH24"


class minute_bucket(_time_bucket):
    """The UTC minute of a timestamp column as text, `YYYY-MM-DD HH:MM`."""

    inherit_cache = True
    name = "minute_bucket"
    prefix_length = 16
    pg_format = "YYYY-MM-DD HH24:MI"


class hour_start(FunctionElement[datetime]):  # reads like the SQL function it is
    """The start of the UTC hour of a timestamp column, as a timestamp, on either backend.

    On SQLite it is the ISO text cut to the hour and padded the way app.db writes a
    time, so it compares with bound datetimes and reads back as one; on PostgreSQL
    the timestamp truncated in UTC (date_trunc alone would cut in the session's zone).
    """

    type = UTCDateTime()
    inherit_cache = True
    name = "hour_start"


@compiles(hour_start, "sqlite")
def _hour_start_sqlite(element: hour_start, compiler: SQLCompiler, **kw: Any) -> str:
    return f"(substr({compiler.process(element.clauses, **kw)}, 1, 13) || ':00:00.000000')"


@compiles(hour_start, "postgresql")
def _hour_start_postgresql(element: hour_start, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"(date_trunc('hour', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"


@compiles(hour_start)
def _hour_start_other(element: hour_start, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"{element.name} is not written for {compiler.dialect.name}")


@compiles(_time_bucket, "sqlite")
def _bucket_sqlite(element: _time_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, {element.prefix_length})"


@compiles(_time_bucket, "postgresql")
def _bucket_postgresql(element: _time_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char({column} AT TIME ZONE 'UTC', '{element.pg_format}')"


@compiles(_time_bucket)
def _bucket_other(element: _time_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"{element.name} is not written for {compiler.dialect.name}")
