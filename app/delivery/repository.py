"""Every query of the outbox: fan-out, claiming, suppression at send time, results, recovery."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
    and_,
    any_,
    case,
    exists,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.elements import ColumnElement

from app.campaigns.models import Campaign, CampaignStatus
from app.db import UtcDateTime, lock_for_change
from app.delivery.models import STAFF_KINDS, Delivery, DeliveryKind, DeliveryStatus, Priority
from app.federations.models import Federation
from app.subscribers.models import (
    BounceState,
    Subscriber,
    SubscriptionStatus,
    Token,
    TokenPurpose,
    token_row,
)

WAITING = (DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED)
OPEN = (DeliveryStatus.QUEUED, DeliveryStatus.DEFERRED, DeliveryStatus.SENDING)


@dataclass(frozen=True, slots=True)
class ResultRow:
    """What to write to one delivery after an attempt (or after recovery)."""

    delivery_id: int
    status: DeliveryStatus
    next_attempt_at: datetime
    sent_at: datetime | None
    code: int | None
    enhanced: str | None
    reply: str | None
    queue_id: str | None
    attempts_delta: int


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    id: int
    federation_id: int
    kind: DeliveryKind
    campaign_id: int | None
    subscriber_id: int | None
    priority: int
    attempts: int
    created_at: datetime
    to_address: str | None
    email: str | None
    name: str | None
    token_seed: str | None


def _dialect(db: AsyncSession | AsyncConnection) -> Any:
    return db.dialect if isinstance(db, AsyncConnection) else db.get_bind().dialect


def _is_pg(db: AsyncSession | AsyncConnection) -> bool:
    return bool(_dialect(db).name == "postgresql")


def _among(
    db: AsyncSession | AsyncConnection, column: InstrumentedAttribute[int], ids: Sequence[int]
) -> ColumnElement[bool]:
    """`column IN ids` for the hundreds of ids of a claim. On PostgreSQL one array parameter
    (`= ANY`): SQLAlchemy renders an IN list's parameters one by one at every execution (with
    500 ids, 6 % of the dispatcher's CPU went there); SQLite has no arrays."""
    if _is_pg(db):
        return column == any_(literal(list(ids), postgresql.ARRAY(column.type)))
    return column.in_(ids)


# Rows of a claim still `sending`, in statements that find them by id (with _among): a filter,
# not an index condition, as _SENDING is in the rounds; with a plain `status = 'sending'`
# PostgreSQL read ix_deliveries_due's 'sending' range instead of the ids' primary keys.
_CLAIMED_SENDING = (Delivery.status == DeliveryStatus.SENDING).is_(True)


def _recipients(federation_id: int) -> Any:
    """Who a campaign goes to: confirmed subscribers whose address has not hard-bounced."""
    return and_(
        Subscriber.federation_id == federation_id,
        Subscriber.status == SubscriptionStatus.CONFIRMED,
        Subscriber.bounce_state != BounceState.HARD,
    )


async def count_recipients(session: AsyncSession, *, federation_id: int) -> int:
    count = await session.scalar(select(func.count()).where(_recipients(federation_id)))
    return int(count or 0)


async def due_campaigns(
    session: AsyncSession, *, now: datetime, overdue_before: datetime
) -> list[tuple[int, int]]:
    """Scheduled campaigns whose time has come, not those overdue since before
    `overdue_before` (held for staff, see hold_overdue). Cross-tenant by design."""
    rows = await session.execute(
        select(Campaign.id, Campaign.federation_id).where(
            Campaign.status == CampaignStatus.SCHEDULED,
            Campaign.send_at <= now,
            Campaign.send_at >= overdue_before,
        )
    )
    return [(r[0], r[1]) for r in rows.all()]


async def hold_overdue(
    session: AsyncSession, *, overdue_before: datetime, reason: str, now: datetime
) -> list[int]:
    """Give scheduled campaigns overdue since before `overdue_before` (the dispatcher was down)
    a reason staff can see; they stay scheduled and go out only when staff send them now or
    schedule them again. Cross-tenant by design."""
    result = await session.execute(
        update(Campaign)
        .where(
            Campaign.status == CampaignStatus.SCHEDULED,
            Campaign.send_at < overdue_before,
            Campaign.paused_reason.is_(None),
        )
        .values(paused_reason=reason, updated_at=now)
        .returning(Campaign.id)
        .execution_options(synchronize_session=False)
    )
    return [r[0] for r in result.all()]


