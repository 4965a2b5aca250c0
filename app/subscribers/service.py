"""Use cases of a subscription's life, for visitors and staff alike: sign-up, confirmation,
unsubscribe, the privacy notice, staff listing and editing, and the transactional mails
(confirmation, self-service) that the dispatcher builds from outbox rows.

The data-subject rights (see, export, erase) are in rights.py; bulk import and export in
importer.py and export.py."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app import addresses, messages
from app.actors import Actor
from app.audit import service as audit_service
from app.audit.models import AuditAction
from app.clock import now
from app.config import get_settings
from app.delivery import service as delivery_service
from app.delivery.models import Delivery, DeliveryKind
from app.errors import Conflict, NotFound, Unprocessable
from app.federations import service as federation_service
from app.federations.models import Federation
from app.pagination import decode_cursor, encode_cursor
from app.rendering import transactional
from app.security import dkim_key, email_hash
from app.subscribers import consent, repository, tokens
from app.subscribers.consent import Origin
from app.subscribers.models import (
    NAME_LENGTH,
    BounceState,
    ConsentEvent,
    ConsentRecord,
    PrivacyNotice,
    Subscriber,
    SubscriptionStatus,
    Token,
    TokenPurpose,
)
from app.subscribers.schemas import (
    CreateMode,
    ListFilters,
    SignupRequest,
    SubscriberCreate,
    SubscriberUpdate,
)

log = logging.getLogger(__name__)

STAFF_ORIGIN = Origin(method="staff_api")
# Cursors of the staff list (app.pagination); "s1" is what existing clients hold.
CURSOR_KIND = "s1"


class InvalidSignup(Unprocessable):
    """The form has field errors; details maps field name to an error code the page explains."""

    code = "invalid_signup"
    default_message = "The sign-up has errors; see details."


class StaleForm(Unprocessable):
    """The render stamp is missing, forged, too fresh (a bot) or too old: show the form again."""

    code = "form_expired"
    default_message = "The form stamp is missing, too recent, too old or not genuine; reload it."


class AlreadySubscribed(Conflict):
    code = "already_exists"
    default_message = "A subscriber with this address already exists."


class AddressSuppressed(Conflict):
    code = "suppressed"
    default_message = (
        "This address was erased or blocked in this federation and cannot be added again."
    )


async def get_public_federation(session: AsyncSession, slug: str) -> Federation:
    """The federation behind a public URL, or NotFound."""
    federation = await federation_service.public_federation(session, slug=slug)
    if federation is None:
        raise NotFound()
    return federation


@dataclass(frozen=True)
class SignupForm:
    notice: PrivacyNotice
    stamp: str


async def prepare_signup_form(session: AsyncSession, *, federation: Federation) -> SignupForm:
    """The current consent text and a fresh render stamp for the form."""
    notice = await consent.current_notice(session, federation=federation)
    return SignupForm(notice=notice, stamp=consent.make_stamp(notice))


def normalize_email(raw: str) -> str:
    """The address as stored: normalised, domain as A-labels where it has an ASCII form."""
    if not raw:
        raise InvalidSignup(details={"email": "required"})
    try:
        return addresses.normalize_email(raw)
    except addresses.NeedsSmtpUtf8:
        raise InvalidSignup(details={"email": "non_ascii_local_part"}) from None
    except addresses.InvalidAddress:
        raise InvalidSignup(details={"email": "invalid"}) from None


def valid_email(raw: str) -> str:
    """The address as stored, or a 422 naming the field."""
    try:
        return addresses.normalize_email(raw.strip())
    except addresses.InvalidAddress as exc:
        raise Unprocessable(
            "Not a valid e-mail address.",
            details=[{"loc": ["body", "email"], "msg": str(exc)}],
        ) from None


@dataclass(frozen=True)
class SignupResult:
    """What happened, for the edge only (the visitor always sees the same answer)."""

    delivery_id: int | None


async def request_subscription(
    session: AsyncSession, *, federation: Federation, data: SignupRequest, origin: Origin
) -> SignupResult:
    """Handle a sign-up: store or revive a pending subscriber and queue a confirmation mail.

    New, pending, confirmed, unsubscribed and erased addresses all end in the same answer;
    only what is stored and whether a mail is queued differs."""
    if data.website:
        log.info("sign-up honeypot filled for federation %s; ignored", federation.id)
        return SignupResult(delivery_id=None)
    stamp = consent.read_stamp(data.stamp)
    notice = None
    if stamp is not None:
        notice = await consent.stamped_notice(
            session, federation=federation, notice_id=stamp.privacy_notice_id
        )
    if notice is None:
        raise StaleForm()

    errors: dict[str, str] = {}
    email = ""
    try:
        email = normalize_email(data.email)
    except InvalidSignup as exc:
        errors.update(exc.details)
    if len(data.name) > NAME_LENGTH:
        errors["name"] = "too_long"
    if not data.consent:
        errors["consent"] = "required"
    if errors:
        raise InvalidSignup(details=errors)

    # A suppression keeps staff from adding an erased address again; it does not keep the
    # person out. They may come back by themselves, through a fresh double opt-in.
    subscriber = await repository.find_subscriber_by_email(
        session, federation_id=federation.id, email=email
    )
    if subscriber is None:
        subscriber = await _create_pending(session, federation=federation, email=email, data=data)
    elif subscriber.status == SubscriptionStatus.CONFIRMED:
        # Never downgrade a confirmed subscriber, and send nothing: the answer is the same.
        return SignupResult(delivery_id=None)
    elif subscriber.status == SubscriptionStatus.UNSUBSCRIBED:
        subscriber.status = SubscriptionStatus.PENDING
        subscriber.confirmed_at = None
        subscriber.unsubscribed_at = None
        if data.name:
            subscriber.name = data.name
    elif data.name and not subscriber.name:
        subscriber.name = data.name

    consent.record(
        session,
        federation_id=federation.id,
        subscriber_id=subscriber.id,
        event=ConsentEvent.SIGNUP,
        origin=origin,
        privacy_notice_id=notice.id,
    )
    delivery_id = await _queue_confirmation(session, subscriber=subscriber)
    await session.flush()
    return SignupResult(delivery_id=delivery_id)


async def _create_pending(
    session: AsyncSession, *, federation: Federation, email: str, data: SignupRequest
) -> Subscriber:
    subscriber = Subscriber(
        federation_id=federation.id,
        email=email,
        name=data.name or None,
        status=SubscriptionStatus.PENDING,
        attributes={},
        created_at=now(),
    )
    try:
        # Two posts for the same new address at once: the loser continues with the winner's row.
        async with session.begin_nested():
            session.add(subscriber)
            await session.flush()
    except IntegrityError:
        existing = await repository.find_subscriber_by_email(
            session, federation_id=federation.id, email=email
        )
        if existing is None:
            raise
        return existing
    tokens.add_unsubscribe_token(session, subscriber=subscriber)
    return subscriber


async def _queue_confirmation(session: AsyncSession, *, subscriber: Subscriber) -> int | None:
    """Queue a confirmation mail unless the mailbox had its share (per day and per week),
    counted over every `+tag` spelling of it, so sub-addresses cannot multiply the mails."""
    settings = get_settings()
    current = now()
    # No flush for this query: what is pending (tokens, the consent record) cannot change the
    # counts, and goes to the database in the one flush below.
    with session.no_autoflush:
        week, day = await repository.count_confirmation_mails(
            session,
            federation_id=subscriber.federation_id,
            mailbox=addresses.mailbox(subscriber.email),
            since=[current - timedelta(days=7), current - timedelta(days=1)],
        )
    if week >= settings.confirmation_mails_per_week or day >= settings.confirmation_mails_per_day:
        return None
    token = await tokens.issue_confirm_token(session, subscriber=subscriber)
    delivery = await delivery_service.enqueue_transactional(
        session,
        federation_id=subscriber.federation_id,
        subscriber_id=subscriber.id,
        kind=DeliveryKind.CONFIRMATION,
        token_id=token.id,
        at=current,
    )
    return delivery.id


async def _confirmable(
    session: AsyncSession, *, federation: Federation, raw: str, lock: bool = False
) -> tuple[Token, Subscriber, bool]:
    """(token, subscriber, already confirmed) for a confirmation link, or NotFound; `lock`
    to confirm.

    A used link still answers "already confirmed" while the subscription stands; once the
    person has unsubscribed, an old confirmation link must not sign them up again."""
    token, subscriber = await tokens.find_token_and_subscriber(
        session, raw, purpose=TokenPurpose.CONFIRM, federation_id=federation.id, lock=lock
    )
    if subscriber.status == SubscriptionStatus.CONFIRMED:
        return token, subscriber, True
    if subscriber.status == SubscriptionStatus.PENDING and token.used_at is None:
        return token, subscriber, False
    raise NotFound()


async def view_confirmation(session: AsyncSession, *, federation: Federation, raw: str) -> bool:
    """Check a confirmation link without changing anything; True if already confirmed."""
    _, _, already = await _confirmable(session, federation=federation, raw=raw)
    return already


async def confirm_subscription(
    session: AsyncSession, *, federation: Federation, raw: str, origin: Origin
) -> bool:
    """Confirm the subscription behind a link; True if it was already confirmed."""
    token, subscriber, already = await _confirmable(
        session, federation=federation, raw=raw, lock=True
    )
    if already:
        return True
    current = now()
    token.used_at = current
    subscriber.status = SubscriptionStatus.CONFIRMED
    subscriber.confirmed_at = current
    consent.record(
        session,
        federation_id=federation.id,
        subscriber_id=subscriber.id,
        event=ConsentEvent.CONFIRM,
        origin=origin,
    )
    if federation.welcome_enabled:
        await _queue_welcome(session, subscriber=subscriber, at=current)
    await session.flush()
    return False


async def _queue_welcome(session: AsyncSession, *, subscriber: Subscriber, at: datetime) -> None:
    """The welcome mail goes through the outbox with the subscriber's own unsubscribe link."""
    await tokens.issue_unsubscribe_token(session, subscriber=subscriber)
    token = await repository.get_subscriber_token(
        session,
        federation_id=subscriber.federation_id,
        subscriber_id=subscriber.id,
        purpose=TokenPurpose.UNSUBSCRIBE,
    )
    assert token is not None
    await delivery_service.enqueue_transactional(
        session,
        federation_id=subscriber.federation_id,
        subscriber_id=subscriber.id,
        kind=DeliveryKind.WELCOME,
        token_id=token.id,
        at=at,
    )


