"""Inbäddning in Redaktionen: the federation's own sites (validated, audited, and what CORS and
the sign-up redirect then accept), the snippets with a live preview, and the archive default."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actors import Actor
from app.audit.models import AuditAction, AuditEntry
from app.campaigns import service as campaigns_service
from app.campaigns.models import Theme
from app.campaigns.schemas import CampaignCreate
from app.federations.models import Federation
from app.users.models import Role
from tests.fixtures.checks import refreshed
from tests.fixtures.factories import make_federation
from tests.fixtures.staff import as_role

BASE = "/redaktion/installningar/inbaddning"
SITE = "https://www.norr.example.se"


@pytest.fixture
async def federation(session: AsyncSession) -> Federation:
    return await make_federation(session, "norr", name="Samordningsförbundet Norr")


async def cors_origin(client: httpx.AsyncClient, origin: str) -> str | None:
    answer = await client.get("/api/v1/public/norr/stamp", headers={"Origin": origin})
    assert answer.status_code == 200
    return answer.headers.get("access-control-allow-origin")


class TestSnippets:
    async def test_admin_gets_the_snippets_feed_and_a_live_preview(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        await as_role(client, session, federation, Role.ADMIN)
        page = await client.get(BASE)
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert "https://nyhetsbrev.example.se/f/norr/prenumerera" in page.text
        assert "https://nyhetsbrev.example.se/f/norr/arkiv/inbaddning" in page.text
        assert "https://nyhetsbrev.example.se/f/norr/arkiv.atom" in page.text
        assert f'src="{BASE}/forhandsvisning"' in page.text
        preview = await client.get(f"{BASE}/forhandsvisning")
        assert preview.status_code == 200
        csp = preview.headers["content-security-policy"]
        assert csp.endswith("frame-ancestors 'self'")
        assert 'action="/f/norr/prenumerera"' in preview.text
        assert "Samordningsförbundet Norr" in preview.text
        # The public form itself may still be framed only by the federation's own sites.
        public = await client.get("/f/norr/prenumerera")
        assert public.headers["content-security-policy"].endswith("frame-ancestors 'none'")

    async def test_ansvarig_gets_neither_page_nor_preview(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ANSVARIG)
        assert (await client.get(BASE)).status_code == 403
        assert (await client.get(f"{BASE}/forhandsvisning")).status_code == 403
        refused = await client.post(BASE, data={"csrf": csrf, "webbplatser": SITE})
        assert refused.status_code == 403
        assert (await refreshed(session, federation)).frame_ancestors == []


class TestOrigins:
    async def test_saved_origins_open_cors_and_the_redirect(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        assert await cors_origin(client, SITE) is None
        saved = await client.post(
            BASE, data={"csrf": csrf, "webbplatser": f" {SITE}/ \n\nhttps://Bücher.example\n"}
        )
        assert saved.status_code == 303, saved.text
        federation = await refreshed(session, federation)
        assert federation.frame_ancestors == [SITE, "https://xn--bcher-kva.example"]
        page = await client.get(saved.headers["location"])
        assert "De tillåtna webbplatserna är sparade." in page.text
        assert await cors_origin(client, SITE) == SITE
        assert await cors_origin(client, "https://annan.example.se") is None
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == AuditAction.SETTINGS_CHANGED)
        )
        assert entry is not None
        assert entry.summary == "ändrade frame_ancestors"
        emptied = await client.post(BASE, data={"csrf": csrf, "webbplatser": ""})
        assert emptied.status_code == 303
        assert (await refreshed(session, federation)).frame_ancestors == []

    @pytest.mark.parametrize(
        "bad",
        [
            "http://www.norr.example.se",
            "https://www.norr.example.se/nyhetsbrev",
            "www.norr.example.se",
            "https://www.norr.example.se?x=1",
            "https://x.example.se; script-src *",
        ],
    )
    async def test_anything_but_an_https_origin_is_refused_in_swedish(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation, bad: str
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        refused = await client.post(BASE, data={"csrf": csrf, "webbplatser": f"{SITE}\n{bad}"})
        assert refused.status_code == 422
        assert "Inget är sparat." in refused.text
        assert "utan sökväg" in refused.text
        assert (await refreshed(session, federation)).frame_ancestors == []

    async def test_more_than_twenty_are_refused(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        many = "\n".join(f"https://s{i}.example.se" for i in range(21))
        refused = await client.post(BASE, data={"csrf": csrf, "webbplatser": many})
        assert refused.status_code == 422
        assert "Högst 20 webbplatser" in refused.text
        assert (await refreshed(session, federation)).frame_ancestors == []

    async def test_without_csrf_nothing_changes(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        await as_role(client, session, federation, Role.ADMIN)
        assert (await client.post(BASE, data={"webbplatser": SITE})).status_code == 403
        assert (await client.post(f"{BASE}/arkiv", data={})).status_code == 403
        federation = await refreshed(session, federation)
        assert (federation.frame_ancestors, federation.publish_in_archive_default) == ([], True)

    async def test_each_federation_changes_only_its_own(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        soder = await make_federation(session, "soder")
        csrf = await as_role(client, session, soder, Role.ADMIN)
        assert (
            await client.post(BASE, data={"csrf": csrf, "webbplatser": SITE})
        ).status_code == 303
        assert (await refreshed(session, soder)).frame_ancestors == [SITE]
        assert (await refreshed(session, federation)).frame_ancestors == []
        assert "/f/norr/" not in (await client.get(BASE)).text


class TestArchiveDefault:
    async def test_new_letters_follow_the_federations_choice(
        self, client: httpx.AsyncClient, session: AsyncSession, federation: Federation
    ) -> None:
        csrf = await as_role(client, session, federation, Role.ADMIN)
        page = await client.get(BASE)
        assert 'name="arkiv" value="ja" checked' in page.text
        off = await client.post(f"{BASE}/arkiv", data={"csrf": csrf})
        assert off.headers["location"] == f"{BASE}?klart=arkiv#arkiv"
        federation = await refreshed(session, federation)
        assert federation.publish_in_archive_default is False

        async def new_letter(**choice: bool) -> bool:
            campaign = await campaigns_service.create_campaign(
                session,
                federation=federation,
                data=CampaignCreate(
                    subject="Hej", theme=Theme.ALLMAN, body_markdown="Text.", **choice
                ),
                actor=Actor.system("test"),
            )
            return campaign.publish_in_archive

        assert await new_letter() is False
        assert await new_letter(publish_in_archive=True) is True
        on = await client.post(f"{BASE}/arkiv", data={"csrf": csrf, "arkiv": "ja"})
        assert on.status_code == 303
        federation = await refreshed(session, federation)
        assert await new_letter() is True
