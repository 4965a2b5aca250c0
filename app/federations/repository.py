"""Queries on federations and API keys."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.federations.models import ApiKey, Federation


async def get_by_slug(session: AsyncSession, slug: str) -> Federation | None:
    result = await session.execute(select(Federation).where(Federation.slug == slug))
    return result.scalar_one_or_none()


async def get_by_id(session: AsyncSession, federation_id: int) -> Federation | None:
    return await session.get(Federation, federation_id)


async def list_all(session: AsyncSession) -> Sequence[Federation]:
    result = await session.execute(select(Federation).order_by(Federation.slug))
    return result.scalars().all()


async def add(session: AsyncSession, federation: Federation) -> Federation:
    session.add(federation)
    await session.flush()
    return federation


async def key_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    result = await session.execute(select(ApiKey).where(ApiKey.key_hash == key_hash))
    return result.scalar_one_or_none()


async def key_by_id(session: AsyncSession, key_id: int) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def keys_by_prefix(session: AsyncSession, prefix: str) -> Sequence[ApiKey]:
    result = await session.execute(select(ApiKey).where(ApiKey.prefix == prefix))
    return result.scalars().all()


async def keys_for_federation(session: AsyncSession, federation_id: int) -> Sequence[ApiKey]:
    result = await session.execute(
        select(ApiKey).where(ApiKey.federation_id == federation_id).order_by(ApiKey.id)
    )
    return result.scalars().all()


async def admin_keys(session: AsyncSession) -> Sequence[ApiKey]:
    result = await session.execute(
        select(ApiKey).where(ApiKey.federation_id.is_(None)).order_by(ApiKey.id)
    )
    return result.scalars().all()
