"""Browser fixtures: the real app under uvicorn on loopback, real Chromium, axe-core.

`live_server` serves the application in a separate uvicorn process against its own SQLite
file, migrated with alembic and committed for real (the browser cannot see the rolled-back
test transaction). A process rather than a thread: the app reads its settings and database
engine from process-wide state, which the in-process fixtures repoint for every test.

    async def test_archive(live_server: LiveServer, browser_page: Page) -> None:
        fed = await live_server.seed(make_my_federation)       # async (session) -> value
        await browser_page.goto(live_server.url(f"/f/{fed.slug}/arkiv"))
        assert await live_server.axe(browser_page) == []
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

import aiosmtplib
import pytest
from aiosmtpd.controller import Controller
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import db
from app.delivery.models import Delivery, DeliveryKind
from app.subscribers import service as subscribers_service
from app.subscribers.models import Subscriber
from tests.conftest import ROOT, CapturedMail, _Handler, free_port

T = TypeVar("T")

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
AXE_JS = ROOT / "tests" / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
# The rules of WCAG 2.1 A and AA (DOS-lagen / EN 301 549) plus axe's best practices.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


class LiveServer:
    """A running app: base URL, its database (for seeding and checks) and its mail catcher."""

    def __init__(self, base_url: str, database_url: str, mail: CapturedMail, smtp_port: int):
        self.base_url = base_url
        self.database_url = database_url
        self.mail = mail
        self.smtp_port = smtp_port

    def url(self, path: str) -> str:
        return self.base_url + path

    async def seed(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` in a committed session on the live server's database."""
        engine = db.make_engine(self.database_url)
        try:
            factory = async_sessionmaker(engine, expire_on_commit=False)
            async with factory() as session:
                result = await work(session)
                await session.commit()
                return result
        finally:
            await engine.dispose()

    async def outbox_mail(self, email: str) -> EmailMessage:
        """The newest transactional mail queued for `email`, built from the outbox row with
        build_transactional_mail and delivered over SMTP to this server's catcher, so tests do
        not depend on the server's own immediate send (which may also deliver it)."""

        async def build(session: AsyncSession) -> tuple[str, bytes]:
            delivery = (
                await session.execute(
                    select(Delivery)
                    .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
                    .where(
                        func.lower(Subscriber.email) == email.lower(),
                        Delivery.kind.in_([DeliveryKind.CONFIRMATION, DeliveryKind.SELF_SERVICE]),
                    )
                    .order_by(Delivery.id.desc())
                    .limit(1)
                )
            ).scalar_one()
            return await subscribers_service.build_transactional_mail(session, delivery=delivery)

        recipient, raw = await self.seed(build)
        await aiosmtplib.send(
            raw,
            sender="bounces@nyhetsbrev.example.se",
            recipients=[recipient],
            hostname="127.0.0.1",
            port=self.smtp_port,
        )
        return message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]

    def link_in(self, message: EmailMessage, pattern: str) -> str:
        """The first link in the text part whose path matches `pattern`, on this server."""
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        match = re.search(r"https?://[^/\s]+(" + pattern + ")", str(body.get_content()))
        assert match, f"no link matching {pattern}"
        return self.url(match.group(1))

    async def axe(self, page: Page) -> list[dict[str, Any]]:
        """axe-core violations on the page as it is now (id, impact, help, nodes)."""
        if not AXE_JS.exists():
            pytest.fail("axe-core missing: run `make tests/.axe` once")
        # Evaluated over the DevTools protocol rather than add_script_tag: the pages' CSP
        # (rightly) refuses injected scripts, and the test should not switch CSP off.
        if not await page.evaluate("typeof window.axe !== 'undefined'"):
            await page.evaluate(AXE_JS.read_text() + "\n;undefined")
        result = await page.evaluate(
            "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
            ".violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' '))}))",
            AXE_TAGS,
        )
        return list(result)


def _wait_until_up(url: str, process: subprocess.Popen[bytes]) -> None:
    # Start-up wait, not a timed assertion: poll /healthz until the server answers.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"uvicorn exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("uvicorn did not start within 30 s")


@pytest.fixture(scope="session")
def live_server() -> Iterator[LiveServer]:
    workdir = Path(tempfile.mkdtemp(prefix="nyhetsbrev-live-"))
    database_url = f"sqlite+aiosqlite:///{workdir}/live.db"
    mail = CapturedMail()
    smtp_port = free_port()
    controller = Controller(_Handler(mail), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_BASE_URL": base_url,
        "NEWSLETTER_SMTP_HOST": "127.0.0.1",
        "NEWSLETTER_SMTP_PORT": str(smtp_port),
        "NEWSLETTER_JOURNAL_DIR": str(workdir / "journal"),
        "NEWSLETTER_DEV": "false",
        # A keyboard-driving browser can be quicker than a person; the stamp's lower bound is
        # covered by the HTTP tests.
        "NEWSLETTER_FORM_MIN_SECONDS": "0",
        "NEWSLETTER_RATE_LIMIT_PER_IP_PER_MINUTE": "1000",
    }
    env.pop("NEWSLETTER_TEST_DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    log = (workdir / "uvicorn.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_until_up(base_url, process)
        yield LiveServer(base_url, database_url, mail, smtp_port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        controller.stop()


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def browser_page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh page (own context: no cookies shared between tests), desktop size, Swedish."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="sv-SE")
    page = await context.new_page()
    try:
        yield page
    finally:
        await context.close()


def format_violations(violations: list[dict[str, Any]]) -> str:
    return json.dumps(violations, ensure_ascii=False, indent=2)
