"""Link tokens: issue, find and check single-purpose tokens (only a hash is stored)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import now
from app.config import get_settings
from app.errors import NotFound
from app.security import (
    constant_time_equal,
    link_token_digest,
    new_seed,
    token_from_seed,
    token_hash,
)
from app.subscribers import repository
from app.subscribers.models import Subscriber, Token, TokenPurpose


def raw_token(token: Token) -> str:
    """The link token for a stored row (recomputed from its seed with SECRET_KEY)."""
    return token_from_seed(token.seed)


def new_token(
    *, federation_id: int, subscriber_id: int, purpose: TokenPurpose, expires_at: datetime | None
) -> Token:
    """A fresh token row (not yet added to a session)."""
    seed = new_seed()
    return Token(
        federation_id=federation_id,
        subscriber_id=subscriber_id,
        purpose=purpose,
        seed=seed,
        token_hash=token_hash(token_from_seed(seed)),
        created_at=now(),
        expires_at=expires_at,
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


async def issue_unsubscribe_tokens(
    session: AsyncSession, *, federation_id: int, subscriber_ids: list[int]
) -> int:
    """Create unsubscribe tokens for those of the given subscribers that lack one (for imports
    and bulk creation); returns how many were created."""
    missing = await repository.subscribers_without_token(
        session,
        federation_id=federation_id,
        subscriber_ids=subscriber_ids,
        purpose=TokenPurpose.UNSUBSCRIBE,
    )
    rows = []
    for subscriber_id in missing:
        seed = new_seed()
        rows.append(
            {
                "federation_id": federation_id,
                "subscriber_id": subscriber_id,
                "purpose": TokenPurpose.UNSUBSCRIBE,
                "seed": seed,
                "token_hash": token_hash(token_from_seed(seed)),
                "created_at": now(),
                "expires_at": None,
            }
        )
    await repository.insert_tokens(session, rows)
    return len(rows)


async def unsubscribe_tokens_by_subscriber(
    session: AsyncSession, *, federation_id: int, subscriber_ids: list[int]
) -> dict[int, str]:
    """Raw unsubscribe tokens for many subscribers at once (campaign rendering)."""
    tokens = await repository.subscriber_tokens(
        session,
        federation_id=federation_id,
        subscriber_ids=subscriber_ids,
        purpose=TokenPurpose.UNSUBSCRIBE,
    )
    return {t.subscriber_id: raw_token(t) for t in tokens}


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
