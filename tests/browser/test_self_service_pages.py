"""Self-service pages (mina uppgifter) in real Chromium: keyboard only, axe-core, 320 px."""

from __future__ import annotations

import secrets

import pytest
from playwright.async_api import Page
from sqlalchemy.ext.asyncio import AsyncSession

from app.actors import Actor
from app.subscribers import service as subscriber_service
from app.subscribers.schemas import SubscriberCreate
from tests.fixtures.browser import LiveServer, format_violations, seed_federation, subscriber_status

pytestmark = pytest.mark.browser

DATA_PATH = r"/f/[a-z0-9-]+/mina-uppgifter/[A-Za-z0-9_-]{32}"


async def no_violations(live_server: LiveServer, page: Page, what: str) -> None:
    violations = await live_server.axe(page)
    assert violations == [], f"{what}: {format_violations(violations)}"


async def test_request_see_and_erase_with_keyboard_only(
    live_server: LiveServer, browser_page: Page
) -> None:
    page = browser_page
    slug = await seed_federation(live_server)
    email = f"sjalv-{secrets.token_hex(3)}@exempel.se"

    async def add(session: AsyncSession) -> None:
        from app.federations import service as federation_service

        federation = await federation_service.get_federation(session, slug=slug)
        await subscriber_service.create_subscriber(
            session,
            federation=federation,
            data=SubscriberCreate(
                email=email,
                name="Sigrid Åström",
                status="confirmed",
                consent_note="Anmälde sig på mässan",
            ),
            actor=Actor.system("test"),
        )

    await live_server.seed(add)
    await page.set_viewport_size({"width": 320, "height": 800})
    await page.goto(live_server.url(f"/f/{slug}/mina-uppgifter"))
    await no_violations(live_server, page, "link form")
    await page.focus("#email")
    await page.keyboard.type(email)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("[role=status]")
    await no_violations(live_server, page, "link sent")

    message = await live_server.outbox_mail(email)
    await page.goto(live_server.link_in(message, DATA_PATH))
    assert "Sigrid Åström" in await page.content()
    await no_violations(live_server, page, "own data page")
    # Nothing scrolls sideways at 320 px.
    assert await page.evaluate("document.documentElement.scrollWidth <= 320")

    await page.focus("form[action$='/radera'] button")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("text=Dina uppgifter är raderade")
    await no_violations(live_server, page, "erased")
    assert await subscriber_status(live_server, email) is None
