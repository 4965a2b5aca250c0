"""Table: audit_log (append-only: rows are added and, past retention, deleted; never changed)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.db import Base, UtcDateTime, enum_check, enum_string

# Tables the log refers to, so its foreign keys resolve wherever the log is written.
from app.federations import models as federations_models  # noqa: F401
from app.users import models as users_models  # noqa: F401


class AuditAction(StrEnum):
    SIGNED_IN = "signed_in"
    SIGNED_OUT = "signed_out"
    SIGNED_OUT_EVERYWHERE = "signed_out_everywhere"
    PERSON_INVITED = "person_invited"
    ROLE_CHANGED = "role_changed"
    PERSON_REMOVED = "person_removed"
    CAMPAIGN_CREATED = "campaign_created"
    CAMPAIGN_EDITED = "campaign_edited"
    CAMPAIGN_APPROVED = "campaign_approved"
    CAMPAIGN_TEST_SENT = "campaign_test_sent"
    CAMPAIGN_SCHEDULED = "campaign_scheduled"
    CAMPAIGN_UNSCHEDULED = "campaign_unscheduled"
    CAMPAIGN_SENT = "campaign_sent"
    CAMPAIGN_CANCELLED = "campaign_cancelled"
    CAMPAIGN_PAUSED = "campaign_paused"
    CAMPAIGN_RESUMED = "campaign_resumed"
    CAMPAIGN_REQUEUED = "campaign_requeued"
    CAMPAIGN_DELETED = "campaign_deleted"
    SUBSCRIBER_ADDED = "subscriber_added"
    SUBSCRIBERS_IMPORTED = "subscribers_imported"
    SUBSCRIBER_EDITED = "subscriber_edited"
    SUBSCRIBER_ERASED = "subscriber_erased"
    SETTINGS_CHANGED = "settings_changed"
    IMAGE_UPLOADED = "image_uploaded"
    API_KEY_CREATED = "api_key_created"
    API_KEY_REVOKED = "api_key_revoked"
    FEDERATION_CREATED = "federation_created"


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        # The page and the API list one federation's rows newest first.
        Index("ix_audit_log_federation_id_id", "federation_id", "id"),
        enum_check("action", AuditAction),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    # NULL for install-wide events (an install admin signing in without a federation).
    federation_id: Mapped[int | None] = mapped_column(
        ForeignKey("federations.id", ondelete="CASCADE")
    )
    # Who: a person or an API key. The label keeps the name as it was, so a row still says
    # who acted after the person or key is gone (the ids are then set to NULL).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id", ondelete="SET NULL"))
    actor_label: Mapped[str] = mapped_column(String(254))
    action: Mapped[AuditAction] = mapped_column(enum_string(AuditAction))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    # Never a subscriber's address: the log outlives erasure.
    summary: Mapped[str] = mapped_column(Text, default="")


@event.listens_for(AuditEntry, "before_update")
def _refuse_update(_mapper: Any, _connection: Any, target: AuditEntry) -> None:
    raise RuntimeError(f"audit_log row {target.id} is append-only")
