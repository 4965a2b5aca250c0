"""Every query of the subscriber domain: subscribers, tokens, consent records, privacy notices,
suppressions, import jobs, and the set-based statements of import, export, erasure and
retention.

Every query on tenant rows takes federation_id. The exceptions: the lookup of a token by its
hash (/u/{token} links carry no federation, and the hash itself names exactly one row), and the
worker's claim and bookkeeping of import jobs (a worker serves every federation; the job it
claimed names its federation)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Integer,
    Select,
    String,
    Text,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from app.db import Base, UtcDateTime, lock_for_change
from app.delivery.models import Delivery, DeliveryKind
from app.subscribers.models import (
    BounceState,
    ConsentEvent,
    ConsentRecord,
    ImportJob,
    ImportJobStatus,
    PrivacyNotice,
    RetentionRun,
    Subscriber,
    SubscriptionStatus,
    Suppression,
    Token,
    TokenPurpose,
    email_key,
    token_row,
    token_secret,
)
from app.subscribers.schemas import ListFilters


async def get_subscriber(
    session: AsyncSession, *, federation_id: int, subscriber_id: int, lock: bool = False
) -> Subscriber | None:
    """The federation's subscriber; `lock` when the caller checks and changes it
    (app.db.lock_for_change)."""
    stmt = select(Subscriber).where(
        Subscriber.federation_id == federation_id, Subscriber.id == subscriber_id
    )
    result = await session.execute(lock_for_change(stmt) if lock else stmt)
    return result.scalar_one_or_none()


async def find_subscriber_by_email(
    session: AsyncSession, *, federation_id: int, email: str
) -> Subscriber | None:
    # Case-insensitive: "Anna@X.se" and "anna@x.se" are one mailbox (see email_key), which
    # the unique index on (federation_id, email_key) also enforces.
    result = await session.execute(
        select(Subscriber).where(
            Subscriber.federation_id == federation_id, Subscriber.email_key == email_key(email)
        )
    )
    return result.scalar_one_or_none()


async def is_suppressed(session: AsyncSession, *, federation_id: int, email_hash: str) -> bool:
    result = await session.execute(
        select(Suppression.id).where(
            Suppression.federation_id == federation_id, Suppression.email_hash == email_hash
        )
    )
    return result.first() is not None


async def find_token_by_hash(session: AsyncSession, digest: str) -> Token | None:
    result = await session.execute(select(Token).where(Token.token_hash == digest))
    return result.scalar_one_or_none()


async def find_token_with_subscriber(
    session: AsyncSession, digest: str, *, lock: bool = False
) -> tuple[Token, Subscriber | None] | None:
    """The token by hash and its subscriber (of the token's own federation), in one query;
    `lock` to change the subscriber: see _token_with_subscriber."""
    return await _token_with_subscriber(session, Token.token_hash == digest, lock=lock)


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


async def get_token_with_subscriber(
    session: AsyncSession, *, federation_id: int, token_id: int
) -> tuple[Token, Subscriber | None] | None:
    """The token and the subscriber it belongs to, in one query."""
    return await _token_with_subscriber(
        session, Token.federation_id == federation_id, Token.id == token_id
    )


async def _token_with_subscriber(
    session: AsyncSession, *where: ColumnElement[bool], lock: bool = False
) -> tuple[Token, Subscriber | None] | None:
    """A token and its subscriber, who must be of the token's own federation.

    `lock` (a link that changes the subscription) locks the subscriber's row in the same query
    (app.db.lock_for_change) and reads it as committed once the lock is had: a link pressed
    twice at once then changes the subscription once. PostgreSQL locks no row on the nullable
    side of an outer join, so the locking form joins inner: a token without its subscriber is
    then no row, which the callers treat alike."""
    on = (Subscriber.id == Token.subscriber_id) & (Subscriber.federation_id == Token.federation_id)
    stmt = select(Token, Subscriber)
    stmt = stmt.join(Subscriber, on) if lock else stmt.outerjoin(Subscriber, on)
    stmt = stmt.where(*where)
    result = await session.execute(lock_for_change(stmt, of=Subscriber) if lock else stmt)
    row = result.one_or_none()
    return None if row is None else (row[0], row[1])


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


async def count_confirmation_mails(
    session: AsyncSession, *, federation_id: int, mailbox: str, since: Sequence[datetime]
) -> list[int]:
    """Confirmation mails queued to a mailbox (see app.addresses.mailbox) under any of its
    spellings, the address itself or any `+tag` sub-address of it: one count per moment in
    `since` (mails queued after it), all in one query."""
    local, _, domain = mailbox.rpartition("@")
    tagged = f"{_escape_like(local)}+%@{_escape_like(domain)}"
    # Counts queued rows too: the cool-down is about mails promised, not mails delivered,
    # otherwise twenty quick posts would queue twenty mails before the first is sent.
    result = await session.execute(
        select(*(func.count(case((Delivery.created_at > at, 1))) for at in since))
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(
            Delivery.federation_id == federation_id,
            Subscriber.federation_id == federation_id,
            or_(Subscriber.email_key == mailbox, Subscriber.email_key.like(tagged, escape="\\")),
            Delivery.kind == DeliveryKind.CONFIRMATION,
            Delivery.created_at > min(since),
        )
    )
    return [int(n) for n in result.one()]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_pattern(text: str) -> str:
    return f"%{_escape_like(text.lower())}%"


def _filtered(federation_id: int, filters: ListFilters) -> Select[Subscriber]:
    query = select(Subscriber).where(Subscriber.federation_id == federation_id)
    if filters.status is not None:
        query = query.where(Subscriber.status == filters.status)
    if filters.bounced is not None:
        # A soft bounce counts too: staff look for addresses that may need fixing.
        is_ok = Subscriber.bounce_state == BounceState.OK
        query = query.where(~is_ok if filters.bounced else is_ok)
    if filters.q:
        pattern = _like_pattern(filters.q)
        query = query.where(
            or_(
                func.lower(Subscriber.email).like(pattern, escape="\\"),
                func.lower(Subscriber.name).like(pattern, escape="\\"),
            )
        )
    if filters.created_after is not None:
        query = query.where(Subscriber.created_at >= filters.created_after)
    if filters.created_before is not None:
        query = query.where(Subscriber.created_at < filters.created_before)
    return query


async def list_subscribers(
    session: AsyncSession,
    *,
    federation_id: int,
    filters: ListFilters,
    before_id: int | None = None,
    limit: int,
) -> Sequence[Subscriber]:
    # Keyset on id, newest first: rows added while a client pages have higher ids and never
    # shift the pages it has yet to read (OFFSET would repeat or skip rows).
    query = _filtered(federation_id, filters)
    if before_id is not None:
        query = query.where(Subscriber.id < before_id)
    result = await session.execute(query.order_by(Subscriber.id.desc()).limit(limit))
    return result.scalars().all()


async def export_batch(
    session: AsyncSession, *, federation_id: int, filters: ListFilters, after_id: int, limit: int
) -> Sequence[Subscriber]:
    query = _filtered(federation_id, filters).where(Subscriber.id > after_id)
    result = await session.execute(query.order_by(Subscriber.id).limit(limit))
    return result.scalars().all()


@dataclass(frozen=True)
class ImportRow:
    """A checked CSV row to write: the address normalised, and its suppression hash."""

    email: str
    name: str | None
    attributes: dict[str, str]
    email_hash: str


@dataclass(frozen=True)
class ImportOptions:
    """What every new subscriber of an import gets: its status, the time stamped on it, the
    consent record's method and note, and (a pending import) its confirm token's expiry."""

    status: SubscriptionStatus
    at: datetime
    method: str
    note: str | None
    confirm_expires_at: datetime | None

    @property
    def confirmed_at(self) -> datetime | None:
        return self.at if self.status is SubscriptionStatus.CONFIRMED else None


@dataclass
class ImportOutcome:
    """What became of a batch: how many subscribers were created, which rows (indexes into
    the batch) are suppressed, and the confirm token of each created subscriber (pending
    imports). Every other row was an address the federation already had."""

    created: int
    suppressed: list[int]
    confirm_tokens: dict[int, int]


async def import_batch(
    session: AsyncSession, *, federation_id: int, rows: Sequence[ImportRow], options: ImportOptions
) -> ImportOutcome:
    """Add the batch's subscribers that are neither suppressed nor already there (under any
    spelling, also one committed by someone else a moment ago), each with an unsubscribe
    token and an import consent record, and, when the options give a confirm token expiry (a
    pending import), a confirm token."""
    if not rows:
        return ImportOutcome(created=0, suppressed=[], confirm_tokens={})
    write = _import_in_one_statement if _is_postgresql(session) else _import_in_steps
    return await write(session, federation_id=federation_id, rows=rows, options=options)


def _is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# The whole batch in one round trip. Every value comes in an array parameter, one element per
# row, so the text (and the plan PostgreSQL keeps for the prepared statement) is the same for
# every batch, and SQLAlchemy does no per-value work. Nothing looks up which addresses exist:
# the INSERT skips them, by the unique indexes, so no plan can turn into a scan of a table
# that grows as the import runs. (A lookup `email_key = ANY($2)` did: its generic plan, made
# while the table was empty, read every subscriber of the federation for each batch.)
_IMPORT_BATCH = text(
    """
