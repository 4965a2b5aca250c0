"""Queries on campaigns and their delivery counts; every query is scoped to a federation."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign, CampaignStatus
from app.delivery.models import Delivery, DeliveryKind

ARCHIVED = (CampaignStatus.SENDING, CampaignStatus.SENT)


async def add(session: AsyncSession, campaign: Campaign) -> Campaign:
    session.add(campaign)
    await session.flush()
    return campaign


async def get(session: AsyncSession, *, federation_id: int, campaign_id: int) -> Campaign | None:
    result = await session.execute(
        select(Campaign).where(Campaign.id == campaign_id, Campaign.federation_id == federation_id)
    )
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
