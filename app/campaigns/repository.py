"""Queries on campaigns and their delivery counts; every query is scoped to a federation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign, CampaignStatus, PreviewDraft
from app.db import lock_for_change
from app.delivery.models import Delivery, DeliveryKind

ARCHIVED = (CampaignStatus.SENDING, CampaignStatus.SENT)


async def add(session: AsyncSession, campaign: Campaign) -> Campaign:
    session.add(campaign)
    await session.flush()
    return campaign


async def get(
    session: AsyncSession, *, federation_id: int, campaign_id: int, lock: bool = False
) -> Campaign | None:
    """The federation's campaign; `lock` when the caller checks its state and changes it
    (app.db.lock_for_change)."""
    stmt = select(Campaign).where(
        Campaign.id == campaign_id, Campaign.federation_id == federation_id
    )
    result = await session.execute(lock_for_change(stmt) if lock else stmt)
    return result.scalar_one_or_none()


async def list_for_federation(session: AsyncSession, *, federation_id: int) -> Sequence[Campaign]:
    result = await session.execute(
        select(Campaign)
        .where(Campaign.federation_id == federation_id)
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
    )
    return result.scalars().all()


async def delete(session: AsyncSession, campaign: Campaign) -> None:
    await session.delete(campaign)
    await session.flush()


async def archived(session: AsyncSession, *, federation_id: int) -> Sequence[Campaign]:
    """Published campaigns that went out (or are going out), newest first: the public archive,
    its Atom feed and the embeddable list."""
    result = await session.execute(
        select(Campaign)
        .where(
            Campaign.federation_id == federation_id,
            Campaign.status.in_(ARCHIVED),
            Campaign.publish_in_archive.is_(True),
        )
        .order_by(func.coalesce(Campaign.started_at, Campaign.send_at).desc(), Campaign.id.desc())
    )
    return result.scalars().all()


async def delivery_counts(
    session: AsyncSession, *, federation_id: int, campaign_id: int
) -> dict[str, int]:
    """Deliveries per state for the campaign's recipients (test sends excluded)."""
    result = await session.execute(
        select(Delivery.status, func.count())
        .where(
            Delivery.federation_id == federation_id,
            Delivery.campaign_id == campaign_id,
            Delivery.kind == DeliveryKind.CAMPAIGN,
        )
        .group_by(Delivery.status)
    )
    return {str(status): int(count) for status, count in result.all()}


async def put_preview_draft(
    session: AsyncSession,
    *,
    staff_session_id: int,
    campaign_id: int,
    fields: dict[str, Any],
    expires_at: datetime,
    now: datetime,
) -> int:
    """Keep one browser's unsaved fields of a campaign (replacing the previous ones); the id.

    One statement (both dialects have ON CONFLICT … DO UPDATE): the debounced preview and the
    button may arrive together, and a delete-then-insert would collide on the unique key."""
    # Expired drafts of anyone go too: they are never read again, and no job is needed.
    await session.execute(
        sql_delete(PreviewDraft)
        .where(PreviewDraft.expires_at < now)
        .execution_options(synchronize_session=False)
    )
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(PreviewDraft).values(
        staff_session_id=staff_session_id,
        campaign_id=campaign_id,
        fields=fields,
        expires_at=expires_at,
    )
    upsert = statement.on_conflict_do_update(
        index_elements=[PreviewDraft.staff_session_id, PreviewDraft.campaign_id],
        set_={"fields": statement.excluded.fields, "expires_at": statement.excluded.expires_at},
    ).returning(PreviewDraft.id)
    return int((await session.execute(upsert)).scalar_one())


async def preview_draft(
    session: AsyncSession,
    *,
    federation_id: int,
    campaign_id: int,
    staff_session_id: int,
    draft_id: int,
    now: datetime,
) -> dict[str, Any] | None:
    """The unsaved fields, only for the browser that stored them and before they expire."""
    result = await session.execute(
        select(PreviewDraft.fields)
        .join(Campaign, Campaign.id == PreviewDraft.campaign_id)
        .where(
            PreviewDraft.id == draft_id,
            PreviewDraft.campaign_id == campaign_id,
            PreviewDraft.staff_session_id == staff_session_id,
            PreviewDraft.expires_at > now,
            Campaign.federation_id == federation_id,
        )
    )
    fields = result.scalar_one_or_none()
    return None if fields is None else dict(fields)
