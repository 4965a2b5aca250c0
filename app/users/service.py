"""Staff people use cases: invite, request and use a sign-in link, sessions, sign out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app import addresses, messages
from app.actors import Actor
from app.audit import service as audit_service
from app.audit.models import AuditAction
from app.clock import now
from app.config import get_settings
from app.delivery import service as delivery_service
from app.delivery.models import Delivery, DeliveryKind
from app.errors import AppError, Conflict, Forbidden, NotFound, Unprocessable
from app.federations import service as federation_service
from app.federations.models import Federation
from app.rendering import transactional
from app.security import (
    constant_time_equal,
    csrf_token,
    dkim_key,
    link_token_digest,
    new_seed,
    new_session_id,
    token_from_seed,
    token_hash,
)
from app.users import repository
from app.users.models import Membership, Role, SignInToken, StaffSession, User
from app.users.schemas import FederationAccess, Invited, NewSession, SignedIn

SIGN_IN_LINK_MINUTES = 15
IDLE_TIMEOUT = timedelta(hours=8)
ABSOLUTE_TIMEOUT = timedelta(days=7)
# last_seen_at is written at most this often, so reading pages does not write on every request.
TOUCH_INTERVAL = timedelta(minutes=1)
_SESSION_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
_RANK = {Role.REDAKTOR: 1, Role.ANSVARIG: 2, Role.ADMIN: 3}


class NoSender(AppError):
    status_code = 409
    code = "no_federation"
    default_message = "Create a federation first: sign-in mail is sent from a federation."


class RoleTooLow(Forbidden):
    default_message = "Your role does not allow this."
    page = "role_too_low"


def valid_email(raw: str) -> str:
    """The address as stored (app.addresses, as for subscribers), or a 422."""
    try:
        return addresses.normalize_email(raw.strip())
    except addresses.InvalidAddress:
        raise Unprocessable("Not a valid e-mail address.") from None


def has_role(role: Role, needed: Role) -> bool:
    return _RANK[role] >= _RANK[needed]


def require_role(access: FederationAccess, needed: Role) -> None:
    """Refuse (403) when the person's role in the federation is below `needed`."""
    if not has_role(access.role, needed):
        raise RoleTooLow()


# --- people -------------------------------------------------------------------------------------


async def invite_person(
    session: AsyncSession,
    *,
    email: str,
    name: str = "",
    federation: Federation | None,
    role: Role | None,
    install_admin: bool = False,
    actor: Actor,
) -> Invited:
    """Create the person (or find them), give them the role and mail a first sign-in link."""
    if federation is None and not install_admin:
        raise Unprocessable("An invitation names a federation and a role, or --admin.")
    if federation is not None and role is None:
        raise Unprocessable("An invitation to a federation needs a role.")
    address = valid_email(email)
    user = await repository.user_by_email(session, address)
    created = user is None
    if user is None:
        user = User(email=address, name=name.strip()[:200], is_install_admin=install_admin)
        await repository.add(session, user)
    elif install_admin:
        user.is_install_admin = True
    if federation is not None and role is not None:
        member = await repository.membership(session, federation_id=federation.id, user_id=user.id)
        if member is None:
            await repository.add(
                session, Membership(user_id=user.id, federation_id=federation.id, role=role)
            )
        elif member.role != role:
            # Inviting a member again with another role is a role change, under its rules (the
            # last admin keeps the role) and with its audit entry.
            await change_role(
                session, federation=federation, user_id=user.id, role=role, actor=actor
            )
    await audit_service.record(
        session,
        actor=actor,
        action=AuditAction.PERSON_INVITED,
        federation_id=federation.id if federation else None,
        target_type="user",
        target_id=user.id,
        summary=(
            f"{user.email} bjöds in som {role}" if role else f"{user.email} bjöds in som admin"
        ),
    )
    delivery = await _issue_sign_in_link(session, user=user, sender=federation)
    return Invited(user=user, created=created, delivery_id=delivery.id)


async def people_of(
    session: AsyncSession, *, federation: Federation
) -> Sequence[tuple[User, Membership]]:
    """The federation's people and their roles."""
    return await repository.people_of(session, federation_id=federation.id)


async def _member(session: AsyncSession, *, federation: Federation, user_id: int) -> Membership:
    """The person's membership, to change: after any other change to the federation's people
    has committed, so a person removed meanwhile is NotFound."""
    await repository.take_turn_with_people(session, federation_id=federation.id)
    member = await repository.membership(
        session, federation_id=federation.id, user_id=user_id, lock=True
    )
    if member is None:
        raise NotFound()
    return member


