"""The Utskick editor in real Chromium: the preview follows the unsaved text as one types (the
campaign's version does not move), and a header photo is chosen from the federation's images."""

from __future__ import annotations

import io
import secrets

import pytest
from PIL import Image as PilImage
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.actors import Actor
from app.campaigns.models import Campaign
from app.federations.models import Federation
from app.images import service as images_service
from tests.fixtures.browser import LiveServer, assert_no_violations, seed_federation
from tests.fixtures.staff_browser import invite_by_cli, keyboard_sign_in

pytestmark = pytest.mark.browser

WIDE = "iframe[title='Förhandsvisning, 600 px bred']"
NARROW = "iframe[title='Förhandsvisning, 375 px bred']"


async def new_draft(live_server: LiveServer, page: Page, slug: str) -> int:
    """Sign in a new redaktor of `slug` and open a new draft in the editor; its id."""
    email = f"redaktor-{secrets.token_hex(3)}@exempel.se"
    invite_by_cli(live_server, email, slug, "redaktor")
    await keyboard_sign_in(live_server, page, email)
    await page.goto(live_server.url("/redaktion/utskick/nytt"))
    await page.get_by_label("Sommarhälsning").check()
    await page.get_by_role("button", name="Skapa utkast").click()
    await expect(page.get_by_label("Ämnesrad", exact=True)).to_be_visible()
    return int(page.url.rsplit("/", 1)[1].split("?")[0])


async def version_of(live_server: LiveServer, campaign_id: int) -> int:
    async def work(session: AsyncSession) -> int:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        return campaign.version

    return await live_server.seed(work)


async def upload_photo(live_server: LiveServer, slug: str, alt: str) -> str:
    """An uploaded image of the federation; its digest (the name in its address)."""

    async def work(session: AsyncSession) -> str:
        federation = (
            await session.execute(select(Federation).where(Federation.slug == slug))
        ).scalar_one()
        out = io.BytesIO()
        PilImage.new("RGB", (900, 300), (40, 120, 90)).save(out, "PNG")
        image = await images_service.upload_image(
            session,
            federation=federation,
            data=out.getvalue(),
            alt_text=alt,
            actor=Actor.system("test"),
        )
        return image.digest

    return await live_server.seed(work)


class TestUnsavedPreview:
    async def test_typing_updates_both_previews_without_saving(
        self, live_server: LiveServer, browser_page: Page
    ) -> None:
        page = browser_page
        slug = await seed_federation(live_server)
        campaign_id = await new_draft(live_server, page, slug)
        await page.get_by_label("Text", exact=True).fill(
            "Ett helt nytt stycke om **vårens möten**.\n\n[klicka här](https://exempel.se)"
        )
        for frame in (WIDE, NARROW):
            preview = page.frame_locator(frame)
            await expect(preview.get_by_text("vårens möten")).to_be_visible()
        await expect(page.locator("#forhandsvisning")).to_contain_text(
            "Rad 3: Länktexten ”klicka här” säger inget"
        )
        await expect(page.locator("#forhandsvisning")).to_contain_text("inte sparat ännu")
        assert await version_of(live_server, campaign_id) == 1
        await assert_no_violations(live_server, page, "editor with an unsaved preview")
        # Reloading shows the saved letter again: nothing of the typing was kept.
        await page.reload()
        await expect(page.frame_locator(WIDE).get_by_text("vårens möten")).to_have_count(0)
        assert await version_of(live_server, campaign_id) == 1

    async def test_the_button_previews_without_javascript(
        self, live_server: LiveServer, browser: Browser
    ) -> None:
        context = await browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="sv-SE", java_script_enabled=False
        )
        try:
            page = await context.new_page()
            slug = await seed_federation(live_server)
            campaign_id = await new_draft(live_server, page, slug)
            await page.get_by_label("Text", exact=True).fill(
                "Utan skript syns **kvittrande koltrastar**."
            )
            await expect(
                page.frame_locator(WIDE).get_by_text("kvittrande koltrastar")
            ).to_have_count(0)
            await page.get_by_role("button", name="Förhandsgranska").click()
            await expect(page.get_by_label("Text", exact=True)).to_have_value(
                "Utan skript syns **kvittrande koltrastar**."
            )
            for frame in (WIDE, NARROW):
                await expect(
                    page.frame_locator(frame).get_by_text("kvittrande koltrastar")
                ).to_be_visible()
            assert await version_of(live_server, campaign_id) == 1
        finally:
            await context.close()


class TestHeaderPhoto:
    async def test_a_chosen_photo_replaces_the_theme_artwork(
        self, live_server: LiveServer, browser_page: Page
    ) -> None:
        page = browser_page
        slug = await seed_federation(live_server)
        digest = await upload_photo(live_server, slug, "Deltagare vid odlingslådorna")
        campaign_id = await new_draft(live_server, page, slug)
        await expect(
            page.get_by_role("link", name="Ladda upp bilder på sidan Bilder")
        ).to_be_visible()
        await assert_no_violations(live_server, page, "editor with an image to choose")
        wide = page.frame_locator(WIDE)
        photo = wide.locator(f"img[src*='{digest}']")
        await expect(photo).to_have_count(0)
        await page.get_by_label("Deltagare vid odlingslådorna").first.check()
        # The preview follows the choice before it is saved.
        await expect(photo).to_have_attribute("alt", "Deltagare vid odlingslådorna")
        assert await version_of(live_server, campaign_id) == 1
        await page.get_by_role("button", name="Spara").click()
        await expect(page.get_by_role("status").first).to_have_text("Utskicket är sparat.")
        assert await version_of(live_server, campaign_id) == 2
        await expect(page.frame_locator(NARROW).locator(f"img[src*='{digest}']")).to_be_visible()
        await expect(page.get_by_label("Deltagare vid odlingslådorna").first).to_be_checked()
