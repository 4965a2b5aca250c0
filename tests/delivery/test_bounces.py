"""Bounce reports (RFC 3464 DSNs) that arrive at the signed VERP address after acceptance."""

from __future__ import annotations

import os
import subprocess
import sys
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import now
from app.delivery import repository as repo
from app.delivery import service
from app.delivery.bounces import parse_dsn, verp_address
from app.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from app.federations.models import Federation
from app.subscribers.models import BounceState, Subscriber, SubscriptionStatus
from tests.fixtures import ROOT
from tests.fixtures.factories import make_federation


def make_dsn(to: str, *, action: str = "failed", status: str = "5.1.1") -> bytes:
    """A DSN as Postfix writes it: multipart/report with a message/delivery-status part."""
    text = f"""\
From: MAILER-DAEMON@mx.mottagare.example.se
To: {to}
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="GRANS"

--GRANS
Content-Type: text/plain; charset=utf-8

Meddelandet kunde inte levereras.

--GRANS
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.mottagare.example.se
Arrival-Date: Mon, 23 Nov 2026 10:00:00 +0100

Final-Recipient: rfc822; karin@mottagare.example.se
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 {status} User unknown

--GRANS--
"""
    return text.replace("\n", "\r\n").encode()


@pytest.fixture
async def sent_delivery(session: AsyncSession) -> Delivery:
    federation = Federation(
        slug="studsa",
        name="Samordningsförbundet Studsa",
        from_email="nyhetsbrev@studsa.example.se",
        from_name="Samordningsförbundet Studsa",
    )
    session.add(federation)
    await session.flush()
    subscriber = Subscriber(
        federation_id=federation.id,
        email="karin@mottagare.example.se",
        status=SubscriptionStatus.CONFIRMED,
    )
    session.add(subscriber)
    await session.flush()
    delivery = Delivery(
        federation_id=federation.id,
        kind=DeliveryKind.CONFIRMATION,
        subscriber_id=subscriber.id,
        status=DeliveryStatus.SENT,
    )
    session.add(delivery)
    await session.flush()
    return delivery


async def _reload(session: AsyncSession, delivery: Delivery) -> tuple[Delivery, Subscriber]:
    d = await session.scalar(
        select(Delivery).where(Delivery.id == delivery.id).execution_options(populate_existing=True)
    )
    s = await session.scalar(
        select(Subscriber)
        .where(Subscriber.id == delivery.subscriber_id)
        .execution_options(populate_existing=True)
    )
    assert d is not None
    assert s is not None
    return d, s