async def _keeps_an_admin(
    session: AsyncSession, *, federation: Federation, leaving: Membership
) -> None:
    """Refuse a change that would leave the federation without an admin."""
    if leaving.role != Role.ADMIN:
        return
    if not await repository.other_admins(session, federation_id=federation.id, besides=leaving.id):
        raise Conflict(messages.LAST_ADMIN, details={"code": "last_admin"})


async def change_role(
    session: AsyncSession, *, federation: Federation, user_id: int, role: Role, actor: Actor
) -> Membership:
    """Give a person of the federation another role (never the last admin's away)."""
    member = await _member(session, federation=federation, user_id=user_id)
    if member.role == role:
        return member
    if role != Role.ADMIN:
        await _keeps_an_admin(session, federation=federation, leaving=member)
    before = member.role
    member.role = role
    await session.flush()
    await audit_service.record(
        session,
        actor=actor,
        action=AuditAction.ROLE_CHANGED,
        federation_id=federation.id,
        target_type="user",
        target_id=user_id,
        summary=f"{before} → {role}",
    )
    return member


async def remove_person(
    session: AsyncSession, *, federation: Federation, user_id: int, actor: Actor
) -> None:
    """Take a person out of the federation (their account stays for other federations)."""
    member = await _member(session, federation=federation, user_id=user_id)
    await _keeps_an_admin(session, federation=federation, leaving=member)
    await repository.remove(session, member)
    await audit_service.record(
        session,
        actor=actor,
        action=AuditAction.PERSON_REMOVED,
        federation_id=federation.id,
        target_type="user",
        target_id=user_id,
        summary="togs bort ur förbundet",
    )


async def federations_of(session: AsyncSession, user: User) -> list[FederationAccess]:
    """What the person reaches: every federation (as admin) for install admins, else their own."""
    if user.is_install_admin:
        return [
            FederationAccess(federation=f, role=Role.ADMIN)
            for f in sorted(
                await federation_service.list_federations(session), key=lambda f: f.name
            )
        ]
    return [
        FederationAccess(federation=f, role=m.role)
        for m, f in await repository.memberships_of(session, user_id=user.id)
    ]


# --- sign-in links ------------------------------------------------------------------------------


async def request_sign_in(session: AsyncSession, *, email: str) -> int | None:
    """Queue a sign-in link for a known address; the delivery id, or None for anyone else.

    The edge shows the same page either way: nobody learns which addresses have accounts."""
    try:
        address = valid_email(email)
    except Unprocessable:
        return None
    user = await repository.user_by_email(session, address)
    if user is None:
        return None
    try:
        delivery = await _issue_sign_in_link(session, user=user, sender=None)
    except NoSender:
        return None
    return delivery.id


async def _sender_for(session: AsyncSession, user: User) -> Federation:
    """The federation a sign-in mail is sent from: the person's first, else the install's."""
    access = await federations_of(session, user)
    if access:
        return access[0].federation
    every = await federation_service.list_federations(session)
    if not every:
        raise NoSender()
    return min(every, key=lambda f: f.id)


async def _issue_sign_in_link(
    session: AsyncSession, *, user: User, sender: Federation | None
) -> Delivery:
    at = now()
    await repository.retire_open_tokens(session, user_id=user.id, at=at)
    federation = sender or await _sender_for(session, user)
    delivery = await delivery_service.enqueue_sign_in(
        session, federation_id=federation.id, to_address=user.email, at=at
    )
    seed = new_seed()
    await repository.add(
        session,
        SignInToken(
            user_id=user.id,
            seed=seed,
            token_hash=token_hash(token_from_seed(seed)),
            delivery_id=delivery.id,
            created_at=at,
            expires_at=at + timedelta(minutes=SIGN_IN_LINK_MINUTES),
        ),
    )
    return delivery


def sign_in_link(raw: str) -> str:
    return f"{get_settings().base_url}/redaktion/logga-in/{raw}"


