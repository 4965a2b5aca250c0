"""Transactional mails keep their long link inside the screen and 600 px in Outlook; a stored
name or subject with a line break adds no header line and does not make the mail unbuildable."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from app.rendering.transactional import (
    Branding,
    MailKind,
    RenderedMail,
    Sender,
    build_message,
    render,
)
from tests.fixtures.hostile import LINE_BREAKS, with_header_line

LINK = "https://nyhetsbrev.example.se/f/sf-norra/bekrafta/" + "A" * 43


# The mails that print their link as text (the welcome mail links "Avsluta prenumerationen").
@pytest.mark.parametrize("kind", [MailKind.CONFIRMATION, MailKind.SELF_SERVICE])
def test_link_text_breaks_anywhere_and_outlook_gets_600px(kind: MailKind) -> None:
    federation = SimpleNamespace(
        name="Samordningsförbundet Norra",
        logo_url=None,
        brand_color="#1f5f8b",
        postal_address="Storgatan 1",
        website_url=None,
        slug="sf-norra",
    )
    html = render(
        kind,
        Branding.of(federation, base_url="https://nyhetsbrev.example.se"),
        link=LINK,
        valid_days=7,
    ).html
    shown = re.search(rf'<a class="url" href="{LINK}"[^>]*style="([^"]*)"[^>]*>{LINK}</a>', html)
    assert shown
    assert "word-break: break-all" in shown.group(1)
    card = re.search(r'<td class="card body" style="([^"]*)"', html)
    assert card
    assert "overflow-wrap: anywhere" in card.group(1)
    assert '<!--[if mso]><table role="presentation" width="600"' in html
    assert (
        ":root { color-scheme: light dark;" in html[html.index("<style>") : html.index("</style>")]
    )


@pytest.mark.parametrize("brk", LINE_BREAKS)
def test_stored_names_never_add_a_header_line(brk: str) -> None:
    raw = build_message(
        RenderedMail(subject=with_header_line("Bekräfta", brk), text="Hej", html="<p>Hej</p>"),
        sender=Sender(
            from_name=f"Förbundet{brk}Bcc: x@evil.test",
            from_email="info@sf.example.se",
            reply_to=None,
            timezone="Europe/Stockholm",
        ),
        to="anna@example.se",
        at=datetime(2026, 11, 26, tzinfo=UTC),
    )
    head = re.sub(rb"\r\n[ \t]", b" ", raw.split(b"\r\n\r\n", 1)[0]).split(b"\r\n")
    names = [line.split(b":")[0].lower() for line in head]
    assert names == [
        b"subject",
        b"from",
        b"to",
        b"date",
        b"message-id",
        b"auto-submitted",
        b"mime-version",
        b"content-type",
    ]
