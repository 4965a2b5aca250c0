"""Rasterise the theme artwork (SVG to PNG) and screenshot every theme at 600 and 375 px.

    python -m bench.screenshots        (or: make screenshots)

Writes app/web/static/themes/<theme>-header.png and docs/themes/<theme>-<width>.png (and
-dark variants). Uses Debian's /usr/bin/chromium; requests other than the app's own static
files are refused, so nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import mimetypes
import os
from pathlib import Path

os.environ.setdefault("NEWSLETTER_SECRET_KEY", "screenshots-only-0123456789abcdef01234567")

from playwright.async_api import Route, async_playwright

from app.campaigns.samples import sample_branding, sample_content
from app.rendering.mail import (
    SAMPLE_NAME,
    SAMPLE_TOKEN,
    MailOptions,
    prepare_campaign,
)
from app.rendering.themes import THEMES

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "app" / "web" / "static"
ART = STATIC / "themes"
OUT = ROOT / "docs" / "themes"
BASE_URL = "https://nyhetsbrev.example.se"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


async def _serve_static(route: Route) -> None:
    url = route.request.url
    if url.startswith(BASE_URL + "/static/"):
        path = (STATIC / url.removeprefix(BASE_URL + "/static/")).resolve()
        if path.is_file() and STATIC in path.parents:
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            await route.fulfill(body=path.read_bytes(), content_type=kind)
            return
    await route.abort()


async def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page(viewport={"width": 1200, "height": 400})
        for svg in sorted((ART / "src").glob("*.svg")):
            await page.set_content(
                "<html><body style='margin:0'>" + svg.read_text() + "</body></html>"
            )
            png = ART / (svg.stem + ".png")
            await page.screenshot(
                path=str(png), clip={"x": 0, "y": 0, "width": 1200, "height": 400}
            )
            print(f"artwork  {png.relative_to(ROOT)}")
        await page.close()
        for theme in THEMES:
            prepared = prepare_campaign(
                sample_content(theme), sample_branding(), MailOptions(base_url=BASE_URL)
            )
            _, html = prepared.render_parts(name=SAMPLE_NAME, unsubscribe_token=SAMPLE_TOKEN)
            for width in (600, 375):
                for scheme in ("light", "dark"):
                    context = await browser.new_context(
                        viewport={"width": width, "height": 800},
                        color_scheme=scheme,
                        device_scale_factor=1,
                    )
                    page = await context.new_page()
                    await page.route("**/*", _serve_static)
                    await page.set_content(html, wait_until="load")
                    suffix = "" if scheme == "light" else "-dark"
                    path = OUT / f"{theme}-{width}{suffix}.png"
                    await page.screenshot(path=str(path), full_page=True)
                    await context.close()
                    print(f"theme    {path.relative_to(ROOT)}")
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main())
