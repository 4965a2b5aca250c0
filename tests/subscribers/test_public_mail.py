"""The confirmation and self-service mails as bytes: headers, MIME structure, accessibility."""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import dkim
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app import composition
from app.config import get_settings
from app.delivery.models import Delivery, DeliveryKind
from app.errors import NotFound, Unprocessable
from app.federations.models import Federation
from app.subscribers import service, tokens
from app.subscribers.models import Token, TokenPurpose
from tests.fixtures.dkim import dkim_keypair
from tests.fixtures.factories import make_federation, pending_with_token
from tests.fixtures.smtp import SmtpRecorder
from tests.fixtures.staff import invite


async def _pending(session: AsyncSession, email: str = "anna@exempel.se") -> tuple[int, Delivery]:
    fed = await make_federation(session, name="Samordningsförbundet Exempel")
    subscriber, token = await pending_with_token(session, fed, email, "Anna <script>x</script>")
    delivery = Delivery(
        federation_id=fed.id,
        kind=DeliveryKind.CONFIRMATION,
        subscriber_id=subscriber.id,
        token_id=token.id,
        priority=10,
    )
    session.add(delivery)
    await session.flush()
    return fed.id, delivery


async def _self_service(
    session: AsyncSession, fed_id: int, subscriber_id: int
) -> tuple[Token, Delivery]:
    """A self-service ("mina uppgifter") link token and its delivery, added to the session."""
    token = tokens.new_token(
        federation_id=fed_id,
        subscriber_id=subscriber_id,
        purpose=TokenPurpose.SELF_SERVICE,
        expires_at=None,
    )
    session.add(token)
    await session.flush()
    row = Delivery(
        federation_id=fed_id,
        kind=DeliveryKind.SELF_SERVICE,
        subscriber_id=subscriber_id,
        token_id=token.id,
        priority=10,
    )
    session.add(row)
    await session.flush()
    return token, row


def _parse(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


class TestConfirmationMail:
    async def test_wire_format(self, session: AsyncSession) -> None:
        _, delivery = await _pending(session)
        recipient, raw = await service.build_transactional_mail(session, delivery=delivery)
        assert recipient == "anna@exempel.se"
        assert b"\r\n" in raw
        assert b"\n" not in raw.replace(b"\r\n", b"")
        assert max(len(line) for line in raw.split(b"\r\n")) <= 998
        msg = _parse(raw)
        for header in ("From", "To", "Subject", "Date", "Message-ID", "Reply-To"):
            assert len(msg.get_all(header) or []) == 1, header
        assert msg["To"] == "anna@exempel.se"
        assert msg["From"].addresses[0].display_name == "Samordningsförbundet Exempel"
        assert msg["From"].addresses[0].addr_spec == "nyhetsbrev@sfhbs.example.se"
        assert "Bekräfta" in msg["Subject"]
        assert re.fullmatch(r"<[^@>]+@sfhbs\.example\.se>", msg["Message-ID"])
        # Numeric zone of the federation (Europe/Stockholm: +01:00 or +02:00).
        assert parsedate_to_datetime(msg["Date"]).utcoffset() in {
            timedelta(hours=1),
            timedelta(hours=2),
        }
        assert msg["Auto-Submitted"] == "auto-generated"
        assert msg["List-Unsubscribe"] is None
        assert msg["List-Unsubscribe-Post"] is None
        assert msg.get_content_type() == "multipart/alternative"
        parts = list(msg.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
        assert all(p.get_content_charset() == "utf-8" for p in parts)

    async def test_content_has_link_in_both_parts_and_no_form_text(
        self, session: AsyncSession
    ) -> None:
        _, delivery = await _pending(session)
        _, raw = await service.build_transactional_mail(session, delivery=delivery)
        msg = _parse(raw)
        text, html = (str(p.get_content()) for p in msg.iter_parts())
        link = re.search(r"https://nyhetsbrev\.example\.se/f/sfhbs/bekrafta/[\w-]{32}", text)
        assert link
        assert link.group(0) in html
        assert "Anna" not in text
        assert "Anna" not in html
        assert "script" not in html
        assert "å" in text
        assert "ä" in html
        assert '<html lang="sv">' in html
        assert 'lang="sv"' in html.split("<body", 1)[1]
        assert "<title>" in html
        assert 'role="presentation"' in html
        assert html.count("<h1") == 1
        assert "prefers-color-scheme" in html
        assert 'name="color-scheme"' in html
        assert "<script" not in html
        assert "<form" not in html
        assert len(html.encode()) < 90_000
        assert "Länken gäller i 7 dagar" in text

    async def test_self_service_mail_links_my_data_page(self, session: AsyncSession) -> None:
        fed_id, delivery = await _pending(session)
        assert delivery.subscriber_id is not None
        token, row = await _self_service(session, fed_id, delivery.subscriber_id)
        _, raw = await service.build_transactional_mail(session, delivery=row)
        text = str(_parse(raw).get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]
        assert f"/f/sfhbs/mina-uppgifter/{tokens.raw_token(token)}" in text

    async def test_erased_subscriber_and_wrong_kind_are_refused(
        self, session: AsyncSession
    ) -> None:
        _, delivery = await _pending(session)
        delivery.subscriber_id = None
        with pytest.raises(NotFound):
            await service.build_transactional_mail(session, delivery=delivery)
        delivery.kind = DeliveryKind.CAMPAIGN
        with pytest.raises(Unprocessable):
            await service.build_transactional_mail(session, delivery=delivery)


class TestDkim:
    async def test_confirmation_self_service_and_sign_in_mail_are_signed_like_campaigns(
        self,
        session: AsyncSession,
        smtp_server: SmtpRecorder,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        pem, txt = dkim_keypair(tmp_path)
        monkeypatch.setenv("NEWSLETTER_DKIM_SELECTOR", "nb2026")
        monkeypatch.setenv("NEWSLETTER_DKIM_PRIVATE_KEY_PATH", str(pem))
        get_settings.cache_clear()
        fed_id, confirmation = await _pending(session)
        assert confirmation.subscriber_id is not None
        await _self_service(session, fed_id, confirmation.subscriber_id)
        await session.commit()
        federation = await session.get(Federation, fed_id)
        await invite(session, federation, "redaktor@example.se")  # queues a sign-in link

        report = await composition.dispatch_once()

        assert report.sent == 3
        assert [rcpts for _, rcpts, _ in smtp_server.envelopes].count(["redaktor@example.se"]) == 1

        def dns(name: bytes, timeout: int = 5) -> bytes:
            assert name == b"nb2026._domainkey.sfhbs.example.se."
            return txt

        for _, _, raw in smtp_server.envelopes:
            assert raw.startswith(b"DKIM-Signature:")
            assert dkim.verify(raw, dnsfunc=dns)
