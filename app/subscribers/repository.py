"""Queries for subscribers, tokens, consent records, privacy notices and suppressions.

Every query on tenant rows takes federation_id. The one exception is the lookup of a token by
its hash: /u/{token} links carry no federation, and the hash itself names exactly one row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery.models import Delivery, DeliveryKind
from app.federations.models import Federation
from app.subscribers.models import (
    ConsentRecord,
    PrivacyNotice,
    Subscriber,
    Suppression,
    Token,
    TokenPurpose,
)

# --- federations (read-only here: the public pages look a federation up by its slug) ---------


async def get_federation_by_slug(session: AsyncSession, slug: str) -> Federation | None:
    result = await session.execute(select(Federation).where(Federation.slug == slug))
    return result.scalar_one_or_none()


async def get_federation(session: AsyncSession, federation_id: int) -> Federation | None:
    return await session.get(Federation, federation_id)


# --- subscribers ------------------------------------------------------------------------------


async def get_subscriber(
    session: AsyncSession, *, federation_id: int, subscriber_id: int
) -> Subscriber | None:
    result = await session.execute(
        select(Subscriber).where(
            Subscriber.federation_id == federation_id, Subscriber.id == subscriber_id
        )
    )
    return result.scalar_one_or_none()


async def find_subscriber_by_email(
    session: AsyncSession, *, federation_id: int, email: str
) -> Subscriber | None:
    # Case-insensitive: "Anna@X.se" and "anna@x.se" are one person in practice, and a
    # case-sensitive match would let the form mail one inbox once per spelling.
    result = await session.execute(
        select(Subscriber)
        .where(
            Subscriber.federation_id == federation_id,
            func.lower(Subscriber.email) == email.lower(),
        )
        .order_by(Subscriber.id)
        .limit(1)
    )
    return result.scalar_one_or_none()


async def is_suppressed(session: AsyncSession, *, federation_id: int, email_hash: str) -> bool:
    result = await session.execute(
        select(Suppression.id).where(
            Suppression.federation_id == federation_id, Suppression.email_hash == email_hash
        )
    )
    return result.first() is not None


# --- tokens -------------------------------------------------------------------------------------


async def find_token_by_hash(session: AsyncSession, digest: str) -> Token | None:
    result = await session.execute(select(Token).where(Token.token_hash == digest))
    return result.scalar_one_or_none()


async def get_subscriber_token(
    session: AsyncSession, *, federation_id: int, subscriber_id: int, purpose: TokenPurpose
) -> Token | None:
    result = await session.execute(
        select(Token)
        .where(
            Token.federation_id == federation_id,
            Token.subscriber_id == subscriber_id,
            Token.purpose == purpose,
        )
        .order_by(Token.id)
        .limit(1)
    )
    return result.scalar_one_or_none()


async def get_token(session: AsyncSession, *, federation_id: int, token_id: int) -> Token | None:
    result = await session.execute(
        select(Token).where(Token.federation_id == federation_id, Token.id == token_id)
    )
    return result.scalar_one_or_none()


async def subscribers_without_token(
    session: AsyncSession, *, federation_id: int, subscriber_ids: list[int], purpose: TokenPurpose
) -> list[int]:
    if not subscriber_ids:
        return []
    has_token = (
        select(Token.id)
        .where(Token.subscriber_id == Subscriber.id, Token.purpose == purpose)
        .exists()
    )
    result = await session.execute(
        select(Subscriber.id)
        .where(
            Subscriber.federation_id == federation_id,
            Subscriber.id.in_(subscriber_ids),
            ~has_token,
        )
        .order_by(Subscriber.id)
    )
    return list(result.scalars())


async def subscriber_tokens(
    session: AsyncSession, *, federation_id: int, subscriber_ids: list[int], purpose: TokenPurpose
) -> list[Token]:
    if not subscriber_ids:
        return []
    result = await session.execute(
        select(Token).where(
            Token.federation_id == federation_id,
            Token.subscriber_id.in_(subscriber_ids),
            Token.purpose == purpose,
        )
    )
    return list(result.scalars())


async def insert_tokens(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(Token), rows)


# --- privacy notices ------------------------------------------------------------------------


async def latest_privacy_notice(
    session: AsyncSession, *, federation_id: int
) -> PrivacyNotice | None:
    result = await session.execute(
        select(PrivacyNotice)
        .where(PrivacyNotice.federation_id == federation_id)
        .order_by(PrivacyNotice.version.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def get_privacy_notice(
    session: AsyncSession,
    *,
    federation_id: int,
    version: int | None = None,
    notice_id: int | None = None,
) -> PrivacyNotice | None:
    query = select(PrivacyNotice).where(PrivacyNotice.federation_id == federation_id)
    if version is not None:
        query = query.where(PrivacyNotice.version == version)
    if notice_id is not None:
        query = query.where(PrivacyNotice.id == notice_id)
    result = await session.execute(query)
    return result.scalar_one_or_none()


# --- consent and confirmation mail history --------------------------------------------------


async def consent_records(
    session: AsyncSession, *, federation_id: int, subscriber_id: int
) -> list[ConsentRecord]:
    result = await session.execute(
        select(ConsentRecord)
        .where(
            ConsentRecord.federation_id == federation_id,
            ConsentRecord.subscriber_id == subscriber_id,
        )
        .order_by(ConsentRecord.occurred_at, ConsentRecord.id)
    )
    return list(result.scalars())


async def count_confirmation_mails_since(
    session: AsyncSession, *, federation_id: int, subscriber_id: int, since: datetime
) -> int:
    # Counts queued rows too: the cool-down is about mails promised, not mails delivered,
    # otherwise twenty quick posts would queue twenty mails before the first is sent.
    result = await session.execute(
        select(func.count(Delivery.id)).where(
            Delivery.federation_id == federation_id,
            Delivery.subscriber_id == subscriber_id,
            Delivery.kind == DeliveryKind.CONFIRMATION,
            Delivery.created_at > since,
        )
    )
    return int(result.scalar_one())