async def build_sign_in_mail(session: AsyncSession, *, delivery: Delivery) -> tuple[str, bytes]:
    """(recipient, RFC 5322 bytes) for a sign-in delivery; NotFound once the link is spent or
    replaced (the dispatcher then gives the row up: a stale link is worth nothing)."""
    if delivery.kind != DeliveryKind.SIGN_IN or delivery.to_address is None:
        raise Unprocessable(f"not a sign-in delivery: {delivery.kind}")
    token = await repository.token_by_delivery(session, delivery.id)
    if token is None or token.seed is None or token.used_at is not None:
        raise NotFound("the sign-in link was used or replaced")
    federation = await federation_service.get_federation_by_id(
        session, federation_id=delivery.federation_id
    )
    message = transactional.staff_message(
        transactional.MailKind.SIGN_IN,
        federation,
        to=delivery.to_address,
        at=now(),
        base_url=get_settings().base_url,
        link=sign_in_link(token_from_seed(token.seed)),
        dkim=dkim_key(federation.from_email.rpartition("@")[2]),
        valid_minutes=SIGN_IN_LINK_MINUTES,
    )
    return delivery.to_address, message


async def _live_token(session: AsyncSession, raw: str) -> SignInToken:
    """The token for a link, or NotFound: forged, mistyped, expired, used and replaced links
    all look the same."""
    digest = link_token_digest(raw)
    if digest is None:
        raise NotFound()
    token = await repository.token_by_hash(session, digest)
    if (
        token is None
        or not constant_time_equal(token.token_hash, digest)
        or token.used_at is not None
        or token.expires_at <= now()
    ):
        raise NotFound()
    return token


async def check_sign_in_link(session: AsyncSession, *, raw: str) -> None:
    """NotFound unless the link would sign in now (GET shows a button; it changes nothing)."""
    await _live_token(session, raw)


async def sign_in(session: AsyncSession, *, raw: str) -> NewSession:
    """Spend the link and open a session for its person."""
    token = await _live_token(session, raw)
    user = await repository.user_by_id(session, token.user_id)
    if user is None:
        raise NotFound()
    at = now()
    await repository.retire_open_tokens(session, user_id=user.id, at=at)
    user.last_sign_in_at = at
    access = await federations_of(session, user)
    raw_id = new_session_id()
    staff_session = StaffSession(
        user_id=user.id,
        id_hash=token_hash(raw_id),
        created_at=at,
        last_seen_at=at,
        expires_at=at + ABSOLUTE_TIMEOUT,
        federation_id=access[0].federation.id if access else None,
    )
    await repository.add(session, staff_session)
    await audit_service.record(
        session,
        actor=Actor.person(user_id=user.id, email=user.email),
        action=AuditAction.SIGNED_IN,
        federation_id=staff_session.federation_id,
        target_type="user",
        target_id=user.id,
        summary="Loggade in med länk",
    )
    return NewSession(raw_id=raw_id, session=staff_session)


# --- sessions -----------------------------------------------------------------------------------


async def signed_in(session: AsyncSession, *, raw_id: str | None) -> SignedIn | None:
    """The person behind a session cookie, or None when it is missing, unknown, signed out,
    idle for more than 8 hours or older than 7 days."""
    if not raw_id or not _SESSION_SHAPE.fullmatch(raw_id):
        return None
    digest = token_hash(raw_id)
    row = await repository.session_by_hash(session, digest)
    at = now()
    if (
        row is None
        or not constant_time_equal(row.id_hash, digest)
        or row.ended_at is not None
        or row.expires_at <= at
        or row.last_seen_at + IDLE_TIMEOUT <= at
    ):
        return None
    user = await repository.user_by_id(session, row.user_id)
    if user is None:
        return None
    if at - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = at
    return SignedIn(
        session=row,
        user=user,
        csrf=csrf_token(raw_id),
        federations=await federations_of(session, user),
    )


async def switch_federation(
    session: AsyncSession, *, who: SignedIn, slug: str, refresh: bool = False
) -> None:
    """Work in another of the person's federations (404 for one they do not reach);
    `refresh` reads them again first (a federation created on this request)."""
    reachable = await federations_of(session, who.user) if refresh else who.federations
    for access in reachable:
        if access.federation.slug == slug:
            who.session.federation_id = access.federation.id
            return
    raise NotFound()


async def sign_out(session: AsyncSession, *, who: SignedIn, everywhere: bool = False) -> None:
    """End this session, or every session of the person."""
    at = now()
    if everywhere:
        await repository.end_sessions(session, user_id=who.user.id, at=at)
    else:
        who.session.ended_at = at
    current = who.current
    await audit_service.record(
        session,
        actor=Actor.person(user_id=who.user.id, email=who.user.email),
        action=AuditAction.SIGNED_OUT_EVERYWHERE if everywhere else AuditAction.SIGNED_OUT,
        federation_id=current.federation.id if current else None,
        target_type="user",
        target_id=who.user.id,
        summary="Loggade ut överallt" if everywhere else "Loggade ut",
    )
