"""Audit use cases: record a change, list a federation's log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.actors import Actor
from app.audit import repository
from app.audit.models import AuditAction, AuditEntry
from app.clock import now
from app.pagination import decode_cursor, encode_cursor

CURSOR_KIND = "a1"
MAX_SUMMARY = 500


async def record(
    session: AsyncSession,
    *,
    actor: Actor,
    action: AuditAction,
    federation_id: int | None,
    target_type: str | None = None,
    target_id: int | None = None,
    summary: str = "",
) -> AuditEntry:
    """Append one row in the caller's transaction (so it exists exactly when the change does).

    Callers write the summary without subscriber addresses: the log outlives erasure."""
    entry = AuditEntry(
        at=now(),
        federation_id=federation_id,
        user_id=actor.user_id,
        api_key_id=actor.api_key_id,
        actor_label=actor.label[:254],
        action=action,
        target_type=target_type,
        target_id=target_id,
        summary=summary[:MAX_SUMMARY],
    )
    await repository.append(session, entry)
    return entry


@dataclass(frozen=True)
class Page:
    items: Sequence[AuditEntry]
    next_cursor: str | None


async def list_log(
    session: AsyncSession,
    *,
    federation_id: int,
    actions: Sequence[AuditAction] = (),
    user_id: int | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """One page of a federation's log, newest first, with a cursor for the next."""
    before_id = decode_cursor(CURSOR_KIND, cursor) if cursor else None
    rows = await repository.list_entries(
        session,
        federation_id=federation_id,
        actions=actions,
        user_id=user_id,
        before_id=before_id,
        limit=limit + 1,
    )
    items = rows[:limit]
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor(CURSOR_KIND, items[-1].id) if more else None)


async def purge(session: AsyncSession, *, federation_id: int | None, before: datetime) -> int:
    """The retention rule for the log (see app.subscribers.retention.purge)."""
    return await repository.delete_older_than(session, federation_id=federation_id, before=before)
