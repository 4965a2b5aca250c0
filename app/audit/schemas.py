"""Audit log shapes: the rows as the API returns them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.audit.models import AuditAction


class AuditEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str = Field(validation_alias="actor_label", description="Person or key, as it was.")
    user_id: int | None
    api_key_id: int | None
    action: AuditAction
    target_type: str | None
    target_id: int | None
    summary: str


class AuditPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [], "next_cursor": None}]})

    items: list[AuditEntryRead]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page."
    )
