"""Fixtures for campaign tests: two federations, each with a staff key, and subscribers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign, CampaignStatus, Theme
from app.federations.models import ApiKey, Federation
from app.security import token_hash


@dataclass
class Tenant:
    federation: Federation
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    @property
    def base(self) -> str:
        return f"/api/v1/federations/{self.federation.slug}/campaigns"


async def make_tenant(session: AsyncSession, slug: str, name: str) -> Tenant:
    federation = Federation(
        slug=slug,
        name=name,
        from_email=f"nyhetsbrev@{slug}.example.se",
        from_name=name,
        reply_to=f"kansliet@{slug}.example.se",
        postal_address="Storgatan 1\n123 45 Norrby",
        contact_email=f"kansliet@{slug}.example.se",
        website_url=f"https://{slug}.example.se",
    )
    session.add(federation)
    await session.flush()
    raw = "nb_" + secrets.token_urlsafe(32)
    session.add(
        ApiKey(federation_id=federation.id, name="test", prefix=raw[:8], key_hash=token_hash(raw))
    )
    await session.flush()
    return Tenant(federation, raw)


@pytest.fixture
async def tenant(session: AsyncSession) -> Tenant:
    t = await make_tenant(session, "sf-norra", "Samordningsförbundet Norra Älvdalen")
    await session.commit()
    return t


@pytest.fixture
async def other_tenant(session: AsyncSession) -> Tenant:
    t = await make_tenant(session, "sf-sodra", "Samordningsförbundet Södra")
    await session.commit()
    return t


async def add_campaign(
    session: AsyncSession,
    federation: Federation,
    *,
    status: CampaignStatus = CampaignStatus.DRAFT,
    subject: str = "Sommarhälsning",
    theme: Theme = Theme.SOMMAR,
) -> Campaign:
    campaign = Campaign(
        federation_id=federation.id,
        subject=subject,
        preheader="Ett kort brev",
        theme=theme,
        body_markdown="Hej **alla**!\n\n> ”Ett citat.” (Deltagare)",
        status=status,
    )
    session.add(campaign)
    await session.flush()
    await session.commit()
    return campaign


@pytest.fixture
def api(client: httpx.AsyncClient) -> httpx.AsyncClient:
    return client
