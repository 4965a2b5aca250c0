"""Every query on images; each takes the federation, so one federation never sees another's."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from app.federations.models import Federation
from app.images.models import Image


async def add(session: AsyncSession, image: Image) -> Image:
    session.add(image)
    await session.flush()
    return image


async def by_digest(session: AsyncSession, *, federation_id: int, digest: str) -> Image | None:
    result = await session.execute(
        select(Image).where(Image.federation_id == federation_id, Image.digest == digest)
    )
    return result.scalar_one_or_none()


async def get(session: AsyncSession, *, federation_id: int, image_id: int) -> Image | None:
    result = await session.execute(
        select(Image).where(Image.federation_id == federation_id, Image.id == image_id)
    )
    return result.scalar_one_or_none()


async def list_for_federation(session: AsyncSession, *, federation_id: int) -> Sequence[Image]:
    # The bytes stay in the database; a listing needs only the metadata.
    result = await session.execute(
        select(Image)
        .options(defer(Image.data, raiseload=True))
        .where(Image.federation_id == federation_id)
        .order_by(Image.created_at.desc(), Image.id.desc())
    )
    return result.scalars().all()


async def widths(
    session: AsyncSession, *, federation_id: int, digests: Iterable[str]
) -> dict[str, int]:
    wanted = set(digests)
    if not wanted:
        return {}
    result = await session.execute(
        select(Image.digest, Image.width).where(
            Image.federation_id == federation_id, Image.digest.in_(wanted)
        )
    )
    return {row.digest: row.width for row in result}


async def public_bytes(
    session: AsyncSession, *, slug: str, digest: str
) -> tuple[bytes, str] | None:
    """(data, format) of a federation's image, by the slug and digest in its public URL."""
    result = await session.execute(
        select(Image.data, Image.format)
        .join(Federation, Federation.id == Image.federation_id)
        .where(Federation.slug == slug, Image.digest == digest)
    )
    row = result.one_or_none()
    return None if row is None else (row.data, str(row.format))
