"""GET …/campaigns/{id}/deliveries: per-recipient outcomes, filtered, cursor paginated, isolated."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import CampaignStatus
from app.delivery.models import DeliveryStatus
from tests.fixtures.factories import Tenant, add_campaign, add_deliveries, make_key, make_world

OUTCOMES: list[tuple[DeliveryStatus, int | None, str | None]] = [
    (DeliveryStatus.SENT, 250, "2.0.0"),
    (DeliveryStatus.FAILED, 550, "5.1.1"),
    (DeliveryStatus.FAILED, 250, "5.2.1"),
    (DeliveryStatus.FAILED, 451, "4.3.0"),
    (DeliveryStatus.UNKNOWN, None, None),
]


async def sent_campaign(session: AsyncSession) -> tuple[Tenant, int, list[str]]:
    """A federation whose sent campaign has one delivery per entry of OUTCOMES."""
    world = await make_world(session, n=len(OUTCOMES), slug="sf-vastra")
    campaign = await add_campaign(session, world.federation, status=CampaignStatus.SENT)
    await add_deliveries(session, world, campaign.id, OUTCOMES)
    tenant = Tenant(world.federation, await make_key(session, world.federation))
    await session.commit()
    return tenant, campaign.id, world.emails


class TestListDeliveries:
    async def test_all_newest_first_without_bodies(
        self, api: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        tenant, campaign_id, emails = await sent_campaign(session)
        answer = await api.get(f"{tenant.base}/{campaign_id}/deliveries", headers=tenant.headers)
        assert answer.status_code == 200
        body = answer.json()
        assert [item["email"] for item in body["items"]] == emails[::-1]
        assert body["next_cursor"] is None
        assert set(body["items"][0]) == {
            "id",
            "email",
            "status",
            "attempts",
            "smtp_code",
            "enhanced_code",
            "smtp_reply",
            "updated_at",
        }

    async def test_status_and_bounced_filters(
        self, api: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        tenant, campaign_id, emails = await sent_campaign(session)
        url = f"{tenant.base}/{campaign_id}/deliveries"

        async def listed(status: str) -> list[str]:
            answer = await api.get(url, params={"status": status}, headers=tenant.headers)
            assert answer.status_code == 200, answer.text
            return [item["email"] for item in answer.json()["items"]]

        assert await listed("failed") == [emails[3], emails[2], emails[1]]
        # A 5xx at RCPT and a later 5.x.x report bounced; giving up on 4xx did not.
        assert await listed("bounced") == [emails[2], emails[1]]
        assert await listed("unknown") == [emails[4]]
        bad = await api.get(url, params={"status": "studsade"}, headers=tenant.headers)
        assert bad.status_code == 422
        assert bad.json()["error"]["code"] == "validation_error"

    async def test_cursor_pages_through_every_delivery_once(
        self, api: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        tenant, campaign_id, emails = await sent_campaign(session)
        url = f"{tenant.base}/{campaign_id}/deliveries"
        seen: list[str] = []
        params: dict[str, str | int] = {"limit": 2}
        pages = 0
        while True:
            body = (await api.get(url, params=params, headers=tenant.headers)).json()
            seen += [item["email"] for item in body["items"]]
            pages += 1
            if body["next_cursor"] is None:
                break
            params["cursor"] = body["next_cursor"]
        assert (seen, pages) == (emails[::-1], 3)
        forged = await api.get(url, params={"cursor": "bm9wZTox"}, headers=tenant.headers)
        assert forged.status_code == 422
        assert forged.json()["error"]["code"] == "invalid_cursor"

    async def test_another_federations_key_gets_404(
        self, api: httpx.AsyncClient, session: AsyncSession, other_tenant: Tenant
    ) -> None:
        tenant, campaign_id, _ = await sent_campaign(session)
        theirs = await api.get(
            f"{other_tenant.base}/{campaign_id}/deliveries", headers=other_tenant.headers
        )
        assert theirs.status_code == 404
        wrong_slug = await api.get(
            f"{tenant.base}/{campaign_id}/deliveries", headers=other_tenant.headers
        )
        assert wrong_slug.status_code == 404
        anonymous = await api.get(f"{tenant.base}/{campaign_id}/deliveries")
        assert anonymous.status_code == 401
