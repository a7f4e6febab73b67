"""Events: an index on (lower(server_id), id) for the events list of one server

The dashboard and the API filter events by server case-insensitively and read them
newest first; without this index that walked the primary key backwards until a page of
the server's events was found (at 1,000,000 events, 120-190 ms on PostgreSQL).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_events_server_lower_id", "events", [sa.text("lower(server_id)"), "id"])


def downgrade() -> None:
    op.drop_index("ix_events_server_lower_id", table_name="events")
