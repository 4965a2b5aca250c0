"""Table: images (re-encoded uploads, stored in the database so every web instance serves them)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.db import Base, UtcDateTime, enum_check, enum_string


class ImageFormat(StrEnum):
    """What the service stores; WebP uploads become one of these (Outlook cannot show WebP)."""

    JPEG = "jpeg"
    PNG = "png"


class Image(Base):
    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("federation_id", "digest"),
        enum_check("format", ImageFormat),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    federation_id: Mapped[int] = mapped_column(
        ForeignKey("federations.id", ondelete="CASCADE"), index=True
    )
    # SHA-256 of the stored bytes: the URL names the content, so it can be cached for ever.
    digest: Mapped[str] = mapped_column(String(64))
    format: Mapped[ImageFormat] = mapped_column(enum_string(ImageFormat))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    byte_size: Mapped[int] = mapped_column(Integer)
    alt_text: Mapped[str] = mapped_column(String(500))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=now)
