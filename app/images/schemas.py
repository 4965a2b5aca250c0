"""Pydantic shapes for the image API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from app.images.models import ImageFormat


class ImageRead(BaseModel):
    id: int
    url: str = Field(description="Stable public address; the content never changes.")
    format: ImageFormat
    width: int
    height: int
    byte_size: int
    alt_text: str
    created_at: datetime


class ImageList(BaseModel):
    items: list[ImageRead]
