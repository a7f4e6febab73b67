"""events.ingest_key: the unique key ingest gives each delivery, so a spool replay stores it once

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ingest_key", sa.String(length=40), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_events_ingest_key"), ["ingest_key"])


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_events_ingest_key"), type_="unique")
        batch_op.drop_column("ingest_key")
