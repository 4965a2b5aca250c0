"""The sign-up form cannot be turned against one mailbox or one federation's neighbours:
`+tag` sub-addresses share their mailbox's confirmation cap, and the global sign-up budget is
per federation."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.clock import now
from app.delivery.models import Delivery, DeliveryKind
from tests.fixtures.factories import make_federation
from tests.fixtures.settings import Configure


async def _sign_up(client: httpx.AsyncClient, slug: str, email: str) -> int:
    stamp = (await client.get(f"/api/v1/public/{slug}/stamp")).json()["stamp"]
    clock.freeze(now() + timedelta(seconds=10))  # not "too fast"
    response = await client.post(
        f"/api/v1/public/{slug}/subscriptions",
        json={"email": email, "consent": True, "stamp": stamp},
    )
    return response.status_code


@pytest.mark.usefixtures("frozen_clock")
class TestAbuse:
    async def test_plus_tags_share_the_mailbox_cap(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        await make_federation(session, "sf-plus")
        codes = [await _sign_up(client, "sf-plus", f"Plus+{i}@example.se") for i in range(8)]
        codes.append(await _sign_up(client, "sf-plus", "plus@example.se"))
        assert codes == [202] * 9  # the same answer every time (no enumeration)
        mails = await session.scalar(
            select(func.count(Delivery.id)).where(Delivery.kind == DeliveryKind.CONFIRMATION)
        )
        assert mails == 1

    async def test_global_budget_is_per_federation(
        self, client: httpx.AsyncClient, session: AsyncSession, configure: Configure
    ) -> None:
        configure(rate_limit_global_per_minute="3")
        await make_federation(session, "sf-a")
        await make_federation(session, "sf-b")
        flood = [await _sign_up(client, "sf-a", f"a{i}@example.se") for i in range(4)]
        assert flood == [202, 202, 202, 429]
        assert await _sign_up(client, "sf-b", "b@example.se") == 202
