"""Retention (`newsletter purge`): unconfirmed sign-ups, unsubscribed subscribers, expired
tokens, client data, the audit log; logged."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.actors import Actor
from app.audit import service as audit_service
from app.audit.models import AuditAction, AuditEntry
from app.delivery.models import Delivery, DeliveryKind
from app.federations.models import Federation
from app.subscribers import retention
from app.subscribers import service as subscriber_service
from app.subscribers import tokens as token_service
from app.subscribers.models import ConsentRecord, RetentionRun, Subscriber, Token, TokenPurpose
from app.subscribers.schemas import SubscriberCreate
from tests.fixtures.factories import make_federation

T0 = datetime(2026, 1, 10, 9, tzinfo=UTC)


@pytest.fixture
async def alfa(session: AsyncSession) -> Federation:
    return await make_federation(session, "sf-alfa")


async def add(session: AsyncSession, federation: Federation, email: str, **kw: object) -> int:
    subscriber = await subscriber_service.create_subscriber(
        session,
        federation=federation,
        data=SubscriberCreate(email=email, **kw),
        actor=Actor.system("test"),
    )
    return subscriber.id


async def logged(session: AsyncSession, kind: str) -> dict[int | None, int]:
    """Each federation's count for one rule in the latest run."""
    runs = await session.scalars(
        select(RetentionRun).where(RetentionRun.kind == kind, RetentionRun.ran_at == clock.now())
    )
    return {r.federation_id: r.count for r in runs}


async def test_purge_applies_each_rule_once(
    session: AsyncSession, alfa: Federation, frozen_clock: None, caplog: pytest.LogCaptureFixture
) -> None:
    clock.freeze(T0)
    old_pending = await add(session, alfa, "gammal@example.se")
    confirmed = await add(session, alfa, "kvar@example.se", status="confirmed", consent_note="ok")
    # Client data as if stored with STORE_IP_AND_USER_AGENT on.
    await session.execute(
        ConsentRecord.__table__.update().values(ip_address="198.51.100.4", user_agent="Firefox")
    )
    clock.freeze(T0 + timedelta(days=29))
    fresh_pending = await add(session, alfa, "ny@example.se")
    await session.commit()

    clock.freeze(T0 + timedelta(days=31))
    with caplog.at_level(logging.INFO, logger=retention.log.name):
        summary = await retention.purge(session)
    await session.commit()
    # The log line names every rule with its count, as the retention_runs rows do.
    (logged,) = [r.getMessage() for r in caplog.records if alfa.slug in r.getMessage()]
    assert logged == (
        f"retention for {alfa.slug}: unconfirmed_subscribers 1, unsubscribed_subscribers 0, "
        "expired_tokens 0, consent_client_data 0, audit_log 0"
    )

    remaining = set(await session.scalars(select(Subscriber.id)))
    assert remaining == {confirmed, fresh_pending}
    assert old_pending not in remaining
    assert summary.unconfirmed == 1
    # The old sign-up's confirmation mail stays as a row but keeps no link to the person.
    kept = (
        await session.scalars(select(Delivery).where(Delivery.kind == DeliveryKind.CONFIRMATION))
    ).all()
    assert sorted(d.subscriber_id or 0 for d in kept) == [0, fresh_pending]
    # fresh_pending's confirm token expired on day 36; the old sign-up's tokens went with it.
    assert summary.tokens == 0
    assert summary.client_data == 0  # consent records are 31 days old; IP kept for 90

    runs = (await session.scalars(select(RetentionRun).order_by(RetentionRun.kind))).all()
    assert [(r.federation_id, r.kind, r.count) for r in runs if r.federation_id is None] == [
        (None, "audit_log", 0)
    ]
    assert [(r.federation_id, r.kind, r.count) for r in runs if r.federation_id is not None] == [
        (alfa.id, "audit_log", 0),
        (alfa.id, "consent_client_data", 0),
        (alfa.id, "expired_tokens", 0),
        (alfa.id, "unconfirmed_subscribers", 1),
        (alfa.id, "unsubscribed_subscribers", 0),
    ]

    # Later: the fresh sign-up's confirmation token expired 7+ days ago, IPs are 90+ days old.
    clock.freeze(T0 + timedelta(days=29 + 7 + 7 + 1))
    again = await retention.purge(session)
    assert (again.unconfirmed, again.tokens) == (0, 1)  # fresh_pending is 15 days old
    clock.freeze(T0 + timedelta(days=91))
    later = await retention.purge(session)
    assert (later.unconfirmed, later.client_data) == (1, 1)
    ips = list(await session.scalars(select(ConsentRecord.ip_address)))
    assert ips == [None]

    # Idempotent: nothing more to do.
    last = await retention.purge(session)
    assert (last.unconfirmed, last.tokens, last.client_data) == (0, 0, 0)
    # Four runs, each: five rules for the federation and the install-wide audit rows.
    assert await session.scalar(select(func.count(RetentionRun.id))) == 24


