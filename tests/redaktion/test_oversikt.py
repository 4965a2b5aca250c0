"""Översikt: campaigns by state, the next send in local time, subscribers, what needs care."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import CampaignStatus
from app.users.models import Role
from tests.fixtures.factories import add_campaign, make_world
from tests.fixtures.staff import invite, signed_in_client


class TestOverview:
    async def test_counts_next_send_and_attention(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        world = await make_world(session, n=3, slug="norr")
        federation = world.federation
        # Another federation with subscribers of its own: none of them is counted or shown.
        other_world = await make_world(session, n=2, slug="soder")
        other = other_world.federation
        await add_campaign(session, other, status=CampaignStatus.PAUSED, subject="Södras")
        scheduled = await add_campaign(session, federation, status=CampaignStatus.SCHEDULED)
        scheduled.send_at = datetime(2099, 12, 20, 8, 0, tzinfo=UTC)
        paused = await add_campaign(
            session, federation, status=CampaignStatus.PAUSED, subject="Julbrevet"
        )
        paused.paused_reason = "5.7.1 avsändaren nekades"
        await session.commit()
        await invite(session, federation, "anna@example.se", Role.REDAKTOR)
        page = await signed_in_client(client, session, "anna@example.se")
        text = page.text
        assert "Behöver uppmärksamhet" in text
        assert f'/redaktion/utskick/{paused.id}">Julbrevet</a> är pausat: 5.7.1' in text
        assert "Södras" not in text
        assert "20 december 2099 kl. 09.00" in text  # 08:00 UTC is 09:00 in Stockholm
        assert "<dt>Prenumererar</dt><dd>3</dd>" in text
        assert world.emails[-1] in text  # the newest sign-up
        assert not any(email in text for email in other_world.emails)
