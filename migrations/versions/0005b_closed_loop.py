"""Closed loop: storm holds per farm role, the hold of a held job, farm traffic for ingest gaps

Revision ID: 0005b_closed_loop
Revises: 0004
Create Date: 2026-12-02 03:48:31.786361
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0005b_closed_loop"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "farm_traffic",
        sa.Column("farm_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("first_event_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_event_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_event_id", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("mean_gap_seconds", sa.Float(), nullable=True),
        sa.Column("gap_since", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("gap_event_id", sa.BigInteger(), nullable=True),
        sa.Column("gap_missed", sa.Integer(), nullable=True),
        sa.Column("checked_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("farm_id", name=op.f("pk_farm_traffic")),
    )
    with op.batch_alter_table("farm_traffic", schema=None) as batch_op:
        batch_op.create_index("ix_farm_traffic_last_event_id", ["last_event_id"], unique=False)

    with op.batch_alter_table("action_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("hold_id", sa.BigInteger(), nullable=True))

    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.add_column(sa.Column("farm_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("farm_role_id", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_holds_farm_role", ["farm_role_id", "cleared_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.drop_index("ix_holds_farm_role")
        batch_op.drop_column("farm_role_id")
        batch_op.drop_column("farm_id")

    with op.batch_alter_table("action_jobs", schema=None) as batch_op:
        batch_op.drop_column("hold_id")

    with op.batch_alter_table("farm_traffic", schema=None) as batch_op:
        batch_op.drop_index("ix_farm_traffic_last_event_id")

    op.drop_table("farm_traffic")
