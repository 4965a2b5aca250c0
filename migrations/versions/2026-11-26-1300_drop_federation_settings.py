"""drop the unused federations.settings column

Revision ID: 0002_drop_federation_settings
Revises: 0001
Create Date: 2026-11-26 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_drop_federation_settings"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain DROP COLUMN (SQLite 3.35+ has it), not batch mode: batch mode copies the table
    # and drops the original, which with foreign keys on would cascade to every tenant row.
    op.drop_column("federations", "settings")


def downgrade() -> None:
    # Existing rows get the empty object the model used to default to.
    op.add_column(
        "federations",
        sa.Column("settings", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
    )