async def test_expired_tokens_are_deleted_after_the_grace_period(
    session: AsyncSession, alfa: Federation, frozen_clock: None
) -> None:
    clock.freeze(T0)
    sid = await add(session, alfa, "kvar@example.se", status="confirmed", consent_note="ok")
    session.add(
        token_service.new_token(
            federation_id=alfa.id,
            subscriber_id=sid,
            purpose=TokenPurpose.SELF_SERVICE,
            expires_at=T0 + timedelta(days=1),
        )
    )
    await session.commit()
    clock.freeze(T0 + timedelta(days=7))
    assert (await retention.purge(session)).tokens == 0
    clock.freeze(T0 + timedelta(days=9))
    assert (await retention.purge(session)).tokens == 1
    # The unsubscribe token never expires and stays.
    assert list(await session.scalars(select(Token.purpose))) == [TokenPurpose.UNSUBSCRIBE]


async def test_unsubscribed_are_purged_after_the_federations_period(
    session: AsyncSession, alfa: Federation, frozen_clock: None
) -> None:
    clock.freeze(T0)
    beta = await make_federation(session, "sf-beta", unsubscribed_retention_days=30)
    left_alfa = await add(session, alfa, "a@example.se", status="confirmed", consent_note="ok")
    left_beta = await add(session, beta, "b@example.se", status="confirmed", consent_note="ok")
    stays = await add(session, beta, "c@example.se", status="confirmed", consent_note="ok")
    for sid, federation in ((left_alfa, alfa), (left_beta, beta)):
        await subscriber_service.unsubscribe_on_request(
            session, federation=federation, subscriber_id=sid, note=None, actor=Actor.system("test")
        )
    await session.commit()

    clock.freeze(T0 + timedelta(days=31))
    summary = await retention.purge(session)
    remaining = set(await session.scalars(select(Subscriber.id)))
    # beta keeps leavers 30 days; alfa the default 365.
    assert remaining == {left_alfa, stays}
    assert summary.unsubscribed == 1
    logged = await session.scalars(
        select(RetentionRun.count).where(
            RetentionRun.federation_id == beta.id, RetentionRun.kind == "unsubscribed_subscribers"
        )
    )
    assert list(logged) == [1]
    clock.freeze(T0 + timedelta(days=366))
    assert (await retention.purge(session)).unsubscribed == 1
    assert set(await session.scalars(select(Subscriber.id))) == {stays}


async def test_audit_rows_past_their_period_are_deleted_and_the_run_logged(
    session: AsyncSession, alfa: Federation, frozen_clock: None
) -> None:
    """AUDIT_RETENTION_DAYS (730): the federation's rows and the install-wide ones (an install
    admin's sign-in without a federation) go when due; newer rows and other rules stay."""
    beta = await make_federation(session, "sf-beta")
    clock.freeze(T0)
    for federation_id in (alfa.id, beta.id, None):
        await audit_service.record(
            session,
            actor=Actor.system("test"),
            action=AuditAction.SETTINGS_CHANGED,
            federation_id=federation_id,
            summary="gammal",
        )
    clock.freeze(T0 + timedelta(days=400))
    await audit_service.record(
        session,
        actor=Actor.system("test"),
        action=AuditAction.SETTINGS_CHANGED,
        federation_id=alfa.id,
        summary="nyare",
    )
    await session.commit()

    clock.freeze(T0 + timedelta(days=729))
    assert (await retention.purge(session)).audit == 0
    clock.freeze(T0 + timedelta(days=731))
    summary = await retention.purge(session)
    await session.commit()

    assert summary.audit == 3
    left = (await session.scalars(select(AuditEntry.summary))).all()
    assert left == ["nyare"]
    runs = (
        await session.scalars(
            select(RetentionRun).where(
                RetentionRun.kind == "audit_log", RetentionRun.ran_at == clock.now()
            )
        )
    ).all()
    assert sorted((r.federation_id or 0, r.count) for r in runs) == [
        (0, 1),
        (alfa.id, 1),
        (beta.id, 1),
    ]


async def test_a_sign_up_is_kept_to_the_end_of_its_period(
    session: AsyncSession, alfa: Federation, frozen_clock: None
) -> None:
    clock.freeze(T0)
    pending = await add(session, alfa, "vantar@example.se")
    await session.commit()
    clock.freeze(T0 + timedelta(days=30))
    assert (await retention.purge(session)).unconfirmed == 0
    assert list(await session.scalars(select(Subscriber.id))) == [pending]
    clock.freeze(T0 + timedelta(days=30, seconds=1))
    assert (await retention.purge(session)).unconfirmed == 1
    assert list(await session.scalars(select(Subscriber.id))) == []


