"""Table: deliveries (the outbox; one row per message to one recipient)."""

from __future__ import annotations

from datetime import datetime
from enum import IntEnum, StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.db import Base, UtcDateTime, enum_check, enum_string


class DeliveryKind(StrEnum):
    CONFIRMATION = "confirmation"
    SELF_SERVICE = "self_service"
    CAMPAIGN = "campaign"
    TEST = "test"
    WELCOME = "welcome"
    # A staff sign-in link (to_address is the person's address; see app.users).
    SIGN_IN = "sign_in"
    # A seasonal draft is waiting (to_address: one of the rule's owners; campaign_id: the
    # draft; see app.seasons).
    DRAFT_NOTICE = "draft_notice"


# Mails about one subscription, built by the subscribers domain from the row's token.
TRANSACTIONAL_KINDS = (DeliveryKind.CONFIRMATION, DeliveryKind.SELF_SERVICE, DeliveryKind.WELCOME)
# Mails to staff addresses (to_address), never to a subscriber: suppression does not apply.
STAFF_KINDS = (DeliveryKind.TEST, DeliveryKind.SIGN_IN, DeliveryKind.DRAFT_NOTICE)


class Priority(IntEnum):
    """Lower is sooner: confirmations, self-service and test mail before campaign mail."""

    TRANSACTIONAL = 10
    CAMPAIGN = 100


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DEFERRED = "deferred"
    FAILED = "failed"
    UNKNOWN = "unknown"
    # Not sent on purpose: the recipient unsubscribed, was erased or bounced before sending,
    # or the campaign was cancelled. Recorded, never silently skipped.
    SUPPRESSED = "suppressed"
    CANCELLED = "cancelled"


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (
        # NULL campaign_id (confirmation mails) never collides: NULLs are distinct.
        UniqueConstraint("campaign_id", "subscriber_id"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_subscriber_kind", "subscriber_id", "kind", "created_at"),
        enum_check("kind", DeliveryKind),
        enum_check("status", DeliveryStatus),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    federation_id: Mapped[int] = mapped_column(ForeignKey("federations.id", ondelete="CASCADE"))
    kind: Mapped[DeliveryKind] = mapped_column(enum_string(DeliveryKind))
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    # SET NULL on erasure: deliveries keep no address and no link to an erased person.
    subscriber_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscribers.id", ondelete="SET NULL")
    )
    token_id: Mapped[int | None] = mapped_column(ForeignKey("tokens.id", ondelete="SET NULL"))
    # Only for test sends to staff addresses that are not subscribers.
    to_address: Mapped[str | None] = mapped_column(String(254))
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_string(DeliveryStatus), default=DeliveryStatus.QUEUED
    )
    # Lower is sooner: confirmations before campaign mail.
    priority: Mapped[int] = mapped_column(Integer, default=int(Priority.CAMPAIGN))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Set (in a group commit) just before DATA: a row still `sending` with it set was on the
    # wire when its dispatcher died (unknown); without it, nothing left (queued again).
    wire_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    smtp_code: Mapped[int | None] = mapped_column(Integer)
    enhanced_code: Mapped[str | None] = mapped_column(String(16))
    smtp_reply: Mapped[str | None] = mapped_column(Text)
    queue_id: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, onupdate=now)
