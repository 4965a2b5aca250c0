"""Fixtures for campaign tests: two federations, each with a staff key."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.subscribers.models import Subscriber, SubscriptionStatus
from tests.fixtures.factories import Tenant, make_tenant


@pytest.fixture
async def tenant(session: AsyncSession) -> Tenant:
    """A federation with a staff key and one confirmed subscriber (a campaign needs one to
    be scheduled)."""
    t = await make_tenant(session, "sf-norra", "Samordningsförbundet Norra Älvdalen")
    session.add(
        Subscriber(
            federation_id=t.federation.id,
            email="lasare@sf-norra-mottagare.example.se",
            status=SubscriptionStatus.CONFIRMED,
        )
    )
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
