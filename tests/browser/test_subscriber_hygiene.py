"""List hygiene in real Chromium: a redaktör finds a bounced address with the list's filter,
resets its bounces, unsubscribes a person on request with a note and resends a confirmation,
all by clicking, with axe-core clean in light and dark on every page on the way."""

from __future__ import annotations

import secrets

import pytest
from playwright.async_api import Page, expect
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.clock import now
from app.federations.models import Federation
from app.subscribers.models import BounceState, Subscriber, SubscriptionStatus
from tests.fixtures.browser import LiveServer, assert_no_violations, seed_federation
from tests.fixtures.staff_browser import LINK_PATH, invite_by_cli, sign_in_mail

pytestmark = pytest.mark.browser


async def seed_subscribers(live_server: LiveServer, slug: str, tag: str) -> dict[str, str]:
    """A confirmed address that bounces hard and one that never confirmed (no mail queued yet,
    so a resend is within the daily limit)."""
    emails = {
        # Long enough to overflow a 320 px screen unless the pages wrap it.
        "bounced": f"studs{tag}medenmycketlangadressutanbindestreck@exempel.se",
        "pending": f"vantar-{tag}@exempel.se",
    }

    async def work(session: AsyncSession) -> None:
        federation = (
            await session.execute(select(Federation).where(Federation.slug == slug))
        ).scalar_one()
        session.add_all(
            [
                Subscriber(
                    federation_id=federation.id,
                    email=emails["bounced"],
                    status=SubscriptionStatus.CONFIRMED,
                    confirmed_at=now(),
                    bounce_state=BounceState.HARD,
                    bounce_count=2,
                ),
                Subscriber(
                    federation_id=federation.id,
                    email=emails["pending"],
                    status=SubscriptionStatus.PENDING,
                ),
            ]
        )

    await live_server.seed(work)
    return emails


async def subscriber_row(live_server: LiveServer, email: str) -> tuple[str, str]:
    async def work(session: AsyncSession) -> tuple[str, str]:
        row = (
            await session.execute(
                select(Subscriber.status, Subscriber.bounce_state).where(Subscriber.email == email)
            )
        ).one()
        return str(row[0]), str(row[1])

    return await live_server.seed(work)


async def signed_in_with_subscribers(live_server: LiveServer, page: Page) -> dict[str, str]:
    """A redaktör signed in (from the mailed link) in a federation with the two subscribers."""
    slug = await seed_federation(live_server)
    tag = secrets.token_hex(3)
    staff = f"red-{tag}@exempel.se"
    invite_by_cli(live_server, staff, slug, "redaktor")
    emails = await seed_subscribers(live_server, slug, tag)
    await page.goto(live_server.url("/redaktion/logga-in"))
    await page.get_by_label("E-postadress").fill(staff)
    await page.get_by_role("button", name="Skicka inloggningslänk").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Kolla din e-post")
    await page.goto(live_server.link_in(await sign_in_mail(live_server, staff), LINK_PATH))
    await page.get_by_role("button", name="Logga in").click()
    return emails


class TestListHygieneByClicking:
    @pytest.mark.parametrize("scheme", ["light", "dark"])
    async def test_reset_bounces_unsubscribe_and_resend(
        self, live_server: LiveServer, browser_page: Page, scheme: str
    ) -> None:
        page = browser_page
        await page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        emails = await signed_in_with_subscribers(live_server, page)
        await page.get_by_role("link", name="Prenumeranter").click()

        # The bounced address, found with the list's filter.
        await page.get_by_label("Visa").select_option(label="Studsade adresser")
        await page.get_by_role("button", name="Sök").click()
        await expect(page.get_by_role("link", name=emails["bounced"])).to_be_visible()
        await expect(page.get_by_role("link", name=emails["pending"])).to_have_count(0)
        await assert_no_violations(live_server, page, f"list, bounced filter ({scheme})")
        await page.get_by_role("link", name=emails["bounced"]).click()
        hard = page.get_by_text("Adressen fungerar inte och får inga utskick (2 st)")
        await expect(hard).to_be_visible()
        await assert_no_violations(live_server, page, f"detail, bounced ({scheme})")
        await page.get_by_role("link", name="Nollställ studsar …").click()
        await assert_no_violations(live_server, page, f"reset bounces confirmation ({scheme})")
        await page.get_by_role("button", name="Ja, nollställ studsarna").click()
        await expect(page.get_by_role("status")).to_have_text(
            "Studsarna är nollställda. Adressen får utskick igen."
        )
        assert await subscriber_row(live_server, emails["bounced"]) == ("confirmed", "ok")

        # The same person asks by phone to stop: unsubscribed with a note, nothing erased.
        await page.get_by_role("link", name="Avsluta prenumerationen …").click()
        await assert_no_violations(live_server, page, f"unsubscribe confirmation ({scheme})")
        await page.get_by_label("Hur bad personen om det?").fill("Ringde kansliet")
        await page.get_by_role("button", name="Ja, avsluta prenumerationen").click()
        await expect(page.get_by_role("status")).to_contain_text("Prenumerationen är avslutad.")
        await expect(page.get_by_role("cell", name="Ringde kansliet")).to_be_visible()
        await assert_no_violations(live_server, page, f"detail, unsubscribed ({scheme})")
        assert await subscriber_row(live_server, emails["bounced"]) == ("unsubscribed", "ok")

        # The one who never confirmed gets a new confirmation, over SMTP.
        await page.get_by_role("link", name="Alla prenumeranter").click()
        await page.get_by_role("link", name=emails["pending"]).click()
        await page.get_by_role("button", name="Skicka bekräftelsen igen").click()
        await expect(page.get_by_role("status")).to_have_text(
            "En ny bekräftelse är på väg till adressen."
        )
        await assert_no_violations(live_server, page, f"detail, confirmation sent ({scheme})")
        mail = await live_server.outbox_mail(emails["pending"])
        assert live_server.mail.to(emails["pending"])
        assert live_server.link_in(mail, r"/f/[a-z0-9-]+/bekrafta/[A-Za-z0-9_-]{32}")
        # A second one the same day is refused with an explanation.
        await page.get_by_role("button", name="Skicka bekräftelsen igen").click()
        await expect(page.get_by_role("alert")).to_contain_text("så många bekräftelser")
        await assert_no_violations(live_server, page, f"detail, resend refused ({scheme})")

    async def test_the_pages_reflow_at_320_px(
        self, live_server: LiveServer, browser_page: Page
    ) -> None:
        page = browser_page
        emails = await signed_in_with_subscribers(live_server, page)
        await page.set_viewport_size({"width": 320, "height": 800})
        await page.get_by_role("link", name="Prenumeranter").click()
        await page.get_by_role("link", name=emails["bounced"]).click()
        detail = page.url
        for path in ("", "/avsluta", "/studsar"):
            await page.goto(detail + path)
            assert await page.evaluate("document.documentElement.scrollWidth <= 320"), path
        await page.goto(live_server.url("/redaktion/prenumeranter?status=studsade"))
        assert await page.evaluate("document.documentElement.scrollWidth <= 320")
