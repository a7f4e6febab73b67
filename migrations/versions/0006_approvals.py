"""Approvals: a job's status may be `awaiting_approval`, longer than 16 characters

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 04:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("action_jobs", schema=None) as batch_op:
        batch_op.alter_column(
            "status",
            existing_type=sa.String(length=16),
            type_=sa.String(length=32),
            existing_nullable=False,
        )


def downgrade() -> None:
    # A job still awaiting approval would not fit: it is cancelled first, with the reason.
    op.execute(
        "UPDATE action_jobs SET status = 'cancelled', "
        "reason = 'approval pending when the schema was downgraded' "
        "WHERE status = 'awaiting_approval'"
    )
    with op.batch_alter_table("action_jobs", schema=None) as batch_op:
        batch_op.alter_column(
            "status",
            existing_type=sa.String(length=32),
            type_=sa.String(length=16),
            existing_nullable=False,
        )