async def start_campaign(
    session: AsyncSession, *, federation_id: int, campaign_id: int, now: datetime
) -> int | None:
    """Move a due campaign to sending and fan it out; None if another dispatcher won."""
    won = await session.execute(
        update(Campaign)
        .where(
            Campaign.id == campaign_id,
            Campaign.federation_id == federation_id,
            Campaign.status == CampaignStatus.SCHEDULED,
        )
        .values(status=CampaignStatus.SENDING, started_at=now, updated_at=now)
        .returning(Campaign.id)
    )
    if won.scalar_one_or_none() is None:
        return None
    # One INSERT … SELECT in the database, not a Python loop: 100 000 rows in a few seconds.
    # ON CONFLICT keeps a re-run (a campaign resumed after a crash mid-fan-out) idempotent.
    ts = literal(now, UtcDateTime())
    source = select(
        Subscriber.federation_id,
        literal(DeliveryKind.CAMPAIGN.value),
        literal(campaign_id),
        Subscriber.id,
        literal(DeliveryStatus.QUEUED.value),
        literal(int(Priority.CAMPAIGN)),
        literal(0),
        ts,
        ts,
        ts,
    ).where(_recipients(federation_id))
    columns = [
        "federation_id",
        "kind",
        "campaign_id",
        "subscriber_id",
        "status",
        "priority",
        "attempts",
        "next_attempt_at",
        "created_at",
        "updated_at",
    ]
    dialect_insert = postgresql.insert if _is_pg(session) else sqlite.insert
    stmt = (
        dialect_insert(Delivery)
        .from_select(columns, source)
        .on_conflict_do_nothing(index_elements=["campaign_id", "subscriber_id"])
    )
    result = await session.execute(stmt)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def _due_filter(now: datetime) -> Any:
    paused = exists().where(
        Campaign.id == Delivery.campaign_id, Campaign.status == CampaignStatus.PAUSED
    )
    return and_(
        Delivery.status.in_(WAITING),
        Delivery.next_attempt_at <= now,
        or_(Delivery.kind != DeliveryKind.CAMPAIGN, not_(paused)),
    )


async def active_federations(session: AsyncSession, *, now: datetime) -> list[int]:
    """Federations with due work, so claims can be shared out round-robin."""
    rows = await session.execute(select(Delivery.federation_id).where(_due_filter(now)).distinct())
    return sorted(r[0] for r in rows.all())


