"""The public archive in real Chromium: lists sent letters, shows web versions, hides the rest."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from playwright.async_api import Page
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign, CampaignStatus, Theme
from app.campaigns.samples import SAMPLES, sample_markdown
from app.clock import now
from app.federations.models import Federation
from tests.fixtures.browser import LiveServer, format_violations

pytestmark = pytest.mark.browser


@dataclass
class Seeded:
    slug: str
    sent_ids: dict[str, int]
    draft_id: int
    scheduled_id: int
    other_sent_id: int


async def _seed(session: AsyncSession) -> Seeded:
    suffix = str(now().timestamp()).replace(".", "")
    federations = []
    for slug in (f"arkiv-{suffix}", f"annan-{suffix}"):
        federation = Federation(
            slug=slug,
            name="Samordningsförbundet Arkivdalen",
            from_email=f"nyhetsbrev@{slug}.example.se",
            from_name="Samordningsförbundet Arkivdalen",
            postal_address="Storgatan 1\n123 45 Arkivstad",
            contact_email=f"kansliet@{slug}.example.se",
        )
        session.add(federation)
        federations.append(federation)
    await session.flush()
    own, other = federations

    def campaign(federation: Federation, theme: str, status: CampaignStatus) -> Campaign:
        sample = SAMPLES[theme]
        c = Campaign(
            federation_id=federation.id,
            subject=sample.subject,
            preheader=sample.preheader,
            theme=Theme(theme),
            body_markdown=sample_markdown(theme),
            status=status,
            send_at=now(),
            started_at=now() if status == CampaignStatus.SENT else None,
        )
        session.add(c)
        return c

    sent = {
        t: campaign(own, t, CampaignStatus.SENT) for t in ("sommar", "jul", "arsskifte", "allman")
    }
    draft = campaign(own, "allman", CampaignStatus.DRAFT)
    draft.subject = "Hemligt utkast"
    scheduled = campaign(own, "allman", CampaignStatus.SCHEDULED)
    other_sent = campaign(other, "jul", CampaignStatus.SENT)
    await session.flush()
    return Seeded(
        own.slug, {t: c.id for t, c in sent.items()}, draft.id, scheduled.id, other_sent.id
    )


async def test_archive_lists_sent_only_and_is_accessible(
    live_server: LiveServer, browser_page: Page
) -> None:
    seeded = await live_server.seed(_seed)
    response = await browser_page.goto(live_server.url(f"/f/{seeded.slug}/arkiv"))
    assert response is not None
    assert response.status == 200
    assert await browser_page.locator("h1").inner_text() == "Tidigare nyhetsbrev"
    links = await browser_page.locator("main ul a").all_inner_texts()
    assert sorted(links) == sorted(SAMPLES[t].subject for t in seeded.sent_ids)
    assert "Hemligt utkast" not in await browser_page.content()
    violations = await live_server.axe(browser_page)
    assert violations == [], format_violations(violations)

    await browser_page.get_by_role("link", name=SAMPLES["jul"].subject).click()
    assert browser_page.url.endswith(f"/arkiv/{seeded.sent_ids['jul']}")


@pytest.mark.parametrize("theme", ["sommar", "jul", "arsskifte", "allman"])
async def test_web_version_is_non_personal_and_accessible(
    live_server: LiveServer, browser_page: Page, theme: str
) -> None:
    seeded = await live_server.seed(_seed)
    await browser_page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(live_server.base_url)
            else route.abort()
        ),
    )
    url = live_server.url(f"/f/{seeded.slug}/arkiv/{seeded.sent_ids[theme]}")
    response = await browser_page.goto(url)
    assert response is not None
    assert response.status == 200
    html = await browser_page.content()
    assert "/u/" not in html
    assert "Avsluta prenumerationen" not in html
    assert "Hej!" in html
    assert await browser_page.locator("h1").inner_text() == SAMPLES[theme].subject
    assert await browser_page.get_by_role("link", name="Prenumerera på nyhetsbrevet").count() == 1
    violations = await live_server.axe(browser_page)
    assert violations == [], format_violations(violations)


async def test_unsent_or_other_federations_campaign_is_404(
    live_server: LiveServer, browser_page: Page
) -> None:
    seeded = await live_server.seed(_seed)
    for campaign_id in (seeded.draft_id, seeded.scheduled_id, seeded.other_sent_id, 999999):
        response = await browser_page.goto(live_server.url(f"/f/{seeded.slug}/arkiv/{campaign_id}"))
        assert response is not None
        assert response.status == 404, campaign_id
    response = await browser_page.goto(live_server.url("/f/finns-inte/arkiv"))
    assert response is not None
    assert response.status == 404


async def test_embedded_archive_list_is_accessible(
    live_server: LiveServer, browser_page: Page
) -> None:
    seeded = await live_server.seed(_seed)
    await browser_page.set_viewport_size({"width": 320, "height": 600})
    response = await browser_page.goto(live_server.url(f"/f/{seeded.slug}/arkiv/inbaddning"))
    assert response is not None
    assert response.status == 200
    links = await browser_page.locator("main ul a").all_inner_texts()
    assert sorted(links) == sorted(SAMPLES[t].subject for t in seeded.sent_ids)
    assert await browser_page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    violations = await live_server.axe(browser_page)
    assert violations == [], format_violations(violations)
