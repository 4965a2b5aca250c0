"""Install admins: every federation in the switcher, and a page to create federations."""

from __future__ import annotations

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditAction, AuditEntry
from app.federations.models import Federation
from app.users.models import Role
from tests.fixtures.factories import make_federation
from tests.fixtures.staff import csrf_of, invite, signed_in_client

NEW = {
    "slug": "sf-ost",
    "name": "Samordningsförbundet Öst",
    "from_name": "SF Öst",
    "from_email": "nyhetsbrev@ost.example.se",
    "postal_address": "Box 2\n100 00 Östby",
}


class TestInstallAdmin:
    async def test_creates_a_federation_and_works_in_it(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        norr = await make_federation(session, "norr")
        soder = await make_federation(session, "soder")
        await invite(session, None, "it@example.se", None, install_admin=True)
        home = await signed_in_client(client, session, "it@example.se")
        assert norr.name in home.text
        assert soder.name in home.text
        assert "Skapa ett nytt förbund" in home.text
        csrf = csrf_of(home.text)
        assert (await client.get("/redaktion/forbund/nytt")).status_code == 200
        created = await client.post("/redaktion/forbund/nytt", data={"csrf": csrf, **NEW})
        assert created.status_code == 303, created.text
        federation = await session.scalar(select(Federation).where(Federation.slug == "sf-ost"))
        assert federation is not None
        settings = await client.get(created.headers["location"])
        assert settings.status_code == 200
        assert 'value="Samordningsförbundet Öst"' in settings.text
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == AuditAction.FEDERATION_CREATED)
        )
        assert entry is not None
        assert entry.actor_label == "it@example.se"
        taken = await client.post("/redaktion/forbund/nytt", data={"csrf": csrf, **NEW})
        assert taken.status_code == 409

    async def test_others_do_not_find_the_page(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        norr = await make_federation(session, "norr")
        await invite(session, norr, "chef@example.se", Role.ADMIN)
        home = await signed_in_client(client, session, "chef@example.se")
        assert "Skapa ett nytt förbund" not in home.text
        assert (await client.get("/redaktion/forbund/nytt")).status_code == 404
        answer = await client.post(
            "/redaktion/forbund/nytt", data={"csrf": csrf_of(home.text), **NEW}
        )
        assert answer.status_code == 404
        assert await session.scalar(select(Federation).where(Federation.slug == "sf-ost")) is None