WITH batch AS (
    SELECT *
    FROM unnest(
        :emails, :email_keys, :names, :attributes, :email_hashes,
        :unsubscribe_seeds, :unsubscribe_hashes, :confirm_seeds, :confirm_hashes
    ) WITH ORDINALITY AS b (
        email, email_key, name, attributes, email_hash,
        unsubscribe_seed, unsubscribe_hash, confirm_seed, confirm_hash, n
    )
),
suppressed AS (
    SELECT b.n
    FROM batch b
    JOIN suppressions s ON s.federation_id = :federation_id AND s.email_hash = b.email_hash
),
created AS (
    -- No conflict target: a row that meets either unique index (the same address, or another
    -- spelling of the same mailbox) is skipped, not an error, and is counted as existing.
    -- That includes a row another transaction inserted after this batch began: the INSERT
    -- waits for that transaction and skips the row if it committed.
    INSERT INTO subscribers (
        federation_id, email, email_key, name, attributes, status, bounce_state,
        bounce_count, created_at, updated_at, confirmed_at
    )
    SELECT :federation_id, b.email, b.email_key, b.name, CAST(b.attributes AS json), :status,
        :bounce_ok, 0, :at, :at, :confirmed_at
    FROM batch b
    WHERE b.n NOT IN (SELECT n FROM suppressed)
    ORDER BY b.n
    ON CONFLICT DO NOTHING
    RETURNING id, email
),
unsubscribe_tokens AS (
    INSERT INTO tokens (federation_id, subscriber_id, purpose, seed, token_hash, created_at)
    SELECT :federation_id, c.id, :unsubscribe, b.unsubscribe_seed, b.unsubscribe_hash, :at
    FROM created c
    JOIN batch b ON b.email = c.email
),
consent AS (
    INSERT INTO consent_records (federation_id, subscriber_id, event, occurred_at, method, note)
    SELECT :federation_id, c.id, :consent_event, :at, :method, :note
    FROM created c
),
confirm_tokens AS (
    -- A confirmed import passes no confirm seeds; unnest pads the shorter array with NULLs.
    INSERT INTO tokens (
        federation_id, subscriber_id, purpose, seed, token_hash, created_at, expires_at
    )
    SELECT :federation_id, c.id, :confirm, b.confirm_seed, b.confirm_hash, :at, :expires_at
    FROM created c
    JOIN batch b ON b.email = c.email
    WHERE b.confirm_seed IS NOT NULL
    RETURNING id, subscriber_id
)
SELECT
    (SELECT count(*) FROM created) AS created,
    ARRAY(SELECT n FROM suppressed ORDER BY n) AS suppressed,
    ARRAY(SELECT subscriber_id FROM confirm_tokens ORDER BY id) AS confirm_subscribers,
    ARRAY(SELECT id FROM confirm_tokens ORDER BY id) AS confirm_tokens
