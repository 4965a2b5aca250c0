"""dispatcher_ticks: dispatcher liveness and totals for /metrics

Revision ID: 0003_dispatcher_ticks
Revises: 0002_drop_federation_settings
Create Date: 2026-11-26 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "0003_dispatcher_ticks"
down_revision: str | None = "0002_drop_federation_settings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dispatcher_ticks",
        sa.Column("dispatcher", sa.String(length=32), nullable=False),
        sa.Column("last_tick_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ticks", sa.BigInteger(), nullable=False),
        sa.Column("sent", sa.BigInteger(), nullable=False),
        sa.Column("deferred", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.BigInteger(), nullable=False),
        sa.Column("unknown", sa.BigInteger(), nullable=False),
        sa.Column("suppressed", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("dispatcher", name=op.f("pk_dispatcher_ticks")),
    )


def downgrade() -> None:
    op.drop_table("dispatcher_ticks")
