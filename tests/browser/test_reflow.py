"""Nothing scrolls sideways: archive letters and self-service pages at 320 px and 200 % zoom."""

from __future__ import annotations

import secrets

import pytest
from playwright.async_api import Page
from sqlalchemy.ext.asyncio import AsyncSession

from app.actors import Actor
from app.campaigns.models import Campaign, CampaignStatus, Theme
from app.clock import now
from app.federations import service as federation_service
from app.subscribers import service as subscriber_service
from app.subscribers.schemas import SubscriberCreate
from tests.fixtures.browser import LiveServer, seed_federation

pytestmark = pytest.mark.browser

LONG_URL = "https://www.example.se/verksamhet/rapporter/2026/" + "halvarsrapport-" * 8 + "final.pdf"
LONG_WORD = "arbetsmarknadsrehabiliteringssamordningsförbundsverksamhetsberättelsen"
# (viewport width, CSS zoom): a 320 px phone, and a 640 px window at 200 % zoom.
SCREENS = [(320, 1), (640, 2)]


async def _assert_no_sideways_scroll(page: Page, zoom: int) -> None:
    await page.evaluate(f"document.documentElement.style.zoom = '{zoom}'")
    overflow = await page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0


@pytest.mark.parametrize(("width", "zoom"), SCREENS)
async def test_archive_letter_with_long_url_and_word_reflows(
    live_server: LiveServer, browser_page: Page, width: int, zoom: int
) -> None:
    slug = await seed_federation(live_server)

    async def work(session: AsyncSession) -> int:
        federation = await federation_service.get_federation(session, slug=slug)
        campaign = Campaign(
            federation_id=federation.id,
            subject="Ett brev med en " + LONG_WORD,
            preheader="",
            theme=Theme.ALLMAN,
            body_markdown=f"Läs {LONG_URL} och [{LONG_URL}]({LONG_URL}).\n\n{LONG_WORD} " * 2,
            status=CampaignStatus.SENT,
            send_at=now(),
            started_at=now(),
        )
        session.add(campaign)
        await session.flush()
        return campaign.id

    campaign_id = await live_server.seed(work)
    await browser_page.set_viewport_size({"width": width, "height": 800})
    await browser_page.goto(live_server.url(f"/f/{slug}/arkiv/{campaign_id}"))
    await _assert_no_sideways_scroll(browser_page, zoom)
    await browser_page.goto(live_server.url(f"/f/{slug}/arkiv"))
    await _assert_no_sideways_scroll(browser_page, zoom)


@pytest.mark.parametrize(("width", "zoom"), SCREENS)
async def test_self_service_page_with_long_address_reflows(
    live_server: LiveServer, browser_page: Page, width: int, zoom: int
) -> None:
    slug = await seed_federation(live_server)
    email = f"{'forstanamn.efternamn.' * 3}{secrets.token_hex(3)}@{'avdelning.' * 4}example.se"

    async def add(session: AsyncSession) -> None:
        federation = await federation_service.get_federation(session, slug=slug)
        await subscriber_service.create_subscriber(
            session,
            federation=federation,
            data=SubscriberCreate(
                email=email, name=LONG_WORD, status="confirmed", consent_note="Mässan"
            ),
            actor=Actor.system("test"),
        )

    await live_server.seed(add)
    page = browser_page
    await page.set_viewport_size({"width": width, "height": 800})
    await page.goto(live_server.url(f"/f/{slug}/mina-uppgifter"))
    await _assert_no_sideways_scroll(page, zoom)
    await page.fill("#email", email)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("[role=status]")
    message = await live_server.outbox_mail(email)
    await page.goto(live_server.link_in(message, r"/f/[a-z0-9-]+/mina-uppgifter/[A-Za-z0-9_-]{32}"))
    assert LONG_WORD in await page.content()
    await _assert_no_sideways_scroll(page, zoom)
