"""Audit log shapes: who acted (Actor), and the rows as the API returns them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from app.audit.models import AuditAction


@dataclass(frozen=True)
class Actor:
    """Who made a change: a signed-in person or an API key, passed from the edge to services."""

    label: str
    user_id: int | None = None
    api_key_id: int | None = None

    @classmethod
    def person(cls, *, user_id: int, email: str) -> Actor:
        return cls(label=email, user_id=user_id)

    @classmethod
    def key(cls, *, api_key_id: int, name: str, prefix: str) -> Actor:
        return cls(label=f"API-nyckel {name} ({prefix}…)", api_key_id=api_key_id)

    @classmethod
    def system(cls, what: str) -> Actor:
        """A command-line operator or the dispatcher (no person or key behind it)."""
        return cls(label=what)


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
