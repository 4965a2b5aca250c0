"""Tables: federations and api_keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.db import Base, EncryptedString, UtcDateTime


class Federation(Base):
    __tablename__ = "federations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    from_email: Mapped[str] = mapped_column(String(254))
    from_name: Mapped[str] = mapped_column(String(200))
    reply_to: Mapped[str | None] = mapped_column(String(254))
    postal_address: Mapped[str] = mapped_column(Text, default="")
    contact_email: Mapped[str | None] = mapped_column(String(254))
    website_url: Mapped[str | None] = mapped_column(String(500))
    logo_url: Mapped[str | None] = mapped_column(String(500))
    brand_color: Mapped[str] = mapped_column(String(7), default="#1f5f8b")
    accent_color: Mapped[str] = mapped_column(String(7), default="#f2c14e")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Stockholm")
    # Origins allowed to embed the public form in an iframe (CSP frame-ancestors).
    frame_ancestors: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Optional per-federation relay and rate; None means the global setting.
    smtp_host: Mapped[str | None] = mapped_column(String(255))
    smtp_port: Mapped[int | None] = mapped_column(Integer)
    smtp_username: Mapped[str | None] = mapped_column(String(255))
    smtp_password: Mapped[str | None] = mapped_column(EncryptedString)
    smtp_security: Mapped[str | None] = mapped_column(String(8))
    send_rate_per_second: Mapped[float | None] = mapped_column()
    # Defaults for every letter's closing; a campaign may override each (None: use these).
    # Days an unsubscribed subscriber is kept before the purge deletes them; None: the setting.
    unsubscribed_retention_days: Mapped[int | None] = mapped_column(Integer)
    # A welcome mail after confirmation (on by default); None: the default Swedish text.
    welcome_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    welcome_text: Mapped[str | None] = mapped_column(Text)
    default_sign_off: Mapped[str | None] = mapped_column(String(300))
    default_signature_name: Mapped[str | None] = mapped_column(String(200))
    default_signature_title: Mapped[str | None] = mapped_column(String(200))
    # Four eyes: campaigns are scheduled or sent only after an ansvarig other than their
    # authors approved the exact version.
    four_eyes: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Whether a new campaign is shown in the public archive once sent, unless it says.
    publish_in_archive_default: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=true()
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now, onupdate=now)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL federation means an admin key.
    federation_id: Mapped[int | None] = mapped_column(
        ForeignKey("federations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
