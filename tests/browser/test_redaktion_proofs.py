"""Redaktionen's promises proven in real Chromium: keyboard only with visible focus, four eyes,
CSRF refusal, session expiry, federation isolation, and the staff error pages (axe in light
and dark)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.campaigns.models import Campaign, CampaignStatus
from app.clock import now
from app.federations.models import Federation
from app.messages import PAGES, STAFF_ERRORS
from app.subscribers.models import Subscriber
from app.users.models import StaffSession, User
from tests.fixtures.browser import LiveServer, assert_no_violations, seed_federation
from tests.fixtures.staff_browser import (
    LINK_PATH,
    add_subscribers,
    invite_by_cli,
    sign_in_mail,
)

pytestmark = pytest.mark.browser

SIGN_IN_HEADING = "Logga in i Redaktionen"
BACK = "Tillbaka till Översikt"


async def sign_in(live_server: LiveServer, page: Page, email: str) -> None:
    """Request a link, open it from the mail and press the button."""
    await page.goto(live_server.url("/redaktion/logga-in"))
    await page.get_by_label("E-postadress").fill(email)
    await page.get_by_role("button", name="Skicka inloggningslänk").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Kolla din e-post")
    await page.goto(live_server.link_in(await sign_in_mail(live_server, email), LINK_PATH))
    await page.get_by_role("button", name="Logga in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Översikt")


async def person(live_server: LiveServer, slug: str, role: str) -> str:
    email = f"{role}-{secrets.token_hex(3)}@exempel.se"
    invite_by_cli(live_server, email, slug, role)
    return email


async def new_draft(page: Page, live_server: LiveServer, subject: str) -> int:
    await page.goto(live_server.url("/redaktion/utskick/nytt"))
    await page.get_by_role("button", name="Skapa utkast").click()
    await page.get_by_label("Ämnesrad", exact=True).fill(subject)
    await page.get_by_role("button", name="Spara").click()
    await expect(page.get_by_role("status").first).to_have_text("Utskicket är sparat.")
    return int(page.url.split("?")[0].rsplit("/", 1)[1])


async def campaign_row(live_server: LiveServer, campaign_id: int) -> Campaign:
    async def work(session: AsyncSession) -> Campaign:
        campaign = await session.get(Campaign, campaign_id)
        assert campaign is not None
        return campaign

    return await live_server.seed(work)


async def campaign_count(live_server: LiveServer, slug: str) -> int:
    async def work(session: AsyncSession) -> int:
        query = (
            select(func.count())
            .select_from(Campaign)
            .join(Federation, Federation.id == Campaign.federation_id)
            .where(Federation.slug == slug)
        )
        return int((await session.execute(query)).scalar_one())

    return await live_server.seed(work)


async def focus_is_visible(page: Page) -> bool:
    """The focused control draws an indicator: a computed outline or box shadow."""
    return bool(
        await page.evaluate(
            """() => {
                const el = document.activeElement;
                const s = getComputedStyle(el);
                const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0;
                return el.matches(':focus-visible') && (outline || s.boxShadow !== 'none');
            }"""
        )
    )


async def tab_to(page: Page, selector: str, *, back: bool = False, max_presses: int = 60) -> None:
    """Press Tab (or Shift+Tab) until `selector` has focus, checking on every control that
    gets focus on the way that its focus is visible. Frames (the mail previews) are passed
    through: the mail's own links are the mail's design, not the page's."""
    key = "Shift+Tab" if back else "Tab"
    for _ in range(max_presses):
        await page.keyboard.press(key)
        # In a frame, or on the calendar button inside a date field (the browser's own part,
        # which draws its own ring and leaves the field itself unfocused to CSS).
        focused = "(el) => el.tagName !== 'IFRAME' && el.matches(':focus')"
        if not await page.evaluate(f"({focused})(document.activeElement)"):
            continue
        described = await page.evaluate("document.activeElement.outerHTML.slice(0, 120)")
        assert await focus_is_visible(page), f"no visible focus on {described}"
        if await page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return
    raise AssertionError(f"{selector} never got keyboard focus")


async def skip_to_content(page: Page) -> None:
    """The first Tab reaches the skip link, shown on screen; Enter moves focus to <main>."""
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Hoppa till innehållet"
    assert await focus_is_visible(page)
    box = await page.locator(".skip-link").bounding_box()
    assert box is not None
    assert box["y"] >= 0, "the focused skip link must be on screen"
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "innehall"


