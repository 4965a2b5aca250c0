"""Link tokens: issue, find and check single-purpose tokens (only a hash is stored)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import now
from app.config import get_settings
from app.errors import NotFound
from app.security import constant_time_equal, link_token_digest, token_from_seed
from app.subscribers import repository
from app.subscribers.models import Subscriber, Token, TokenPurpose, token_row


def raw_token(token: Token) -> str:
    """The link token for a stored row (recomputed from its seed with SECRET_KEY)."""
    return token_from_seed(token.seed)


def new_token(
    *, federation_id: int, subscriber_id: int, purpose: TokenPurpose, expires_at: datetime | None
) -> Token:
    """A fresh token row (not yet added to a session)."""
    return Token(
        **token_row(
            federation_id=federation_id,
            subscriber_id=subscriber_id,
            purpose=purpose,
            expires_at=expires_at,
        )
    )


async def issue_confirm_token(session: AsyncSession, *, subscriber: Subscriber) -> Token:
    """A confirmation token valid for settings.confirmation_token_days."""
    days = get_settings().confirmation_token_days
    token = new_token(
        federation_id=subscriber.federation_id,
        subscriber_id=subscriber.id,
        purpose=TokenPurpose.CONFIRM,
        expires_at=now() + timedelta(days=days),
    )
    session.add(token)
    await session.flush()
    return token


async def issue_unsubscribe_token(session: AsyncSession, *, subscriber: Subscriber) -> str:
    """The subscriber's unsubscribe token (one per subscriber, never expires); created if missing.

    Returns the raw token for /u/{token} links."""
    existing = await repository.get_subscriber_token(
        session,
        federation_id=subscriber.federation_id,
        subscriber_id=subscriber.id,
        purpose=TokenPurpose.UNSUBSCRIBE,
    )
    if existing is not None:
        return raw_token(existing)
    token = new_token(
        federation_id=subscriber.federation_id,
        subscriber_id=subscriber.id,
        purpose=TokenPurpose.UNSUBSCRIBE,
        expires_at=None,
    )
    session.add(token)
    await session.flush()
    return raw_token(token)


def add_unsubscribe_token(session: AsyncSession, *, subscriber: Subscriber) -> None:
    """issue_unsubscribe_token for a subscriber created in this transaction, who cannot have
    one yet: added without a lookup, written with the session's next flush."""
    session.add(
        new_token(
            federation_id=subscriber.federation_id,
            subscriber_id=subscriber.id,
            purpose=TokenPurpose.UNSUBSCRIBE,
            expires_at=None,
        )
    )


async def find_token(
    session: AsyncSession,
    raw: str,
    *,
    purpose: TokenPurpose,
    federation_id: int | None = None,
) -> Token:
    """The live token for a raw link value, or NotFound.

    Unknown, forged, mistyped, expired, other-purpose and other-federation tokens all raise the
    same NotFound, so a visitor cannot tell them apart. Whether a used token is acceptable is
    the caller's rule (an unsubscribe link works again; a confirmation link says so)."""
    digest = link_token_digest(raw)
    if digest is None:
        raise NotFound()
    token = await repository.find_token_by_hash(session, digest)
    return _live(token, digest, purpose=purpose, federation_id=federation_id)


async def find_token_and_subscriber(
    session: AsyncSession,
    raw: str,
    *,
    purpose: TokenPurpose,
    federation_id: int | None = None,
    lock: bool = False,
) -> tuple[Token, Subscriber]:
    """find_token and the token's subscriber, read together (the link pages need both), or
    the same NotFound when either is missing; `lock` when the link changes the subscription
    (repository._token_with_subscriber)."""
    digest = link_token_digest(raw)
    if digest is None:
        raise NotFound()
    found = await repository.find_token_with_subscriber(session, digest, lock=lock)
    token, subscriber = found if found is not None else (None, None)
    live = _live(token, digest, purpose=purpose, federation_id=federation_id)
    if subscriber is None:
        raise NotFound()
    return live, subscriber


def _live(
    token: Token | None, digest: str, *, purpose: TokenPurpose, federation_id: int | None
) -> Token:
    if (
        token is None
        # Lookup by hash is an index probe; the compare after it is constant-time anyway.
        or not constant_time_equal(token.token_hash, digest)
        or token.purpose != purpose
        or (federation_id is not None and token.federation_id != federation_id)
        or (token.expires_at is not None and token.expires_at <= now())
    ):
        raise NotFound()
    return token