async def test_one_run_deletes_every_due_sign_up_whatever_the_batch_size(
    session: AsyncSession, alfa: Federation, frozen_clock: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "BATCH", 2)
    clock.freeze(T0)
    for name in ("asa", "bengt", "cilla", "dag", "eira"):
        await add(session, alfa, f"{name}@example.se")
    await session.commit()
    clock.freeze(T0 + timedelta(days=31))
    assert (await retention.purge(session)).unconfirmed == 5
    assert await session.scalar(select(func.count(Subscriber.id))) == 0
    assert await logged(session, "unconfirmed_subscribers") == {alfa.id: 5}


async def test_a_deleted_sign_ups_mail_keeps_no_trace_of_the_address(
    session: AsyncSession, alfa: Federation, frozen_clock: None
) -> None:
    clock.freeze(T0)
    pending = await add(session, alfa, "studsar@example.se")
    # The relay refused the confirmation mail, quoting the address.
    await session.execute(
        update(Delivery)
        .where(Delivery.subscriber_id == pending)
        .values(smtp_reply="550 5.1.1 <studsar@example.se>: okänd mottagare")
    )
    await session.commit()
    clock.freeze(T0 + timedelta(days=31))
    assert (await retention.purge(session)).unconfirmed == 1
    (mail,) = (await session.execute(select(Delivery.subscriber_id, Delivery.smtp_reply))).all()
    assert tuple(mail) == (None, None)


async def test_an_unsubscribed_subscriber_is_kept_to_the_end_of_the_period(
    session: AsyncSession, frozen_clock: None
) -> None:
    clock.freeze(T0)
    beta = await make_federation(session, "sf-beta", unsubscribed_retention_days=30)
    left = await add(session, beta, "slutat@example.se", status="confirmed", consent_note="ok")
    await subscriber_service.unsubscribe_on_request(
        session, federation=beta, subscriber_id=left, note=None, actor=Actor.system("test")
    )
    await session.commit()
    clock.freeze(T0 + timedelta(days=30))
    assert (await retention.purge(session)).unsubscribed == 0
    clock.freeze(T0 + timedelta(days=30, seconds=1))
    assert (await retention.purge(session)).unsubscribed == 1
    assert list(await session.scalars(select(Subscriber.id))) == []


async def self_service_token(
    session: AsyncSession, federation: Federation, email: str, expires_at: datetime
) -> None:
    sid = await add(session, federation, email, status="confirmed", consent_note="ok")
    session.add(
        token_service.new_token(
            federation_id=federation.id,
            subscriber_id=sid,
            purpose=TokenPurpose.SELF_SERVICE,
            expires_at=expires_at,
        )
    )
    await session.commit()


async def test_an_expired_token_is_kept_to_the_end_of_its_grace_period(
    session: AsyncSession, alfa: Federation, frozen_clock: None
) -> None:
    clock.freeze(T0)
    await self_service_token(session, alfa, "kvar@example.se", T0 + timedelta(days=1))
    # Expired on day 1; kept 7 days more.
    clock.freeze(T0 + timedelta(days=8))
    assert (await retention.purge(session)).tokens == 0
    clock.freeze(T0 + timedelta(days=8, seconds=1))
    assert (await retention.purge(session)).tokens == 1


async def test_each_federation_deletes_and_logs_its_own_expired_tokens(
    session: AsyncSession, alfa: Federation, frozen_clock: None
) -> None:
    clock.freeze(T0)
    beta = await make_federation(session, "sf-beta")
    await self_service_token(session, alfa, "alma@example.se", T0 + timedelta(days=1))
    await self_service_token(session, beta, "bertil@example.se", T0 + timedelta(days=1))
    clock.freeze(T0 + timedelta(days=9))
    assert (await retention.purge(session)).tokens == 2
    assert await logged(session, "expired_tokens") == {alfa.id: 1, beta.id: 1}


async def test_a_user_agent_without_an_ip_address_is_pruned_too(
    session: AsyncSession, alfa: Federation, frozen_clock: None
) -> None:
    clock.freeze(T0)
    await add(session, alfa, "kvar@example.se", status="confirmed", consent_note="ok")
    # A proxy that hid the client's address but passed its browser on.
    await session.execute(update(ConsentRecord).values(ip_address=None, user_agent="Firefox"))
    await session.commit()
    clock.freeze(T0 + timedelta(days=91))
    assert (await retention.purge(session)).client_data == 1
    kept = (await session.execute(select(ConsentRecord.ip_address, ConsentRecord.user_agent))).all()
    assert [tuple(r) for r in kept] == [(None, None)]
