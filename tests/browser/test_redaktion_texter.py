"""Bilder and Texter och regler in real Chromium: an upload by the page's own form (a refused
file, then a photo as the logo), the texts page with its preview; axe-core in light and dark."""

from __future__ import annotations

import secrets

import pytest
from playwright.async_api import Page, expect

from tests.fixtures.browser import LiveServer, assert_no_violations, seed_federation
from tests.fixtures.images import bomb_png, gps_jpeg
from tests.fixtures.staff_browser import LINK_PATH, invite_by_cli, sign_in_mail

pytestmark = pytest.mark.browser


async def sign_in_as_admin(live_server: LiveServer, page: Page) -> None:
    slug = await seed_federation(live_server)
    email = f"bilder-{secrets.token_hex(3)}@exempel.se"
    invite_by_cli(live_server, email, slug, "admin")
    await page.goto(live_server.url("/redaktion/logga-in"))
    await page.get_by_label("E-postadress").fill(email)
    await page.get_by_role("button", name="Skicka inloggningslänk").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Kolla din e-post")
    await page.goto(live_server.link_in(await sign_in_mail(live_server, email), LINK_PATH))
    await page.get_by_role("button", name="Logga in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Översikt")


@pytest.mark.parametrize("scheme", ["light", "dark"])
async def test_images_and_texts_pages_have_zero_violations(
    live_server: LiveServer, browser_page: Page, scheme: str
) -> None:
    page = browser_page
    await page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
    await sign_in_as_admin(live_server, page)

    await page.get_by_role("link", name="Inställningar").click()
    await page.get_by_role("link", name="Bilder och logotyp").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Bilder")
    await assert_no_violations(live_server, page, f"images, empty ({scheme})")
    await page.get_by_label("Bildfil").set_input_files(
        files=[{"name": "bomb.png", "mimeType": "image/png", "buffer": bomb_png(60_000, 60_000)}]
    )
    await page.get_by_label("Alternativtext").fill("Förbundets logga")
    await page.get_by_role("button", name="Ladda upp").click()
    await expect(page.get_by_role("alert")).to_contain_text("fler än 50 miljoner bildpunkter")
    await assert_no_violations(live_server, page, f"images, refused bomb ({scheme})")
    await page.get_by_label("Bildfil").set_input_files(
        files=[{"name": "foto.jpg", "mimeType": "image/jpeg", "buffer": gps_jpeg(600, 200)}]
    )
    await page.get_by_label("Använd bilden som förbundets logotyp").check()
    await page.get_by_role("button", name="Ladda upp").click()
    await expect(page.get_by_role("status")).to_have_text("Bilden är nu förbundets logotyp.")
    await expect(page.get_by_role("img", name="Förbundets logga")).to_be_visible()
    # Visible is not loaded: on a busy machine a thumbnail may still be on its way. One that
    # never loads (a broken image has naturalWidth 0) ends in the timeout.
    await page.wait_for_function(
        "Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)",
        timeout=15_000,
    )
    await assert_no_violations(live_server, page, f"images with the logo ({scheme})")

    await page.get_by_role("link", name="Inställningar", exact=True).first.click()
    await expect(page.get_by_role("img", name="Förbundets logotyp")).to_be_visible()
    await assert_no_violations(live_server, page, f"settings with the logo ({scheme})")
    await page.get_by_role("link", name="Texter och regler", exact=False).click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Texter och regler")
    await assert_no_violations(live_server, page, f"texts ({scheme})")
    await page.get_by_label("Välkomstbrevets text").fill("Välkommen!\n\nVi hörs till sommaren.")
    await page.get_by_role("button", name="Förhandsgranska texten i rutan nedan").click()
    frame = page.frame_locator("iframe[name=valkomst-forhandsvisning]")
    await expect(frame.get_by_text("Vi hörs till sommaren.")).to_be_visible()
    await assert_no_violations(live_server, page, f"texts with a draft preview ({scheme})")
    await page.get_by_label("Dagar som avslutade prenumeranter sparas").fill("tre")
    await page.get_by_role("button", name="Spara gallringstiden").click()
    await expect(page.get_by_role("alert")).to_contain_text("Ange ett helt antal dagar")
    await assert_no_violations(live_server, page, f"texts with an error ({scheme})")
    await page.get_by_label("Dagar som avslutade prenumeranter sparas").fill("90")
    await page.get_by_role("button", name="Spara gallringstiden").click()
    await expect(page.get_by_role("status")).to_have_text("Gallringstiden är sparad.")
    await page.get_by_role("button", name="Spara som ny version").click()
    await expect(page.get_by_role("cell", name="2 (visas nu)")).to_be_visible()
    await assert_no_violations(live_server, page, f"texts with two versions ({scheme})")
