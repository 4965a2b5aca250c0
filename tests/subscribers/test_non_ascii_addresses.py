"""An address with å, ä or ö before the @ needs SMTPUTF8. Unless the operator says the relay
offers it (NEWSLETTER_SMTPUTF8=true), every entry point refuses it with a clear answer, instead
of accepting it and breaking an SMTP connection at send time; domains are stored as A-labels."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app import clock
from app.clock import now
from app.subscribers.models import Subscriber
from tests.fixtures.factories import bearer, make_federation, make_key
from tests.fixtures.settings import Configure

SLUG = "sf-utf"
ADDRESS = "först@smörgås.se"
STORED = "först@xn--smrgs-pra0j.se"


async def _stamp(client: httpx.AsyncClient) -> str:
    stamp = (await client.get(f"/api/v1/public/{SLUG}/stamp")).json()["stamp"]
    clock.freeze(now() + timedelta(seconds=10))  # not "too fast"
    return str(stamp)


async def _stored(session: AsyncSession) -> list[str]:
    return list(await session.scalars(select(Subscriber.email)))


@pytest.fixture
async def federation_key(session: AsyncSession) -> str:
    federation = await make_federation(session, SLUG)
    return await make_key(session, federation)


@pytest.mark.usefixtures("frozen_clock", "federation_key")
class TestRefusedWithoutSmtpUtf8:
    async def test_form_says_so_in_swedish(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        stamp = await _stamp(client)
        response = await client.post(
            f"/f/{SLUG}/prenumerera",
            data={"email": ADDRESS, "consent": "ja", "website": "", "stamp": stamp},
        )
        assert response.status_code == 422
        assert "å, ä, ö" in response.text
        assert 'aria-invalid="true"' in response.text
        assert await _stored(session) == []

    async def test_public_api(self, client: httpx.AsyncClient, session: AsyncSession) -> None:
        stamp = await _stamp(client)
        response = await client.post(
            f"/api/v1/public/{SLUG}/subscriptions",
            json={"email": ADDRESS, "consent": True, "stamp": stamp},
        )
        assert response.status_code == 422
        assert response.json()["error"]["details"] == {"email": "non_ascii_local_part"}
        assert await _stored(session) == []

    async def test_staff_create(
        self, client: httpx.AsyncClient, session: AsyncSession, federation_key: str
    ) -> None:
        response = await client.post(
            f"/api/v1/federations/{SLUG}/subscribers",
            json={"email": ADDRESS},
            headers=bearer(federation_key),
        )
        assert response.status_code == 422
        (detail,) = response.json()["error"]["details"]
        assert detail["loc"] == ["body", "email"]
        assert "SMTPUTF8" in detail["msg"]
        assert await _stored(session) == []

    async def test_import_reports_the_row(
        self, client: httpx.AsyncClient, session: AsyncSession, federation_key: str
    ) -> None:
        csv = f"email,name\n{ADDRESS},Först\nandra@smörgås.se,Andra\n".encode()
        response = await client.post(
            f"/api/v1/federations/{SLUG}/subscribers/import?wait=true",
            files={"file": ("lista.csv", csv, "text/csv")},
            headers=bearer(federation_key),
        )
        assert response.status_code == 200, response.text
        assert response.json()["problems"] == [
            {"line": 2, "reason": "non_ascii_local_part", "detail": None}
        ]
        assert await _stored(session) == ["andra@xn--smrgs-pra0j.se"]


@pytest.mark.usefixtures("frozen_clock", "federation_key")
class TestAcceptedWithSmtpUtf8:
    async def test_stored_with_the_domain_as_a_labels(
        self, client: httpx.AsyncClient, session: AsyncSession, configure: Configure
    ) -> None:
        configure(smtputf8="true")
        stamp = await _stamp(client)
        response = await client.post(
            f"/api/v1/public/{SLUG}/subscriptions",
            json={"email": ADDRESS, "consent": True, "stamp": stamp},
        )
        assert response.status_code == 202
        assert await _stored(session) == [STORED]
        assert await session.scalar(select(func.count()).select_from(Subscriber)) == 1
