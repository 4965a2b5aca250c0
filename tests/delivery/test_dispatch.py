"""The dispatcher against a real SMTP server on loopback that injects faults."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock, composition
from app.actors import Actor
from app.campaigns import service as campaigns_service
from app.campaigns.models import CampaignStatus
from app.clock import now
from app.delivery import repository as repo
from app.delivery import service
from app.delivery.bounces import parse_verp, verp_address
from app.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from app.security import token_from_seed
from app.subscribers.models import (
    BounceState,
    Subscriber,
    SubscriptionStatus,
    Token,
    TokenPurpose,
    token_row,
)
from tests.fixtures.factories import make_campaign, make_federation, make_world
from tests.fixtures.smtp import SmtpRecorder


async def deliveries(session: AsyncSession, campaign_id: int) -> dict[int | None, Delivery]:
    rows = await session.scalars(
        select(Delivery)
        .where(Delivery.campaign_id == campaign_id)
        .execution_options(populate_existing=True)
    )
    return {d.subscriber_id: d for d in rows}


async def later(hours: float = 2) -> None:
    clock.freeze(now() + timedelta(hours=hours))


class TestCampaignFlow:
    async def test_fan_out_sends_each_subscriber_once_and_finishes(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world = await make_world(session, n=6)
        fed_id = world.federation.id
        pending = Subscriber(federation_id=fed_id, email="ny@example.se")
        bounced = Subscriber(
            federation_id=fed_id,
            email="studs@example.se",
            status=SubscriptionStatus.CONFIRMED,
            bounce_state=BounceState.HARD,
        )
        session.add_all([pending, bounced])
        campaign = await make_campaign(session, world.federation)
        await session.commit()
        pending_id, bounced_id = pending.id, bounced.id

        report = await composition.dispatch_once()

        assert report.campaigns_started == 1
        assert report.fanned_out == 6
        assert report.sent == 6
        assert sorted(fault_smtp.delivered) == sorted(world.emails)
        assert set(fault_smtp.delivered.values()) == {1}
        rows = await deliveries(session, campaign.id)
        assert pending_id not in rows
        assert bounced_id not in rows
        assert {d.status for d in rows.values()} == {DeliveryStatus.SENT}
        assert all(d.queue_id and d.queue_id.startswith("Q") for d in rows.values())
        await session.refresh(campaign)
        assert campaign.status == CampaignStatus.SENT
        assert campaign.finished_at is not None

    async def test_envelope_is_verp_and_unsubscribe_token_works(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world = await make_world(session, n=1)
        campaign = await make_campaign(session, world.federation)
        await session.commit()
        await composition.dispatch_once()
        (row,) = (await deliveries(session, campaign.id)).values()
        mail_from, _, raw = fault_smtp.raw[0]
        assert mail_from == verp_address(row.id, "norr.example.se")
        assert parse_verp(mail_from) == row.id
        token = await session.scalar(
            select(Token).where(
                Token.subscriber_id == world.ids[0],
                Token.purpose == TokenPurpose.UNSUBSCRIBE,
            )
        )
        assert token is not None
        assert token_from_seed(token.seed) in raw.decode()

    async def test_dispatch_again_sends_nothing_twice(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world = await make_world(session, n=3)
        await make_campaign(session, world.federation)
        await session.commit()
        await composition.dispatch_once()
        report = await composition.dispatch_once()
        assert report.claimed == 0
        assert sum(fault_smtp.delivered.values()) == 3


class TestFaults:
    async def test_421_then_451_then_success_is_sent_once(
        self, session: AsyncSession, fault_smtp: SmtpRecorder, frozen_clock: None
    ) -> None:
        world = await make_world(session, n=2)
        target = world.address(0)
        fault_smtp.fail(target, "rcpt:421 4.3.2 Service not available", "data:451 4.3.0 Try later")
        campaign = await make_campaign(session, world.federation)
        await session.commit()

        await composition.dispatch_once()
        row = (await deliveries(session, campaign.id))[world.ids[0]]
        assert row.status == DeliveryStatus.DEFERRED
        assert row.smtp_code == 421
        assert row.next_attempt_at > now()
        # Not due yet: nothing is retried on the next tick.
        assert (await composition.dispatch_once()).claimed == 0

        await later()
        await composition.dispatch_once()
        row = (await deliveries(session, campaign.id))[world.ids[0]]
        assert row.status == DeliveryStatus.DEFERRED
        assert row.enhanced_code == "4.3.0"
        await session.refresh(campaign)
        assert campaign.status == CampaignStatus.SENDING

        await later(4)
        await composition.dispatch_once()
        row = (await deliveries(session, campaign.id))[world.ids[0]]
        assert row.status == DeliveryStatus.SENT
        assert row.attempts == 3
        assert fault_smtp.delivered[target] == 1
        await session.refresh(campaign)
        assert campaign.status == CampaignStatus.SENT

    async def test_unknown_user_fails_and_marks_subscriber_hard_bounced(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world = await make_world(session, n=2)
        fault_smtp.fail(world.address(0), "rcpt:550 5.1.1 <x>: Recipient address rejected")
        campaign = await make_campaign(session, world.federation)
        await session.commit()
        await composition.dispatch_once()
        row = (await deliveries(session, campaign.id))[world.ids[0]]
        assert row.status == DeliveryStatus.FAILED
        assert row.enhanced_code == "5.1.1"
        assert row.smtp_code == 550
        await session.refresh(world.subscribers[0])
        assert world.subscribers[0].bounce_state == BounceState.HARD
        # A hard-bounced subscriber gets no more campaigns.
        second = await make_campaign(session, world.federation)
        await session.commit()
        await composition.dispatch_once()
        assert world.ids[0] not in await deliveries(session, second.id)

    async def test_552_at_rcpt_is_deferred(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world = await make_world(session, n=1)
        fault_smtp.fail(world.address(0), "rcpt:552 5.2.2 Mailbox full")
        campaign = await make_campaign(session, world.federation)
        await session.commit()
        await composition.dispatch_once()
        row = (await deliveries(session, campaign.id))[world.ids[0]]
        assert row.status == DeliveryStatus.DEFERRED
        await session.refresh(world.subscribers[0])
        assert world.subscribers[0].bounce_state == BounceState.SOFT

    async def test_connection_dropped_during_data_is_deferred(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world = await make_world(session, n=3)
        fault_smtp.fail(world.address(1), "drop")
        campaign = await make_campaign(session, world.federation)
        await session.commit()
        await composition.dispatch_once()
        rows = await deliveries(session, campaign.id)
        assert rows[world.ids[1]].status == DeliveryStatus.DEFERRED
        assert rows[world.ids[0]].status == DeliveryStatus.SENT
        assert rows[world.ids[2]].status == DeliveryStatus.SENT

    async def test_silence_after_final_dot_is_unknown_and_not_resent(
        self, session: AsyncSession, fault_smtp: SmtpRecorder, frozen_clock: None
    ) -> None:
        world = await make_world(session, n=2)
        target = world.address(0)
        fault_smtp.fail(target, "hang:2.5")
        campaign = await make_campaign(session, world.federation)
        await session.commit()
        await composition.dispatch_once()
        row = (await deliveries(session, campaign.id))[world.ids[0]]
        assert row.status == DeliveryStatus.UNKNOWN
        await session.refresh(campaign)
        assert campaign.status == CampaignStatus.SENT  # unknown does not hold the campaign open

        await later(24)
        assert (await composition.dispatch_once()).claimed == 0
        # Staff decide to send again.
        count = await campaigns_service.requeue_unknown(
            session,
            federation_id=world.federation.id,
            campaign_id=campaign.id,
            actor=Actor.system("test"),
        )
        await session.commit()
        assert count == 1
        await composition.dispatch_once()
        row = (await deliveries(session, campaign.id))[world.ids[0]]
        assert row.status == DeliveryStatus.SENT

    async def test_sender_policy_rejection_pauses_campaign(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world = await make_world(session, n=1)
        fault_smtp.fail(world.address(0), "data:550 5.7.1 Sender not authorised")
        campaign = await make_campaign(session, world.federation)
        await session.commit()
        report = await composition.dispatch_once()
        assert report.campaigns_paused == [campaign.id]
        await session.refresh(campaign)
        assert campaign.status == CampaignStatus.PAUSED
        assert campaign.paused_reason is not None
        assert "5.7.1" in campaign.paused_reason
        row = (await deliveries(session, campaign.id))[world.ids[0]]
        assert row.status == DeliveryStatus.QUEUED
        await session.refresh(world.subscribers[0])
        assert world.subscribers[0].bounce_state == BounceState.OK
        # Paused: nothing is sent until staff resume.
        assert (await composition.dispatch_once()).claimed == 0
        await campaigns_service.resume_campaign(
            session,
            federation_id=world.federation.id,
            campaign_id=campaign.id,
            actor=Actor.system("test"),
        )
        await session.commit()
        await composition.dispatch_once()
        assert fault_smtp.delivered[world.address(0)] == 1
        await session.refresh(campaign)
        assert campaign.status == CampaignStatus.SENT

    async def test_relay_down_backs_off(
        self, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from app.config import get_settings

        monkeypatch.setenv("NEWSLETTER_SMTP_PORT", "9")  # discard port: nothing listens
        get_settings.cache_clear()
        try:
            world = await make_world(session, n=20)
            campaign = await make_campaign(session, world.federation)
            await session.commit()
            report = await composition.dispatch_once()
        finally:
            get_settings.cache_clear()
        assert report.relay_down
        assert report.sent == 0
        rows = (await deliveries(session, campaign.id)).values()
        assert {r.status for r in rows} <= {DeliveryStatus.DEFERRED, DeliveryStatus.QUEUED}
        assert all(r.next_attempt_at > now() for r in rows)
        assert (await composition.dispatch_once()).claimed == 0


class TestSuppressionAtSendTime:
    async def test_unsubscribe_and_erasure_after_fan_out_stop_mail(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world = await make_world(session, n=3)
        campaign = await make_campaign(session, world.federation)
        await repo.start_campaign(
            session, federation_id=world.federation.id, campaign_id=campaign.id, now=now()
        )
        world.subscribers[0].status = SubscriptionStatus.UNSUBSCRIBED
        erased_id = world.ids[1]
        await session.delete(world.subscribers[1])
        await session.commit()

        report = await composition.dispatch_once()

        assert report.suppressed == 2
        assert list(fault_smtp.delivered) == [world.address(2)]
        rows = await deliveries(session, campaign.id)
        assert rows[world.ids[0]].status == DeliveryStatus.SUPPRESSED
        assert rows[None].status == DeliveryStatus.SUPPRESSED  # erased: no link kept
        assert erased_id not in rows
        await session.refresh(campaign)
        assert campaign.status == CampaignStatus.SENT

    async def test_cancel_stops_the_rest(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world = await make_world(session, n=4)
        campaign = await make_campaign(session, world.federation)
        await repo.start_campaign(
            session, federation_id=world.federation.id, campaign_id=campaign.id, now=now()
        )
        campaign.status = CampaignStatus.CANCELLED
        await session.commit()
        await composition.dispatch_once()
        assert not fault_smtp.delivered
        rows = await deliveries(session, campaign.id)
        assert {r.status for r in rows.values()} == {DeliveryStatus.CANCELLED}


async def make_confirmation(session: AsyncSession, federation_id: int, email: str) -> Delivery:
    sub = Subscriber(federation_id=federation_id, email=email)
    session.add(sub)
    await session.flush()
    token = Token(
        **token_row(
            federation_id=federation_id,
            subscriber_id=sub.id,
            purpose=TokenPurpose.CONFIRM,
            expires_at=now() + timedelta(days=7),
        )
    )
    session.add(token)
    await session.flush()
    return await service.enqueue_transactional(
        session,
        federation_id=federation_id,
        subscriber_id=sub.id,
        kind=DeliveryKind.CONFIRMATION,
        token_id=token.id,
    )


class TestConfirmations:
    async def test_send_now_sends_once(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        fed = await make_federation(session)
        delivery = await make_confirmation(session, fed.id, "ny@mottagare.example.se")
        await session.commit()
        await composition.send_now(delivery.id)
        await composition.send_now(delivery.id)
        await composition.dispatch_once()
        assert fault_smtp.delivered["ny@mottagare.example.se"] == 1
        await session.refresh(delivery)
        assert delivery.status == DeliveryStatus.SENT
        _, _, raw = fault_smtp.raw[0]
        msg = message_from_bytes(raw, policy=policy.default)
        assert msg["To"] == "ny@mottagare.example.se"
        assert "List-Unsubscribe-Post" not in msg

    async def test_confirmations_go_before_another_federations_campaign(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        big = await make_world(session, n=30, slug="stor")
        await make_campaign(session, big.federation)
        small = await make_federation(session, "liten")
        await make_confirmation(session, small.id, "forst@mottagare.example.se")
        await session.commit()
        await composition.dispatch_once(connections=1)
        assert fault_smtp.raw[0][1] == ["forst@mottagare.example.se"]
        assert sum(fault_smtp.delivered.values()) == 31

    async def test_erased_before_sending_is_suppressed(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        fed = await make_federation(session)
        delivery = await make_confirmation(session, fed.id, "borta@mottagare.example.se")
        sub = await session.get(Subscriber, delivery.subscriber_id)
        await session.delete(sub)
        await session.commit()
        await composition.dispatch_once()
        await session.refresh(delivery)
        assert delivery.status == DeliveryStatus.SUPPRESSED
        assert not fault_smtp.delivered
