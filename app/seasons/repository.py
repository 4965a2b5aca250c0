"""Every query on seasonal rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign, CampaignStatus, Theme
from app.federations.models import Federation
from app.seasons.models import SeasonalRule


async def add(session: AsyncSession, rule: SeasonalRule) -> SeasonalRule:
    session.add(rule)
    await session.flush()
    return rule


async def list_for_federation(
    session: AsyncSession, *, federation_id: int
) -> Sequence[SeasonalRule]:
    result = await session.execute(
        select(SeasonalRule)
        .where(SeasonalRule.federation_id == federation_id)
        .order_by(SeasonalRule.id)
    )
    return result.scalars().all()


async def get(session: AsyncSession, *, federation_id: int, rule_id: int) -> SeasonalRule | None:
    result = await session.execute(
        select(SeasonalRule).where(
            SeasonalRule.federation_id == federation_id, SeasonalRule.id == rule_id
        )
    )
    return result.scalar_one_or_none()


async def delete(session: AsyncSession, rule: SeasonalRule) -> None:
    await session.delete(rule)
    await session.flush()


async def pending(session: AsyncSession, *, year: int) -> Sequence[tuple[SeasonalRule, Federation]]:
    """Rules of every federation not fired for `year` or later (cross-tenant by design: one
    runner serves all federations; the caller passes the latest local year in use)."""
    result = await session.execute(
        select(SeasonalRule, Federation)
        .join(Federation, Federation.id == SeasonalRule.federation_id)
        .where(or_(SeasonalRule.last_created_year.is_(None), SeasonalRule.last_created_year < year))
        .order_by(SeasonalRule.id)
    )
    return [(rule, federation) for rule, federation in result]


async def claim(session: AsyncSession, *, rule_id: int, year: int) -> bool:
    """Mark the rule fired for `year`; False when another run already did (the UPDATE's
    condition makes two concurrent runners agree on one winner)."""
    result = await session.execute(
        update(SeasonalRule)
        .where(
            SeasonalRule.id == rule_id,
            or_(SeasonalRule.last_created_year.is_(None), SeasonalRule.last_created_year < year),
        )
        .values(last_created_year=year)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


async def previous_letter(
    session: AsyncSession, *, federation_id: int, theme: Theme, before: datetime
) -> Campaign | None:
    """The federation's latest sent letter of this theme from an earlier year."""
    result = await session.execute(
        select(Campaign)
        .where(
            Campaign.federation_id == federation_id,
            Campaign.theme == theme,
            Campaign.status == CampaignStatus.SENT,
            Campaign.started_at < before,
        )
        .order_by(Campaign.started_at.desc(), Campaign.id.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()
