"""Årsplan, Inbäddning and Utskicksserver in real Chromium: used by an admin (and an install
admin for the relay), axe-core with zero violations in light and dark."""

from __future__ import annotations

import secrets

import pytest
from playwright.async_api import Page, expect

from tests.fixtures.browser import LiveServer, assert_no_violations, seed_federation
from tests.fixtures.staff_browser import invite_by_cli, keyboard_sign_in, newsletter

pytestmark = pytest.mark.browser


class TestYearPlanAndEmbedding:
    @pytest.mark.parametrize("scheme", ["light", "dark"])
    async def test_admin_plans_the_year_and_lists_the_sites(
        self, live_server: LiveServer, browser_page: Page, scheme: str
    ) -> None:
        page = browser_page
        await page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        slug = await seed_federation(live_server)
        email = f"admin-{secrets.token_hex(3)}@exempel.se"
        invite_by_cli(live_server, email, slug, "admin")
        await keyboard_sign_in(live_server, page, email)
        await page.get_by_role("link", name="Inställningar").click()
        await page.get_by_role("link", name="Årsplan").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Årsplan")
        await assert_no_violations(live_server, page, f"year plan, empty ({scheme})")
        await page.get_by_label("Brevets namn").fill("Sommarhälsning")
        await page.get_by_label("De som äger brevet", exact=False).fill("inte en adress")
        await page.locator("form.signup button[type=submit]").click()
        await expect(page.get_by_role("alert")).to_contain_text("Regeln är inte sparad.")
        await assert_no_violations(live_server, page, f"year plan, errors ({scheme})")
        await page.get_by_label("Antal dagar före").fill("7")
        await page.get_by_label("Räknat från").select_option("midsommarafton")
        await page.get_by_label("De som äger brevet", exact=False).fill(email)
        await page.get_by_role("button", name="Lägg till i årsplanen").click()
        await expect(page.get_by_role("status")).to_have_text("Regeln är tillagd.")
        await expect(page.get_by_role("cell", name="7 dagar före midsommarafton")).to_be_visible()
        await assert_no_violations(live_server, page, f"year plan, one rule ({scheme})")

        await page.get_by_role("link", name="Inställningar").first.click()
        await page.get_by_role("link", name="Inbäddning och webbplatser").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Inbäddning och webbplatser"
        )
        preview = page.frame_locator("iframe[title='Förhandsvisning av anmälningsformuläret']")
        await expect(preview.get_by_role("button")).to_be_visible()
        await assert_no_violations(live_server, page, f"embedding ({scheme})")
        await page.get_by_label("Tillåtna webbplatser").fill("http://www.example.se/sida")
        await page.get_by_role("button", name="Spara webbplatserna").click()
        await expect(page.get_by_role("alert")).to_contain_text("Inget är sparat.")
        await assert_no_violations(live_server, page, f"embedding, errors ({scheme})")
        await page.get_by_label("Tillåtna webbplatser").fill("https://www.example.se")
        await page.get_by_role("button", name="Spara webbplatserna").click()
        await expect(page.get_by_role("status")).to_have_text(
            "De tillåtna webbplatserna är sparade."
        )
        await assert_no_violations(live_server, page, f"embedding, saved ({scheme})")


class TestRelay:
    @pytest.mark.parametrize("scheme", ["light", "dark"])
    async def test_install_admin_tests_the_connection(
        self, live_server: LiveServer, browser_page: Page, scheme: str
    ) -> None:
        page = browser_page
        await page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        slug = await seed_federation(live_server)
        email = f"it-{secrets.token_hex(3)}@exempel.se"
        newsletter(live_server, "user", "invite", "--email", email, "--admin")
        await keyboard_sign_in(live_server, page, email)
        await page.get_by_label("Byt förbund").select_option(slug)
        await page.get_by_role("button", name="Byt", exact=True).click()
        await page.get_by_role("link", name="Inställningar").click()
        await page.get_by_role("link", name="Utskicksserver").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Utskicksserver")
        await assert_no_violations(live_server, page, f"relay ({scheme})")
        mails = len(live_server.mail.envelopes)
        await page.get_by_role("button", name="Testa anslutningen").click()
        await expect(page.get_by_role("status")).to_contain_text("Anslutningen fungerar.")
        assert len(live_server.mail.envelopes) == mails
        await assert_no_violations(live_server, page, f"relay, tested ({scheme})")
        await page.get_by_label("Server (värdnamn)").fill("8.8.8.8")
        await page.get_by_label("Kryptering").select_option("none")
        await page.get_by_role("button", name="Spara utskicksservern").click()
        await expect(page.get_by_role("alert")).to_contain_text("Okrypterad anslutning")
        await assert_no_violations(live_server, page, f"relay, refused ({scheme})")
