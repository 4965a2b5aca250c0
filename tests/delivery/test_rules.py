"""Rules a one-line mutation once broke without a failing test: taking turns between
federations, the global and per-federation send rates, a federation's own relay, requeue
turning a sent campaign back to sending, and the queue-depth gauge with work pending.

Rate tests bound the elapsed time from below on the clock the token bucket uses
(time.monotonic): a bucket that never waits finishes sooner than the bound, a waiting one can
only be slower. No upper bound is asserted, so a loaded machine cannot make them flaky."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import composition
from app.actors import Actor
from app.campaigns import service as campaigns_service
from app.campaigns.models import CampaignStatus
from app.clock import now
from app.config import get_settings
from app.delivery import repository as repo
from app.delivery.models import Delivery, DeliveryStatus
from tests.fixtures.settings import Configure

RATE = 4.0
MESSAGES = 8
# The bucket starts full (a burst of max(1, rate) tokens); every further message waits 1/rate.
MIN_SECONDS = (MESSAGES - max(1.0, RATE)) / RATE


def _slug(address: str) -> str:
    return address.partition("@")[2].removesuffix("-mottagare.example.se")


class TestTakingTurns:
    async def test_two_federations_alternate_on_one_connection(
        self, session: AsyncSession, fault_smtp: Any, factories: Any
    ) -> None:
        north = await factories.world(session, n=6, slug="nord")
        south = await factories.world(session, n=6, slug="syd")
        await factories.campaign(session, north.federation)
        await factories.campaign(session, south.federation)
        await session.commit()

        await composition.dispatch_once(connections=1)

        order = [_slug(rcpts[0]) for _, rcpts, _ in fault_smtp.raw]
        # ORDER BY priority, id alone would send all of one federation first.
        assert order == ["nord", "syd"] * 6 or order == ["syd", "nord"] * 6


async def _dispatch_at_least(seconds: float) -> None:
    """Dispatch everything; sending all MESSAGES must take at least `seconds`."""
    began = time.monotonic()
    report = await composition.dispatch_once()
    elapsed = time.monotonic() - began
    assert report.sent == MESSAGES
    assert elapsed >= seconds


class TestSendRates:
    async def test_global_rate_spaces_messages(
        self,
        session: AsyncSession,
        fault_smtp: Any,
        factories: Any,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv("NEWSLETTER_SEND_RATE_PER_SECOND", str(RATE))
        get_settings.cache_clear()
        world = await factories.world(session, n=MESSAGES)
        await factories.campaign(session, world.federation)
        await session.commit()

        await _dispatch_at_least(MIN_SECONDS)

    async def test_federation_rate_spaces_its_messages(
        self, session: AsyncSession, fault_smtp: Any, factories: Any
    ) -> None:
        assert get_settings().send_rate_per_second == 0  # only the federation's cap applies
        world = await factories.world(session, n=MESSAGES)
        world.federation.send_rate_per_second = RATE
        await factories.campaign(session, world.federation)
        await session.commit()

        await _dispatch_at_least(MIN_SECONDS)


class TestFederationRelay:
    async def test_mail_goes_to_the_federations_own_relay(
        self,
        session: AsyncSession,
        fault_smtp: Any,
        second_relay: Any,
        factories: Any,
    ) -> None:
        world = await factories.world(session, n=3, slug="egen")
        fed = world.federation
        fed.smtp_host = "127.0.0.1"
        fed.smtp_port = second_relay.port
        fed.smtp_security = "none"
        await factories.campaign(session, fed)
        other = await factories.world(session, n=1, slug="global")
        await factories.campaign(session, other.federation)
        await session.commit()

        report = await composition.dispatch_once()

        assert report.sent == 4
        own = second_relay.handler.delivered
        assert sorted(own) == sorted(world.emails)
        assert list(fault_smtp.delivered) == other.emails


class TestRequeue:
    async def test_requeue_turns_a_sent_campaign_back_to_sending(
        self, session: AsyncSession, factories: Any
    ) -> None:
        world = await factories.world(session, n=2)
        campaign = await factories.campaign(session, world.federation)
        await repo.start_campaign(
            session, federation_id=world.federation.id, campaign_id=campaign.id, now=now()
        )
        rows = (
            await session.scalars(select(Delivery).where(Delivery.campaign_id == campaign.id))
        ).all()
        rows[0].status = DeliveryStatus.UNKNOWN
        rows[1].status = DeliveryStatus.SENT
        campaign.status = CampaignStatus.SENT
        campaign.finished_at = now()
        await session.commit()

        count = await campaigns_service.requeue_unknown(
            session,
            federation_id=world.federation.id,
            campaign_id=campaign.id,
            actor=Actor.system("test"),
        )
        await session.commit()

        assert count == 1
        await session.refresh(campaign)
        assert campaign.status == CampaignStatus.SENDING
        assert campaign.finished_at is None


class TestQueueDepth:
    async def test_gauge_counts_pending_work(
        self,
        session: AsyncSession,
        client: httpx.AsyncClient,
        factories: Any,
        configure: Configure,
    ) -> None:
        configure(metrics_token="skrapa")  # /metrics is not public
        world = await factories.world(session, n=3, slug="ko")
        campaign = await factories.campaign(session, world.federation)
        await repo.start_campaign(
            session, federation_id=world.federation.id, campaign_id=campaign.id, now=now()
        )
        rows = (
            await session.scalars(select(Delivery).where(Delivery.campaign_id == campaign.id))
        ).all()
        rows[0].status = DeliveryStatus.DEFERRED
        rows[1].status = DeliveryStatus.SENDING
        await session.commit()

        text = (await client.get("/metrics", headers={"Authorization": "Bearer skrapa"})).text

        assert "newsletter_queue_depth 3.0" in text
        assert 'newsletter_deliveries{federation="ko",state="queued"} 1.0' in text
