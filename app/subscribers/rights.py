"""Data-subject rights (GDPR Art. 15, 17 and 20): a link by mail with which a subscriber sees,
exports and erases their own data, and the one erasure that the staff API also uses."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.actors import Actor
from app.audit import service as audit_service
from app.audit.models import AuditAction
from app.clock import now
from app.config import get_settings
from app.delivery import service as delivery_service
from app.delivery.models import DeliveryKind
from app.federations.models import Federation
from app.security import email_hash
from app.subscribers import repository, tokens
from app.subscribers import service as subscriber_service
from app.subscribers.models import ConsentRecord, Subscriber, TokenPurpose

log = logging.getLogger(__name__)

# At most this many self-service mails per address and day, whatever is posted.
LINKS_PER_DAY = 3


async def request_link(
    session: AsyncSession, *, federation: Federation, raw_email: str
) -> int | None:
    """Queue a mail with a self-service link if the address is a subscriber; returns the
    delivery id. The visitor sees the same answer either way (no enumeration).

    Raises InvalidSignup for an address that is not an address at all (safe to say)."""
    email = subscriber_service.normalize_email(raw_email.strip())
    subscriber = await repository.find_subscriber_by_email(
        session, federation_id=federation.id, email=email
    )
    if subscriber is None:
        return None
    current = now()
    sent_today = await repository.count_deliveries_since(
        session,
        federation_id=federation.id,
        subscriber_id=subscriber.id,
        kind=DeliveryKind.SELF_SERVICE,
        since=current - timedelta(days=1),
    )
    if sent_today >= LINKS_PER_DAY:
        return None
    token = tokens.new_token(
        federation_id=federation.id,
        subscriber_id=subscriber.id,
        purpose=TokenPurpose.SELF_SERVICE,
        expires_at=current + timedelta(days=get_settings().self_service_token_days),
    )
    session.add(token)
    await session.flush()
    delivery = await delivery_service.enqueue_transactional(
        session,
        federation_id=federation.id,
        subscriber_id=subscriber.id,
        kind=DeliveryKind.SELF_SERVICE,
        token_id=token.id,
        at=current,
    )
    return delivery.id


async def _subscriber_for(session: AsyncSession, *, federation: Federation, raw: str) -> Subscriber:
    _, subscriber = await tokens.find_token_and_subscriber(
        session, raw, purpose=TokenPurpose.SELF_SERVICE, federation_id=federation.id
    )
    return subscriber


@dataclass(frozen=True)
class ConsentEntry:
    record: ConsentRecord
    notice_version: int | None


@dataclass(frozen=True)
class OwnData:
    subscriber: Subscriber
    consent: list[ConsentEntry]


async def own_data(session: AsyncSession, *, federation: Federation, raw: str) -> OwnData:
    """What is stored about the person behind a self-service link (changes nothing)."""
    subscriber = await _subscriber_for(session, federation=federation, raw=raw)
    records = await repository.consent_records(
        session, federation_id=federation.id, subscriber_id=subscriber.id
    )
    versions = await repository.notice_versions(
        session,
        federation_id=federation.id,
        notice_ids=sorted({r.privacy_notice_id for r in records if r.privacy_notice_id}),
    )
    return OwnData(
        subscriber=subscriber,
        consent=[
            ConsentEntry(record=r, notice_version=versions.get(r.privacy_notice_id or 0))
            for r in records
        ],
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_document(federation: Federation, data: OwnData, *, base_url: str) -> dict[str, Any]:
    """The person's data as a JSON-ready document (GDPR Art. 20)."""
    s = data.subscriber
    return {
        "personuppgiftsansvarig": {
            "namn": federation.name,
            "kontakt": federation.contact_email or federation.reply_to or federation.from_email,
            "postadress": federation.postal_address,
        },
        "exporterad": now().isoformat(),
        "prenumerant": {
            "email": s.email,
            "name": s.name,
            "status": str(s.status),
            "attributes": s.attributes,
            "created_at": _iso(s.created_at),
            "confirmed_at": _iso(s.confirmed_at),
            "unsubscribed_at": _iso(s.unsubscribed_at),
            "bounce_state": str(s.bounce_state),
        },
        "samtycke": [
            {
                "event": str(e.record.event),
                "occurred_at": _iso(e.record.occurred_at),
                "method": e.record.method,
                "source_page": e.record.source_page,
                "privacy_notice_version": e.notice_version,
                "privacy_notice_url": (
                    f"{base_url}/f/{federation.slug}/integritet?version={e.notice_version}"
                    if e.notice_version
                    else None
                ),
                "note": e.record.note,
                "ip_address": e.record.ip_address,
                "user_agent": e.record.user_agent,
            }
            for e in data.consent
        ],
    }


async def erase_own_data(session: AsyncSession, *, federation: Federation, raw: str) -> None:
    """Erase the person behind a self-service link (the link stops working with it)."""
    subscriber = await _subscriber_for(session, federation=federation, raw=raw)
    await erase(session, subscriber=subscriber)


async def erase(session: AsyncSession, *, subscriber: Subscriber) -> None:
    """Remove a person's data everywhere in their federation.

    The subscriber row, tokens and consent records are deleted; deliveries lose the link, any
    address and the relay's reply text; a keyed hash stays as a suppression so the address is
    never added or mailed again."""
    federation_id = subscriber.federation_id
    await repository.add_suppression(
        session,
        federation_id=federation_id,
        email_hash=email_hash(federation_id, subscriber.email),
        reason="erased",
        at=now(),
    )
    await repository.forget_deliveries(
        session, federation_id=federation_id, subscriber_ids=[subscriber.id], email=subscriber.email
    )
    await repository.delete_subscribers(
        session, federation_id=federation_id, subscriber_ids=[subscriber.id]
    )
    session.expunge(subscriber)
    log.info("erased subscriber %s of federation %s", subscriber.id, federation_id)


async def erase_subscriber(
    session: AsyncSession, *, federation: Federation, subscriber_id: int, actor: Actor
) -> None:
    """Erase one subscriber of this federation (GDPR Art. 17)."""
    subscriber = await subscriber_service.get_subscriber(
        session, federation=federation, subscriber_id=subscriber_id
    )
    await erase(session, subscriber=subscriber)
    await audit_service.record(
        session,
        actor=actor,
        action=AuditAction.SUBSCRIBER_ERASED,
        federation_id=federation.id,
        target_type="subscriber",
        target_id=subscriber_id,
        summary="raderad på begäran",
    )
