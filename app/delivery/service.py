"""Outbox use cases: enqueue mail in the caller's transaction, staff actions on a campaign's
deliveries, and bounce reports that arrive after the relay accepted a message. Each only
flushes; the caller's edge commits. Sending is the runner's (app.delivery.runner)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign, CampaignStatus
from app.clock import now
from app.delivery import repository as repo
from app.delivery.bounces import DeliveryStatusReport
from app.delivery.models import Delivery, DeliveryKind, DeliveryStatus, Priority
from app.errors import Conflict, NotFound


async def enqueue_transactional(
    session: AsyncSession,
    *,
    federation_id: int,
    subscriber_id: int,
    kind: DeliveryKind,
    token_id: int | None = None,
) -> Delivery:
    """Queue a confirmation or self-service mail in the caller's transaction (sent first)."""
    if kind not in (DeliveryKind.CONFIRMATION, DeliveryKind.SELF_SERVICE):
        raise ValueError(f"not a transactional kind: {kind}")
    delivery = Delivery(
        federation_id=federation_id,
        kind=kind,
        subscriber_id=subscriber_id,
        token_id=token_id,
        priority=Priority.TRANSACTIONAL,
        next_attempt_at=now(),
    )
    session.add(delivery)
    await session.flush()
    return delivery


async def enqueue_test(
    session: AsyncSession, *, federation_id: int, campaign_id: int, addresses: Sequence[str]
) -> list[Delivery]:
    """Queue a test send of a campaign to staff addresses."""
    deliveries = [
        Delivery(
            federation_id=federation_id,
            kind=DeliveryKind.TEST,
            campaign_id=campaign_id,
            to_address=address,
            priority=Priority.TRANSACTIONAL,
            next_attempt_at=now(),
        )
        for address in addresses
    ]
    session.add_all(deliveries)
    await session.flush()
    return deliveries


async def requeue_unknown(session: AsyncSession, *, federation_id: int, campaign_id: int) -> int:
    """Send again the campaign's deliveries whose outcome is unknown (staff decided to)."""
    campaign = await _campaign(session, federation_id=federation_id, campaign_id=campaign_id)
    ts = now()
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.federation_id == federation_id,
            Delivery.campaign_id == campaign_id,
            Delivery.status == DeliveryStatus.UNKNOWN,
        )
        .values(status=DeliveryStatus.QUEUED, next_attempt_at=ts, updated_at=ts)
        .execution_options(synchronize_session=False)
    )
    count = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if count and campaign.status == CampaignStatus.SENT:
        campaign.status = CampaignStatus.SENDING
        campaign.finished_at = None
    await session.flush()
    return count


async def resume_campaign(session: AsyncSession, *, federation_id: int, campaign_id: int) -> None:
    """Resume a campaign paused after the relay refused the sender (5.7.x)."""
    campaign = await _campaign(session, federation_id=federation_id, campaign_id=campaign_id)
    if campaign.status != CampaignStatus.PAUSED:
        raise Conflict("Utskicket är inte pausat.")
    campaign.status = CampaignStatus.SENDING
    campaign.paused_reason = None
    await session.flush()


async def _campaign(session: AsyncSession, *, federation_id: int, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None or campaign.federation_id != federation_id:
        raise NotFound()
    return campaign


async def record_bounce_report(session: AsyncSession, *, report: DeliveryStatusReport) -> bool:
    """Apply a DSN that arrived after the relay accepted the message: a permanent failure marks
    the delivery `failed` and counts a bounce (5.1.x hard: no more mail). Returns whether
    anything changed; delays, successes and repeats change nothing."""
    if not report.is_failure:
        return False
    subscriber_id = await repo.fail_sent_delivery(
        session,
        delivery_id=report.delivery_id,
        enhanced=report.status,
        reply=(report.diagnostic or "DSN: failed")[:2000],
        now=now(),
    )
    if subscriber_id is None:
        return False
    hard = [subscriber_id] if report.is_hard else []
    soft = [] if report.is_hard else [subscriber_id]
    await repo.record_bounces(session, hard=hard, soft=soft, now=now())
    return True
