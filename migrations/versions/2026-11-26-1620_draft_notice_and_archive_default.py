"""draft_notice delivery kind; federations.publish_in_archive_default

Revision ID: b7e3c1a9d462
Revises: a4d8e2f6c915
Create Date: 2026-11-26 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7e3c1a9d462"
down_revision: str | None = "a4d8e2f6c915"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("confirmation", "self_service", "campaign", "test", "sign_in", "welcome")


def _delivery_kinds(kinds: tuple[str, ...]) -> None:
    """Replace the CHECK on deliveries.kind (a batch copy of the table on SQLite)."""
    allowed = ", ".join(f"'{k}'" for k in kinds)
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_deliveries_kind_valid"), type_="check")
        batch_op.create_check_constraint("kind_valid", f"kind IN ({allowed})")


def upgrade() -> None:
    with op.batch_alter_table("federations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "publish_in_archive_default",
                sa.Boolean(),
                server_default=sa.true(),
                nullable=False,
            )
        )
    _delivery_kinds((*KINDS, "draft_notice"))


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE kind = 'draft_notice'")
    _delivery_kinds(KINDS)
    with op.batch_alter_table("federations", schema=None) as batch_op:
        batch_op.drop_column("publish_in_archive_default")