async def claim(
    session: AsyncSession,
    *,
    owner: str,
    lease_until: datetime,
    now: datetime,
    limit: int,
    federation_id: int | None = None,
    delivery_ids: Sequence[int] | None = None,
) -> list[int]:
    """Mark due deliveries `sending` for this dispatcher, most urgent first.

    PostgreSQL: FOR UPDATE SKIP LOCKED lets concurrent dispatchers take disjoint rows.
    SQLite: the UPDATE with its sub-select is one statement under the single writer lock.
    """
    pick = select(Delivery.id).where(_due_filter(now))
    if federation_id is not None:
        pick = pick.where(Delivery.federation_id == federation_id)
    if delivery_ids is not None:
        pick = pick.where(_among(session, Delivery.id, delivery_ids))
    pick = pick.order_by(Delivery.priority, Delivery.next_attempt_at, Delivery.id).limit(limit)
    if _is_pg(session):
        pick = pick.with_for_update(skip_locked=True)
    result = await session.execute(
        update(Delivery)
        .where(Delivery.id.in_(pick.scalar_subquery()))
        .values(
            status=DeliveryStatus.SENDING,
            claimed_by=owner,
            lease_until=lease_until,
            last_attempt_at=now,
            wire_at=None,
            attempts=Delivery.attempts + 1,
            updated_at=now,
        )
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(r[0] for r in result.all())


async def settle_unsendable(session: AsyncSession, *, ids: Sequence[int], now: datetime) -> int:
    """Suppression checked at send time: among claimed rows, campaign mail whose campaign was
    cancelled becomes `cancelled`; mail to someone erased, unsubscribed or hard-bounced since
    the fan-out becomes `suppressed`."""
    if not ids:
        return 0
    cancelled = await session.execute(
        update(Delivery)
        .where(
            _among(session, Delivery.id, ids),
            Delivery.kind == DeliveryKind.CAMPAIGN,
            exists().where(
                Campaign.id == Delivery.campaign_id, Campaign.status == CampaignStatus.CANCELLED
            ),
        )
        .values(status=DeliveryStatus.CANCELLED, lease_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    gone = not_(
        exists().where(
            Subscriber.id == Delivery.subscriber_id,
            Subscriber.bounce_state != BounceState.HARD,
            or_(
                Delivery.kind != DeliveryKind.CAMPAIGN,
                Subscriber.status == SubscriptionStatus.CONFIRMED,
            ),
        )
    )
    suppressed = await session.execute(
        update(Delivery)
        .where(
            _among(session, Delivery.id, ids),
            _CLAIMED_SENDING,
            # Test sends, sign-in links and draft notices go to staff, not to subscribers.
            or_(
                Delivery.kind.not_in(STAFF_KINDS),
                Delivery.to_address.is_(None),
            ),
            gone,
        )
        .values(status=DeliveryStatus.SUPPRESSED, lease_until=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(cancelled.rowcount or 0) + int(suppressed.rowcount or 0)  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class SendBlockers:
    """Among the subscribers and campaigns a run is about to mail: who must get nothing
    (erased or hard-bounced), who must get no campaign (no longer confirmed), and which
    campaigns were cancelled or paused."""

    gone: frozenset[int] = field(default_factory=frozenset)
    unsubscribed: frozenset[int] = field(default_factory=frozenset)
    cancelled_campaigns: frozenset[int] = field(default_factory=frozenset)
    paused_campaigns: frozenset[int] = field(default_factory=frozenset)


async def send_blockers(
    session: AsyncSession, *, subscriber_ids: Sequence[int], campaign_ids: Sequence[int]
) -> SendBlockers:
    """The same rules as settle_unsendable, for rows already claimed, read just before they
    go out. Cross-tenant by design: ids come from this dispatcher's own claims."""
    rows = (
        await session.execute(
            select(Subscriber.id, Subscriber.status, Subscriber.bounce_state).where(
                _among(session, Subscriber.id, subscriber_ids)
            )
        )
        if subscriber_ids
        else None
    )
    found: set[int] = set()
    hard: set[int] = set()
    unsubscribed: set[int] = set()
    for subscriber_id, status, bounce_state in rows.all() if rows is not None else []:
        found.add(subscriber_id)
        if bounce_state == BounceState.HARD:
            hard.add(subscriber_id)
        if status != SubscriptionStatus.CONFIRMED:
            unsubscribed.add(subscriber_id)
    cancelled: set[int] = set()
    paused: set[int] = set()
    if campaign_ids:
        stopped = await session.execute(
            select(Campaign.id, Campaign.status).where(
                _among(session, Campaign.id, campaign_ids),
                Campaign.status.in_((CampaignStatus.CANCELLED, CampaignStatus.PAUSED)),
            )
        )
        for campaign_id, campaign_status in stopped.all():
            stop = cancelled if campaign_status == CampaignStatus.CANCELLED else paused
            stop.add(campaign_id)
    return SendBlockers(
        gone=frozenset(set(subscriber_ids) - found | hard),
        unsubscribed=frozenset(unsubscribed),
        cancelled_campaigns=frozenset(cancelled),
        paused_campaigns=frozenset(paused),
    )


async def cancel_waiting(session: AsyncSession, *, now: datetime) -> int:
    """Remaining mail of cancelled campaigns becomes `cancelled`."""
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.status.in_(WAITING),
            Delivery.kind == DeliveryKind.CAMPAIGN,
            Delivery.campaign_id.in_(
                select(Campaign.id).where(Campaign.status == CampaignStatus.CANCELLED)
            ),
        )
        .values(status=DeliveryStatus.CANCELLED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def ensure_unsubscribe_tokens(session: AsyncSession, *, ids: Sequence[int]) -> None:
    """Give every subscriber among these campaign deliveries an unsubscribe token."""
    if not ids:
        return
    rows = await session.execute(
        select(Subscriber.id, Subscriber.federation_id)
        .join(Delivery, Delivery.subscriber_id == Subscriber.id)
        .where(
            _among(session, Delivery.id, ids),
            _CLAIMED_SENDING,
            not_(
                exists().where(
                    Token.subscriber_id == Subscriber.id,
                    Token.purpose == TokenPurpose.UNSUBSCRIBE,
                )
            ),
        )
    )
    for subscriber_id, federation_id in rows.all():
        session.add(
            Token(
                **token_row(
                    federation_id=federation_id,
                    subscriber_id=subscriber_id,
                    purpose=TokenPurpose.UNSUBSCRIBE,
                    expires_at=None,
                )
            )
        )
    await session.flush()


async def load_claimed(
    session: AsyncSession, *, ids: Sequence[int], owner: str
) -> list[ClaimedRow]:
    if not ids:
        return []
    token_seed = (
        select(Token.seed)
        .where(
            Token.subscriber_id == Delivery.subscriber_id, Token.purpose == TokenPurpose.UNSUBSCRIBE
        )
        .order_by(Token.id)
        .limit(1)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            Delivery.id,
            Delivery.federation_id,
            Delivery.kind,
            Delivery.campaign_id,
            Delivery.subscriber_id,
            Delivery.priority,
            Delivery.attempts,
            Delivery.created_at,
            Delivery.to_address,
            Subscriber.email,
            Subscriber.name,
            case((Delivery.kind == DeliveryKind.CAMPAIGN, token_seed), else_=None),
        )
        .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(
            _among(session, Delivery.id, ids),
            _CLAIMED_SENDING,
            Delivery.claimed_by == owner,
        )
        .order_by(Delivery.priority, Delivery.id)
    )
    return [
        ClaimedRow(
            id=r[0],
            federation_id=r[1],
            kind=DeliveryKind(r[2]),
            campaign_id=r[3],
            subscriber_id=r[4],
            priority=r[5],
            attempts=r[6],
            created_at=r[7],
            to_address=r[8],
            email=r[9],
            name=r[10],
            token_seed=r[11],
        )
        for r in rows.all()
    ]


async def federations(session: AsyncSession, *, ids: Iterable[int]) -> list[Federation]:
    ids = list(ids)
    if not ids:
        return []
    return list((await session.scalars(select(Federation).where(Federation.id.in_(ids)))).all())


async def write_results(
    session: AsyncSession | AsyncConnection,
    *,
    owner: str | None,
    rows: Sequence[ResultRow],
    now: datetime,
) -> int:
    """Record outcomes for many deliveries in one statement; only rows still claimed by this
    dispatcher (owner None: any row still `sending`, used by recovery)."""
    if not rows:
        return 0
    if _is_pg(session):
        # One UPDATE … FROM unnest(arrays): one statement text for every batch and nine
        # parameters, instead of a parameter set per row through SQLAlchemy's executemany
        # (a dispatcher writes a batch per round of its connections).
        result = await session.execute(
            _RESULTS_FROM_ARRAYS if owner is not None else _RESULTS_FROM_ARRAYS_ANY_OWNER,
            _result_arrays(rows, owner=owner, now=now),
        )
        return int(getattr(result, "rowcount", 0) or 0)
    # SQLite: one UPDATE … FROM json_each(a JSON list of rows), one statement text and two
    # parameters, instead of SQLAlchemy's executemany with a parameter set per row.
    stamp = sqlite_stamp(_dialect(session))
    result = await session.execute(
        _SQLITE_RESULTS if owner is not None else _SQLITE_RESULTS_ANY_OWNER,
        {"rows": _sqlite_result_list(rows, stamp), "owner": owner, "now": stamp(now)},
    )
    return int(getattr(result, "rowcount", 0) or 0)


def sqlite_stamp(dialect: Any) -> Callable[[datetime | None], str | None]:
    """A UTC column's value as SQLite stores it (the same text SQLAlchemy binds)."""
    processor = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert processor is not None
    return cast(Callable[[datetime | None], str | None], processor)


def _sqlite_result_list(
    rows: Sequence[ResultRow], stamp: Callable[[datetime | None], str | None]
) -> str:
    return json.dumps(
        [
            [
                row.delivery_id,
                row.status.value,
                stamp(row.next_attempt_at),
                stamp(row.sent_at),
                row.code,
                row.enhanced,
                row.reply,
                row.queue_id,
                row.attempts_delta,
            ]
            for row in rows
        ],
        ensure_ascii=False,
    )


def write_round_sqlite(
    conn: sqlite3.Connection,
    *,
    owner: str,
    rows: Sequence[ResultRow],
    wire: Sequence[int],
    now: datetime,
    stamp: Callable[[datetime | None], str | None],
) -> frozenset[int]:
    """A dispatcher's round on SQLite, on a plain sqlite3 connection in its own thread
    (app.delivery.sqlite_rounds): the statements of write_results and mark_on_wire in one
    transaction, the whole round one hand-off to that thread. Returns the ids it marked."""
    at = stamp(now)
    marked: frozenset[int] = frozenset()
    conn.execute("BEGIN IMMEDIATE")
    try:
        if rows:
            conn.execute(
                _SQLITE_RESULTS.text,
                {"rows": _sqlite_result_list(rows, stamp), "owner": owner, "now": at},
            )
        if wire:
            cursor = conn.execute(
                _SQLITE_WIRE.text, {"wire": json.dumps(list(wire)), "owner": owner, "now": at}
            )
            marked = frozenset(row[0] for row in cursor.fetchall())
        conn.execute("COMMIT")
        return marked
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


# `+status`: rows are found by primary key, not through ix_deliveries_due's 'sending' range
# (which SQLite's planner chose without statistics, scanning the list once per sending row).
_SQLITE_RESULTS_SQL = """
UPDATE deliveries SET
    status = json_extract(v.value, '$[1]'), next_attempt_at = json_extract(v.value, '$[2]'),
    sent_at = json_extract(v.value, '$[3]'), smtp_code = json_extract(v.value, '$[4]'),
    enhanced_code = json_extract(v.value, '$[5]'), smtp_reply = json_extract(v.value, '$[6]'),
    queue_id = json_extract(v.value, '$[7]'),
    attempts = deliveries.attempts + json_extract(v.value, '$[8]'),
    lease_until = NULL, updated_at = :now
FROM json_each(:rows) AS v
WHERE deliveries.id = json_extract(v.value, '$[0]') AND +deliveries.status = 'sending'"""
_SQLITE_RESULTS = text(_SQLITE_RESULTS_SQL + " AND deliveries.claimed_by = :owner")
_SQLITE_RESULTS_ANY_OWNER = text(_SQLITE_RESULTS_SQL + " AND :owner IS NULL")


# Rows are found by primary key, never through the status index: `(status = 'sending') IS
# TRUE` is a filter the planner cannot turn into an index condition. With a plain
# `status = 'sending'` it chose ix_deliveries_due (the statistics say few rows are sending),
# whose 'sending' range keeps an entry for every row that has passed through it until VACUUM:
# 5 ms a round in PostgreSQL by the middle of a 10,000-recipient campaign, against 0.8 ms.
_SENDING = "(d.status = 'sending') IS TRUE"
_RESULTS_SQL = f"""
UPDATE deliveries AS d SET
    status = v.status, next_attempt_at = v.next_attempt_at, sent_at = v.sent_at,
    smtp_code = v.code, enhanced_code = v.enhanced, smtp_reply = v.reply,
    queue_id = v.queue_id, attempts = d.attempts + v.delta, lease_until = NULL,
    updated_at = CAST(:now AS timestamptz)
FROM unnest(
    CAST(:ids AS bigint[]), CAST(:statuses AS varchar[]), CAST(:nexts AS timestamptz[]),
    CAST(:sent AS timestamptz[]), CAST(:codes AS integer[]), CAST(:enhanced AS varchar[]),
    CAST(:replies AS text[]), CAST(:queue_ids AS varchar[]), CAST(:deltas AS integer[])
) AS v(id, status, next_attempt_at, sent_at, code, enhanced, reply, queue_id, delta)
WHERE d.id = v.id AND {_SENDING}"""
_RESULTS_FROM_ARRAYS = text(_RESULTS_SQL + " AND d.claimed_by = CAST(:owner AS varchar)")
# Recovery writes for any owner; the unused :owner is bound as NULL and ignored.
_RESULTS_FROM_ARRAYS_ANY_OWNER = text(_RESULTS_SQL + " AND CAST(:owner AS varchar) IS NULL")
_WIRE_SQL = f"""
UPDATE deliveries AS d SET wire_at = CAST(:now AS timestamptz)
FROM unnest(CAST(:wire AS bigint[])) AS w(id)
WHERE d.id = w.id AND d.claimed_by = CAST(:owner AS varchar) AND {_SENDING}
RETURNING d.id"""


def _result_arrays(
    rows: Sequence[ResultRow], *, owner: str | None, now: datetime
) -> dict[str, Any]:
    return {
        "ids": [row.delivery_id for row in rows],
        "statuses": [row.status.value for row in rows],
        "nexts": [row.next_attempt_at for row in rows],
        "sent": [row.sent_at for row in rows],
        "codes": [row.code for row in rows],
        "enhanced": [row.enhanced for row in rows],
        "replies": [row.reply for row in rows],
        "queue_ids": [row.queue_id for row in rows],
        "deltas": [row.attempts_delta for row in rows],
        "owner": owner,
        "now": now,
    }


async def write_round(
    db: AsyncSession | AsyncConnection,
    *,
    owner: str,
    rows: Sequence[ResultRow],
    wire: Sequence[int],
    now: datetime,
) -> frozenset[int]:
    """A dispatcher's round: the results so far and the wire marks of the deliveries about to
    start DATA; returns the ids it marked. On PostgreSQL one statement: alone on a connection
    in autocommit it is its own transaction (one round trip); in a session it is part of the
    session's. The two sets never share a row: a delivery has a result only after its mark was
    committed. On SQLite the two writes in turn, in the transaction of the session or
    connection given."""
    if not _is_pg(db):
        await write_results(db, owner=owner, rows=rows, now=now)
        return await mark_on_wire(db, owner=owner, ids=wire, now=now)
    result = await db.execute(
        _ROUND, {**_result_arrays(rows, owner=owner, now=now), "wire": list(wire)}
    )
    return frozenset(result.scalar() or ())


# Data-modifying CTEs run whether or not the main query reads them.
_ROUND = text(
    f"""
WITH results AS ({_RESULTS_SQL} AND d.claimed_by = CAST(:owner AS varchar)),
wire AS ({_WIRE_SQL})
SELECT array_agg(id) FROM wire"""
)


def positional(sql: str) -> tuple[str, list[str]]:
    """`:name` parameters as asyncpg's `$n`, and the names in their order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in names:
            names.append(match.group(1))
        return f"${names.index(match.group(1)) + 1}"

    return re.sub(r"(?<!:):(\w+)", number, sql), names


_ROUND_POSITIONAL, _ROUND_NAMES = positional(_ROUND.text)


async def write_round_asyncpg(
    driver: Any, *, owner: str, rows: Sequence[ResultRow], wire: Sequence[int], now: datetime
) -> frozenset[int]:
    """write_round's statement on a PostgreSQL run's own connection, sent through asyncpg
    itself (`driver`: the asyncpg connection under the run's AsyncConnection, in autocommit):
    the same text, prepared once by asyncpg's statement cache. SQLAlchemy's layer was 180 of
    the 300 µs of CPU a round cost the dispatcher (bench/round.py: 303 against 120)."""
    values = {**_result_arrays(rows, owner=owner, now=now), "wire": list(wire)}
    marked = await driver.fetchval(_ROUND_POSITIONAL, *(values[name] for name in _ROUND_NAMES))
    return frozenset(marked or ())


async def insert_queued_for_tokens(
    session: AsyncSession,
    *,
    federation_id: int,
    kind: DeliveryKind,
    tokens: Mapping[int, int],
    at: datetime,
) -> None:
    """Queue one transactional mail per subscriber id → token id (the importer's
    confirmation mails), as one statement."""
    if not tokens:
        return
    if _is_pg(session):
        # INSERT … SELECT FROM unnest(two arrays): one statement and four parameters for the
        # batch. An executemany was a statement per row, a third of a pending import's time.
        await session.execute(
            _QUEUED_FROM_ARRAYS,
            {
                "federation_id": federation_id,
                "kind": kind.value,
                "priority": int(Priority.TRANSACTIONAL),
                "at": at,
                "subscribers": list(tokens),
                "tokens": list(tokens.values()),
            },
        )
        return
    await session.execute(
        insert(cast(Table, Delivery.__table__)),
        [
            {
                "federation_id": federation_id,
                "kind": kind,
                "subscriber_id": subscriber_id,
                "token_id": token_id,
                "status": DeliveryStatus.QUEUED,
                "priority": Priority.TRANSACTIONAL,
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": at,
                "updated_at": at,
            }
            for subscriber_id, token_id in tokens.items()
        ],
    )


_QUEUED_FROM_ARRAYS = text(
    "INSERT INTO deliveries (federation_id, kind, subscriber_id, token_id, status, priority, "
    "attempts, next_attempt_at, created_at, updated_at) "
    "SELECT CAST(:federation_id AS integer), CAST(:kind AS varchar), v.subscriber_id, "
    "v.token_id, 'queued', CAST(:priority AS integer), 0, CAST(:at AS timestamptz), "
    "CAST(:at AS timestamptz), CAST(:at AS timestamptz) "
    "FROM unnest(CAST(:subscribers AS integer[]), CAST(:tokens AS integer[])) "
    "AS v(subscriber_id, token_id)"
)


async def requeue_unknown(
    session: AsyncSession, *, federation_id: int, campaign_id: int, now: datetime
) -> int:
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.federation_id == federation_id,
            Delivery.campaign_id == campaign_id,
            Delivery.status == DeliveryStatus.UNKNOWN,
        )
        .values(status=DeliveryStatus.QUEUED, next_attempt_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def fail_sent_delivery(
    session: AsyncSession, *, delivery_id: int, enhanced: str | None, reply: str, now: datetime
) -> int | None:
    """Turn a `sent` delivery into `failed` after a bounce report; returns its subscriber id.

    Not scoped by federation: the id comes from a signed VERP address, which only this
    installation can produce, and a bounce processor serves every federation."""
    row = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.status == DeliveryStatus.SENT)
        .values(
            status=DeliveryStatus.FAILED,
            enhanced_code=enhanced,
            smtp_reply=reply,
            updated_at=now,
        )
        .returning(Delivery.subscriber_id)
        .execution_options(synchronize_session=False)
    )
    found = row.first()
    return None if found is None else found[0]


async def record_bounces(
    session: AsyncSession, *, hard: Sequence[int], soft: Sequence[int], now: datetime
) -> None:
    if hard:
        await session.execute(
            update(Subscriber)
            .where(Subscriber.id.in_(hard))
            .values(
                bounce_state=BounceState.HARD,
                bounce_count=Subscriber.bounce_count + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
    if soft:
        await session.execute(
            update(Subscriber)
            .where(Subscriber.id.in_(soft))
            .values(
                bounce_state=case(
                    (Subscriber.bounce_state == BounceState.HARD, BounceState.HARD.value),
                    else_=BounceState.SOFT.value,
                ),
                bounce_count=Subscriber.bounce_count + 1,
                updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )


async def pause_campaigns(
    session: AsyncSession, *, reasons: dict[int, str], now: datetime
) -> list[int]:
    paused: list[int] = []
    for campaign_id, reason in reasons.items():
        result = await session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id, Campaign.status == CampaignStatus.SENDING)
            .values(status=CampaignStatus.PAUSED, paused_reason=reason, updated_at=now)
            .returning(Campaign.id)
        )
        if result.scalar_one_or_none() is not None:
            paused.append(campaign_id)
    return paused


async def finish_campaigns(session: AsyncSession, *, now: datetime) -> list[int]:
    """A sending campaign with nothing queued, deferred or in flight is sent.

    PostgreSQL: the candidates are locked first and checked again by a second statement, whose
    snapshot is taken after the locks. A single UPDATE that waited for a campaign's row (a
    "send again" that had queued its unknown deliveries and locked the campaign) would recheck
    only the row after the wait, not its NOT EXISTS, and mark a campaign sent with those
    deliveries queued under it."""
    open_work = exists().where(
        Delivery.campaign_id == Campaign.id,
        Delivery.kind == DeliveryKind.CAMPAIGN,
        Delivery.status.in_(OPEN),
    )
    done = and_(Campaign.status == CampaignStatus.SENDING, not_(open_work))
    if _is_pg(session):
        # In id order, so two dispatchers finishing at once lock them in the same order.
        locked = await session.scalars(
            lock_for_change(select(Campaign.id).where(done).order_by(Campaign.id))
        )
        candidates = list(locked)
        if not candidates:
            return []
        done = and_(done, Campaign.id.in_(candidates))
    result = await session.execute(
        update(Campaign)
        .where(done)
        .values(status=CampaignStatus.SENT, finished_at=now, updated_at=now)
        .returning(Campaign.id)
        .execution_options(synchronize_session=False)
    )
    return [r[0] for r in result.all()]


async def sending_owners(session: AsyncSession) -> list[tuple[str, datetime | None, int]]:
    """Each dispatcher holding rows in `sending`, with its earliest lease end."""
    rows = await session.execute(
        select(Delivery.claimed_by, func.min(Delivery.lease_until), func.count())
        .where(Delivery.status == DeliveryStatus.SENDING)
        .group_by(Delivery.claimed_by)
    )
    return [(r[0] or "", r[1], int(r[2])) for r in rows.all()]


async def renew_leases(session: AsyncSession, *, owner: str, lease_until: datetime) -> int:
    """Hold a live dispatcher's rows still `sending` until `lease_until`; how many."""
    result = await session.execute(
        update(Delivery)
        .where(Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_by == owner)
        .values(lease_until=lease_until)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def sending_ids(session: AsyncSession, *, owner: str) -> dict[int, bool]:
    """A dispatcher's rows still `sending`: id → whether it was marked on the wire."""
    rows = await session.execute(
        select(Delivery.id, Delivery.wire_at.is_not(None)).where(
            Delivery.status == DeliveryStatus.SENDING, Delivery.claimed_by == owner
        )
    )
    return {r[0]: bool(r[1]) for r in rows.all()}


async def mark_on_wire(
    db: AsyncSession | AsyncConnection, *, owner: str, ids: Sequence[int], now: datetime
) -> frozenset[int]:
    """One statement for a round of connections about to start DATA; an array (PostgreSQL)
    or a JSON list (SQLite): the same statement text whatever the round holds. Returns the ids
    it marked: only rows the run still holds, `sending`."""
    if not ids:
        return frozenset()
    if _is_pg(db):
        result = await db.execute(_WIRE_FROM_ARRAY, {"wire": list(ids), "owner": owner, "now": now})
    else:
        stamp = sqlite_stamp(_dialect(db))(now)
        result = await db.execute(
            _SQLITE_WIRE, {"wire": json.dumps(list(ids)), "owner": owner, "now": stamp}
        )
    return frozenset(result.scalars())


_WIRE_FROM_ARRAY = text(_WIRE_SQL)
_SQLITE_WIRE = text(
    "UPDATE deliveries SET wire_at = :now WHERE id IN (SELECT value FROM json_each(:wire)) "
    "AND claimed_by = :owner AND +status = 'sending' RETURNING id"
)


async def campaign_progress(
    session: AsyncSession, *, campaign_ids: Sequence[int]
) -> dict[int, tuple[int, int]]:
    """(sent, total) per campaign."""
    if not campaign_ids:
        return {}
    rows = await session.execute(
        select(
            Delivery.campaign_id,
            func.count().filter(Delivery.status == DeliveryStatus.SENT),
            func.count(),
        )
        .where(Delivery.campaign_id.in_(campaign_ids), Delivery.kind == DeliveryKind.CAMPAIGN)
        .group_by(Delivery.campaign_id)
    )
    return {int(r[0] or 0): (int(r[1]), int(r[2])) for r in rows.all()}


async def counts_by_state(session: AsyncSession) -> list[tuple[str, str, int]]:
    """(federation slug, status, count) for the metrics gauge."""
    rows = await session.execute(
        select(Federation.slug, Delivery.status, func.count())
        .join(Federation, Federation.id == Delivery.federation_id)
        .group_by(Federation.slug, Delivery.status)
    )
    return [(r[0], str(r[1]), int(r[2])) for r in rows.all()]


@dataclass(frozen=True)
class Outcome:
    """One recipient's delivery of a campaign, as staff see it (the address is NULL once the
    subscriber was erased)."""

    id: int
    email: str | None
    status: DeliveryStatus
    attempts: int
    smtp_code: int | None
    enhanced_code: str | None
    smtp_reply: str | None
    updated_at: datetime


async def campaign_outcomes(
    session: AsyncSession,
    *,
    federation_id: int,
    campaign_id: int,
    status: DeliveryStatus | None,
    before_id: int | None,
    limit: int,
    bounced: bool = False,
) -> list[Outcome]:
    """A campaign's per-recipient deliveries, newest id first, optionally of one status or
    only the bounced ones."""
    query = (
        select(
            Delivery.id,
            Subscriber.email,
            Delivery.status,
            Delivery.attempts,
            Delivery.smtp_code,
            Delivery.enhanced_code,
            Delivery.smtp_reply,
            Delivery.updated_at,
        )
        .outerjoin(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(
            Delivery.federation_id == federation_id,
            Delivery.campaign_id == campaign_id,
            Delivery.kind == DeliveryKind.CAMPAIGN,
        )
    )
    if status is not None:
        query = query.where(Delivery.status == status)
    if bounced:
        # Bounced: the receiving side refused the message for good, at RCPT or DATA (a 5xx
        # reply) or afterwards in a delivery status report (a 5.x.x status on a row that was
        # sent). A failure after giving up on 4xx retries is failed, not bounced.
        query = query.where(
            Delivery.status == DeliveryStatus.FAILED,
            or_(Delivery.smtp_code.between(500, 599), Delivery.enhanced_code.like("5.%")),
        )
    if before_id is not None:
        query = query.where(Delivery.id < before_id)
    result = await session.execute(query.order_by(Delivery.id.desc()).limit(limit))
    return [Outcome(*row) for row in result.all()]
