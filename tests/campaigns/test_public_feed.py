"""The archive on the federation's own site: publish choice, Atom feed, embeddable list."""

from __future__ import annotations

from xml.etree import ElementTree as ET

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import CampaignStatus
from tests.fixtures.factories import Tenant, add_campaign

ATOM = "{http://www.w3.org/2005/Atom}"


async def _sent(
    session: AsyncSession,
    tenant: Tenant,
    subject: str,
    *,
    published: bool = True,
    status: CampaignStatus = CampaignStatus.SENT,
) -> int:
    campaign = await add_campaign(session, tenant.federation, status=status, subject=subject)
    campaign.publish_in_archive = published
    await session.commit()
    return campaign.id


class TestPublishInArchive:
    async def test_unpublished_letter_is_nowhere_public(
        self, api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
    ) -> None:
        shown = await _sent(session, tenant, "Synligt brev")
        hidden = await _sent(session, tenant, "Internt brev", published=False)
        slug = tenant.federation.slug
        listing = await api.get(f"/f/{slug}/arkiv")
        assert "Synligt brev" in listing.text
        assert "Internt brev" not in listing.text
        assert (await api.get(f"/f/{slug}/arkiv/{hidden}")).status_code == 404
        assert (await api.get(f"/f/{slug}/arkiv/{shown}")).status_code == 200
        assert "Internt brev" not in (await api.get(f"/f/{slug}/arkiv.atom")).text
        assert "Internt brev" not in (await api.get(f"/f/{slug}/arkiv/inbaddning")).text

    async def test_a_letter_marked_for_the_archive_shows_only_once_it_goes_out(
        self, api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
    ) -> None:
        """Staff may tick "publish" on a draft; the archive still waits for the send."""
        slug = tenant.federation.slug
        for status in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.CANCELLED):
            waiting = await _sent(session, tenant, f"Brev som {status}", status=status)
            assert (await api.get(f"/f/{slug}/arkiv/{waiting}")).status_code == 404
        going = await _sent(session, tenant, "Brev på väg", status=CampaignStatus.SENDING)
        assert (await api.get(f"/f/{slug}/arkiv/{going}")).status_code == 200
        for page in ("arkiv", "arkiv.atom", "arkiv/inbaddning"):
            text = (await api.get(f"/f/{slug}/{page}")).text
            assert "Brev på väg" in text
            assert "Brev som" not in text

    async def test_staff_may_unpublish_a_sent_letter(
        self, api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
    ) -> None:
        sent = await _sent(session, tenant, "Skickat brev")
        url = f"{tenant.base}/{sent}"
        response = await api.patch(url, json={"publish_in_archive": False}, headers=tenant.headers)
        assert response.status_code == 200, response.text
        assert response.json()["archive_url"] is None
        assert (await api.get(f"/f/{tenant.federation.slug}/arkiv/{sent}")).status_code == 404
        changed = await api.patch(url, json={"subject": "Nytt"}, headers=tenant.headers)
        assert changed.status_code == 409


class TestFeed:
    async def test_atom_feed_lists_published_letters_without_personal_data(
        self, api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant, other_tenant: Tenant
    ) -> None:
        first = await _sent(session, tenant, "Sommarhälsning & tack")
        await _sent(session, other_tenant, "Annat förbunds brev")
        response = await api.get(f"/f/{tenant.federation.slug}/arkiv.atom")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/atom+xml")
        feed = ET.fromstring(response.content)
        assert feed.tag == f"{ATOM}feed"
        assert feed.findtext(f"{ATOM}title") == tenant.federation.name
        (entry,) = feed.findall(f"{ATOM}entry")
        assert entry.findtext(f"{ATOM}title") == "Sommarhälsning & tack"
        link = entry.find(f"{ATOM}link")
        assert link is not None
        assert link.get("href", "").endswith(f"/f/{tenant.federation.slug}/arkiv/{first}")
        content = entry.findtext(f"{ATOM}content") or ""
        assert "<strong>alla</strong>" in content
        assert "/u/" not in response.text
        assert "Anna Andersson" not in response.text
        assert (await api.get("/f/finns-inte/arkiv.atom")).status_code == 404


class TestEmbed:
    async def test_embedded_list_only_on_listed_origins(
        self, api: httpx.AsyncClient, session: AsyncSession, tenant: Tenant
    ) -> None:
        await _sent(session, tenant, "Inbäddat brev")
        tenant.federation.frame_ancestors = ["https://www.sf-norra.example.se"]
        await session.commit()
        response = await api.get(f"/f/{tenant.federation.slug}/arkiv/inbaddning")
        assert response.status_code == 200
        assert "Inbäddat brev" in response.text
        assert 'target="_top"' in response.text
        assert (
            "frame-ancestors https://www.sf-norra.example.se"
            in (response.headers["content-security-policy"])
        )

    async def test_snippets_for_the_federations_site(
        self, api: httpx.AsyncClient, tenant: Tenant
    ) -> None:
        response = await api.get(
            f"/api/v1/federations/{tenant.federation.slug}/embed", headers=tenant.headers
        )
        assert response.status_code == 200
        body = response.json()
        slug = tenant.federation.slug
        assert body["feed_url"] == f"https://nyhetsbrev.example.se/f/{slug}/arkiv.atom"
        assert f'src="https://nyhetsbrev.example.se/f/{slug}/prenumerera"' in body["form_iframe"]
        assert (
            f'src="https://nyhetsbrev.example.se/f/{slug}/arkiv/inbaddning"'
            in (body["archive_iframe"])
        )
        assert 'title="Prenumerera på nyhetsbrevet från' in body["form_iframe"]
