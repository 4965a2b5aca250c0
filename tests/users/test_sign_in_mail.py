"""The sign-in link goes through the outbox and the real dispatcher to a real SMTP server."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import composition
from app.delivery.models import Delivery, DeliveryKind, DeliveryStatus
from tests.fixtures.factories import make_federation
from tests.fixtures.smtp import SmtpRecorder
from tests.fixtures.staff import csrf_of, invite, sign_in_with

EMAIL = "anna@example.se"


class TestSignInMailIsSent:
    async def test_dispatcher_sends_the_link_and_it_signs_in(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        smtp_server: SmtpRecorder,
    ) -> None:
        federation = await make_federation(session, "norr")
        await invite(session, federation, EMAIL)
        await composition.dispatch_once(sessionmaker=sessionmaker)
        [message] = smtp_server.to(EMAIL)
        assert message["Subject"] == "Din inloggningslänk till Redaktionen"
        assert message["From"].addresses[0].addr_spec == federation.from_email
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        match = re.search(
            r"https://nyhetsbrev\.example\.se(/redaktion/logga-in/\S{32})", body.get_content()
        )
        assert match
        status = await session.scalar(
            select(Delivery.status).where(Delivery.kind == DeliveryKind.SIGN_IN)
        )
        assert status == DeliveryStatus.SENT
        answer = await sign_in_with(client, match.group(1))
        assert answer.status_code == 303
        assert "<h1>Översikt</h1>" in (await client.get("/redaktion")).text

    async def test_a_replaced_link_is_not_sent(
        self,
        client: httpx.AsyncClient,
        session: AsyncSession,
        sessionmaker: async_sessionmaker[AsyncSession],
        smtp_server: SmtpRecorder,
    ) -> None:
        federation = await make_federation(session, "norr")
        await invite(session, federation, EMAIL)
        form = await client.get("/redaktion/logga-in")
        await client.post("/redaktion/logga-in", data={"csrf": csrf_of(form.text), "email": EMAIL})
        await composition.dispatch_once(sessionmaker=sessionmaker)
        # Only the newer link is worth sending: the older one can no longer sign in.
        assert len(smtp_server.to(EMAIL)) == 1