def welcome_body(text: str | None) -> str:
    """The welcome mail's text: the federation's own (None or blank: the default)."""
    return text if text and text.strip() else messages.DEFAULT_WELCOME_TEXT


def preview_welcome(federation: Federation, *, text: str | None) -> transactional.RenderedMail:
    """The welcome mail as a new subscriber would get it with `text` (saved or a draft), with
    an example unsubscribe link; the same rendering as the mail itself."""
    base = get_settings().base_url
    return transactional.render(
        transactional.MailKind.WELCOME,
        transactional.Branding.of(federation, base_url=base),
        link=f"{base}/u/exempel",
        text=welcome_body(text),
    )


@dataclass(frozen=True)
class UnsubscribeResult:
    federation: Federation
    already: bool


async def _unsubscribable(
    session: AsyncSession, raw: str, *, lock: bool = False
) -> tuple[Federation, Subscriber]:
    token, subscriber = await tokens.find_token_and_subscriber(
        session, raw, purpose=TokenPurpose.UNSUBSCRIBE, lock=lock
    )
    federation = await federation_service.public_federation_by_id(session, token.federation_id)
    if federation is None:
        raise NotFound()
    return federation, subscriber


async def view_unsubscribe(session: AsyncSession, *, raw: str) -> UnsubscribeResult:
    """Check an unsubscribe link without changing anything (mail scanners fetch links)."""
    federation, subscriber = await _unsubscribable(session, raw)
    return UnsubscribeResult(
        federation=federation, already=subscriber.status == SubscriptionStatus.UNSUBSCRIBED
    )


