"""audit actions for deleting a draft and uploading an image

Revision ID: d1e6a3b8c540
Revises: c3f9a1e7d2b4
Create Date: 2026-11-26 17:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "d1e6a3b8c540"
down_revision: str | None = "c3f9a1e7d2b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIONS = (
    "signed_in",
    "signed_out",
    "signed_out_everywhere",
    "person_invited",
    "role_changed",
    "person_removed",
    "campaign_created",
    "campaign_edited",
    "campaign_approved",
    "campaign_test_sent",
    "campaign_scheduled",
    "campaign_unscheduled",
    "campaign_sent",
    "campaign_cancelled",
    "campaign_paused",
    "campaign_resumed",
    "campaign_requeued",
    "subscriber_added",
    "subscribers_imported",
    "subscriber_edited",
    "subscriber_erased",
    "settings_changed",
    "api_key_created",
    "api_key_revoked",
    "federation_created",
)
NEW = ("campaign_deleted", "image_uploaded")


def _actions(actions: tuple[str, ...]) -> None:
    """Replace the CHECK on audit_log.action (a batch copy of the table on SQLite)."""
    allowed = ", ".join(f"'{a}'" for a in actions)
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_audit_log_action_valid"), type_="check")
        batch_op.create_check_constraint("action_valid", f"action IN ({allowed})")


def upgrade() -> None:
    _actions((*ACTIONS, *NEW))


def downgrade() -> None:
    # Earlier uploads were recorded as settings changes on an image; so are these, going back.
    op.execute("UPDATE audit_log SET action = 'settings_changed' WHERE action = 'image_uploaded'")
    op.execute("DELETE FROM audit_log WHERE action = 'campaign_deleted'")
    _actions(ACTIONS)
