"""Each theme's mail HTML in real Chromium: zero axe-core violations, light and dark."""

from __future__ import annotations

import mimetypes

import pytest
from playwright.async_api import Browser, Route

from app.campaigns.samples import sample_branding, sample_content
from app.rendering.mail import SAMPLE_NAME, MailOptions, prepare_campaign
from app.rendering.themes import THEMES
from tests.fixtures import ROOT
from tests.fixtures.browser import AXE_JS, AXE_TAGS, format_violations

pytestmark = pytest.mark.browser

BASE = "https://nyhetsbrev.example.se"
# A message is shown inside the mail client's own page, which supplies the landmarks; the
# message itself is one role="article" (the Email Markup Consortium pattern). The two
# page-level landmark rules therefore do not apply to it. The archive's web version is a page
# of its own, wraps the same letter in <main>, and is checked with every rule.
MAIL_ONLY_EXEMPT = ["region", "landmark-one-main"]
STATIC = ROOT / "app" / "web" / "static"


async def _static_only(route: Route) -> None:
    """Hosted images come from the app's static folder; nothing leaves the machine."""
    url = route.request.url
    if url.startswith(BASE + "/static/"):
        path = (STATIC / url.removeprefix(BASE + "/static/")).resolve()
        if path.is_file() and STATIC in path.parents:
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            await route.fulfill(body=path.read_bytes(), content_type=kind)
            return
    await route.abort()


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [600, 375])
@pytest.mark.parametrize("theme", THEMES)
async def test_theme_has_no_axe_violations(
    browser: Browser, theme: str, scheme: str, width: int
) -> None:
    prepared = prepare_campaign(sample_content(theme), sample_branding(), MailOptions(BASE))
    _, html = prepared.render_parts(name=SAMPLE_NAME, unsubscribe_token="abc123")
    context = await browser.new_context(
        viewport={"width": width, "height": 900}, color_scheme=scheme, locale="sv-SE"
    )
    try:
        page = await context.new_page()
        await page.route("**/*", _static_only)
        await page.set_content(html, wait_until="load")
        loaded = await page.evaluate(
            "() => [...document.images].filter(i => i.src.includes('/static/'))"
            ".map(i => i.naturalWidth)"
        )
        # The header artwork and the sample's captioned illustration.
        assert len(loaded) >= 2
        assert all(w > 0 for w in loaded), "header artwork or illustration did not load"
        await page.add_script_tag(path=str(AXE_JS))
        violations = await page.evaluate(
            "async ([tags, off]) => (await axe.run(document, {runOnly: {type: 'tag', values: tags},"
            " rules: Object.fromEntries(off.map(r => [r, {enabled: false}]))}))"
            ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' '))}))",
            [AXE_TAGS, MAIL_ONLY_EXEMPT],
        )
        assert violations == [], format_violations(violations)
        # The letter never scrolls sideways on a phone.
        overflow = await page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
    finally:
        await context.close()