async def unsubscribe(session: AsyncSession, *, raw: str, origin: Origin) -> UnsubscribeResult:
    """Unsubscribe at once (web button or RFC 8058 one-click); repeating is harmless."""
    federation, subscriber = await _unsubscribable(session, raw, lock=True)
    if subscriber.status == SubscriptionStatus.UNSUBSCRIBED:
        return UnsubscribeResult(federation=federation, already=True)
    await _end_subscription(session, subscriber=subscriber, origin=origin)
    return UnsubscribeResult(federation=federation, already=False)


async def _end_subscription(
    session: AsyncSession, *, subscriber: Subscriber, origin: Origin, note: str | None = None
) -> None:
    """Unsubscribed from now on, with the consent record that says how."""
    subscriber.status = SubscriptionStatus.UNSUBSCRIBED
    subscriber.unsubscribed_at = now()
    consent.record(
        session,
        federation_id=subscriber.federation_id,
        subscriber_id=subscriber.id,
        event=ConsentEvent.UNSUBSCRIBE,
        origin=origin,
        note=note,
    )
    await session.flush()


async def get_privacy_notice(
    session: AsyncSession, *, federation: Federation, version: int | None = None
) -> tuple[PrivacyNotice, PrivacyNotice]:
    """(requested version or the current one, current one); NotFound for an unknown version."""
    current = await consent.current_notice(session, federation=federation)
    if version is None or version == current.version:
        return current, current
    notice = await repository.get_privacy_notice(
        session, federation_id=federation.id, version=version
    )
    if notice is None:
        raise NotFound()
    return notice, current