"""
).bindparams(
    *(
        bindparam(name, type_=postgresql.ARRAY(String))
        for name in (
            "emails",
            "email_keys",
            "names",
            "attributes",
            "email_hashes",
            "unsubscribe_seeds",
            "unsubscribe_hashes",
            "confirm_seeds",
            "confirm_hashes",
        )
    ),
    bindparam("federation_id", type_=Integer),
    *(
        bindparam(name, type_=String)
        for name in ("status", "bounce_ok", "unsubscribe", "confirm", "consent_event")
    ),
    *(bindparam(name, type_=UtcDateTime) for name in ("at", "confirmed_at", "expires_at")),
    bindparam("method", type_=String),
    bindparam("note", type_=Text),
)


async def _import_in_one_statement(
    session: AsyncSession, *, federation_id: int, rows: Sequence[ImportRow], options: ImportOptions
) -> ImportOutcome:
    # Seeds for every row, although the existing ones are not inserted: a few microseconds a
    # row, and the statement needs them before it knows which rows it inserts.
    unsubscribe = [token_secret() for _ in rows]
    confirm = [token_secret() for _ in rows] if options.confirm_expires_at is not None else []
    result = await session.execute(
        _IMPORT_BATCH,
        {
            "emails": [r.email for r in rows],
            "email_keys": [email_key(r.email) for r in rows],
            "names": [r.name for r in rows],
            "attributes": [json.dumps(r.attributes) for r in rows],
            "email_hashes": [r.email_hash for r in rows],
            "unsubscribe_seeds": [seed for seed, _ in unsubscribe],
            "unsubscribe_hashes": [digest for _, digest in unsubscribe],
            "confirm_seeds": [seed for seed, _ in confirm],
            "confirm_hashes": [digest for _, digest in confirm],
            "federation_id": federation_id,
            "status": options.status.value,
            "bounce_ok": BounceState.OK.value,
            "unsubscribe": TokenPurpose.UNSUBSCRIBE.value,
            "confirm": TokenPurpose.CONFIRM.value,
            "consent_event": ConsentEvent.IMPORT.value,
            "at": options.at,
            "confirmed_at": options.confirmed_at,
            "expires_at": options.confirm_expires_at,
            "method": options.method,
            "note": options.note,
        },
    )
    created, suppressed, confirm_subscribers, confirm_tokens = result.one()
    return ImportOutcome(
        created=int(created),
        # WITH ORDINALITY counts from 1.
        suppressed=[n - 1 for n in suppressed],
        confirm_tokens=dict(zip(confirm_subscribers, confirm_tokens, strict=True)),
    )


async def _import_in_steps(
    session: AsyncSession, *, federation_id: int, rows: Sequence[ImportRow], options: ImportOptions
) -> ImportOutcome:
    """_import_in_one_statement for SQLite, which has neither data-modifying CTEs nor arrays:
    a statement per table. Its write lock, taken at BEGIN, keeps other writers out between
    them."""
    found = await session.execute(
        select(Suppression.email_hash).where(
            Suppression.federation_id == federation_id,
            Suppression.email_hash.in_([r.email_hash for r in rows]),
        )
    )
    hashes = set(found.scalars())
    suppressed = [i for i, r in enumerate(rows) if r.email_hash in hashes]
    if len(suppressed) == len(rows):
        return ImportOutcome(created=0, suppressed=suppressed, confirm_tokens={})
    subscribers = Base.metadata.tables["subscribers"]
    # Core inserts on the Table (not the ORM entity): the ORM's bulk path costs more than the
    # database does at this size. No conflict target, as on PostgreSQL: another spelling of
    # an address already there is skipped too.
    inserted = await session.execute(
        sqlite.insert(subscribers)
        .on_conflict_do_nothing()
        .returning(subscribers.c.id, subscribers.c.email),
        [
            {
                "federation_id": federation_id,
                "email": r.email,
                "name": r.name,
                "attributes": r.attributes,
                "status": options.status,
                "bounce_state": BounceState.OK,
                "bounce_count": 0,
                "created_at": options.at,
                "updated_at": options.at,
                "confirmed_at": options.confirmed_at,
            }
            for r in rows
            if r.email_hash not in hashes
        ],
    )
    ids = [subscriber_id for subscriber_id, _ in inserted.all()]
    if not ids:
        return ImportOutcome(created=0, suppressed=suppressed, confirm_tokens={})
    tokens = Base.metadata.tables["tokens"]

    async def insert_tokens(purpose: TokenPurpose, expires_at: datetime | None) -> dict[int, int]:
        result = await session.execute(
            insert(tokens).returning(tokens.c.id, tokens.c.subscriber_id),
            [
                token_row(
                    federation_id=federation_id,
                    subscriber_id=i,
                    purpose=purpose,
                    expires_at=expires_at,
                )
                for i in ids
            ],
        )
        return {subscriber_id: token_id for token_id, subscriber_id in result.all()}

    await insert_tokens(TokenPurpose.UNSUBSCRIBE, None)
    await session.execute(
        insert(Base.metadata.tables["consent_records"]),
        [
            {
                "federation_id": federation_id,
                "subscriber_id": i,
                "event": ConsentEvent.IMPORT,
                "occurred_at": options.at,
                "method": options.method,
                "note": options.note,
            }
            for i in ids
        ],
    )
    expires = options.confirm_expires_at
    confirm_tokens = await insert_tokens(TokenPurpose.CONFIRM, expires) if expires else {}
    return ImportOutcome(created=len(ids), suppressed=suppressed, confirm_tokens=confirm_tokens)


def _insert_ignoring_conflicts(session: AsyncSession, table: Any, keys: list[str]) -> Any:
    builder = postgresql.insert if _is_postgresql(session) else sqlite.insert
    return builder(table).on_conflict_do_nothing(index_elements=keys)


async def add_suppression(
    session: AsyncSession, *, federation_id: int, email_hash: str, reason: str, at: datetime
) -> None:
    stmt = _insert_ignoring_conflicts(session, Suppression, ["federation_id", "email_hash"])
    await session.execute(
        stmt.values(
            federation_id=federation_id, email_hash=email_hash, reason=reason, created_at=at
        )
    )


async def forget_deliveries(
    session: AsyncSession, *, federation_id: int, subscriber_ids: Sequence[int], email: str | None
) -> None:
    """Strip what identifies a person from their deliveries: the link to them, any address,
    and the relay's reply text (which often quotes the address: "550 <anna@…>: unknown")."""
    conditions: list[ColumnElement[bool]] = []
    if subscriber_ids:
        conditions.append(Delivery.subscriber_id.in_(subscriber_ids))
    if email is not None:
        conditions.append(func.lower(Delivery.to_address) == email.lower())
    if not conditions:
        return
    await session.execute(
        update(Delivery)
        .where(Delivery.federation_id == federation_id, or_(*conditions))
        .values(subscriber_id=None, to_address=None, smtp_reply=None)
        .execution_options(synchronize_session=False)
    )


