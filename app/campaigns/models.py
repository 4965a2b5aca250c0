"""Tables: campaigns, and the unsaved editor drafts shown in the staff preview."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.db import Base, UtcDateTime, enum_check, enum_string
from app.images.models import Image


class CampaignStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    SENT = "sent"
    CANCELLED = "cancelled"


class Theme(StrEnum):
    SOMMAR = "sommar"
    JUL = "jul"
    ARSSKIFTE = "arsskifte"
    ALLMAN = "allman"


class Campaign(Base):
    __tablename__ = "campaigns"
    __table_args__ = (
        Index("ix_campaigns_status_send_at", "status", "send_at"),
        enum_check("status", CampaignStatus),
        enum_check("theme", Theme),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    federation_id: Mapped[int] = mapped_column(
        ForeignKey("federations.id", ondelete="CASCADE"), index=True
    )
    subject: Mapped[str] = mapped_column(String(200))
    preheader: Mapped[str] = mapped_column(String(300), default="")
    theme: Mapped[Theme] = mapped_column(enum_string(Theme))
    body_markdown: Mapped[str] = mapped_column(Text)
    # The campaign's own header photo instead of the theme's artwork.
    header_image_id: Mapped[int | None] = mapped_column(
        ForeignKey(Image.id, ondelete="SET NULL"), index=True
    )
    # The closing is the author's: None takes the federation's default (then the theme's),
    # "" means none at all. Nothing else is added after it.
    sign_off: Mapped[str | None] = mapped_column(String(300))
    signature_name: Mapped[str | None] = mapped_column(String(200))
    signature_title: Mapped[str | None] = mapped_column(String(200))
    signature_image_id: Mapped[int | None] = mapped_column(
        ForeignKey(Image.id, ondelete="SET NULL")
    )
    # Shown in the public archive, its Atom feed and the embeddable list once sent.
    publish_in_archive: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    status: Mapped[CampaignStatus] = mapped_column(
        enum_string(CampaignStatus), default=CampaignStatus.DRAFT
    )
    send_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    paused_reason: Mapped[str | None] = mapped_column(Text)
    # Four eyes: `version` grows with every edit; an approval names the version it saw, so an
    # edit after approval withdraws it. Authors and approvers are users.id (NULL: an API key
    # or the CLI). No foreign keys on purpose: adding one to an existing SQLite table needs a
    # table rebuild, which cascades to the deliveries; a removed person's id simply matches
    # nobody, and the audit log keeps who it was.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_by_user_id: Mapped[int | None] = mapped_column(Integer)
    edited_by_user_id: Mapped[int | None] = mapped_column(Integer)
    approved_version: Mapped[int | None] = mapped_column(Integer)
    approved_by_user_id: Mapped[int | None] = mapped_column(Integer)
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, onupdate=now)


class PreviewDraft(Base):
    """What a person has typed in the editor but not saved, kept briefly for the preview.

    The staff pages' CSP allows no srcdoc or data: frames, so the preview frame loads the
    unsaved letter by a same-origin GET; this row carries it from the POST to that GET, in
    the database so every web worker can serve it. One per signed-in browser and campaign."""

    __tablename__ = "preview_drafts"
    __table_args__ = (UniqueConstraint("staff_session_id", "campaign_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    staff_session_id: Mapped[int] = mapped_column(
        ForeignKey("staff_sessions.id", ondelete="CASCADE")
    )
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True
    )
    # The editor's fields as CampaignUpdate takes them (validated before they are stored).
    fields: Mapped[dict[str, object]] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
