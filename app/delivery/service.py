"""Outbox use cases: enqueue mail in the caller's transaction, requeue a campaign's unknown
deliveries, and apply bounce reports that arrive after the relay accepted a message. Each only
flushes; the caller's edge commits. Sending is the runner's (app.delivery.runner)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import now
from app.config import get_settings
from app.delivery import repository as repo
from app.delivery.bounces import DeliveryStatusReport
from app.delivery.models import (
    TRANSACTIONAL_KINDS,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Priority,
)
from app.delivery.smtp import Probe, Relay, probe
from app.logs import redact


def _transactional(kind: DeliveryKind) -> DeliveryKind:
    if kind not in TRANSACTIONAL_KINDS:
        raise ValueError(f"not a transactional kind: {kind}")
    return kind


async def enqueue_transactional(
    session: AsyncSession,
    *,
    federation_id: int,
    subscriber_id: int,
    kind: DeliveryKind,
    token_id: int | None = None,
    at: datetime | None = None,
) -> Delivery:
    """Queue a confirmation or self-service mail in the caller's transaction (sent first).
    Every writer of such a row calls this (or the bulk variant below)."""
    ts = at or now()
    delivery = Delivery(
        federation_id=federation_id,
        kind=_transactional(kind),
        subscriber_id=subscriber_id,
        token_id=token_id,
        priority=Priority.TRANSACTIONAL,
        next_attempt_at=ts,
        created_at=ts,
    )
    session.add(delivery)
    await session.flush()
    return delivery


async def enqueue_sign_in(
    session: AsyncSession, *, federation_id: int, to_address: str, at: datetime | None = None
) -> Delivery:
    """Queue a staff sign-in link to `to_address` (sent first, like a confirmation). The link
    itself is built at send time by the sign-in builder (app.users)."""
    ts = at or now()
    delivery = Delivery(
        federation_id=federation_id,
        kind=DeliveryKind.SIGN_IN,
        to_address=to_address,
        priority=Priority.TRANSACTIONAL,
        next_attempt_at=ts,
        created_at=ts,
    )
    session.add(delivery)
    await session.flush()
    return delivery


async def enqueue_transactional_bulk(
    session: AsyncSession,
    *,
    federation_id: int,
    kind: DeliveryKind,
    tokens: Mapping[int, int],
    at: datetime,
) -> None:
    """The bulk variant for the importer: one row per subscriber id → token id, one INSERT."""
    await repo.insert_queued_for_tokens(
        session, federation_id=federation_id, kind=_transactional(kind), tokens=tokens, at=at
    )


async def enqueue_test(
    session: AsyncSession, *, federation_id: int, campaign_id: int, addresses: Sequence[str]
) -> list[Delivery]:
    """Queue a test send of a campaign to staff addresses."""
    return await _enqueue_to_staff(
        session, DeliveryKind.TEST, federation_id, campaign_id, addresses
    )


async def enqueue_draft_notices(
    session: AsyncSession, *, federation_id: int, campaign_id: int, addresses: Sequence[str]
) -> list[Delivery]:
    """Queue "a draft is waiting for you" to each staff address (built at send time by the
    draft-notice builder, app.seasons)."""
    return await _enqueue_to_staff(
        session, DeliveryKind.DRAFT_NOTICE, federation_id, campaign_id, addresses
    )


async def _enqueue_to_staff(
    session: AsyncSession,
    kind: DeliveryKind,
    federation_id: int,
    campaign_id: int,
    addresses: Sequence[str],
) -> list[Delivery]:
    at = now()
    deliveries = [
        Delivery(
            federation_id=federation_id,
            kind=kind,
            campaign_id=campaign_id,
            to_address=address,
            priority=Priority.TRANSACTIONAL,
            next_attempt_at=at,
            created_at=at,
        )
        for address in addresses
    ]
    session.add_all(deliveries)
    await session.flush()
    return deliveries


async def probe_relay(
    *,
    host: str | None,
    port: int | None,
    security: str | None,
    username: str | None,
    password: str | None,
) -> Probe:
    """Test a session with the relay a federation's mail would use (its override, else the
    installation's): connect, EHLO, TLS, AUTH, QUIT; nothing is sent."""
    relay = Relay.from_settings(get_settings()).with_override(
        host=host, port=port, security=security, username=username, password=password
    )
    return await probe(relay)


async def count_recipients(session: AsyncSession, *, federation_id: int) -> int:
    """How many subscribers a campaign of this federation would go to now."""
    return await repo.count_recipients(session, federation_id=federation_id)


async def requeue_unknown(session: AsyncSession, *, federation_id: int, campaign_id: int) -> int:
    """Queue again a campaign's deliveries whose outcome is unknown; how many. The campaign's
    own transition is campaigns' (app.campaigns.service.requeue_unknown)."""
    return await repo.requeue_unknown(
        session, federation_id=federation_id, campaign_id=campaign_id, now=now()
    )


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
        reply=redact(report.diagnostic or "DSN: failed")[:2000],
        now=now(),
    )
    if subscriber_id is None:
        return False
    hard = [subscriber_id] if report.is_hard else []
    soft = [] if report.is_hard else [subscriber_id]
    await repo.record_bounces(session, hard=hard, soft=soft, now=now())
    return True


# What campaign_outcomes returns (callers outside delivery name it through this module).
Outcome = repo.Outcome


async def campaign_outcomes(
    session: AsyncSession,
    *,
    federation_id: int,
    campaign_id: int,
    status: DeliveryStatus | None = None,
    before_id: int | None = None,
    limit: int = 100,
    bounced: bool = False,
) -> list[Outcome]:
    """Per-recipient outcomes of a campaign for staff (filter by status or bounced; keyset
    by id)."""
    return await repo.campaign_outcomes(
        session,
        federation_id=federation_id,
        campaign_id=campaign_id,
        status=status,
        before_id=before_id,
        limit=limit,
        bounced=bounced,
    )
