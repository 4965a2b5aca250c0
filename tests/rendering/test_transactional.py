"""Transactional mails keep their long link inside the screen and 600 px in Outlook."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from app.rendering.transactional import Branding, MailKind, render

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
