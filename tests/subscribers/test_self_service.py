"""Self-service (mina uppgifter): a link by mail, then see, export and erase one's own data."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.actors import Actor
from app.clock import now
from app.delivery.models import Delivery, DeliveryKind
from app.federations.models import Federation
from app.subscribers import service as subscriber_service
from app.subscribers.models import ConsentRecord, Subscriber, Suppression, Token
from app.subscribers.schemas import SubscriberCreate
from tests.fixtures.checks import find_personal_data
from tests.fixtures.factories import make_federation
from tests.fixtures.smtp import SmtpRecorder

LINK_RE = re.compile(
    r"https://nyhetsbrev\.example\.se/f/sf-alfa/mina-uppgifter/([A-Za-z0-9_-]{32})"
)
EMAIL = "greta.nilsson@example.se"


@pytest.fixture
async def alfa(session: AsyncSession) -> Federation:
    federation = await make_federation(session, "sf-alfa")
    await subscriber_service.create_subscriber(
        session,
        federation=federation,
        data=SubscriberCreate(
            email=EMAIL,
            name="Greta Nilsson",
            status="confirmed",
            consent_note="Anmälde sig vid informationsträffen",
            attributes={"kommun": "Bjurholm"},
        ),
        actor=Actor.system("test"),
    )
    await session.commit()
    return federation


async def ask_for_link(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/f/sf-alfa/mina-uppgifter", data={"email": email, "website": ""})


def link_in(mail: SmtpRecorder, address: str) -> str:
    messages = mail.to(address)
    assert len(messages) == 1
    body = messages[0].get_body(("plain",))
    assert body is not None
    match = LINK_RE.search(body.get_content())
    assert match, body.get_content()
    return match.group(1)


class TestRequestLink:
    async def test_form_page_is_swedish_and_labelled(
        self, client: httpx.AsyncClient, alfa: Federation
    ) -> None:
        page = await client.get("/f/sf-alfa/mina-uppgifter")
        assert page.status_code == 200
        assert '<html lang="sv">' in page.text
        assert '<label for="email">' in page.text
        assert 'type="email" id="email" name="email" autocomplete="email"' in page.text
        assert "<script" not in page.text

    async def test_known_and_unknown_addresses_get_the_same_answer(
        self,
        client: httpx.AsyncClient,
        alfa: Federation,
        smtp_server: SmtpRecorder,
        session: AsyncSession,
    ) -> None:
        known = await ask_for_link(client, EMAIL.upper())
        unknown = await ask_for_link(client, "okand@example.se")
        assert known.status_code == unknown.status_code == 200
        assert known.text == unknown.text
        assert 'role="status"' in known.text
        assert "Kolla din inkorg" in known.text
        link_in(smtp_server, EMAIL)
        assert smtp_server.to("okand@example.se") == []
        kinds = list(await session.scalars(select(Delivery.kind)))
        assert kinds == [DeliveryKind.SELF_SERVICE]

    async def test_at_most_three_links_a_day(
        self, client: httpx.AsyncClient, alfa: Federation, smtp_server: SmtpRecorder
    ) -> None:
        for _ in range(5):
            assert (await ask_for_link(client, EMAIL)).status_code == 200
        assert len(smtp_server.to(EMAIL)) == 3

    async def test_invalid_address_is_explained_at_the_field(
        self, client: httpx.AsyncClient, alfa: Federation
    ) -> None:
        page = await ask_for_link(client, "inte en adress")
        assert page.status_code == 422
        assert 'aria-invalid="true"' in page.text
        assert 'aria-describedby="email-hint email-error"' in page.text

    async def test_honeypot_sends_nothing(
        self, client: httpx.AsyncClient, alfa: Federation, smtp_server: SmtpRecorder
    ) -> None:
        page = await client.post(
            "/f/sf-alfa/mina-uppgifter", data={"email": EMAIL, "website": "http://spam"}
        )
        assert page.status_code == 200
        assert smtp_server.envelopes == []

    async def test_rate_limited_per_ip(
        self, client: httpx.AsyncClient, alfa: Federation, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("NEWSLETTER_RATE_LIMIT_PER_IP_PER_MINUTE", "2")
        from app.config import get_settings

        get_settings.cache_clear()
        try:
            codes = [(await ask_for_link(client, "x@example.se")).status_code for _ in range(3)]
        finally:
            get_settings.cache_clear()
        assert codes == [200, 200, 429]


class TestOwnData:
    async def test_page_export_and_erasure(
        self,
        client: httpx.AsyncClient,
        alfa: Federation,
        smtp_server: SmtpRecorder,
        session: AsyncSession,
    ) -> None:
        await ask_for_link(client, EMAIL)
        token = link_in(smtp_server, EMAIL)
        url = f"/f/sf-alfa/mina-uppgifter/{token}"

        page = await client.get(url)
        assert page.status_code == 200
        assert EMAIL in page.text
        assert "Greta Nilsson" in page.text
        assert "Bjurholm" in page.text
        assert "Tillagd av förbundet med ditt samtycke" in page.text
        assert "Anmälde sig vid informationsträffen" in page.text
        assert f'<form method="post" action="{url}/radera">' in page.text
        # Looking changes nothing.
        assert await session.scalar(select(func.count(Subscriber.id))) == 1

        export = await client.get(f"{url}/export")
        assert export.status_code == 200
        assert export.headers["content-type"].startswith("application/json")
        document = export.json()
        assert document["prenumerant"]["email"] == EMAIL
        assert document["prenumerant"]["attributes"] == {"kommun": "Bjurholm"}
        assert [c["event"] for c in document["samtycke"]] == ["staff_confirmed"]

        erased = await client.post(f"{url}/radera")
        assert erased.status_code == 200
        assert "Dina uppgifter är raderade" in erased.text
        assert 'role="status"' in erased.text
        assert await find_personal_data(session, EMAIL, "Greta Nilsson", "Bjurholm") == []
        for table in (Subscriber, Token, ConsentRecord):
            assert await session.scalar(select(func.count()).select_from(table)) == 0
        assert await session.scalar(select(func.count(Suppression.id))) == 1
        # The link died with the data.
        assert (await client.get(url)).status_code == 404
        assert (await client.get(f"{url}/export")).status_code == 404
        assert (await client.post(f"{url}/radera")).status_code == 404

    async def test_expired_link_is_404_with_a_way_to_ask_again(
        self,
        client: httpx.AsyncClient,
        alfa: Federation,
        smtp_server: SmtpRecorder,
        frozen_clock: None,
    ) -> None:
        await ask_for_link(client, EMAIL)
        token = link_in(smtp_server, EMAIL)
        clock.freeze(now() + timedelta(days=2))
        page = await client.get(f"/f/sf-alfa/mina-uppgifter/{token}")
        assert page.status_code == 404
        assert 'href="/f/sf-alfa/mina-uppgifter"' in page.text
        assert EMAIL not in page.text

    async def test_link_does_not_work_for_another_federation(
        self,
        client: httpx.AsyncClient,
        alfa: Federation,
        smtp_server: SmtpRecorder,
        session: AsyncSession,
    ) -> None:
        await make_federation(session, "sf-beta")
        await ask_for_link(client, EMAIL)
        token = link_in(smtp_server, EMAIL)
        assert (await client.get(f"/f/sf-beta/mina-uppgifter/{token}")).status_code == 404
        assert (await client.post(f"/f/sf-beta/mina-uppgifter/{token}/radera")).status_code == 404
        assert await session.scalar(select(func.count(Subscriber.id))) == 1

    async def test_forged_token_is_404(self, client: httpx.AsyncClient, alfa: Federation) -> None:
        page = await client.get("/f/sf-alfa/mina-uppgifter/" + "A" * 32)
        assert page.status_code == 404
