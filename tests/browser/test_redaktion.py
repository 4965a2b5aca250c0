"""Redaktionen in real Chromium: invited by the CLI, signs in from the mail by keyboard only,
axe-core in light and dark, 320 px and 200 % zoom, signs out."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from playwright.async_api import Page, expect
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign, CampaignStatus
from app.clock import now
from tests.fixtures.browser import LiveServer, assert_no_violations, seed_federation, tab_to
from tests.fixtures.staff_browser import (
    LINK_PATH,
    add_subscribers,
    invite_by_cli,
    keyboard_sign_in,
    newsletter,
    sign_in_mail,
)

pytestmark = pytest.mark.browser


async def let_time_pass(live_server: LiveServer, campaign_id: int) -> None:
    """The scheduled time arrives (the dispatcher runs in another process, so the clock cannot
    be frozen there: the send time is moved instead)."""

    async def work(session: AsyncSession) -> None:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        assert campaign.status == CampaignStatus.SCHEDULED
        campaign.send_at = now() - timedelta(minutes=1)

    await live_server.seed(work)


class TestWholePath:
    async def test_invited_writes_previews_tests_schedules_and_sees_it_sent(
        self, live_server: LiveServer, browser_page: Page
    ) -> None:
        page = browser_page
        slug = await seed_federation(live_server)
        recipients = await add_subscribers(live_server, slug, 3)
        email = f"ansvarig-{secrets.token_hex(3)}@exempel.se"
        invite_by_cli(live_server, email, slug, "ansvarig")
        await keyboard_sign_in(live_server, page, email)

        await page.get_by_role("link", name="Utskick", exact=True).click()
        await page.get_by_role("link", name="Nytt utskick").click()
        await page.get_by_label("God jul och gott nytt år").check()
        await page.get_by_role("button", name="Skapa utkast").click()
        campaign_id = int(page.url.rsplit("/", 1)[1])
        await page.get_by_label("Ämnesrad", exact=True).fill("God jul från förbundet")
        await page.get_by_label("Text", exact=True).fill("Tack för **samarbetet** i år!")
        await page.get_by_role("button", name="Spara").click()
        await expect(page.get_by_role("status")).to_have_text("Utskicket är sparat.")
        preview = page.frame_locator("iframe[title='Förhandsvisning, 375 px bred']")
        await expect(preview.get_by_text("samarbetet")).to_be_visible()

        await page.get_by_role("button", name="Skicka test").click()
        await expect(page.get_by_role("status")).to_contain_text("Testutskicket är köat")
        newsletter(live_server, "dispatch")
        subjects = [str(m["Subject"]) for m in live_server.mail.to(email)]
        assert subjects.count("[Test] God jul från förbundet") == 1, subjects

        await page.get_by_label("Datum").fill("2099-12-20")
        await page.get_by_label("Tid").fill("09:00")
        await page.get_by_role("button", name="Schemalägg").click()
        await expect(page.get_by_role("status")).to_have_text("Utskicket är schemalagt.")
        await expect(page.get_by_text("skickas 20 december 2099 kl. 09.00")).to_be_visible()

        await let_time_pass(live_server, campaign_id)
        newsletter(live_server, "dispatch")
        for recipient in recipients:
            assert len(live_server.mail.to(recipient)) == 1
        await page.reload()
        progress = page.locator("#framsteg")
        await expect(progress).to_contain_text("Läge: Skickat")
        await expect(progress).to_contain_text("3 av 3 mejl skickade.")
        await assert_no_violations(live_server, page, "sent campaign")
        await page.get_by_role("link", name="Utfall per mottagare").click()
        for recipient in recipients:
            await expect(page.get_by_role("cell", name=recipient)).to_be_visible()
        await assert_no_violations(live_server, page, "outcomes per recipient")

        await page.get_by_role("button", name="Logga ut", exact=True).click()
        await expect(page.get_by_role("status")).to_have_text("Du är utloggad.")


class TestRolesInTheBrowser:
    async def test_a_redaktor_writes_but_cannot_schedule_and_other_federations_are_404(
        self, live_server: LiveServer, browser_page: Page
    ) -> None:
        page = browser_page
        slug = await seed_federation(live_server)
        other = await seed_federation(live_server)
        email = f"red-{secrets.token_hex(3)}@exempel.se"
        invite_by_cli(live_server, email, slug, "redaktor")
        boss = f"chef-{secrets.token_hex(3)}@exempel.se"
        invite_by_cli(live_server, boss, other, "ansvarig")
        await keyboard_sign_in(live_server, page, boss)
        await page.goto(live_server.url("/redaktion/utskick/nytt"))
        await page.get_by_role("button", name="Skapa utkast").click()
        theirs = page.url
        await page.get_by_role("button", name="Logga ut", exact=True).click()

        await keyboard_sign_in(live_server, page, email)
        await page.goto(live_server.url("/redaktion/utskick/nytt"))
        await page.get_by_role("button", name="Skapa utkast").click()
        await expect(page.get_by_text("Din roll är redaktör")).to_be_visible()
        await expect(page.get_by_role("button", name="Schemalägg")).to_have_count(0)
        response = await page.goto(theirs)
        assert response is not None
        assert response.status == 404
        await expect(page.get_by_role("heading", level=1)).to_have_text("Länken fungerar inte")


class TestSignInByKeyboard:
    async def test_invited_by_cli_signs_in_from_the_mail_and_out(
        self, live_server: LiveServer, browser_page: Page
    ) -> None:
        page = browser_page
        slug = await seed_federation(live_server)
        email = f"redaktor-{secrets.token_hex(3)}@exempel.se"
        invite_by_cli(live_server, email, slug, "redaktor")
        await keyboard_sign_in(live_server, page, email)
        await expect(page.get_by_text("Samordningsförbundet Älvdalen").first).to_be_visible()
        await tab_to(page, "header button[type=submit]", max_presses=6)
        assert await page.evaluate("document.activeElement.textContent") == "Logga ut"
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("status")).to_have_text("Du är utloggad.")
        await page.goto(live_server.url("/redaktion"))
        await expect(page.get_by_role("heading", level=1)).to_have_text("Logga in i Redaktionen")

    async def test_a_used_link_shows_the_swedish_page(
        self, live_server: LiveServer, browser_page: Page
    ) -> None:
        page = browser_page
        slug = await seed_federation(live_server)
        email = f"ansvarig-{secrets.token_hex(3)}@exempel.se"
        invite_by_cli(live_server, email, slug, "ansvarig")
        mail = await sign_in_mail(live_server, email)
        link = live_server.link_in(mail, LINK_PATH)
        await page.goto(link)
        await page.get_by_role("button", name="Logga in").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Översikt")
        await page.goto(link)
        await expect(page.get_by_role("heading", level=1)).to_have_text("Länken fungerar inte")


class TestStaffPagesAccessibility:
    @pytest.mark.parametrize("scheme", ["light", "dark"])
    async def test_sign_in_pages_and_overview_have_zero_violations(
        self, live_server: LiveServer, browser_page: Page, scheme: str
    ) -> None:
        page = browser_page
        await page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        slug = await seed_federation(live_server)
        other = await seed_federation(live_server)
        email = f"axe-{secrets.token_hex(3)}@exempel.se"
        invite_by_cli(live_server, email, slug, "admin")
        invite_by_cli(live_server, email, other, "redaktor")
        await page.goto(live_server.url("/redaktion/logga-in"))
        await assert_no_violations(live_server, page, f"sign-in form ({scheme})")
        await page.get_by_role("button", name="Skicka inloggningslänk").click()
        await assert_no_violations(live_server, page, f"sign-in form with error ({scheme})")
        await page.get_by_label("E-postadress").fill(email)
        await page.get_by_role("button", name="Skicka inloggningslänk").click()
        await assert_no_violations(live_server, page, f"link sent ({scheme})")
        await page.goto(live_server.url("/redaktion/logga-in/" + "A" * 32))
        await assert_no_violations(live_server, page, f"link not valid ({scheme})")
        await page.goto(live_server.link_in(await sign_in_mail(live_server, email), LINK_PATH))
        await assert_no_violations(live_server, page, f"sign-in button ({scheme})")
        await page.get_by_role("button", name="Logga in").click()
        await expect(page.get_by_label("Byt förbund")).to_be_visible()
        await assert_no_violations(live_server, page, f"overview ({scheme})")
        await page.get_by_role("link", name="Händelselogg").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Händelselogg")
        await assert_no_violations(live_server, page, f"audit log ({scheme})")
        await page.get_by_role("link", name="Utskick", exact=True).click()
        await assert_no_violations(live_server, page, f"campaign list, empty ({scheme})")
        await page.get_by_role("link", name="Nytt utskick").click()
        await assert_no_violations(live_server, page, f"new campaign ({scheme})")
        await page.get_by_role("button", name="Skapa utkast").click()
        await expect(page.get_by_label("Ämnesrad", exact=True)).to_be_visible()
        await assert_no_violations(live_server, page, f"campaign editor ({scheme})")
        await page.get_by_text("Hjälp med formatering").click()
        await assert_no_violations(live_server, page, f"editor with help open ({scheme})")
        await page.get_by_role("link", name="Ta bort utkastet …").click()
        await assert_no_violations(live_server, page, f"delete draft confirmation ({scheme})")
        await page.get_by_role("link", name="Nej, tillbaka").click()
        await page.get_by_role("link", name="Alla utskick").click()
        await assert_no_violations(live_server, page, f"campaign list ({scheme})")
        # The admin's federation, for Inställningar.
        await page.goto(live_server.url("/redaktion"))
        await page.get_by_label("Byt förbund").select_option(slug)
        await page.get_by_role("button", name="Byt", exact=True).click()
        await page.get_by_role("link", name="Inställningar").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Inställningar")
        await assert_no_violations(live_server, page, f"settings ({scheme})")
        await page.get_by_role("button", name="Kontrollera färgerna").click()
        await assert_no_violations(live_server, page, f"settings, contrast ({scheme})")
        await page.get_by_role("button", name="Skapa nyckel").click()
        await assert_no_violations(live_server, page, f"settings, new key ({scheme})")
        await page.get_by_role("link", name="Prenumeranter").click()
        await assert_no_violations(live_server, page, f"subscribers, empty ({scheme})")
        await page.get_by_role("link", name="Lägg till").click()
        await page.get_by_label("Personen har redan gett sitt samtycke till oss").check()
        await page.get_by_role("button", name="Lägg till").click()
        await assert_no_violations(live_server, page, f"add subscriber, errors ({scheme})")
        await page.get_by_label("E-postadress").fill(f"p-{scheme}-{slug}@exempel.se")
        await page.get_by_label("Var och när gavs samtycket?", exact=False).fill("Mässan")
        await page.get_by_role("button", name="Lägg till").click()
        await expect(page.get_by_role("status")).to_have_text("Prenumeranten är tillagd.")
        await assert_no_violations(live_server, page, f"subscriber detail ({scheme})")
        await page.get_by_role("link", name="Radera prenumeranten …").click()
        await assert_no_violations(live_server, page, f"erase confirmation ({scheme})")
        await page.get_by_role("link", name="Nej, tillbaka").click()
        await page.get_by_role("link", name="Alla prenumeranter").click()
        await assert_no_violations(live_server, page, f"subscriber list ({scheme})")
        await page.get_by_role("link", name="Importera").click()
        await assert_no_violations(live_server, page, f"import ({scheme})")
        await page.get_by_label("CSV-fil").set_input_files(
            files=[{"name": "lista.csv", "mimeType": "text/csv",
                    "buffer": b"email,name\nx@exempel.se,X\nfel,Y\n"}]
        )  # fmt: skip
        await page.get_by_role("button", name="Importera").click()
        await expect(page.get_by_text("Väntar på att starta")).to_be_visible()
        await assert_no_violations(live_server, page, f"import waiting ({scheme})")
        await live_server.run_import_jobs()
        # htmx polls the progress panel: the report appears without a reload.
        await expect(page.get_by_role("heading", name="Resultat")).to_be_visible()
        await assert_no_violations(live_server, page, f"import report ({scheme})")
        await page.get_by_role("link", name="Översikt").click()
        await assert_no_violations(live_server, page, f"overview with data ({scheme})")

    @pytest.mark.parametrize(("width", "zoom"), [(320, 1.0), (1280, 2.0)])
    async def test_overview_reflows_at_320_px_and_200_percent(
        self, live_server: LiveServer, browser_page: Page, width: int, zoom: float
    ) -> None:
        page = browser_page
        slug = await seed_federation(live_server)
        email = f"smal-{secrets.token_hex(3)}@exempel.se"
        invite_by_cli(live_server, email, slug, "redaktor")
        await keyboard_sign_in(live_server, page, email)
        # 200 % zoom of a 1280 px window lays the page out like a 640 px one (WCAG 1.4.4, 1.4.10).
        await page.set_viewport_size({"width": int(width / zoom), "height": 800})
        await page.reload()
        css_width = int(width / zoom)
        assert await page.evaluate(f"document.documentElement.scrollWidth <= {css_width}")
        logout = page.get_by_role("button", name="Logga ut", exact=True)
        await expect(logout).to_be_visible()
        box = await logout.bounding_box()
        assert box is not None
        assert box["x"] + box["width"] <= css_width
        assert box["height"] >= 44

    @pytest.mark.parametrize(("width", "zoom"), [(320, 1.0), (1280, 2.0)])
    async def test_every_main_staff_page_reflows(
        self, live_server: LiveServer, browser_page: Page, width: int, zoom: float
    ) -> None:
        """Nothing scrolls sideways on the pages an admin works in, the editor included (its
        600 px preview frame scrolls inside its own region)."""
        page = browser_page
        slug = await seed_federation(live_server)
        email = f"bred-{secrets.token_hex(3)}@exempel.se"
        invite_by_cli(live_server, email, slug, "admin")
        await keyboard_sign_in(live_server, page, email)
        await page.get_by_role("link", name="Utskick", exact=True).click()
        await page.get_by_role("link", name="Nytt utskick").click()
        await page.get_by_role("button", name="Skapa utkast").click()
        editor = page.url
        css_width = int(width / zoom)
        await page.set_viewport_size({"width": css_width, "height": 800})
        paths = [
            editor,
            "/redaktion/utskick",
            "/redaktion/utskick/nytt",
            "/redaktion/prenumeranter",
            "/redaktion/prenumeranter/ny",
            "/redaktion/prenumeranter/import",
            "/redaktion/handelselogg",
            "/redaktion/installningar",
            "/redaktion/installningar/bilder",
            "/redaktion/installningar/texter",
            "/redaktion/installningar/arsplan",
            "/redaktion/installningar/inbaddning",
        ]
        wide = []
        for path in paths:
            await page.goto(path if path.startswith("http") else live_server.url(path))
            if not await page.evaluate(f"document.documentElement.scrollWidth <= {css_width}"):
                wide.append(path)
        assert wide == [], f"scroll sideways at {css_width} px: {wide}"
