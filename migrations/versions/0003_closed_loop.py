"""Closed loop: expectations on action jobs, holds, flapping episodes

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Jobs with `expect:` record the server whose event confirms them and by when;
a job left unverified holds its rule for its throttle key (holds); a flapping
server has one episode row so FlapDetected is emitted once per episode.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db


revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flap_episodes",
        sa.Column("server_id", sa.String(length=64), nullable=False),
        sa.Column("started_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_change_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("transitions", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("server_id", name=op.f("pk_flap_episodes")),
    )
    op.create_table(
        "holds",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("throttle_key", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("event_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holds")),
    )
    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_holds_rule_key", ["rule", "throttle_key", "cleared_at"], unique=False
        )

    with op.batch_alter_table("action_jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expect_server_id", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("expect_deadline", app.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("verified_event_id", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            "ix_action_jobs_expecting",
            ["expect_server_id"],
            unique=False,
            postgresql_where=sa.text("expect_deadline IS NOT NULL AND status = 'succeeded'"),
            sqlite_where=sa.text("expect_deadline IS NOT NULL AND status = 'succeeded'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("action_jobs", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_action_jobs_expecting",
            postgresql_where=sa.text("expect_deadline IS NOT NULL AND status = 'succeeded'"),
            sqlite_where=sa.text("expect_deadline IS NOT NULL AND status = 'succeeded'"),
        )
        batch_op.drop_column("verified_event_id")
        batch_op.drop_column("expect_deadline")
        batch_op.drop_column("expect_server_id")

    with op.batch_alter_table("holds", schema=None) as batch_op:
        batch_op.drop_index("ix_holds_rule_key")

    op.drop_table("holds")
    op.drop_table("flap_episodes")
