"""Händelselogg: the signed-in person's federation's log, filterable, nothing of others'."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.actors import Actor
from app.audit import service
from app.audit.models import AuditAction
from tests.fixtures.factories import make_federation
from tests.fixtures.staff import invite, signed_in_client


class TestAuditLogPage:
    async def test_shows_own_federation_only_and_filters(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        norr = await make_federation(session, "norr")
        soder = await make_federation(session, "soder")
        await service.record(
            session,
            actor=Actor.system("test"),
            action=AuditAction.SETTINGS_CHANGED,
            federation_id=soder.id,
            summary="hemligt i söder",
        )
        await invite(session, norr, "anna@example.se")
        await signed_in_client(client, session, "anna@example.se")
        page = await client.get("/redaktion/handelselogg")
        assert page.status_code == 200
        assert "Loggade in" in page.text
        assert "Bjöd in en person" in page.text
        assert "hemligt i söder" not in page.text
        assert page.headers["cache-control"] == "no-store"
        only = await client.get("/redaktion/handelselogg", params={"handelse": "person_invited"})
        assert "Bjöd in en person" in only.text
        assert "<td>Loggade in</td>" not in only.text

    async def test_needs_sign_in(self, client: httpx.AsyncClient) -> None:
        answer = await client.get("/redaktion/handelselogg", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/redaktion/logga-in"
