"""Redaktionen in real Chromium: invited by the CLI, signs in from the mail by keyboard only,
axe-core in light and dark, 320 px and 200 % zoom, signs out."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from email import message_from_bytes, policy
from email.message import EmailMessage

import aiosmtplib
import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.delivery.models import Delivery, DeliveryKind
from app.users import service as users_service
from tests.fixtures import ROOT
from tests.fixtures.browser import LiveServer, assert_no_violations, seed_federation, tab_to

pytestmark = pytest.mark.browser

LINK_PATH = r"/redaktion/logga-in/[A-Za-z0-9_-]{32}"


def invite_by_cli(live_server: LiveServer, email: str, slug: str, role: str) -> None:
    env = {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": live_server.database_url,
        "NEWSLETTER_BASE_URL": live_server.base_url,
        "NEWSLETTER_SMTP_PORT": str(live_server.smtp_port),
        "NEWSLETTER_DEV": "false",
    }
    env.pop("NEWSLETTER_TEST_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "user", "invite", "--email", email,
         "--federation", slug, "--role", role],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


async def sign_in_mail(live_server: LiveServer, email: str) -> EmailMessage:
    """The newest sign-in mail for `email`, built from its outbox row and delivered over SMTP
    to the server's catcher."""

    async def build(session: AsyncSession) -> tuple[str, bytes]:
        delivery = (
            await session.execute(
                select(Delivery)
                .where(Delivery.kind == DeliveryKind.SIGN_IN, Delivery.to_address == email)
                .order_by(Delivery.id.desc())
                .limit(1)
            )
        ).scalar_one()
        return await users_service.build_sign_in_mail(session, delivery=delivery)

    recipient, raw = await live_server.seed(build)
    await aiosmtplib.send(
        raw,
        sender="bounces@nyhetsbrev.example.se",
        recipients=[recipient],
        hostname="127.0.0.1",
        port=live_server.smtp_port,
    )
    return message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


async def keyboard_sign_in(live_server: LiveServer, page: Page, email: str) -> None:
    await page.goto(live_server.url("/redaktion/logga-in"))
    await expect(page).to_have_title("Logga in \N{EN DASH} Redaktionen")
    assert await tab_to(page, "#email") <= 3  # skip link, product name, the field
    await page.keyboard.type(email)
    await tab_to(page, "button[type=submit]")
    assert await page.evaluate("document.activeElement.textContent") == "Skicka inloggningslänk"
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Kolla din e-post")
    mail = await sign_in_mail(live_server, email)
    await page.goto(live_server.link_in(mail, LINK_PATH))
    await tab_to(page, "button[type=submit]")
    assert await page.evaluate("document.activeElement.textContent") == "Logga in"
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "keyboard focus must be visible"
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Översikt")


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