async def build_transactional_mail(
    session: AsyncSession, *, delivery: Delivery
) -> tuple[str, bytes]:
    """(recipient, raw RFC 5322 bytes with CRLF) for a confirmation or self-service delivery.

    Raises NotFound when the subscriber, token or federation is gone (erased meanwhile): the
    dispatcher should then give the row up rather than retry it."""
    purposes = {
        DeliveryKind.CONFIRMATION: TokenPurpose.CONFIRM,
        DeliveryKind.SELF_SERVICE: TokenPurpose.SELF_SERVICE,
        DeliveryKind.WELCOME: TokenPurpose.UNSUBSCRIBE,
    }
    purpose = purposes.get(DeliveryKind(delivery.kind))
    if purpose is None:
        raise Unprocessable(f"not a transactional delivery: {delivery.kind}")
    # The same cached copy the visitor pages show (a burst of sign-ups sends many mails).
    federation = await federation_service.public_federation_by_id(session, delivery.federation_id)
    found = (
        await repository.get_token_with_subscriber(
            session, federation_id=delivery.federation_id, token_id=delivery.token_id
        )
        if delivery.token_id is not None
        else None
    )
    token, subscriber = found if found is not None else (None, None)
    if (
        federation is None
        or subscriber is None
        or token is None
        or token.purpose != purpose
        or subscriber.id != delivery.subscriber_id
    ):
        raise NotFound("the delivery's subscriber or token no longer exists")
    settings = get_settings()
    base = settings.base_url
    raw = tokens.raw_token(token)
    text = ""
    if purpose is TokenPurpose.CONFIRM:
        link = f"{base}/f/{federation.slug}/bekrafta/{raw}"
        kind = transactional.MailKind.CONFIRMATION
        valid_days = settings.confirmation_token_days
    elif purpose is TokenPurpose.UNSUBSCRIBE:
        # A subscriber who left before the welcome went out gets none.
        if subscriber.status != SubscriptionStatus.CONFIRMED:
            raise NotFound("the subscriber is no longer confirmed")
        link = f"{base}/u/{raw}"
        kind = transactional.MailKind.WELCOME
        valid_days = 0
        text = welcome_body(federation.welcome_text)
    else:
        link = f"{base}/f/{federation.slug}/mina-uppgifter/{raw}"
        kind = transactional.MailKind.SELF_SERVICE
        valid_days = settings.self_service_token_days
    message = transactional.message(
        kind,
        transactional.Branding.of(federation, base_url=base),
        transactional.Sender.of(federation),
        link=link,
        to=subscriber.email,
        at=now(),
        dkim=dkim_key(federation.from_email.rpartition("@")[2]),
        valid_days=valid_days,
        text=text,
        list_unsubscribe=purpose is TokenPurpose.UNSUBSCRIBE,
    )
    return subscriber.email, message


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
    before_id = decode_cursor(CURSOR_KIND, cursor) if cursor else None
    rows = await repository.list_subscribers(
        session, federation_id=federation.id, filters=filters, before_id=before_id, limit=limit + 1
    )
    more = len(rows) > limit
    items = rows[:limit]
    return Page(items=items, next_cursor=encode_cursor(CURSOR_KIND, items[-1].id) if more else None)


