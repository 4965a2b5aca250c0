"""The dispatcher against a real SMTP server on loopback that injects faults."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from email import message_from_bytes, policy

import httpx
import pytest
from sqlalchemy import create_engine, event, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

import app.models  # noqa: F401  (every table in Base.metadata)
from app import clock, composition
from app.actors import Actor
from app.campaigns import service as campaigns_service
from app.campaigns.models import CampaignStatus
from app.clock import now
from app.db import Base
from app.delivery import repository as repo
from app.delivery import service
from app.delivery.bounces import parse_verp, verp_address
from app.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from app.delivery.outcomes import DispatchReport
from app.main import create_app
from app.security import token_from_seed
from app.subscribers.models import (
    BounceState,
    Subscriber,
    SubscriptionStatus,
    Token,
    TokenPurpose,
    token_row,
)
from tests.fixtures.checks import campaign_deliveries
from tests.fixtures.factories import (
    attempt_result,
    bearer,
    fanned_out,
    make_campaign,
    make_federation,
    make_key,
    make_world,
)
from tests.fixtures.smtp import SmtpRecorder, short_smtp_timeout

BASE_URL = "https://nyhetsbrev.example.se"


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
        rows = await campaign_deliveries(session, campaign.id)
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
        (row,) = (await campaign_deliveries(session, campaign.id)).values()
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

    async def test_overdue_beyond_the_hold_waits_for_send_now(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world = await make_world(session, n=2)
        late = await make_campaign(session, world.federation)
        late.send_at = now() - timedelta(hours=26)  # cron was down
        recent = await make_campaign(session, world.federation)
        recent.send_at = now() - timedelta(hours=5)  # within the default 6 h
        early = await make_campaign(session, world.federation)
        early.send_at = now() + timedelta(hours=1)  # not yet
        await session.commit()

        report = await composition.dispatch_once()

        assert report.campaigns_started == 1
        await session.refresh(late)
        await session.refresh(early)
        assert late.status == CampaignStatus.SCHEDULED
        assert late.paused_reason is not None
        assert "6 timmar" in late.paused_reason
        assert not await campaign_deliveries(session, late.id)
        assert (early.status, early.paused_reason) == (CampaignStatus.SCHEDULED, None)
        assert not await campaign_deliveries(session, early.id)
        assert set(fault_smtp.delivered.values()) == {1}
        held_at = late.updated_at
        assert (await composition.dispatch_once()).campaigns_started == 0
        await session.refresh(late)
        assert late.updated_at == held_at  # held once, not again on every tick

        await campaigns_service.schedule_now(
            session, federation=world.federation, campaign_id=late.id, actor=Actor.system("test")
        )
        await session.commit()
        await composition.dispatch_once()
        await session.refresh(late)
        assert late.status == CampaignStatus.SENT
        assert late.paused_reason is None
        assert set(fault_smtp.delivered.values()) == {2}

    async def test_a_campaign_stopped_after_it_was_found_due_is_not_started(
        self, session: AsyncSession
    ) -> None:
        """Staff may cancel or unschedule between the dispatcher's read and its start."""
        world = await make_world(session, n=2)
        for status in (CampaignStatus.CANCELLED, CampaignStatus.DRAFT):
            stopped = await make_campaign(session, world.federation, status=status)
            assert (
                await repo.start_campaign(
                    session, federation_id=world.federation.id, campaign_id=stopped.id, now=now()
                )
                is None
            )
            await session.refresh(stopped)
            assert stopped.status == status
            assert not await campaign_deliveries(session, stopped.id)

    async def test_a_paused_campaign_still_sends_its_staff_tests(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world, campaign = await fanned_out(session, n=2)
        campaign.status = CampaignStatus.PAUSED
        await campaigns_service.send_test(
            session,
            federation=world.federation,
            campaign_id=campaign.id,
            addresses=["redaktor@norr.example.se"],
            actor=Actor.system("test"),
        )
        await session.commit()
        await composition.dispatch_once()
        assert list(fault_smtp.delivered) == ["redaktor@norr.example.se"]
        rows = await campaign_deliveries(session, campaign.id)
        assert rows[None].kind == DeliveryKind.TEST  # the staff address: no subscriber
        assert rows[None].status == DeliveryStatus.SENT
        assert {rows[i].status for i in world.ids} == {DeliveryStatus.QUEUED}

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
        row = (await campaign_deliveries(session, campaign.id))[world.ids[0]]
        assert row.status == DeliveryStatus.DEFERRED
        assert row.smtp_code == 421
        assert row.next_attempt_at > now()
        # Not due yet: nothing is retried on the next tick.
        assert (await composition.dispatch_once()).claimed == 0

        await later()
        await composition.dispatch_once()
        row = (await campaign_deliveries(session, campaign.id))[world.ids[0]]
        assert row.status == DeliveryStatus.DEFERRED
        assert row.enhanced_code == "4.3.0"
        await session.refresh(campaign)
        assert campaign.status == CampaignStatus.SENDING

        await later(4)
        await composition.dispatch_once()
        row = (await campaign_deliveries(session, campaign.id))[world.ids[0]]
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
        row = (await campaign_deliveries(session, campaign.id))[world.ids[0]]
        assert row.status == DeliveryStatus.FAILED
        assert row.enhanced_code == "5.1.1"
        assert row.smtp_code == 550
        await session.refresh(world.subscribers[0])
        assert world.subscribers[0].bounce_state == BounceState.HARD
        # A hard-bounced subscriber gets no more campaigns.
        second = await make_campaign(session, world.federation)
        await session.commit()
        await composition.dispatch_once()
        assert world.ids[0] not in await campaign_deliveries(session, second.id)

    async def test_552_at_rcpt_is_deferred(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world = await make_world(session, n=1)
        fault_smtp.fail(world.address(0), "rcpt:552 5.2.2 Mailbox full")
        campaign = await make_campaign(session, world.federation)
        await session.commit()
        await composition.dispatch_once()
        row = (await campaign_deliveries(session, campaign.id))[world.ids[0]]
        assert row.status == DeliveryStatus.DEFERRED
        await session.refresh(world.subscribers[0])
        assert world.subscribers[0].bounce_state == BounceState.SOFT

    async def test_reply_dropped_after_the_data_is_unknown_and_never_resent(
        self, session: AsyncSession, fault_smtp: SmtpRecorder, frozen_clock: None
    ) -> None:
        world = await make_world(session, n=3)
        # The relay takes the whole message, then drops the connection before replying.
        fault_smtp.fail(world.address(1), "drop")
        campaign = await make_campaign(session, world.federation)
        await session.commit()
        report = await composition.dispatch_once()
        rows = await campaign_deliveries(session, campaign.id)
        assert rows[world.ids[1]].status == DeliveryStatus.UNKNOWN
        assert rows[world.ids[0]].status == DeliveryStatus.SENT
        assert rows[world.ids[2]].status == DeliveryStatus.SENT
        assert report.unknown == 1

        await later(24)
        await composition.dispatch_once()
        assert fault_smtp.delivered[world.address(1)] == 1

    async def test_silence_after_final_dot_is_unknown_and_not_resent(
        self,
        session: AsyncSession,
        fault_smtp: SmtpRecorder,
        frozen_clock: None,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        short_smtp_timeout(monkeypatch, 1.0)
        world = await make_world(session, n=2)
        target = world.address(0)
        fault_smtp.fail(target, "hang:2.5")
        campaign = await make_campaign(session, world.federation)
        await session.commit()
        await composition.dispatch_once()
        row = (await campaign_deliveries(session, campaign.id))[world.ids[0]]
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
        row = (await campaign_deliveries(session, campaign.id))[world.ids[0]]
        assert row.status == DeliveryStatus.SENT

    async def test_sender_policy_rejection_pauses_campaign(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world = await make_world(session, n=1)
        fault_smtp.fail_sender("550 5.7.1 Sender not authorised")
        campaign = await make_campaign(session, world.federation)
        await session.commit()
        report = await composition.dispatch_once()
        assert report.campaigns_paused == [campaign.id]
        await session.refresh(campaign)
        assert campaign.status == CampaignStatus.PAUSED
        assert campaign.paused_reason is not None
        assert "5.7.1" in campaign.paused_reason
        row = (await campaign_deliveries(session, campaign.id))[world.ids[0]]
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

    async def test_one_recipients_policy_refusal_fails_only_that_recipient(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world = await make_world(session, n=4)
        fault_smtp.fail(world.address(1), "rcpt:550 5.7.1 Recipient refuses bulk mail")
        campaign = await make_campaign(session, world.federation)
        await session.commit()
        report = await composition.dispatch_once()
        assert report.campaigns_paused == []
        rows = await campaign_deliveries(session, campaign.id)
        assert rows[world.ids[1]].status == DeliveryStatus.FAILED
        assert rows[world.ids[1]].enhanced_code == "5.7.1"
        others = [rows[world.ids[i]].status for i in (0, 2, 3)]
        assert others == [DeliveryStatus.SENT] * 3
        await session.refresh(campaign)
        assert campaign.status == CampaignStatus.SENT
        await session.refresh(world.subscribers[1])
        assert world.subscribers[1].bounce_state == BounceState.OK

    async def test_the_same_refusal_for_several_recipients_is_a_sender_problem(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world = await make_world(session, n=8)
        for i in range(8):
            fault_smtp.fail(world.address(i), "rcpt:554 5.7.1 Service unavailable; client blocked")
        campaign = await make_campaign(session, world.federation)
        await session.commit()
        report = await composition.dispatch_once(connections=1)
        assert report.campaigns_paused == [campaign.id]
        rows = await campaign_deliveries(session, campaign.id)
        statuses = [rows[i].status for i in world.ids]
        # Two refusals could be the recipients' own; the third makes it the sender's.
        assert statuses[:2] == [DeliveryStatus.FAILED] * 2
        assert set(statuses[2:]) == {DeliveryStatus.QUEUED}
        assert sum(fault_smtp.attempts.values()) == 3

    async def test_a_blocked_sender_pauses_only_a_campaign_still_sending(
        self, session: AsyncSession
    ) -> None:
        """Staff may cancel while the refusals come in: the cancel stands, no pause over it."""
        world = await make_world(session, n=1)
        sending = await make_campaign(session, world.federation, status=CampaignStatus.SENDING)
        cancelled = await make_campaign(session, world.federation, status=CampaignStatus.CANCELLED)
        reasons = {sending.id: "avsändaren nekad", cancelled.id: "avsändaren nekad"}
        assert await repo.pause_campaigns(session, reasons=reasons, now=now()) == [sending.id]
        await session.refresh(sending)
        await session.refresh(cancelled)
        assert (sending.status, cancelled.status) == (
            CampaignStatus.PAUSED,
            CampaignStatus.CANCELLED,
        )
        assert cancelled.paused_reason is None

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
        rows = (await campaign_deliveries(session, campaign.id)).values()
        assert {r.status for r in rows} <= {DeliveryStatus.DEFERRED, DeliveryStatus.QUEUED}
        assert all(r.next_attempt_at > now() for r in rows)
        assert (await composition.dispatch_once()).claimed == 0


@contextlib.asynccontextmanager
async def staff_api_during_a_send(
    fault_smtp: SmtpRecorder,
) -> AsyncIterator[tuple[httpx.AsyncClient, asyncio.Task[DispatchReport]]]:
    """The staff API, with a dispatcher running that has handed its first message over."""
    app = create_app(embedded_services=False)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        run = asyncio.create_task(composition.dispatch_once())
        for _ in range(3000):  # until the first message is in (at most 30 s)
            if fault_smtp.delivered or run.done():
                break
            await asyncio.sleep(0.01)
        yield client, run


class TestSuppressionAtSendTime:
    async def test_unsubscribe_and_erasure_after_fan_out_stop_mail(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world, campaign = await fanned_out(session, n=3)
        world.subscribers[0].status = SubscriptionStatus.UNSUBSCRIBED
        erased_id = world.ids[1]
        await session.delete(world.subscribers[1])
        await session.commit()

        report = await composition.dispatch_once()

        assert report.suppressed == 2
        assert list(fault_smtp.delivered) == [world.address(2)]
        rows = await campaign_deliveries(session, campaign.id)
        assert rows[world.ids[0]].status == DeliveryStatus.SUPPRESSED
        assert rows[None].status == DeliveryStatus.SUPPRESSED  # erased: no link kept
        assert erased_id not in rows
        await session.refresh(campaign)
        assert campaign.status == CampaignStatus.SENT

    async def test_erasure_and_unsubscribe_through_the_api_stop_mail_within_seconds(
        self, committed: async_sessionmaker[AsyncSession], fault_smtp: SmtpRecorder
    ) -> None:
        async with committed() as session:
            world = await make_world(session, n=10)
            fed = world.federation
            # Two a second: the whole campaign is one claimed batch, sent over 4.5 s.
            fed.send_rate_per_second = 2.0
            await make_campaign(session, fed)
            key = await make_key(session, fed)
        erased, leaving = world.ids[9], world.ids[8]
        async with staff_api_during_a_send(fault_smtp) as (client, run):
            erase = await client.delete(
                f"/api/v1/federations/{fed.slug}/subscribers/{erased}", headers=bearer(key)
            )
            assert erase.status_code == 204
            async with committed() as session:
                seed = await session.scalar(
                    select(Token.seed).where(
                        Token.subscriber_id == leaving, Token.purpose == TokenPurpose.UNSUBSCRIBE
                    )
                )
            assert seed is not None
            one_click = await client.post(
                f"/u/{token_from_seed(seed)}", data={"List-Unsubscribe": "One-Click"}
            )
            assert one_click.status_code == 200
            report = await run

        # Their turns came seconds after the commits: neither is mailed.
        assert world.address(9) not in fault_smtp.delivered
        assert world.address(8) not in fault_smtp.delivered
        assert report.suppressed == 2
        async with committed() as session:
            rows = (
                await session.scalars(select(Delivery).where(Delivery.federation_id == fed.id))
            ).all()
            by_subscriber = {row.subscriber_id: row.status for row in rows}
        assert by_subscriber[leaving] == DeliveryStatus.SUPPRESSED
        assert by_subscriber[None] == DeliveryStatus.SUPPRESSED  # erased: no link kept

    @pytest.mark.parametrize(
        ("action", "held"),
        [("cancel", DeliveryStatus.CANCELLED), ("pause", DeliveryStatus.QUEUED)],
    )
    async def test_cancel_and_pause_through_the_api_stop_claimed_mail(
        self,
        committed: async_sessionmaker[AsyncSession],
        fault_smtp: SmtpRecorder,
        action: str,
        held: DeliveryStatus,
    ) -> None:
        """The whole campaign is claimed before staff act; what is not yet sent stays unsent:
        cancelled for good, or back in the queue for the resume."""
        async with committed() as session:
            world = await make_world(session, n=10)
            fed = world.federation
            fed.send_rate_per_second = 2.0  # one claimed batch, sent over 4.5 s
            campaign = await make_campaign(session, fed)
            key = await make_key(session, fed)
        async with staff_api_during_a_send(fault_smtp) as (client, run):
            answer = await client.post(
                f"/api/v1/federations/{fed.slug}/campaigns/{campaign.id}/{action}",
                headers=bearer(key),
            )
            assert answer.status_code == 200, answer.text
            await run

        # The last turns came seconds after the commit: not mailed, and not lost.
        assert world.address(9) not in fault_smtp.delivered
        assert world.address(8) not in fault_smtp.delivered
        async with committed() as session:
            rows = await campaign_deliveries(session, campaign.id)
        assert rows[world.ids[9]].status == held
        assert rows[world.ids[8]].status == held
        assert {r.status for r in rows.values()} <= {DeliveryStatus.SENT, held}

    async def test_cancel_stops_the_rest(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        _, campaign = await fanned_out(session, n=4)
        campaign.status = CampaignStatus.CANCELLED
        await session.commit()
        await composition.dispatch_once()
        assert not fault_smtp.delivered
        rows = await campaign_deliveries(session, campaign.id)
        assert {r.status for r in rows.values()} == {DeliveryStatus.CANCELLED}


class TestLeaseLost:
    async def test_rows_another_dispatcher_took_over_are_not_sent_by_the_first(
        self, committed: async_sessionmaker[AsyncSession], fault_smtp: SmtpRecorder
    ) -> None:
        """A run that stood still longer than its lease (a suspended machine) has lost its
        rows not yet on the wire to another dispatcher: its wire mark misses them, and so it
        sends none of them, not even the one whose MAIL and RCPT it had already sent."""
        async with committed() as session:
            world = await make_world(session, n=10)
            world.federation.send_rate_per_second = 2.0  # one claimed batch, sent over 4.5 s
            campaign = await make_campaign(session, world.federation)
            await session.commit()
        run = asyncio.create_task(composition.dispatch_once())
        for _ in range(3000):  # until the first message is in (at most 30 s)
            if fault_smtp.delivered or run.done():
                break
            await asyncio.sleep(0.01)
        async with committed() as session:
            taken = await session.scalars(
                update(Delivery)
                .where(Delivery.status == DeliveryStatus.SENDING, Delivery.wire_at.is_(None))
                .values(claimed_by="vm-other-0001")
                .returning(Delivery.subscriber_id)
            )
            taken_ids = set(taken)
            await session.commit()
        await run

        assert len(taken_ids) >= 5, "the run ended before the take-over: nothing was shown"
        addresses = {world.address(i) for i, sid in enumerate(world.ids) if sid in taken_ids}
        assert not addresses & set(fault_smtp.delivered)
        assert set(fault_smtp.delivered.values()) == {1}
        async with committed() as session:
            rows = await campaign_deliveries(session, campaign.id)
        for subscriber_id in taken_ids:
            row = rows[subscriber_id]
            # Left as the other dispatcher holds them: no result, no mark from the first.
            assert (row.status, row.claimed_by) == (DeliveryStatus.SENDING, "vm-other-0001")
            assert row.wire_at is None


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

    async def test_a_hard_bounce_after_fan_out_stops_mail_and_a_soft_one_does_not(
        self, session: AsyncSession, fault_smtp: SmtpRecorder
    ) -> None:
        world, campaign = await fanned_out(session, n=3)
        world.subscribers[0].bounce_state = BounceState.HARD
        world.subscribers[1].bounce_state = BounceState.SOFT
        await session.commit()

        await composition.dispatch_once()

        assert sorted(fault_smtp.delivered) == sorted([world.address(1), world.address(2)])
        rows = await campaign_deliveries(session, campaign.id)
        assert rows[world.ids[0]].status == DeliveryStatus.SUPPRESSED

    async def test_the_claim_settles_what_can_no_longer_be_sent(
        self, session: AsyncSession
    ) -> None:
        """The first of the two checks: at the claim, before anything is built (the second,
        just before MAIL FROM, catches what changes while the run sends; the test above
        passes on either)."""
        world, campaign = await fanned_out(session, n=4)
        world.subscribers[0].status = SubscriptionStatus.UNSUBSCRIBED
        world.subscribers[1].bounce_state = BounceState.HARD
        world.subscribers[2].bounce_state = BounceState.SOFT
        await session.commit()
        ids = await repo.claim(
            session, owner="t", lease_until=now() + timedelta(minutes=5), now=now(), limit=10
        )

        settled = await repo.settle_unsendable(session, ids=ids, now=now())
        await session.commit()

        assert settled == 2
        rows = await campaign_deliveries(session, campaign.id)
        assert [rows[i].status for i in world.ids] == [
            DeliveryStatus.SUPPRESSED,
            DeliveryStatus.SUPPRESSED,
            DeliveryStatus.SENDING,
            DeliveryStatus.SENDING,
        ]

    async def test_the_claim_cancels_mail_of_a_campaign_cancelled_since_the_fan_out(
        self, session: AsyncSession
    ) -> None:
        world, campaign = await fanned_out(session, n=2)
        ids = await repo.claim(
            session, owner="t", lease_until=now() + timedelta(minutes=5), now=now(), limit=10
        )
        campaign.status = CampaignStatus.CANCELLED
        await session.commit()

        assert await repo.settle_unsendable(session, ids=ids, now=now()) == 2
        await session.commit()
        rows = await campaign_deliveries(session, campaign.id)
        assert {rows[i].status for i in world.ids} == {DeliveryStatus.CANCELLED}

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


class TestWritingResults:
    """The outbox writes of a dispatcher run (set-based: arrays on PostgreSQL, JSON lists on
    SQLite): a result or a wire mark lands only on a row the run still holds."""

    async def _held(self, session: AsyncSession) -> list[int]:
        world, campaign = await fanned_out(session, n=4)
        rows = await campaign_deliveries(session, campaign.id)
        ids = [rows[i].id for i in world.ids]
        # Rows 0 and 1 held by run "a", row 2 by run "b" (it took over), row 3 still queued.
        for delivery_id, owner in zip(ids, ["a", "a", "b"], strict=False):
            delivery = await session.get(Delivery, delivery_id)
            assert delivery is not None
            delivery.status = DeliveryStatus.SENDING
            delivery.claimed_by = owner
        await session.flush()
        return ids

    async def _many_sent(self, session: AsyncSession, model_id: int) -> None:
        """Many rows that were sent, few sending, analysed: the statistics of a campaign under
        way (copies of delivery `model_id`)."""
        numbers = (
            "generate_series(1, 20000) AS n"
            if session.get_bind().dialect.name == "postgresql"
            else "(WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
            "SELECT i FROM n) AS n"
        )
        await session.execute(
            text(
                "INSERT INTO deliveries (federation_id, kind, campaign_id, subscriber_id, status, "
                "priority, attempts, next_attempt_at, created_at, updated_at) "
                "SELECT federation_id, 'confirmation', NULL, subscriber_id, 'sent', priority, 1, "
                f"next_attempt_at, created_at, updated_at FROM deliveries, {numbers} WHERE id = :id"
            ),
            {"id": model_id},
        )
        await session.execute(text("ANALYZE deliveries"))

    async def _row(self, session: AsyncSession, delivery_id: int) -> Delivery:
        delivery = await session.get(Delivery, delivery_id, populate_existing=True)
        assert delivery is not None
        return delivery

    async def test_a_result_lands_only_on_rows_its_run_still_holds(
        self, session: AsyncSession
    ) -> None:
        ids = await self._held(session)
        ts = now()
        rows = [
            attempt_result(ids[0], DeliveryStatus.SENT),
            attempt_result(ids[1], DeliveryStatus.DEFERRED),
            attempt_result(ids[2], DeliveryStatus.SENT),
            attempt_result(ids[3], DeliveryStatus.SENT),
        ]

        written = await repo.write_results(session, owner="a", rows=rows, now=ts)

        assert written == 2
        sent = await self._row(session, ids[0])
        assert (sent.status, sent.smtp_code, sent.enhanced_code) == (
            DeliveryStatus.SENT,
            250,
            "2.0.0",
        )
        assert (sent.queue_id, sent.attempts, sent.lease_until) == ("K1", 1, None)
        assert sent.smtp_reply == "250 2.0.0 Ok: queued as K1"
        assert sent.sent_at is not None
        deferred = await self._row(session, ids[1])
        assert (deferred.status, deferred.smtp_reply) == (DeliveryStatus.DEFERRED, "451 vänta")
        assert deferred.next_attempt_at > ts
        # Another run's row and a row nobody holds are left as they were.
        assert (await self._row(session, ids[2])).status == DeliveryStatus.SENDING
        assert (await self._row(session, ids[3])).status == DeliveryStatus.QUEUED

        # Recovery (owner None) writes any row still `sending`, whoever held it.
        recovered = [attempt_result(i, DeliveryStatus.DEFERRED) for i in ids]
        assert await repo.write_results(session, owner=None, rows=recovered, now=ts) == 1
        assert (await self._row(session, ids[2])).status == DeliveryStatus.DEFERRED
        assert (await self._row(session, ids[0])).status == DeliveryStatus.SENT

    async def test_the_wire_mark_lands_only_on_rows_its_run_still_holds(
        self, session: AsyncSession
    ) -> None:
        ids = await self._held(session)
        ts = now()

        returned = await repo.mark_on_wire(session, owner="a", ids=ids, now=ts)

        marked = [(await self._row(session, i)).wire_at is not None for i in ids]
        assert marked == [True, True, False, False]
        assert returned == {ids[0], ids[1]}

    @pytest.mark.postgres
    async def test_a_round_is_one_statement_for_results_and_wire_marks(
        self, session: AsyncSession
    ) -> None:
        ids = await self._held(session)
        statements: list[str] = []

        def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
            statements.append(statement)

        bind = (await session.connection()).sync_connection
        assert bind is not None
        event.listen(bind, "before_cursor_execute", count)
        try:
            returned = await repo.write_round(
                session,
                owner="a",
                rows=[
                    attempt_result(ids[0], DeliveryStatus.SENT),
                    attempt_result(ids[2], DeliveryStatus.SENT),
                ],
                wire=[ids[1], ids[3]],
                now=now(),
            )
        finally:
            event.remove(bind, "before_cursor_execute", count)

        assert len(statements) == 1
        assert returned == {ids[1]}  # the queued row is not the run's
        assert (await self._row(session, ids[0])).status == DeliveryStatus.SENT
        marked = await self._row(session, ids[1])
        assert (marked.status, marked.wire_at is not None) == (DeliveryStatus.SENDING, True)
        # Run "b"'s row and the queued one are left alone, results and marks alike.
        assert (await self._row(session, ids[2])).status == DeliveryStatus.SENDING
        assert (await self._row(session, ids[3])).wire_at is None

    @pytest.mark.postgres
    async def test_a_round_finds_its_rows_by_primary_key(self, session: AsyncSession) -> None:
        """The plan PostgreSQL keeps for the round never reads the status index, whose
        'sending' range holds an entry for every row that has passed through it (5 ms a round
        by the middle of a 10,000-recipient campaign, bench/results-speed.md)."""
        ids = await self._held(session)
        await self._many_sent(session, ids[3])
        await session.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
        compiled = repo._ROUND.compile(dialect=session.get_bind().dialect)
        literal = {
            "ids": "ARRAY[1]",
            "statuses": "ARRAY['sent']",
            "nexts": "ARRAY[now()]",
            "sent": "ARRAY[now()]",
            "codes": "ARRAY[250]",
            "enhanced": "ARRAY['2.0.0']",
            "replies": "ARRAY['ok']",
            "queue_ids": "ARRAY['K1']",
            "deltas": "ARRAY[1]",
            "owner": "'a'",
            "now": "now()",
            "wire": "ARRAY[2]",
        }
        conn = await session.connection()
        await conn.exec_driver_sql(f"PREPARE round_plan AS {compiled}")
        arguments = ", ".join(literal[name] for name in compiled.positiontup or ())
        explained = await conn.exec_driver_sql(f"EXPLAIN EXECUTE round_plan({arguments})")
        plan = "\n".join(explained.scalars())
        await conn.exec_driver_sql("DEALLOCATE round_plan")
        assert "ix_deliveries_due" not in plan, plan
        assert plan.count("pk_deliveries") == 2, plan

    async def test_a_claims_reads_find_their_rows_by_primary_key(
        self, session: AsyncSession
    ) -> None:
        """The statements a claim runs over its ids (suppression, tokens, loading) find them by
        primary key, never through the status index's 'sending' range, which keeps an entry
        for every row that has passed through it; on PostgreSQL the ids are one array
        parameter, and both the first (custom) plans and the generic one kept later hold."""
        ids = await self._held(session)
        await self._many_sent(session, ids[3])
        statements: list[tuple[str, tuple[object, ...]]] = []
        engine = session.get_bind()

        def capture(*args: object) -> None:
            statement, parameters = args[2], args[3]
            assert isinstance(statement, str)
            assert isinstance(parameters, tuple | list)
            if "deliveries" in statement and not statement.startswith("INSERT"):
                statements.append((statement, tuple(parameters)))

        event.listen(engine, "before_cursor_execute", capture)
        try:
            await repo.settle_unsendable(session, ids=ids[:2], now=now())
            await repo.ensure_unsubscribe_tokens(session, ids=ids[:2])
            await repo.load_claimed(session, ids=ids[:2], owner="a")
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        assert len(statements) == 4
        conn = await session.connection()
        plans: list[str] = []
        for statement, parameters in statements:
            if conn.dialect.name == "sqlite":
                explained = await conn.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {statement}", parameters
                )
                plans.append("\n".join(row[3] for row in explained))
                continue
            # One parameter for the ids, however many there are.
            assert statement.count("ANY (") == 1, statement
            await conn.exec_driver_sql(f"PREPARE claim_plan AS {statement}")
            arguments = ", ".join(map(_sql_literal, parameters))
            for mode in ("custom", "generic"):
                await conn.exec_driver_sql(f"SET LOCAL plan_cache_mode = force_{mode}_plan")
                explained = await conn.exec_driver_sql(f"EXPLAIN EXECUTE claim_plan({arguments})")
                plans.append("\n".join(explained.scalars()))
            await conn.exec_driver_sql("DEALLOCATE claim_plan")
        for plan in plans:
            assert "ix_deliveries_due" not in plan, plan
            # By primary key; the cancelled campaigns' rows by campaign.
            assert any(
                index in plan
                for index in ("pk_deliveries", "INTEGER PRIMARY KEY", "ix_deliveries_campaign_id")
            ), plan

    @pytest.mark.parametrize("statistics", [False, True], ids=["no-statistics", "analysed"])
    def test_sqlite_rounds_find_their_rows_by_primary_key(self, statistics: bool) -> None:
        """SQLite's round statements read each listed id by primary key: without `+status`
        its planner chose ix_deliveries_due's 'sending' range (no statistics) and scanned the
        JSON list once per row in it."""
        engine = create_engine("sqlite://")
        Base.metadata.create_all(engine)
        with engine.begin() as conn:
            if statistics:
                # A campaign under way: many rows sent, a few sending (foreign keys are off).
                conn.exec_driver_sql(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                    "WHERE i < 2000) INSERT INTO deliveries (federation_id, kind, status, "
                    "priority, attempts, next_attempt_at, created_at, updated_at) SELECT 1, "
                    "'confirmation', CASE WHEN i % 100 = 0 THEN 'sending' ELSE 'sent' END, "
                    "1, 1, '2026-01-01', '2026-01-01', '2026-01-01' FROM n"
                )
                conn.exec_driver_sql("ANALYZE")
            for statement in (repo._SQLITE_RESULTS, repo._SQLITE_WIRE):
                sql = str(statement)
                for name in ("rows", "wire", "owner", "now"):
                    sql = sql.replace(f":{name}", "?")
                plan = [
                    row[3]
                    for row in conn.exec_driver_sql(
                        f"EXPLAIN QUERY PLAN {sql}", ("[]", "o", "x")[: sql.count("?")]
                    )
                ]
                assert any("deliveries USING INTEGER PRIMARY KEY" in step for step in plan), plan
                assert not any("ix_deliveries_due" in step for step in plan), plan
        engine.dispose()

    @pytest.mark.postgres
    async def test_a_lost_database_connection_mid_run_loses_and_repeats_nothing(
        self, committed: async_sessionmaker[AsyncSession], fault_smtp: SmtpRecorder
    ) -> None:
        """The run's own connection for its rounds is killed while the campaign goes out (a
        database restart would do the same): the round goes again on a fresh connection, the
        run finishes, and every subscriber has exactly one mail."""
        async with committed() as session:
            world = await make_world(session, n=30)
            world.federation.send_rate_per_second = 15.0  # two seconds of sending
            await make_campaign(session, world.federation)
            await session.commit()
        run = asyncio.create_task(composition.dispatch_once())
        for _ in range(3000):  # until a few are out (at most 30 s)
            if sum(fault_smtp.delivered.values()) >= 5 or run.done():
                break
            await asyncio.sleep(0.01)
        async with committed() as session:
            killed = await session.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND query LIKE '%WITH results AS%'"
                )
            )
        assert killed == 1
        report = await run

        assert report.sent == 30
        assert fault_smtp.delivered == {world.address(i): 1 for i in range(30)}
        async with committed() as session:
            statuses = (
                await session.scalars(
                    select(Delivery.status).where(Delivery.federation_id == world.federation.id)
                )
            ).all()
        assert statuses == [DeliveryStatus.SENT] * 30

    async def test_rounds_go_on_while_the_next_batch_is_claimed_on_postgresql_only(
        self,
        backend: str,
        committed: async_sessionmaker[AsyncSession],
        fault_smtp: SmtpRecorder,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """With rounds on the run's own connection, a claim (its queries and building its
        messages) no longer stops every connection waiting for its wire mark. On SQLite the
        rounds have a connection of their own too (app.delivery.sqlite_rounds), but a claim
        stays in the loop: its transaction would hold the one writer lock every round needs."""
        from app.delivery import runner

        monkeypatch.setattr(runner, "BATCH_SIZE", 20)  # claims of 20, a new one below 16 queued
        async with committed() as session:
            world = await make_world(session, n=80)
            await make_campaign(session, world.federation)
            await session.commit()
        claiming = 0
        rounds_during_claims = 0
        rounds_on_held_connection = 0
        real_claim, real_round = runner.Run._claim, repo.write_round
        real_sqlite_round, real_asyncpg_round = repo.write_round_sqlite, repo.write_round_asyncpg

        async def claim(self, only):  # type: ignore[no-untyped-def]
            nonlocal claiming
            claiming += 1
            try:
                await asyncio.sleep(0.05)  # a claim that takes a while: a large batch
                return await real_claim(self, only)
            finally:
                claiming -= 1

        async def write_round(db, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal rounds_during_claims, rounds_on_held_connection
            rounds_during_claims += claiming > 0 and bool(kwargs["wire"])
            rounds_on_held_connection += isinstance(db, AsyncConnection)
            return await real_round(db, **kwargs)

        async def write_round_asyncpg(driver, **kwargs):  # type: ignore[no-untyped-def]
            nonlocal rounds_during_claims, rounds_on_held_connection
            rounds_during_claims += claiming > 0 and bool(kwargs["wire"])
            rounds_on_held_connection += 1
            return await real_asyncpg_round(driver, **kwargs)

        def write_round_sqlite(conn, **kwargs):  # type: ignore[no-untyped-def]
            # Runs in the round writer's thread; the loop waits for it meanwhile.
            nonlocal rounds_during_claims, rounds_on_held_connection
            rounds_during_claims += claiming > 0 and bool(kwargs["wire"])
            rounds_on_held_connection += 1
            return real_sqlite_round(conn, **kwargs)

        monkeypatch.setattr(runner.Run, "_claim", claim)
        monkeypatch.setattr(repo, "write_round", write_round)
        monkeypatch.setattr(repo, "write_round_sqlite", write_round_sqlite)
        monkeypatch.setattr(repo, "write_round_asyncpg", write_round_asyncpg)
        report = await composition.dispatch_once()

        assert report.sent == 80
        assert fault_smtp.delivered == {world.address(i): 1 for i in range(80)}
        assert rounds_on_held_connection > 0
        if backend == "postgresql":
            assert rounds_during_claims > 0
        else:
            assert rounds_during_claims == 0

    @pytest.mark.postgres
    async def test_rounds_keep_one_plan_and_give_their_connection_back_as_they_found_it(
        self,
        committed: async_sessionmaker[AsyncSession],
        fault_smtp: SmtpRecorder,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The round connection keeps the generic plan (no planning per round), and the pool
        gets it back with the server's default, so no other query inherits the setting."""
        async with committed() as session:
            world = await make_world(session, n=12)
            await make_campaign(session, world.federation)
            await session.commit()
        modes: list[str] = []
        drivers: list[object] = []
        real_round = repo.write_round_asyncpg

        async def write_round_asyncpg(driver, **kwargs):  # type: ignore[no-untyped-def]
            modes.append(await driver.fetchval("SHOW plan_cache_mode"))
            drivers.append(driver)
            return await real_round(driver, **kwargs)

        monkeypatch.setattr(repo, "write_round_asyncpg", write_round_asyncpg)
        report = await composition.dispatch_once()

        assert report.sent == 12
        assert modes
        assert set(modes) == {"force_generic_plan"}
        driver = drivers[-1]
        assert not driver.is_closed()  # type: ignore[attr-defined]
        assert await driver.fetchval("SHOW plan_cache_mode") == "auto"  # type: ignore[attr-defined]

    @pytest.mark.postgres
    async def test_a_round_connection_that_cannot_be_reset_is_dropped_not_pooled(
        self,
        committed: async_sessionmaker[AsyncSession],
        fault_smtp: SmtpRecorder,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The round connection dies after the last round (a database restart): the reset
        fails, the run still ends normally, and the connection goes back to no one."""
        from app.delivery import runner

        async with committed() as session:
            world = await make_world(session, n=6)
            await make_campaign(session, world.federation)
            await session.commit()
        real_close = runner.Run._close_round_connection

        async def close_after_a_restart(self):  # type: ignore[no-untyped-def]
            if self.round_driver is not None and not self.round_driver.is_closed():
                async with committed() as other:
                    await other.execute(
                        text("SELECT pg_terminate_backend(:pid)"),
                        {"pid": self.round_driver.get_server_pid()},
                    )
            await real_close(self)

        monkeypatch.setattr(runner.Run, "_close_round_connection", close_after_a_restart)
        report = await composition.dispatch_once()

        assert report.sent == 6
        engine = committed.kw["bind"]
        assert engine.pool.checkedout() == 0
        async with committed() as session:
            assert (await session.execute(text("SHOW plan_cache_mode"))).scalar() == "auto"


def _sql_literal(value: object) -> str:
    """A bound value written into SQL, for EXPLAIN EXECUTE of a captured statement."""
    if value is None:
        return "NULL"
    if isinstance(value, list | tuple):
        return "ARRAY[" + ", ".join(map(_sql_literal, value)) + "]"
    if isinstance(value, bool | int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"
