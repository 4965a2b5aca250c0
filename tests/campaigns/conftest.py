"""Fixtures for campaign tests: two federations, each with a staff key."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from tests.fixtures.factories import Tenant, make_tenant


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


@pytest.fixture
def api(client: httpx.AsyncClient) -> httpx.AsyncClient:
    return client