class TestBounceReports:
    async def test_permanent_failure_marks_delivery_and_hard_bounce(
        self, session: AsyncSession, sent_delivery: Delivery
    ) -> None:
        raw = make_dsn(verp_address(sent_delivery.id, "studsa.example.se"))
        report = parse_dsn(raw)
        assert report is not None
        assert (report.delivery_id, report.action, report.status) == (
            sent_delivery.id,
            "failed",
            "5.1.1",
        )
        assert await service.record_bounce_report(session, report=report) is True
        delivery, subscriber = await _reload(session, sent_delivery)
        assert delivery.status == DeliveryStatus.FAILED
        assert delivery.enhanced_code == "5.1.1"
        assert subscriber.bounce_state == BounceState.HARD
        # The same report again changes nothing and counts no second bounce.
        assert await service.record_bounce_report(session, report=report) is False
        _, again = await _reload(session, sent_delivery)
        assert again.bounce_count == 1

    async def test_mailbox_full_is_a_soft_bounce(
        self, session: AsyncSession, sent_delivery: Delivery
    ) -> None:
        raw = make_dsn(verp_address(sent_delivery.id, "studsa.example.se"), status="5.2.2")
        report = parse_dsn(raw)
        assert report is not None
        assert await service.record_bounce_report(session, report=report) is True
        _, subscriber = await _reload(session, sent_delivery)
        assert subscriber.bounce_state == BounceState.SOFT

    @pytest.mark.parametrize(
        ("action", "status"),
        [
            ("delayed", "4.4.1"),
            # Each half of "failed with a 5.x.x status" on its own: neither is a failure.
            ("delivered", ""),
            ("failed", "4.4.7"),
        ],
    )
    async def test_only_a_failed_action_with_a_permanent_status_counts(
        self, session: AsyncSession, sent_delivery: Delivery, action: str, status: str
    ) -> None:
        raw = make_dsn(
            verp_address(sent_delivery.id, "studsa.example.se"), action=action, status=status
        )
        report = parse_dsn(raw)
        assert report is not None
        assert await service.record_bounce_report(session, report=report) is False
        delivery, subscriber = await _reload(session, sent_delivery)
        assert delivery.status == DeliveryStatus.SENT
        assert subscriber.bounce_state == BounceState.OK

    async def test_forged_signature_is_ignored(self, sent_delivery: Delivery) -> None:
        forged = f"bounces+{sent_delivery.id}-aaaaaaaa@studsa.example.se"
        assert parse_dsn(make_dsn(forged)) is None
        unsigned = f"bounces+{sent_delivery.id}@studsa.example.se"
        assert parse_dsn(make_dsn(unsigned)) is None

    async def test_envelope_recipient_wins_and_plain_mail_is_not_a_report(
        self, sent_delivery: Delivery
    ) -> None:
        address = verp_address(sent_delivery.id, "studsa.example.se")
        report = parse_dsn(make_dsn("postmaster@studsa.example.se"), envelope_recipient=address)
        assert report is not None
        assert report.delivery_id == sent_delivery.id
        plain = EmailMessage()
        plain["To"] = address
        plain.set_content("Tack för brevet!")
        assert parse_dsn(plain.as_bytes()) is None
        # A bounce someone forwards as an attachment is not a report (RFC 3464 §2).
        forwarded = make_dsn(address).replace(
            b"multipart/report; report-type=delivery-status", b"multipart/mixed"
        )
        assert parse_dsn(forwarded) is None


class TestBounceCommand:
    def test_pipe_reads_standard_input(self, tmp_path: Path) -> None:
        env = {
            **os.environ,
            "NEWSLETTER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/b.db",
        }

        def cli(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
            return subprocess.run(
                [sys.executable, "-m", "app.cli", *args],
                input=stdin,
                env=env,
                capture_output=True,
                check=False,
                cwd=ROOT,
            )

        assert cli("db", "upgrade").returncode == 0
        ignored = cli("bounce", stdin=b"Subject: hej\r\n\r\nInget fel.\r\n")
        assert ignored.returncode == 0
        assert b"ignored" in ignored.stdout
        address = verp_address(987654, "studsa.example.se")
        unknown = cli("bounce", "--recipient", address, stdin=make_dsn("postmaster@x.example"))
        assert unknown.returncode == 0, unknown.stderr
        assert b"delivery 987654: failed 5.1.1 (no change)" in unknown.stdout


class TestBounceCounts:
    async def test_a_soft_bounce_never_undoes_a_hard_one(self, session: AsyncSession) -> None:
        federation = await make_federation(session, "studsa-tva")
        subscriber = Subscriber(
            federation_id=federation.id,
            email="karin@mottagare.example.se",
            status=SubscriptionStatus.CONFIRMED,
            bounce_state=BounceState.HARD,
            bounce_count=1,
        )
        fresh = Subscriber(
            federation_id=federation.id,
            email="lars@mottagare.example.se",
            status=SubscriptionStatus.CONFIRMED,
        )
        session.add_all([subscriber, fresh])
        await session.commit()

        await repo.record_bounces(session, hard=[], soft=[subscriber.id, fresh.id], now=now())
        await session.commit()

        await session.refresh(subscriber)
        await session.refresh(fresh)
        assert (subscriber.bounce_state, subscriber.bounce_count) == (BounceState.HARD, 2)
        assert (fresh.bounce_state, fresh.bounce_count) == (BounceState.SOFT, 1)
