"""/dev/mail shows caught mail in development mode and does not exist otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest

from app.config import get_settings
from app.web import dev


def _write_mail(directory: Path) -> str:
    msg = EmailMessage()
    msg["Subject"] = "Bekräfta din prenumeration"
    msg["From"] = "nyhetsbrev@exempel.se"
    msg["To"] = "åsa@exempel.se"
    msg.set_content("Hej! Bekräfta här.")
    msg.add_alternative("<p>Hej! <strong>Bekräfta</strong> här.</p>", subtype="html")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "1-1.eml").write_bytes(msg.as_bytes())
    return "1-1.eml"


async def _client(
    dev_mode: bool, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    monkeypatch.setenv("NEWSLETTER_DEV", "true" if dev_mode else "false")
    get_settings.cache_clear()
    from app.main import create_app

    app = create_app(embedded_services=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
        yield c
    monkeypatch.undo()
    get_settings.cache_clear()


class TestDevMail:
    async def test_lists_and_renders_caught_mail(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setattr(dev, "MAIL_DIR", tmp_path)
        name = _write_mail(tmp_path)
        async for client in _client(True, monkeypatch):
            listing = await client.get("/dev/mail")
            assert listing.status_code == 200
            assert "Bekräfta din prenumeration" in listing.text
            page = await client.get(f"/dev/mail/{name}")
            assert page.status_code == 200
            assert "Hej! Bekräfta här." in page.text
            html = await client.get(f"/dev/mail/{name}/html")
            assert "<strong>Bekräfta</strong>" in html.text
            assert "script-src" not in html.headers["content-security-policy"]
            missing = await client.get("/dev/mail/..%2Fsecret_key")
            assert missing.status_code == 404

    async def test_absent_outside_development(self, monkeypatch: pytest.MonkeyPatch) -> None:
        async for client in _client(False, monkeypatch):
            assert (await client.get("/dev/mail")).status_code == 404
