"""deliveries.wire_at: when the message went on the wire (crash recovery without a journal)

Revision ID: 0012_delivery_wire_at
Revises: 0011_subscribers_unique_mailbox
Create Date: 2026-11-26 15:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0012_delivery_wire_at"
down_revision: str | None = "0011_subscribers_unique_mailbox"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "deliveries", sa.Column("wire_at", app.db.UtcDateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("deliveries", "wire_at")
