"""Screenshot Redaktionen's main pages (1280 px, light) into docs/redaktion/.

    python -m bench.staff_screenshots        (make screenshots runs it too)

Runs the app under uvicorn against a scratch SQLite file with a demo federation, a signed-in
admin, a draft, a sent campaign and a few subscribers; only loopback is contacted."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "redaktion"
CHROMIUM = "/usr/bin/chromium"
PAGES = {
    "oversikt": "/redaktion",
    "utskick": "/redaktion/utskick",
    "redigera": "/redaktion/utskick/{draft}",
    "skickat": "/redaktion/utskick/{sent}",
    "prenumeranter": "/redaktion/prenumeranter",
    "installningar": "/redaktion/installningar",
    "bilder": "/redaktion/installningar/bilder",
    "texter": "/redaktion/installningar/texter",
    "arsplan": "/redaktion/installningar/arsplan",
    "inbaddning": "/redaktion/installningar/inbaddning",
    "handelselogg": "/redaktion/handelselogg",
}


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _seed(env: dict[str, str]) -> tuple[str, dict[str, int]]:
    """Demo data through the services; returns the session cookie value and campaign ids."""
    os.environ.update(env)
    from app import db
    from app.actors import Actor
    from app.campaigns import service as campaigns
    from app.campaigns.models import CampaignStatus, Theme
    from app.federations import service as federations
    from app.federations.schemas import FederationCreate
    from app.security import token_from_seed
    from app.subscribers.models import Subscriber, SubscriptionStatus
    from app.users import service as users
    from app.users.models import Role, SignInToken

    actor = Actor.system("screenshots")
    async with db.session_scope() as session:
        federation = await federations.create_federation(
            session,
            data=FederationCreate(
                slug="sf-alvdalen",
                name="Samordningsförbundet Älvdalen",
                from_name="Samordningsförbundet Älvdalen",
                from_email="nyhetsbrev@alvdalen.example.se",
                postal_address="Kyrkogatan 4\n796 30 Älvdalen",
            ),
            actor=actor,
        )
        for i, name in enumerate(("Anna Berg", "Lars Holm", "Greta Nilsson")):
            session.add(
                Subscriber(
                    federation_id=federation.id,
                    email=f"person{i}@example.se",
                    name=name,
                    status=SubscriptionStatus.CONFIRMED,
                )
            )
        invited = await users.invite_person(
            session,
            email="anna.redaktor@alvdalen.example.se",
            name="Anna Redaktör",
            federation=federation,
            role=Role.ADMIN,
            actor=actor,
        )
        draft = await campaigns.create_from_theme(
            session, federation=federation, theme=Theme.SOMMAR, actor=actor
        )
        sent = await campaigns.create_from_theme(
            session, federation=federation, theme=Theme.JUL, actor=actor
        )
        sent.status = CampaignStatus.SENT
        token = await session.get(SignInToken, 1)
        assert token is not None
        assert token.seed is not None
        raw = token_from_seed(token.seed)
        opened = await users.sign_in(session, raw=raw)
        del invited
    await db.dispose_engine()
    return opened.raw_id, {"draft": draft.id, "sent": sent.id}


async def _shoot(port: int, cookie: str, ids: dict[str, int]) -> None:
    from playwright.async_api import async_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=["--headless"])
        context = await browser.new_context(viewport={"width": 1280, "height": 900})
        await context.add_cookies(
            [{"name": "redaktion", "value": cookie, "url": f"http://127.0.0.1:{port}"}]
        )
        page = await context.new_page()
        for name, path in PAGES.items():
            await page.goto(f"http://127.0.0.1:{port}" + path.format(**ids))
            await page.screenshot(path=str(OUT / f"{name}.png"), full_page=True)
            print(f"wrote docs/redaktion/{name}.png")
        await browser.close()


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="nyhetsbrev-shots-"))
    port = _port()
    env = {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": f"sqlite+aiosqlite:///{work}/shots.db",
        "NEWSLETTER_BASE_URL": f"http://127.0.0.1:{port}",
        "NEWSLETTER_SECRET_KEY": "screenshots-only-0123456789abcdef01234567",
        "NEWSLETTER_DEV": "false",
        "NEWSLETTER_JOURNAL_DIR": str(work / "journal"),
    }
    subprocess.run([sys.executable, "-m", "alembic", "upgrade", "head"], cwd=ROOT, env=env,
                   check=True, capture_output=True)  # fmt: skip
    cookie, ids = asyncio.run(_seed(env))
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        asyncio.run(_shoot(port, cookie, ids))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
