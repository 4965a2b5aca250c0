"""Queries on the audit log: append, and one federation's rows newest first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditAction, AuditEntry


async def append(session: AsyncSession, entry: AuditEntry) -> None:
    session.add(entry)
    await session.flush()


async def list_entries(
    session: AsyncSession,
    *,
    federation_id: int,
    actions: Sequence[AuditAction] = (),
    user_id: int | None = None,
    before_id: int | None = None,
    limit: int,
) -> Sequence[AuditEntry]:
    """Newest first; keyset on id (ids grow with time), so deep pages stay cheap."""
    query = select(AuditEntry).where(AuditEntry.federation_id == federation_id)
    if actions:
        query = query.where(AuditEntry.action.in_(actions))
    if user_id is not None:
        query = query.where(AuditEntry.user_id == user_id)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    result = await session.execute(query.order_by(AuditEntry.id.desc()).limit(limit))
    return result.scalars().all()


async def delete_older_than(
    session: AsyncSession, *, federation_id: int | None, before: datetime
) -> int:
    """Delete one federation's rows (None: the install-wide ones) written before `before`.
    Rows are never changed; the retention rule is the only thing that removes them."""
    owner = (
        AuditEntry.federation_id.is_(None)
        if federation_id is None
        else AuditEntry.federation_id == federation_id
    )
    result = await session.execute(
        delete(AuditEntry)
        .where(owner, AuditEntry.at < before)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
