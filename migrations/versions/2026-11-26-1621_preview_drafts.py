"""preview_drafts: the editor's unsaved text, kept briefly for the staff preview frame

Revision ID: b7c2e9a4f031
Revises: b7e3c1a9d462
Create Date: 2026-11-26 16:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

revision: str = "b7c2e9a4f031"
down_revision: str | None = "b7e3c1a9d462"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "preview_drafts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("staff_session_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("expires_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_preview_drafts_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_session_id"],
            ["staff_sessions.id"],
            name=op.f("fk_preview_drafts_staff_session_id_staff_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preview_drafts")),
        sa.UniqueConstraint(
            "staff_session_id",
            "campaign_id",
            name=op.f("uq_preview_drafts_staff_session_id_campaign_id"),
        ),
    )
    op.create_index(
        op.f("ix_preview_drafts_campaign_id"), "preview_drafts", ["campaign_id"], unique=False
    )
    op.create_index(
        op.f("ix_preview_drafts_expires_at"), "preview_drafts", ["expires_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_preview_drafts_expires_at"), table_name="preview_drafts")
    op.drop_index(op.f("ix_preview_drafts_campaign_id"), table_name="preview_drafts")
    op.drop_table("preview_drafts")
