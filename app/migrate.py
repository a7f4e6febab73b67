"""Schema migrations through Alembic, callable from the CLI, the tests and /readyz."""

from __future__ import annotations

import functools

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import DBAPIError

from app.config import PROJECT_ROOT
from app.db import normalise_url

MIGRATIONS = PROJECT_ROOT / "migrations"


def alembic_config(database_url: str) -> AlembicConfig:
    """Return an Alembic configuration for `database_url`, no alembic.ini needed."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["database_url"] = normalise_url(database_url)
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema up to `revision`."""
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Take the schema down to `revision`."""
    command.downgrade(alembic_config(database_url), revision)


@functools.cache
def head_revision() -> str | None:
    """Return the newest revision the code knows (read once: the scripts do not change)."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """Return the revision the database is at (None if never migrated)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


UPGRADE_HINT = "run `flask --app wsgi db upgrade`"


def is_missing_schema(exc: BaseException) -> bool:
    """Say whether a database error means a table is missing (a schema never migrated)."""
    if not isinstance(exc, DBAPIError):
        return False
    # PostgreSQL: SQLSTATE 42P01 undefined_table; SQLite has no codes, only this text.
    if getattr(exc.orig, "sqlstate", None) == "42P01":
        return True
    return "no such table" in str(exc.orig)


def schema_problem(engine: Engine) -> str | None:
    """Return one line saying why the schema cannot serve this code, or None if it can."""
    from app import models  # noqa: F401  (every table is in the metadata)
    from app.db import Base

    present = set(inspect(engine).get_table_names())
    missing = sorted(set(Base.metadata.tables) - present)
    where = engine.url.render_as_string(hide_password=True)
    if missing:
        if len(missing) == len(Base.metadata.tables):
            return f"the database {where} has no Lifeguard schema: {UPGRADE_HINT}"
        return f"the database {where} lacks tables {', '.join(missing)}: {UPGRADE_HINT}"
    current = current_revision(engine)
    head = head_revision()
    if current is not None and current != head:
        return f"the database {where} is at schema {current}, the code needs {head}: {UPGRADE_HINT}"
    return None
