"""Staff use cases on subscribers: list, create, get, update, export and erase."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import now
from app.db import get_sessionmaker
from app.errors import Conflict, NotFound, Unprocessable
from app.federations.models import Federation
from app.security import email_hash
from app.subscribers import consent, repository, staff_repository, tokens
from app.subscribers import service as subscriber_service
from app.subscribers.consent import Origin
from app.subscribers.models import ConsentEvent, Subscriber, SubscriptionStatus
from app.subscribers.staff_schemas import (
    CreateMode,
    ListFilters,
    SubscriberCreate,
    SubscriberUpdate,
)

log = logging.getLogger(__name__)

STAFF_ORIGIN = Origin(method="staff_api")
EXPORT_BATCH = 1000
EXPORT_COLUMNS = (
    "email",
    "name",
    "status",
    "created_at",
    "confirmed_at",
    "unsubscribed_at",
    "attributes",
)


class AlreadySubscribed(Conflict):
    code = "already_exists"
    default_message = "A subscriber with this address already exists."


class AddressSuppressed(Conflict):
    code = "suppressed"
    default_message = (
        "This address was erased or blocked in this federation and cannot be added again."
    )


class InvalidCursor(Unprocessable):
    code = "invalid_cursor"
    default_message = "The cursor is not valid; start again without one."


def valid_email(raw: str) -> str:
    """The address as stored, or a 422 naming the field."""
    try:
        return subscriber_service.normalize_email(raw.strip())
    except Unprocessable:
        raise Unprocessable(
            "Not a valid e-mail address.",
            details=[{"loc": ["body", "email"], "msg": "not a valid e-mail address"}],
        ) from None


# --- cursors ----------------------------------------------------------------------------------


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"s1:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        version, _, value = text.partition(":")
        if version != "s1" or not value.isdigit():
            raise ValueError(cursor)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor() from None


@dataclass(frozen=True)
class Page:
    items: Sequence[Subscriber]
    next_cursor: str | None


async def list_subscribers(
    session: AsyncSession,
    *,
    federation: Federation,
    filters: ListFilters,
    cursor: str | None,
    limit: int,
) -> Page:
    """One page of subscribers, newest first, with a cursor for the next."""
    before_id = decode_cursor(cursor) if cursor else None
    rows = await staff_repository.list_subscribers(
        session,
        federation_id=federation.id,
        status=filters.status,
        q=filters.q,
        created_after=filters.created_after,
        created_before=filters.created_before,
        before_id=before_id,
        limit=limit + 1,
    )
    more = len(rows) > limit
    items = rows[:limit]
    return Page(items=items, next_cursor=encode_cursor(items[-1].id) if more else None)


async def get_subscriber(
    session: AsyncSession, *, federation: Federation, subscriber_id: int
) -> Subscriber:
    subscriber = await repository.get_subscriber(
        session, federation_id=federation.id, subscriber_id=subscriber_id
    )
    if subscriber is None:
        raise NotFound("Subscriber not found.")
    return subscriber


async def create_subscriber(
    session: AsyncSession, *, federation: Federation, data: SubscriberCreate
) -> Subscriber:
    """Add a subscriber: pending with a confirmation mail, or confirmed on staff evidence."""
    email = valid_email(data.email)
    if await repository.is_suppressed(
        session, federation_id=federation.id, email_hash=email_hash(federation.id, email)
    ):
        raise AddressSuppressed()
    existing = await repository.find_subscriber_by_email(
        session, federation_id=federation.id, email=email
    )
    if existing is not None:
        raise AlreadySubscribed(details={"id": existing.id})
    current = now()
    confirmed = data.status is CreateMode.CONFIRMED
    subscriber = Subscriber(
        federation_id=federation.id,
        email=email,
        name=data.name or None,
        attributes=data.attributes,
        status=SubscriptionStatus.CONFIRMED if confirmed else SubscriptionStatus.PENDING,
        confirmed_at=current if confirmed else None,
        created_at=current,
        updated_at=current,
    )
    try:
        async with session.begin_nested():
            session.add(subscriber)
            await session.flush()
    except IntegrityError:
        raise AlreadySubscribed() from None
    await tokens.issue_unsubscribe_token(session, subscriber=subscriber)
    consent.record(
        session,
        federation_id=federation.id,
        subscriber_id=subscriber.id,
        event=ConsentEvent.STAFF_CONFIRMED if confirmed else ConsentEvent.SIGNUP,
        origin=STAFF_ORIGIN,
        note=data.consent_note,
    )
    if not confirmed:
        await subscriber_service.queue_confirmation_mail(session, subscriber=subscriber)
    await session.flush()
    return subscriber


async def update_subscriber(
    session: AsyncSession, *, federation: Federation, subscriber_id: int, changes: SubscriberUpdate
) -> Subscriber:
    """Change name and attributes (the address and status follow the subscriber's own acts)."""
    subscriber = await get_subscriber(session, federation=federation, subscriber_id=subscriber_id)
    values = changes.model_dump(exclude_unset=True)
    if "name" in values:
        subscriber.name = values["name"] or None
    if values.get("attributes") is not None:
        subscriber.attributes = values["attributes"]
    subscriber.updated_at = now()
    await session.flush()
    return subscriber


# --- erasure (the staff API's DELETE and the self-service page share this) ------------------


async def erase(session: AsyncSession, *, subscriber: Subscriber) -> None:
    """Remove a person's data everywhere in their federation.

    The subscriber row, tokens and consent records are deleted; deliveries lose the link, any
    address and the relay's reply text; a keyed hash stays as a suppression so the address is
    never added or mailed again."""
    federation_id = subscriber.federation_id
    await staff_repository.add_suppression(
        session,
        federation_id=federation_id,
        email_hash=email_hash(federation_id, subscriber.email),
        reason="erased",
        at=now(),
    )
    await staff_repository.forget_deliveries(
        session, federation_id=federation_id, subscriber_ids=[subscriber.id], email=subscriber.email
    )
    await staff_repository.delete_subscribers(
        session, federation_id=federation_id, subscriber_ids=[subscriber.id]
    )
    session.expunge(subscriber)
    log.info("erased subscriber %s of federation %s", subscriber.id, federation_id)


async def erase_subscriber(
    session: AsyncSession, *, federation: Federation, subscriber_id: int
) -> None:
    """Erase one subscriber of this federation (GDPR Art. 17)."""
    subscriber = await get_subscriber(session, federation=federation, subscriber_id=subscriber_id)
    await erase(session, subscriber=subscriber)


# --- export -----------------------------------------------------------------------------------


def _cell(value: str) -> str:
    # A name such as "=HYPERLINK(...)" from the public form must not become a formula when
    # staff open the export in a spreadsheet.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _csv_line(values: Sequence[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([_cell(v) for v in values])
    return buffer.getvalue()


async def export_csv(*, federation_id: int) -> AsyncIterator[str]:
    """The federation's subscribers as CSV lines, read in keyset batches so memory stays flat
    however large the list is. Each batch uses a short session of its own: the response is
    streamed after the request's session has finished."""
    yield _csv_line(EXPORT_COLUMNS)
    after_id = 0
    while True:
        async with get_sessionmaker()() as session:
            batch = await staff_repository.export_batch(
                session, federation_id=federation_id, after_id=after_id, limit=EXPORT_BATCH
            )
        if not batch:
            return
        chunk = []
        for s in batch:
            chunk.append(
                _csv_line(
                    [
                        s.email,
                        s.name or "",
                        str(s.status),
                        s.created_at.isoformat(),
                        s.confirmed_at.isoformat() if s.confirmed_at else "",
                        s.unsubscribed_at.isoformat() if s.unsubscribed_at else "",
                        json.dumps(s.attributes or {}, ensure_ascii=False) if s.attributes else "",
                    ]
                )
            )
        yield "".join(chunk)
        after_id = batch[-1].id