async def get_subscriber(
    session: AsyncSession, *, federation: Federation, subscriber_id: int, lock: bool = False
) -> Subscriber:
    """The subscriber or NotFound; `lock` in staff changes, so that one erased meanwhile is
    NotFound rather than an UPDATE that matches no row (app.db.lock_for_change). Not in the
    erasure: it changes the deliveries before the subscriber, in the order the dispatcher's
    rounds lock them, and a lock on the subscriber first could deadlock with one."""
    subscriber = await repository.get_subscriber(
        session, federation_id=federation.id, subscriber_id=subscriber_id, lock=lock
    )
    if subscriber is None:
        raise NotFound("Subscriber not found.")
    return subscriber


def listed_origin(federation: Federation, origin: str | None) -> str | None:
    """The request's Origin when it is one of the federation's own sites (`frame_ancestors`,
    the same list that may frame the form), else None: only those get CORS answers."""
    listed = {o.rstrip("/").lower() for o in federation.frame_ancestors or []}
    if origin and origin.rstrip("/").lower() in listed:
        return origin
    return None


class RedirectNotAllowed(Unprocessable):
    code = "redirect_not_allowed"
    default_message = "redirect must be an https address on one of the federation's own sites."


def redirect_target(federation: Federation, url: str, *, failed: bool) -> str:
    """Where a plain HTML form posted from the federation's site sends the visitor back to:
    the given page (on a listed origin, never elsewhere), marked when the sign-up failed."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise RedirectNotAllowed(details={"redirect": url})
    if listed_origin(federation, f"{parts.scheme}://{parts.netloc}") is None:
        raise RedirectNotAllowed(details={"redirect": url})
    if not failed:
        return url
    query = f"{parts.query}&nyhetsbrev=fel" if parts.query else "nyhetsbrev=fel"
    return urlunsplit(parts._replace(query=query))


async def _audit_edit(
    session: AsyncSession, *, actor: Actor, subscriber: Subscriber, summary: str
) -> None:
    """A staff action on one subscriber in the audit log (never the address)."""
    await audit_service.record(
        session,
        actor=actor,
        action=AuditAction.SUBSCRIBER_EDITED,
        federation_id=subscriber.federation_id,
        target_type="subscriber",
        target_id=subscriber.id,
        summary=summary,
    )


async def unsubscribe_on_request(
    session: AsyncSession,
    *,
    federation: Federation,
    subscriber_id: int,
    note: str | None,
    actor: Actor,
) -> Subscriber:
    """Unsubscribe someone who asked staff to (by phone, by mail); nothing is erased."""
    subscriber = await get_subscriber(
        session, federation=federation, subscriber_id=subscriber_id, lock=True
    )
    if subscriber.status != SubscriptionStatus.UNSUBSCRIBED:
        await _end_subscription(session, subscriber=subscriber, origin=STAFF_ORIGIN, note=note)
        await _audit_edit(
            session, actor=actor, subscriber=subscriber, summary="avslutade på begäran"
        )
    return subscriber


class NotPending(Conflict):
    code = "not_pending"
    default_message = "Only a subscriber who has not confirmed yet can get a new confirmation."


class ConfirmationLimit(Conflict):
    code = "confirmation_limit"
    default_message = "This address has had its confirmation mails for now; try again later."


async def resend_confirmation(
    session: AsyncSession, *, federation: Federation, subscriber_id: int, actor: Actor
) -> int:
    """Queue a new confirmation mail to a pending subscriber (the same daily and weekly limits
    as the public form); the delivery id."""
    subscriber = await get_subscriber(
        session, federation=federation, subscriber_id=subscriber_id, lock=True
    )
    if subscriber.status != SubscriptionStatus.PENDING:
        raise NotPending(details={"status": str(subscriber.status)})
    delivery_id = await _queue_confirmation(session, subscriber=subscriber)
    if delivery_id is None:
        raise ConfirmationLimit()
    await session.flush()
    await _audit_edit(
        session, actor=actor, subscriber=subscriber, summary="skickade en ny bekräftelse"
    )
    return delivery_id


async def reset_bounces(
    session: AsyncSession, *, federation: Federation, subscriber_id: int, actor: Actor
) -> Subscriber:
    """Clear a bounce state after the address was fixed (a full mailbox emptied, a typo)."""
    subscriber = await get_subscriber(
        session, federation=federation, subscriber_id=subscriber_id, lock=True
    )
    subscriber.bounce_state = BounceState.OK
    subscriber.bounce_count = 0
    subscriber.updated_at = now()
    await session.flush()
    await _audit_edit(session, actor=actor, subscriber=subscriber, summary="nollställde studsar")
    return subscriber


async def create_subscriber(
    session: AsyncSession, *, federation: Federation, data: SubscriberCreate, actor: Actor
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
        await _queue_confirmation(session, subscriber=subscriber)
    await session.flush()
    # The log outlives erasure: it names the row, never the address.
    await audit_service.record(
        session,
        actor=actor,
        action=AuditAction.SUBSCRIBER_ADDED,
        federation_id=federation.id,
        target_type="subscriber",
        target_id=subscriber.id,
        summary="bekräftad av personal" if confirmed else "väntar på bekräftelse",
    )
    return subscriber


async def update_subscriber(
    session: AsyncSession,
    *,
    federation: Federation,
    subscriber_id: int,
    changes: SubscriberUpdate,
    actor: Actor,
) -> Subscriber:
    """Change name and attributes (the address and status follow the subscriber's own acts)."""
    subscriber = await get_subscriber(
        session, federation=federation, subscriber_id=subscriber_id, lock=True
    )
    values = changes.model_dump(exclude_unset=True)
    if "name" in values:
        subscriber.name = values["name"] or None
    if values.get("attributes") is not None:
        subscriber.attributes = values["attributes"]
    subscriber.updated_at = now()
    await session.flush()
    await audit_service.record(
        session,
        actor=actor,
        action=AuditAction.SUBSCRIBER_EDITED,
        federation_id=federation.id,
        target_type="subscriber",
        target_id=subscriber.id,
        summary="ändrade " + ", ".join(sorted(values)) if values else "ingen ändring",
    )
    return subscriber


async def consent_history(
    session: AsyncSession, *, federation: Federation, subscriber_id: int
) -> list[ConsentRecord]:
    """The subscriber's consent events, oldest first (for staff)."""
    await get_subscriber(session, federation=federation, subscriber_id=subscriber_id)
    return await repository.consent_records(
        session, federation_id=federation.id, subscriber_id=subscriber_id
    )


@dataclass(frozen=True)
class Overview:
    """For Redaktionen's Översikt: counts by status and the newest sign-ups."""

    counts: dict[str, int]
    recent: Sequence[Subscriber]


async def overview(session: AsyncSession, *, federation: Federation, recent: int = 5) -> Overview:
    """Subscriber counts by status and the most recently added subscribers."""
    counts = await repository.status_counts(session, federation_id=federation.id)
    newest = await list_subscribers(
        session, federation=federation, filters=ListFilters(), cursor=None, limit=recent
    )
    return Overview(
        counts={str(s): counts.get(str(s), 0) for s in SubscriptionStatus}, recent=newest.items
    )
