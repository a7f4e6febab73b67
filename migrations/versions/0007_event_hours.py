"""Hourly event counts for the overview (event_hours) and the fold's watermark (event_fold)

The stored events are counted in at once, so an upgraded install shows the right
figures before a worker has folded anything.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 19:00:00.000000
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The start of an event's UTC hour, as app/queries/sqlfuncs.py `hour_start` writes it
# today (spelled out: a migration does not change when that code does).
HOUR_START = {
    "sqlite": "substr(received_at, 1, 13) || ':00:00.000000'",
    "postgresql": "date_trunc('hour', received_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
}


def upgrade() -> None:
    op.create_table(
        "event_fold",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("folded_id", sa.BigInteger(), nullable=False),
        sa.Column("folded_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("candidate_id", sa.BigInteger(), nullable=True),
        sa.Column("candidate_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_fold")),
    )
    op.create_table(
        "event_hours",
        sa.Column("hour", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "name", name=op.f("pk_event_hours")),
    )
    bind = op.get_bind()
    dialect = bind.dialect.name
    if dialect == "postgresql":
        # Wait for every transaction inserting events to end, and hold new ones off until
        # this commits: then no id below max(id) is still uncommitted, and the watermark
        # may be max(id) itself. On SQLite the migration holds the one write lock already.
        op.execute("LOCK TABLE events IN SHARE MODE")
    top = bind.execute(sa.text("SELECT coalesce(max(id), 0) FROM events")).scalar() or 0
    hour = HOUR_START[dialect]
    bind.execute(
        sa.text(
            f"INSERT INTO event_hours (hour, name, events) "  # noqa: S608  (constant text)
            f"SELECT {hour}, name, count(*) FROM events WHERE id <= :top GROUP BY 1, 2"
        ),
        {"top": top},
    )
    bind.execute(
        sa.text(
            "INSERT INTO event_fold (id, folded_id, folded_at) VALUES (1, :top, :at)"
        ).bindparams(sa.bindparam("at", type_=app.db.UTCDateTime())),
        {"top": top, "at": datetime.now(UTC)},
    )


def downgrade() -> None:
    op.drop_table("event_hours")
    op.drop_table("event_fold")
