"""The public pages in real Chromium: keyboard-only sign-up and confirmation, axe-core, layout."""

from __future__ import annotations

import secrets

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.subscribers import tokens
from app.subscribers.models import Subscriber, SubscriptionStatus
from tests.fixtures import ROOT
from tests.fixtures.browser import (
    LiveServer,
    assert_no_violations,
    seed_federation,
    subscriber_status,
    tab_to,
)

pytestmark = pytest.mark.browser

DOCS = ROOT / "docs"
CONFIRM_PATH = r"/f/[a-z0-9-]+/bekrafta/[A-Za-z0-9_-]{32}"


class TestKeyboardSignup:
    async def test_sign_up_and_confirm_with_keyboard_only(
        self, live_server: LiveServer, browser_page: Page
    ) -> None:
        page = browser_page
        slug = await seed_federation(live_server)
        email = f"tangent-{secrets.token_hex(3)}@exempel.se"
        await page.goto(live_server.url(f"/f/{slug}/prenumerera"))
        await expect(page).to_have_title(
            "Prenumerera på nyhetsbrevet \N{EN DASH} Samordningsförbundet Älvdalen"
        )

        assert await tab_to(page, "#email") <= 2  # skip link, then the e-mail field
        await page.keyboard.type(email)
        await tab_to(page, "#consent")
        assert not await page.is_checked("#consent"), "the consent box must not be pre-ticked"
        await page.keyboard.press("Space")
        assert await page.is_checked("#consent")
        assert await tab_to(page, "button[type=submit]") == 2  # past the privacy notice link
        assert await page.evaluate("document.activeElement.textContent") == "Prenumerera"
        outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        assert outline != "none", "keyboard focus must be visible"
        await page.keyboard.press("Enter")

        await expect(page.get_by_role("heading", level=1)).to_have_text("Kolla din inkorg")
        await expect(page.get_by_role("status")).to_contain_text("bekräfta")
        assert await subscriber_status(live_server, email) == "pending"

        mail = await live_server.outbox_mail(email)
        await page.goto(live_server.link_in(mail, CONFIRM_PATH))
        await expect(page.get_by_role("heading", level=1)).to_have_text("Bekräfta prenumerationen")
        assert await subscriber_status(live_server, email) == "pending", "GET changes nothing"

        await tab_to(page, "button[type=submit]")
        assert await page.evaluate("document.activeElement.textContent") == (
            "Bekräfta prenumerationen"
        )
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Tack, prenumerationen är bekräftad"
        )
        assert await subscriber_status(live_server, email) == "confirmed"

    async def test_errors_are_announced_next_to_fields(
        self, live_server: LiveServer, browser_page: Page
    ) -> None:
        page = browser_page
        slug = await seed_federation(live_server)
        await page.goto(live_server.url(f"/f/{slug}/prenumerera"))
        await page.fill("#email", "inte en adress")
        await page.get_by_role("button", name="Prenumerera").click()
        email = page.get_by_label("E-postadress")
        await expect(email).to_have_attribute("aria-invalid", "true")
        await expect(email).to_have_accessible_description(
            "Hit skickar vi nyhetsbrevet. Fel: Skriv en e-postadress i formen namn@exempel.se."
        )
        consent = page.get_by_role("checkbox")
        await expect(consent).to_have_attribute("aria-invalid", "true")
        await assert_no_violations(live_server, page, "form with errors")


class TestAccessibility:
    async def test_every_public_page_has_zero_axe_violations(
        self, live_server: LiveServer, browser_page: Page
    ) -> None:
        page = browser_page
        slug = await seed_federation(live_server)
        email = f"axe-{secrets.token_hex(3)}@exempel.se"

        await page.goto(live_server.url(f"/f/{slug}/prenumerera"))
        await assert_no_violations(live_server, page, "sign-up form")
        await page.fill("#email", email)
        await page.check("#consent")
        await page.get_by_role("button", name="Prenumerera").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Kolla din inkorg")
        await assert_no_violations(live_server, page, "check your inbox")

        mail = await live_server.outbox_mail(email)
        await page.goto(live_server.link_in(mail, CONFIRM_PATH))
        await assert_no_violations(live_server, page, "confirm page")
        await page.get_by_role("button", name="Bekräfta prenumerationen").click()
        await assert_no_violations(live_server, page, "confirmed page")

        async def unsubscribe_token(session: AsyncSession) -> str:
            subscriber = (
                await session.execute(select(Subscriber).where(Subscriber.email == email))
            ).scalar_one()
            return await tokens.issue_unsubscribe_token(session, subscriber=subscriber)

        raw = await live_server.seed(unsubscribe_token)
        await page.goto(live_server.url(f"/u/{raw}"))
        await expect(page.get_by_role("heading", level=1)).to_have_text("Avsluta prenumerationen")
        await assert_no_violations(live_server, page, "unsubscribe page")
        await page.get_by_role("button", name="Avsluta prenumerationen").click()
        await expect(page.get_by_role("status")).to_contain_text("inga fler nyhetsbrev")
        await assert_no_violations(live_server, page, "unsubscribed page")
        assert await subscriber_status(live_server, email) == SubscriptionStatus.UNSUBSCRIBED

        await page.goto(live_server.url(f"/f/{slug}/integritet"))
        await expect(page.get_by_role("heading", level=1)).to_contain_text("personuppgifter")
        await assert_no_violations(live_server, page, "privacy notice")

        await page.goto(live_server.url(f"/f/{slug}/bekrafta/{'A' * 32}"))
        await assert_no_violations(live_server, page, "link not found")

    async def test_axe_check_can_fail(self, live_server: LiveServer, browser_page: Page) -> None:
        # Control: the same check reports a field whose label was taken away.
        slug = await seed_federation(live_server)
        await browser_page.goto(live_server.url(f"/f/{slug}/prenumerera"))
        await browser_page.evaluate("document.querySelector('label[for=email]').remove()")
        violations = await live_server.axe(browser_page)
        assert "label" in {v["id"] for v in violations}

    async def test_light_brand_colour_keeps_contrast(
        self, live_server: LiveServer, browser_page: Page
    ) -> None:
        slug = await seed_federation(live_server, brand="#f2c14e")
        await browser_page.goto(live_server.url(f"/f/{slug}/prenumerera"))
        await assert_no_violations(live_server, browser_page, "light brand colour")

    @pytest.mark.parametrize("width", [320, 375])
    async def test_narrow_screens_need_no_sideways_scrolling(
        self, live_server: LiveServer, browser_page: Page, width: int
    ) -> None:
        slug = await seed_federation(live_server)
        await browser_page.set_viewport_size({"width": width, "height": 800})
        await browser_page.goto(live_server.url(f"/f/{slug}/prenumerera"))
        scroll_width = await browser_page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width


class TestScreenshots:
    async def test_form_screenshots_for_the_readme(
        self, live_server: LiveServer, browser_page: Page
    ) -> None:
        slug = await seed_federation(live_server)
        DOCS.mkdir(exist_ok=True)
        targets = {"form.png": (1280, 900), "form-mobile.png": (375, 812)}
        for name, (width, height) in targets.items():
            await browser_page.set_viewport_size({"width": width, "height": height})
            await browser_page.goto(live_server.url(f"/f/{slug}/prenumerera"))
            png = await browser_page.screenshot(path=str(DOCS / name), full_page=True)
            assert png.startswith(b"\x89PNG")
            assert len(png) > 10_000
