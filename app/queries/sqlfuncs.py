"""SQL expressions that differ between SQLite and PostgreSQL, behind one name."""

from __future__ import annotations

from typing import Any

from sqlalchemy import String
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class hour_bucket(FunctionElement[str]):  # reads like the SQL function it is
    """The UTC hour of a timestamp column as text, `YYYY-MM-DD HH`, on either backend."""

    type = String()
    inherit_cache = True
    name = "hour_bucket"


@compiles(hour_bucket, "sqlite")
def _hour_sqlite(element: hour_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    # app.db stores UTC as ISO text, "YYYY-MM-DD HH:MM:SS.ffffff": the hour is a prefix.
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 13)"


@compiles(hour_bucket, "postgresql")
def _hour_postgresql(element: hour_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"


@compiles(hour_bucket)
def _hour_other(element: hour_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"hour_bucket is not written for {compiler.dialect.name}")


class minute_bucket(FunctionElement[str]):  # reads like the SQL function it is
    """The UTC minute of a timestamp column as text, `YYYY-MM-DD HH:MM`, on either backend."""

    type = String()
    inherit_cache = True
    name = "minute_bucket"


@compiles(minute_bucket, "sqlite")
def _minute_sqlite(element: minute_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 16)"


@compiles(minute_bucket, "postgresql")
def _minute_postgresql(element: minute_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')"


@compiles(minute_bucket)
def _minute_other(element: minute_bucket, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"minute_bucket is not written for {compiler.dialect.name}")
