"""staff users, memberships, sign-in tokens, sessions, audit log; sign_in delivery kind;
campaign approval columns and federations.four_eyes

Revision ID: 0010_staff
Revises: 0003_dispatcher_ticks
Create Date: 2026-11-26 12:55:49.214473
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db

_KINDS_BEFORE = "kind IN ('confirmation', 'self_service', 'campaign', 'test')"
_KINDS_AFTER = "kind IN ('confirmation', 'self_service', 'campaign', 'test', 'sign_in')"


def _deliveries_kinds(condition: str) -> None:
    # SQLite cannot alter a CHECK constraint: batch mode copies the table, drops the original
    # and renames the copy. Dropping a table that others reference would, with foreign keys
    # on, cascade to their rows, so this runs only while no table references deliveries
    # (before sign_in_tokens exists, after it is gone). Every other change here is a plain
    # ADD/DROP COLUMN or a new table for the same reason.
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_deliveries_kind_valid"), type_="check")
        batch_op.create_check_constraint("kind_valid", condition)


revision: str = "0010_staff"
down_revision: str | None = "0003_dispatcher_ticks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _deliveries_kinds(_KINDS_AFTER)
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("is_install_admin", sa.Boolean(), nullable=False),
        sa.Column("created_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_sign_in_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "federation_memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("federation_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=8), nullable=False),
        sa.Column("created_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('redaktor', 'ansvarig', 'admin')",
            name=op.f("ck_federation_memberships_role_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["federation_id"],
            ["federations.id"],
            name=op.f("fk_federation_memberships_federation_id_federations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_federation_memberships_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federation_memberships")),
        sa.UniqueConstraint(
            "user_id", "federation_id", name=op.f("uq_federation_memberships_user_id_federation_id")
        ),
    )
    with op.batch_alter_table("federation_memberships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_federation_memberships_federation_id"), ["federation_id"], unique=False
        )

    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("federation_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["federation_id"],
            ["federations.id"],
            name=op.f("fk_staff_sessions_federation_id_federations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_staff_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
        sa.UniqueConstraint("id_hash", name=op.f("uq_staff_sessions_id_hash")),
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staff_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("federation_id", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("api_key_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=254), nullable=False),
        sa.Column("action", sa.String(length=21), nullable=False),
        sa.Column("target_type", sa.String(length=32), nullable=True),
        sa.Column("target_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.CheckConstraint(
            "action IN ('signed_in', 'signed_out', 'signed_out_everywhere', 'person_invited', 'role_changed', 'person_removed', 'campaign_created', 'campaign_edited', 'campaign_approved', 'campaign_test_sent', 'campaign_scheduled', 'campaign_sent', 'campaign_cancelled', 'campaign_resumed', 'campaign_requeued', 'subscriber_added', 'subscribers_imported', 'subscriber_edited', 'subscriber_erased', 'settings_changed', 'api_key_created', 'api_key_revoked', 'federation_created')",
            name=op.f("ck_audit_log_action_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["api_key_id"],
            ["api_keys.id"],
            name=op.f("fk_audit_log_api_key_id_api_keys"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["federation_id"],
            ["federations.id"],
            name=op.f("fk_audit_log_federation_id_federations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_audit_log_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_log_federation_id_id", ["federation_id", "id"], unique=False
        )

    op.create_table(
        "sign_in_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("seed", sa.String(length=32), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "delivery_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("created_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", app.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", app.db.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_sign_in_tokens_delivery_id_deliveries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_sign_in_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_tokens")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_sign_in_tokens_delivery_id")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_sign_in_tokens_token_hash")),
    )
    with op.batch_alter_table("sign_in_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_tokens_user_id"), ["user_id"], unique=False)

    # Four eyes: campaign versions, authors and approvers; the federation's switch. Plain
    # columns: a foreign key would need batch mode on SQLite (see _deliveries_kinds).
    for column in ("created_by_user_id", "edited_by_user_id", "approved_by_user_id"):
        op.add_column("campaigns", sa.Column(column, sa.Integer(), nullable=True))
    op.add_column(
        "campaigns", sa.Column("version", sa.Integer(), server_default="1", nullable=False)
    )
    op.add_column("campaigns", sa.Column("approved_version", sa.Integer(), nullable=True))
    op.add_column(
        "campaigns", sa.Column("approved_at", app.db.UtcDateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "federations",
        sa.Column("four_eyes", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    op.drop_column("federations", "four_eyes")
    for column in (
        "approved_at",
        "approved_version",
        "version",
        "approved_by_user_id",
        "edited_by_user_id",
        "created_by_user_id",
    ):
        op.drop_column("campaigns", column)
    with op.batch_alter_table("sign_in_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_tokens_user_id"))

    op.drop_table("sign_in_tokens")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_federation_id_id")

    op.drop_table("audit_log")
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_sessions_user_id"))

    op.drop_table("staff_sessions")
    with op.batch_alter_table("federation_memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_memberships_federation_id"))

    op.drop_table("federation_memberships")
    op.drop_table("users")
    op.execute("DELETE FROM deliveries WHERE kind = 'sign_in'")
    _deliveries_kinds(_KINDS_BEFORE)
