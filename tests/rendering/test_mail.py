"""Campaign mail bytes: MIME structure, raw headers, per-recipient substitution, DKIM."""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import dkim
import pytest

from app.campaigns.samples import sample_branding, sample_content
from app.config import get_settings
from app.rendering.mail import (
    DkimKey,
    MailOptions,
    PreparedCampaign,
    RenderError,
    prepare_campaign,
)
from app.rendering.themes import THEMES
from tests.fixtures.dkim import dkim_keypair
from tests.fixtures.hostile import LINE_BREAKS, with_header_line
from tests.fixtures.smtp import SmtpRecorder

BASE = "https://nyhetsbrev.example.se"
# The longest token the app issues is 32 characters; test well beyond it, with a long origin.
LONG_TOKEN = "A" * 20 + "-_" * 20 + "z" * 40
LONG_BASE = (
    "https://nyhetsbrev-for-samordningsforbundet-i-en-mycket-lang-kommun.example.se/sub/path"
)


def _prepared(theme: str = "sommar", **options: object) -> PreparedCampaign:
    return prepare_campaign(
        sample_content(theme, campaign_id=42),
        sample_branding(),
        MailOptions(base_url=str(options.pop("base_url", BASE)), **options),  # type: ignore[arg-type]
    )


def _parse(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


def _header_lines(raw: bytes) -> list[bytes]:
    """Unfolded raw header lines."""
    head = raw.split(b"\r\n\r\n", 1)[0]
    return re.sub(rb"\r\n[ \t]", b" ", head).split(b"\r\n")


def _raw_header(raw: bytes, name: str) -> list[bytes]:
    prefix = name.lower().encode() + b":"
    return [line for line in _header_lines(raw) if line.lower().startswith(prefix)]


def _render(prepared: PreparedCampaign, delivery_id: int = 1, **kw: str | None) -> bytes:
    return prepared.render(
        delivery_id=delivery_id,
        to_address=kw.get("to") or "anna@example.se",
        name=kw.get("name", "Åsa Öberg"),
        unsubscribe_token=kw.get("token") or "tok_EN-123",
    )


class TestStructure:
    @pytest.mark.parametrize("theme", THEMES)
    def test_multipart_alternative_text_first(self, theme: str) -> None:
        msg = _parse(_render(_prepared(theme)))
        assert msg.get_content_type() == "multipart/alternative"
        parts = list(msg.iter_parts())
        assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
        assert all(p.get_content_charset() == "utf-8" for p in parts)
        assert not msg.defects
        assert all(not p.defects for p in parts)

    def test_swedish_text_round_trips(self) -> None:
        msg = _parse(_render(_prepared("jul"), name="Åsa Öberg"))
        assert msg["Subject"] == "God jul och gott nytt år från förbundet"
        text, html = (p.get_content() for p in msg.iter_parts())
        assert "Hej Åsa Öberg!" in text
        assert "Hej Åsa Öberg!" in html
        assert "Kansliet håller stängt mellan jul och nyår" in text.replace("\n", " ")
        assert str(msg["From"].addresses[0].display_name) == "Samordningsförbundet Norra Dalarna"

    def test_required_headers_once(self) -> None:
        raw = _render(_prepared())
        for name in (
            "Date",
            "From",
            "To",
            "Subject",
            "Message-ID",
            "MIME-Version",
            "List-Id",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
            "Precedence",
            "Reply-To",
        ):
            assert len(_raw_header(raw, name)) == 1, name
        assert not _raw_header(raw, "Bcc")
        msg = _parse(raw)
        assert msg["Date"].datetime.tzinfo is not None
        # Swedish time: +0100 in winter, +0200 in summer (never UTC's +0000).
        assert msg["Date"].datetime.utcoffset() in {timedelta(hours=1), timedelta(hours=2)}
        assert msg["Message-ID"].endswith("@sf-norra.example.se>")
        assert msg["Message-ID"].startswith("<42.1.")
        assert msg["Precedence"] == "bulk"
        assert msg["List-Id"].endswith("<sf-norra.nyhetsbrev.example.se>")

    def test_one_recipient_in_to(self) -> None:
        msg = _parse(_render(_prepared(), to="bo@example.se"))
        assert [a.addr_spec for a in msg["To"].addresses] == ["bo@example.se"]

    def test_message_id_unique_per_recipient(self) -> None:
        prepared = _prepared()
        ids = {_parse(_render(prepared, delivery_id=i))["Message-ID"] for i in range(50)}
        assert len(ids) == 50
        # Even the same delivery rendered twice (a retry) gets a fresh id.
        assert (
            _parse(_render(prepared, 7))["Message-ID"] != _parse(_render(prepared, 7))["Message-ID"]
        )

    def test_non_ascii_subject_is_encoded_word(self) -> None:
        (line,) = _raw_header(_render(_prepared()), "Subject")
        assert line.startswith(b"Subject: =?utf-8?")
        assert line.isascii()


class TestRawLines:
    def test_list_unsubscribe_never_encoded_with_long_token_and_base(self) -> None:
        prepared = _prepared(base_url=LONG_BASE, unsubscribe_mailto="avsluta@sf-norra.example.se")
        raw = _render(prepared, token=LONG_TOKEN)
        (line,) = _raw_header(raw, "List-Unsubscribe")
        assert b"=?" not in line
        assert (
            line
            == (
                f"List-Unsubscribe: <{LONG_BASE}/u/{LONG_TOKEN}>, "
                f"<mailto:avsluta@sf-norra.example.se?subject=Avsluta%20{LONG_TOKEN}>"
            ).encode()
        )
        assert _raw_header(raw, "List-Unsubscribe-Post") == [
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click"
        ]

    @pytest.mark.parametrize("theme", THEMES)
    def test_every_line_short_and_crlf(self, theme: str) -> None:
        long_name = "Östen Åkesson-" + "Långnamn" * 24
        raw = _render(_prepared(theme, base_url=LONG_BASE), token=LONG_TOKEN, name=long_name)
        assert b"\r\n" in raw
        assert b"\n" not in raw.replace(b"\r\n", b"")
        assert b"\r" not in raw.replace(b"\r\n", b"")
        lines = raw.split(b"\r\n")
        assert max(len(line) for line in lines) <= 998

    def test_unsubscribe_link_visible_in_both_parts(self) -> None:
        msg = _parse(_render(_prepared(), token="abcDEF123"))
        text, html = (p.get_content() for p in msg.iter_parts())
        url = f"{BASE}/u/abcDEF123"
        assert f"Avsluta prenumerationen: {url}" in text
        assert re.search(rf'<a [^>]*href="{re.escape(url)}"[^>]*>Avsluta prenumerationen</a>', html)
        archive = f"{BASE}/f/sf-norra/arkiv/42"
        assert archive in text
        assert re.search(rf'href="{re.escape(archive)}"[^>]*>Visa i webbläsaren</a>', html)


class TestPersonalisation:
    def test_two_recipients_differ_only_in_personal_parts(self) -> None:
        prepared = _prepared()
        a = _render(prepared, 1, to="anna@example.se", name="Anna", token="tokenAAAA")
        b = _render(prepared, 2, to="bo@example.se", name="Bo", token="tokenBBBB")
        assert a != b

        def neutral(raw: bytes, to: str, name: str, token: str) -> bytes:
            raw = re.sub(rb"Message-ID: <[^>]+>", b"Message-ID: <X>", raw)
            raw = re.sub(rb"Date: [^\r]+", b"Date: X", raw)
            for value in (to, f"Hej {name}!", token):
                raw = raw.replace(value.encode(), b"PERSONAL")
            return raw

        assert neutral(a, "anna@example.se", "Anna", "tokenAAAA") == neutral(
            b, "bo@example.se", "Bo", "tokenBBBB"
        )

    def test_name_is_escaped_in_html(self) -> None:
        raw = _render(_prepared(), name='<img src=x onerror="alert(1)">')
        html = list(_parse(raw).iter_parts())[1].get_content()
        assert "<img src=x" not in html
        assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in html or "&lt;img" in html

    def test_no_name_greets_plainly(self) -> None:
        text = next(iter(_parse(_render(_prepared(), name=None)).iter_parts())).get_content()
        assert "Hej!" in text

    @pytest.mark.parametrize(
        ("to", "token"),
        [
            ("a@example.se\r\nBcc: x@evil.test", "tok"),
            ("a@example.se", "tok\r\nX: y"),
            ("a@example.se", "../x"),
        ],
    )
    def test_header_injection_is_refused(self, to: str, token: str) -> None:
        with pytest.raises(RenderError):
            _render(_prepared(), to=to, token=token)

    @pytest.mark.parametrize("brk", LINE_BREAKS)
    def test_stored_values_never_add_a_header_line(self, brk: str) -> None:
        # Values stored before input was checked (or written around it) cannot add a line.
        from dataclasses import replace

        content = replace(sample_content("sommar", 42), subject=with_header_line("Hej", brk))
        branding = replace(
            sample_branding(), name=f"SF{brk}List : name", from_name=f"SF{brk}Bcc: x@evil.test"
        )
        raw = prepare_campaign(content, branding, MailOptions(base_url=BASE)).render(
            delivery_id=1, to_address="anna@example.se", name=None, unsubscribe_token="tok"
        )
        names = [line.split(b":")[0].strip().lower() for line in _header_lines(raw)]
        assert names == [
            b"date",
            b"from",
            b"to",
            b"subject",
            b"message-id",
            b"reply-to",
            b"list-id",
            b"list-unsubscribe",
            b"list-unsubscribe-post",
            b"precedence",
            b"mime-version",
            b"content-type",
        ]
        assert _parse(raw)["Subject"] == "Hej Bcc : x@evil.test"

    def test_staff_markdown_cannot_forge_placeholders_or_script(self) -> None:
        from app.rendering.mail import CampaignContent

        content = CampaignContent(
            id=1,
            subject="Test",
            preheader="",
            theme="allman",
            body_markdown='<script>alert(1)</script> [x](javascript:alert(1)) <a href="y">z</a>',
        )
        prepared = prepare_campaign(content, sample_branding(), MailOptions(base_url=BASE))
        html = list(_parse(_render(prepared)).iter_parts())[1].get_content()
        assert "<script" not in html
        assert 'href="javascript:' not in html
        assert '<a href="y"' not in html


class TestDkim:
    async def test_signed_mail_verifies_after_smtp_and_tampering_fails(
        self, smtp_server: SmtpRecorder, tmp_path: Path
    ) -> None:
        pem, txt = dkim_keypair(tmp_path)
        private = pem.read_bytes()
        key = DkimKey(selector="nb2026", domain="sf-norra.example.se", private_key=private)
        prepared = _prepared(dkim=key)
        raw = _render(prepared)
        signature = _raw_header(raw, "DKIM-Signature")[0]
        h_tag = re.search(rb"h=([^;]+)", signature.replace(b" ", b""))
        assert h_tag is not None
        signed = {h.lower() for h in h_tag.group(1).split(b":")}
        assert {b"list-unsubscribe", b"list-unsubscribe-post", b"from", b"subject"} <= signed

        settings = get_settings()
        await aiosmtplib.send(
            raw,
            sender="bounces@sf-norra.example.se",
            recipients=["anna@example.se"],
            hostname="127.0.0.1",
            port=settings.smtp_port,
        )
        (_, _, received) = smtp_server.envelopes[0]

        def dns(name: bytes, timeout: int = 5) -> bytes:
            assert name == b"nb2026._domainkey.sf-norra.example.se."
            return txt

        assert dkim.verify(received, dnsfunc=dns)
        tampered = received.replace(
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            b"List-Unsubscribe-Post: List-Unsubscribe=Nope",
        )
        assert tampered != received
        assert not dkim.verify(tampered, dnsfunc=dns)

    def test_unsigned_by_default(self) -> None:
        assert not _raw_header(_render(_prepared()), "DKIM-Signature")