async def last_session(live_server: LiveServer, email: str) -> int:
    async def work(session: AsyncSession) -> int:
        query = (
            select(StaffSession.id)
            .join(User, User.id == StaffSession.user_id)
            .where(User.email == email)
            .order_by(StaffSession.id.desc())
            .limit(1)
        )
        return int((await session.execute(query)).scalar_one())

    return await live_server.seed(work)


async def age_session(live_server: LiveServer, session_id: int, how: str) -> None:
    """Move the session past its idle timeout (8 h without a request) or its absolute limit
    (7 days since sign-in, however busy): the server runs in another process, so the
    session's timestamps move rather than the clock."""

    async def work(session: AsyncSession) -> None:
        row = await session.get(StaffSession, session_id)
        assert row is not None
        at = now()
        if how == "idle":
            row.last_seen_at = at - timedelta(hours=8, minutes=1)
        else:
            row.created_at = at - timedelta(days=7, minutes=1)
            row.expires_at = at - timedelta(minutes=1)
            row.last_seen_at = at - timedelta(minutes=5)

    await live_server.seed(work)


@pytest.fixture
async def second_page(browser: Browser) -> AsyncIterator[Page]:
    """Another person's browser (own cookies)."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="sv-SE")
    try:
        yield await context.new_page()
    finally:
        await context.close()


class TestKeyboardOnly:
    async def test_signs_in_writes_tests_and_schedules_with_the_keyboard(
        self, live_server: LiveServer, browser_page: Page
    ) -> None:
        page = browser_page
        slug = await seed_federation(live_server)
        await add_subscribers(live_server, slug, 1)
        email = await person(live_server, slug, "ansvarig")

        await page.goto(live_server.url("/redaktion/logga-in"))
        await skip_to_content(page)
        await tab_to(page, "#email", max_presses=3)
        await page.keyboard.type(email)
        await tab_to(page, "button[type=submit]")
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Kolla din e-post")
        await page.goto(live_server.link_in(await sign_in_mail(live_server, email), LINK_PATH))
        await tab_to(page, "button[type=submit]")
        await page.keyboard.press("Space")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Översikt")

        await tab_to(page, "nav a[href='/redaktion/utskick']")
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Utskick")
        await skip_to_content(page)
        await tab_to(page, "a[href='/redaktion/utskick/nytt']")
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("heading", level=1)).to_have_text("Nytt utskick")
        await tab_to(page, "input[name=tema]")
        await page.keyboard.press("ArrowDown")  # the next theme; arrows move within a group
        chosen = await page.evaluate("document.activeElement.value")
        await tab_to(page, "button[type=submit]")
        await page.keyboard.press("Enter")
        await expect(page.get_by_label("Ämnesrad", exact=True)).to_be_visible()
        campaign_id = int(page.url.rsplit("/", 1)[1])

        await skip_to_content(page)
        await tab_to(page, "#subject")
        await page.keyboard.press("Control+A")
        await page.keyboard.type("Hälsning skriven med tangentbordet")
        await tab_to(page, "#body_markdown")
        await page.keyboard.press("Control+A")
        await page.keyboard.type("Hej!\n\nTack för **i år**.")
        await tab_to(page, "summary")
        await page.keyboard.press("Enter")  # the formatting help opens
        await expect(page.get_by_text("en mellanrubrik")).to_be_visible()
        await tab_to(page, ".editor-form button[type=submit]")
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("status").first).to_have_text("Utskicket är sparat.")
        saved = await campaign_row(live_server, campaign_id)
        assert saved.subject == "Hälsning skriven med tangentbordet"
        assert saved.body_markdown == "Hej!\n\nTack för **i år**."
        assert saved.theme == chosen

        await skip_to_content(page)
        await tab_to(page, "form[action$='/test'] button")
        await page.keyboard.press("Space")
        await expect(page.get_by_role("status").first).to_contain_text("Testutskicket är köat")

        await skip_to_content(page)
        await tab_to(page, "#datum")
        # Chromium lays the date field out in its own language (English here: month, day,
        # year), not the page's; the value is checked, so another layout fails loudly.
        await page.keyboard.type("12202099")
        assert await page.locator("#datum").input_value() == "2099-12-20"
        await tab_to(page, "#tid")
        await page.keyboard.type("0930")
        await tab_to(page, "form.when button[type=submit]")
        # Shift+Tab goes back to the time, and Tab forward again.
        await tab_to(page, "#tid", back=True, max_presses=3)
        await tab_to(page, "form.when button[type=submit]", max_presses=3)
        await page.keyboard.press("Enter")
        await expect(page.get_by_role("status").first).to_have_text("Utskicket är schemalagt.")
        await expect(page.get_by_text("skickas 20 december 2099 kl. 09.30")).to_be_visible()
        assert (await campaign_row(live_server, campaign_id)).status == CampaignStatus.SCHEDULED


async def require_four_eyes(live_server: LiveServer, slug: str) -> None:
    async def work(session: AsyncSession) -> None:
        federation = (
            await session.execute(select(Federation).where(Federation.slug == slug))
        ).scalar_one()
        federation.four_eyes = True

    await live_server.seed(work)


class TestFourEyes:
    async def test_author_cannot_schedule_until_another_ansvarig_approves_this_version(
        self, live_server: LiveServer, browser_page: Page, second_page: Page
    ) -> None:
        author, approver = browser_page, second_page
        slug = await seed_federation(live_server)
        await require_four_eyes(live_server, slug)
        await add_subscribers(live_server, slug, 1)
        await sign_in(live_server, author, await person(live_server, slug, "ansvarig"))
        campaign_id = await new_draft(author, live_server, "Fyra ögon")
        page_url = live_server.url(f"/redaktion/utskick/{campaign_id}")

        # The author sees neither a way to schedule nor to approve their own version.
        await expect(author.get_by_role("button", name="Schemalägg")).to_have_count(0)
        await expect(author.get_by_role("button", name="Godkänn", exact=False)).to_have_count(0)
        await expect(author.get_by_text("väntar på godkännande av en ansvarig")).to_be_visible()
        # Posting the forms anyway (with the session's own CSRF token) is refused in Swedish.
        csrf = await author.locator("input[name=csrf]").first.input_value()
        forged = {"csrf": csrf, "datum": "2099-12-20", "tid": "09:00", "version": "2"}
        for action, message in [
            ("schemalagg", STAFF_ERRORS["approval_needed"]),
            ("godkann", STAFF_ERRORS["own_campaign"]),
        ]:
            answer = await author.request.post(f"{page_url}/{action}", form=forged)
            assert answer.ok
            assert message in await answer.text()
        row = await campaign_row(live_server, campaign_id)
        assert row.status == CampaignStatus.DRAFT
        assert row.approved_version is None

        await sign_in(live_server, approver, await person(live_server, slug, "ansvarig"))
        await approver.goto(page_url)
        await approver.get_by_role("button", name=f"Godkänn version {row.version}").click()
        await expect(approver.get_by_role("status").first).to_have_text(
            "Du har godkänt den här versionen."
        )
        assert (await campaign_row(live_server, campaign_id)).approved_version == row.version

        # An edit after approval withdraws it.
        await author.reload()
        await expect(author.get_by_role("button", name="Schemalägg")).to_be_visible()
        await author.get_by_label("Ämnesrad", exact=True).fill("Fyra ögon, ändrad")
        await author.get_by_role("button", name="Spara").click()
        await expect(author.get_by_role("status").first).to_have_text("Utskicket är sparat.")
        await expect(author.get_by_role("button", name="Schemalägg")).to_have_count(0)
        edited = await campaign_row(live_server, campaign_id)
        assert edited.version > row.version
        assert edited.approved_version is None
        await approver.reload()
        await approver.get_by_role("button", name=f"Godkänn version {edited.version}").click()
        await expect(approver.get_by_role("status").first).to_have_text(
            "Du har godkänt den här versionen."
        )

        await author.reload()
        await author.get_by_label("Datum").fill("2099-12-20")
        await author.get_by_label("Tid").fill("09:00")
        await author.get_by_role("button", name="Schemalägg").click()
        await expect(author.get_by_role("status").first).to_have_text("Utskicket är schemalagt.")
        assert (await campaign_row(live_server, campaign_id)).status == CampaignStatus.SCHEDULED


class TestCsrfInTheBrowser:
    @pytest.mark.parametrize("scheme", ["light", "dark"])
    async def test_a_removed_or_altered_token_is_refused_and_changes_nothing(
        self, live_server: LiveServer, browser_page: Page, scheme: str
    ) -> None:
        page = browser_page
        await page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        slug = await seed_federation(live_server)
        await sign_in(live_server, page, await person(live_server, slug, "redaktor"))
        campaign_id = await new_draft(page, live_server, "Före")
        before = await campaign_row(live_server, campaign_id)
        count = await campaign_count(live_server, slug)
        refused = PAGES["csrf"]["title"]

        # Removed: the new-draft form without its token.
        await page.goto(live_server.url("/redaktion/utskick/nytt"))
        await page.locator("main input[name=csrf]").evaluate("(el) => el.remove()")
        await page.get_by_role("button", name="Skapa utkast").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(refused)
        assert await campaign_count(live_server, slug) == count
        await assert_no_violations(live_server, page, f"CSRF refusal ({scheme})")

        # Altered: the editor's token changed by one character.
        await page.goto(live_server.url(f"/redaktion/utskick/{campaign_id}"))
        token = page.locator(".editor-form input[name=csrf]")
        value = await token.input_value()
        altered = value[:-1] + ("B" if value.endswith("A") else "A")
        await token.evaluate("(el, v) => { el.value = v; }", altered)
        await page.get_by_label("Ämnesrad", exact=True).fill("Efter")
        await page.get_by_role("button", name="Spara").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(refused)
        after = await campaign_row(live_server, campaign_id)
        assert (after.subject, after.version) == (before.subject, before.version)

        # The page is Redaktionen's, with a way back.
        await page.get_by_role("link", name=BACK).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Översikt")


class TestSessionExpiry:
    @pytest.mark.parametrize("how", ["idle", "absolute"])
    async def test_an_expired_session_goes_to_sign_in_and_its_post_changes_nothing(
        self, live_server: LiveServer, browser_page: Page, how: str
    ) -> None:
        page = browser_page
        slug = await seed_federation(live_server)
        email = await person(live_server, slug, "redaktor")
        await sign_in(live_server, page, email)
        campaign_id = await new_draft(page, live_server, "Före")
        session_id = await last_session(live_server, email)

        # The editor stays open while the session ends; then the person saves.
        await age_session(live_server, session_id, how)
        await page.get_by_label("Ämnesrad", exact=True).fill("Efter")
        await page.get_by_role("button", name="Spara").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(SIGN_IN_HEADING)
        assert (await campaign_row(live_server, campaign_id)).subject == "Före"

        for path in ("/redaktion", f"/redaktion/utskick/{campaign_id}", "/redaktion/prenumeranter"):
            await page.goto(live_server.url(path))
            await expect(page.get_by_role("heading", level=1)).to_have_text(SIGN_IN_HEADING)


async def subscriber_id(live_server: LiveServer, email: str) -> int:
    async def work(session: AsyncSession) -> int:
        query = select(Subscriber.id).where(Subscriber.email == email)
        return int((await session.execute(query)).scalar_one())

    return await live_server.seed(work)


class TestOtherFederation:
    @pytest.mark.parametrize("scheme", ["light", "dark"])
    async def test_pages_and_ids_of_another_federation_are_404(
        self, live_server: LiveServer, browser_page: Page, second_page: Page, scheme: str
    ) -> None:
        page = browser_page
        await page.emulate_media(color_scheme=scheme)  # type: ignore[arg-type]
        mine = await seed_federation(live_server)
        theirs = await seed_federation(live_server)
        their_subscriber = await subscriber_id(
            live_server, (await add_subscribers(live_server, theirs, 1))[0]
        )
        await sign_in(live_server, second_page, await person(live_server, theirs, "admin"))
        their_campaign = await new_draft(second_page, live_server, "Deras")
        await sign_in(live_server, page, await person(live_server, mine, "admin"))

        for path in (
            f"/redaktion/utskick/{their_campaign}",
            f"/redaktion/utskick/{their_campaign}/forhandsvisning",
            f"/redaktion/utskick/{their_campaign}/mottagare",
            f"/redaktion/utskick/{their_campaign}/framsteg",
            f"/redaktion/prenumeranter/{their_subscriber}",
            f"/redaktion/prenumeranter/{their_subscriber}/radera",
        ):
            answer = await page.goto(live_server.url(path))
            assert answer is not None
            assert answer.status == 404, path
            assert answer.headers["cache-control"] == "no-store"
            await expect(page.get_by_role("heading", level=1)).to_have_text(
                PAGES["not_found"]["title"]
            )
        await assert_no_violations(live_server, page, f"staff 404 ({scheme})")

        # A form of my own, aimed at their campaign, with my valid token: 404, nothing changes.
        await page.goto(live_server.url("/redaktion/utskick/nytt"))
        csrf = await page.locator("main input[name=csrf]").input_value()
        answer = await page.request.post(
            live_server.url(f"/redaktion/utskick/{their_campaign}"),
            form={"csrf": csrf, "subject": "Kapad", "preheader": "", "theme": "allman",
                  "body_markdown": "x"},
        )  # fmt: skip
        assert answer.status == 404
        assert (await campaign_row(live_server, their_campaign)).subject == "Deras"

        await page.goto(live_server.url(f"/redaktion/utskick/{their_campaign}"))
        await page.get_by_role("link", name=BACK).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Översikt")
