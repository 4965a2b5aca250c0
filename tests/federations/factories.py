"""Helpers for staff API tests: federations, keys and the Authorization header."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.federations import service
from app.federations.models import Federation
from app.federations.schemas import FederationCreate


def federation_data(slug: str, **overrides: object) -> FederationCreate:
    values: dict[str, object] = {
        "slug": slug,
        "name": f"Samordningsförbundet {slug.title()}",
        "from_email": f"nyhetsbrev@{slug}.example.se",
        "from_name": f"Samordningsförbundet {slug.title()}",
        "reply_to": f"kansli@{slug}.example.se",
        "postal_address": f"Samordningsförbundet {slug.title()}\nBox 1\n123 45 Ort",
    }
    values.update(overrides)
    return FederationCreate.model_validate(values)


async def make_federation(session: AsyncSession, slug: str, **overrides: object) -> Federation:
    federation, _ = await service.get_or_create_federation(
        session, data=federation_data(slug, **overrides)
    )
    await session.commit()
    return federation


async def make_key(session: AsyncSession, federation: Federation | None, name: str = "t") -> str:
    new = await service.create_api_key(session, federation=federation, name=name)
    await session.commit()
    return new.raw


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}