async def delete_subscribers(
    session: AsyncSession, *, federation_id: int, subscriber_ids: Sequence[int]
) -> int:
    """Delete subscribers with their tokens and consent records."""
    if not subscriber_ids:
        return 0
    for table in (Token, ConsentRecord):
        await session.execute(
            delete(table)
            .where(table.federation_id == federation_id, table.subscriber_id.in_(subscriber_ids))
            .execution_options(synchronize_session=False)
        )
    result = await session.execute(
        delete(Subscriber)
        .where(Subscriber.federation_id == federation_id, Subscriber.id.in_(subscriber_ids))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def stale_pending_ids(
    session: AsyncSession, *, federation_id: int, created_before: datetime, limit: int
) -> list[int]:
    result = await session.execute(
        select(Subscriber.id)
        .where(
            Subscriber.federation_id == federation_id,
            Subscriber.status == SubscriptionStatus.PENDING,
            Subscriber.confirmed_at.is_(None),
            Subscriber.created_at < created_before,
        )
        .order_by(Subscriber.id)
        .limit(limit)
    )
    return list(result.scalars())


async def departed_ids(
    session: AsyncSession, *, federation_id: int, unsubscribed_before: datetime, limit: int
) -> list[int]:
    """Subscribers who left before the cutoff: the retention purge deletes them."""
    result = await session.execute(
        select(Subscriber.id)
        .where(
            Subscriber.federation_id == federation_id,
            Subscriber.status == SubscriptionStatus.UNSUBSCRIBED,
            Subscriber.unsubscribed_at < unsubscribed_before,
        )
        .order_by(Subscriber.id)
        .limit(limit)
    )
    return list(result.scalars())


async def delete_expired_tokens(
    session: AsyncSession, *, federation_id: int, expired_before: datetime
) -> int:
    result = await session.execute(
        delete(Token)
        .where(
            Token.federation_id == federation_id,
            Token.expires_at.is_not(None),
            Token.expires_at < expired_before,
        )
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def prune_client_data(
    session: AsyncSession, *, federation_id: int, occurred_before: datetime
) -> int:
    result = await session.execute(
        update(ConsentRecord)
        .where(
            ConsentRecord.federation_id == federation_id,
            ConsentRecord.occurred_at < occurred_before,
            or_(ConsentRecord.ip_address.is_not(None), ConsentRecord.user_agent.is_not(None)),
        )
        .values(ip_address=None, user_agent=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def count_deliveries_since(
    session: AsyncSession,
    *,
    federation_id: int,
    subscriber_id: int,
    kind: DeliveryKind,
    since: datetime,
) -> int:
    result = await session.execute(
        select(func.count(Delivery.id)).where(
            Delivery.federation_id == federation_id,
            Delivery.subscriber_id == subscriber_id,
            Delivery.kind == kind,
            Delivery.created_at > since,
        )
    )
    return int(result.scalar_one())


async def privacy_notices(session: AsyncSession, *, federation_id: int) -> Sequence[PrivacyNotice]:
    """Every version of the federation's form wording and privacy notice, newest first."""
    result = await session.execute(
        select(PrivacyNotice)
        .where(PrivacyNotice.federation_id == federation_id)
        .order_by(PrivacyNotice.version.desc())
    )
    return result.scalars().all()


async def notice_versions(
    session: AsyncSession, *, federation_id: int, notice_ids: Sequence[int]
) -> dict[int, int]:
    """{privacy notice id: version} for the given ids."""
    if not notice_ids:
        return {}
    result = await session.execute(
        select(PrivacyNotice.id, PrivacyNotice.version).where(
            PrivacyNotice.federation_id == federation_id, PrivacyNotice.id.in_(notice_ids)
        )
    )
    return {notice_id: version for notice_id, version in result.all()}


async def status_counts(session: AsyncSession, *, federation_id: int) -> dict[str, int]:
    """How many of the federation's subscribers are in each status."""
    result = await session.execute(
        select(Subscriber.status, func.count())
        .where(Subscriber.federation_id == federation_id)
        .group_by(Subscriber.status)
    )
    return {str(status): int(n) for status, n in result.all()}


async def recent_retention_runs(
    session: AsyncSession, *, federation_id: int, limit: int
) -> Sequence[RetentionRun]:
    result = await session.execute(
        select(RetentionRun)
        .where(RetentionRun.federation_id == federation_id)
        .order_by(RetentionRun.ran_at.desc(), RetentionRun.id.desc())
        .limit(limit)
    )
    return result.scalars().all()


async def add_import_job(session: AsyncSession, job: ImportJob) -> ImportJob:
    session.add(job)
    await session.flush()
    return job


async def get_import_job(
    session: AsyncSession, *, federation_id: int, job_id: int
) -> ImportJob | None:
    result = await session.execute(
        select(ImportJob)
        .where(ImportJob.federation_id == federation_id, ImportJob.id == job_id)
        .execution_options(populate_existing=True)
    )
    return result.scalar_one_or_none()


async def claim_import_job(
    session: AsyncSession, *, owner: str, stale_before: datetime, at: datetime
) -> ImportJob | None:
    """Take the oldest queued job, or a running one whose holder stopped beating (crashed).

    Cross-tenant by design: one worker serves every federation. SKIP LOCKED lets two workers
    pass each other on PostgreSQL (SQLite ignores it, and its write lock serialises claims);
    the conditional UPDATE is the claim itself on both, so a job is never taken twice."""
    claimable = or_(
        ImportJob.status == ImportJobStatus.QUEUED,
        (ImportJob.status == ImportJobStatus.RUNNING) & (ImportJob.heartbeat_at < stale_before),
    )
    job_id = await session.scalar(
        select(ImportJob.id)
        .where(claimable)
        .order_by(ImportJob.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if job_id is None:
        return None
    claimed = await session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id, claimable)
        .values(
            status=ImportJobStatus.RUNNING,
            claimed_by=owner,
            heartbeat_at=at,
            attempts=ImportJob.attempts + 1,
            started_at=func.coalesce(ImportJob.started_at, at),
        )
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None
    result = await session.execute(
        select(ImportJob).where(ImportJob.id == job_id).execution_options(populate_existing=True)
    )
    return result.scalar_one()


async def import_job_content(session: AsyncSession, *, job_id: int) -> bytes:
    """The uploaded file of a job the caller has claimed."""
    content = await session.scalar(select(ImportJob.content).where(ImportJob.id == job_id))
    return content or b""


async def update_claimed_import_job(
    session: AsyncSession, *, job_id: int, owner: str, **changes: Any
) -> bool:
    """Change a job only while this worker still holds it; False when another worker took it
    over (this one was presumed dead), so the caller must drop its work."""
    result = await session.execute(
        update(ImportJob)
        .where(
            ImportJob.id == job_id,
            ImportJob.claimed_by == owner,
            ImportJob.status == ImportJobStatus.RUNNING,
        )
        .values(**changes)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
