"""SQL expressions that differ between SQLite and PostgreSQL, behind one name."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


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
