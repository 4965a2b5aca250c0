"""Transactional mails keep their long link inside the screen and 600 px in Outlook; a stored
name or subject with a line break adds no header line and does not make the mail unbuildable."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from types import SimpleNamespace

import pytest

from app.rendering.mail import RenderError
from app.rendering.transactional import (
    Branding,
    MailKind,
    RenderedMail,
    Sender,
    build_message,
    message,
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


def _look(name: str) -> tuple[Branding, Sender]:
    federation = SimpleNamespace(
        name=name,
        logo_url=None,
        brand_color="#1f5f8b",
        postal_address="Storgatan 1\nBox 12",
        website_url="https://sf-norra.example.se",
        slug="sf-norra",
        from_name=name,
        from_email="info@sf-norra.example.se",
        reply_to="kansli@sf-norra.example.se",
        timezone="Europe/Stockholm",
    )
    return (
        Branding.of(federation, base_url="https://nyhetsbrev.example.se"),
        Sender.of(federation),
    )


def _parts(raw: bytes) -> tuple[dict[str, str], list[tuple[str, str]]]:
    msg = message_from_bytes(raw, policy=policy.default)
    headers = {k: str(v) for k, v in msg.items() if k not in {"Message-ID", "Content-Type"}}
    parts = [(p.get_content_type(), str(p.get_content())) for p in msg.iter_parts()]
    return headers, parts


class TestPreparedMail:
    """message() fills a mail prepared once per look and kind: the same mail as rendering and
    building it afresh, and a changed look is a new mail."""

    @pytest.mark.parametrize(
        ("kind", "text", "unsubscribe"),
        [
            (MailKind.CONFIRMATION, "", False),
            (MailKind.SELF_SERVICE, "", False),
            (MailKind.WELCOME, "Välkommen!\n\nVi skriver fyra gånger om året.", True),
        ],
    )
    def test_the_prepared_mail_is_the_one_built_afresh(
        self, kind: MailKind, text: str, unsubscribe: bool
    ) -> None:
        branding, sender = _look("Samordningsförbundet Norra")
        at = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
        for link in (LINK, LINK.replace("A" * 43, "b-" * 21 + "c")):
            prepared = message(
                kind,
                branding,
                sender,
                link=link,
                to="anna@example.se",
                at=at,
                dkim=None,
                valid_days=7,
                text=text,
                list_unsubscribe=unsubscribe,
            )
            fresh = build_message(
                render(kind, branding, link=link, valid_days=7, text=text),
                sender=sender,
                to="anna@example.se",
                at=at,
                unsubscribe_url=link if unsubscribe else None,
            )
            assert _parts(prepared) == _parts(fresh)
            headers, parts = _parts(prepared)
            assert link in parts[0][1]
            assert link in parts[1][1]
            assert (headers.get("List-Unsubscribe") == f"<{link}>") is unsubscribe

    def test_an_edited_look_is_a_new_mail(self) -> None:
        at = datetime(2026, 11, 26, tzinfo=UTC)
        for name in ("Samordningsförbundet Norra", "Samordningsförbundet Norr och Söder"):
            branding, sender = _look(name)
            raw = message(
                MailKind.CONFIRMATION,
                branding,
                sender,
                link=LINK,
                to="anna@example.se",
                at=at,
                dkim=None,
                valid_days=7,
            )
            headers, parts = _parts(raw)
            assert name in headers["From"]
            assert name in parts[0][1]
            assert name in parts[1][1]

    @pytest.mark.parametrize(
        ("link", "to"),
        [
            (LINK + '"><script>', "anna@example.se"),
            (LINK + "\r\nBcc: x@evil.test", "anna@example.se"),
            ("javascript:alert(1)", "anna@example.se"),
            (LINK, "anna@example.se\r\nBcc: x@evil.test"),
            (LINK, "Anna <anna@example.se>"),
        ],
    )
    def test_a_link_or_address_that_cannot_go_in_as_it_is_is_refused(
        self, link: str, to: str
    ) -> None:
        branding, sender = _look("Samordningsförbundet Norra")
        with pytest.raises(RenderError):
            message(
                MailKind.CONFIRMATION,
                branding,
                sender,
                link=link,
                to=to,
                at=datetime(2026, 11, 26, tzinfo=UTC),
                dkim=None,
                valid_days=7,
            )
