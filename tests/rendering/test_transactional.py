"""Transactional mail headers: a stored name or subject with a line break adds no header line
and does not make the mail unbuildable."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from app.rendering.transactional import RenderedMail, Sender, build_message
from tests.fixtures.hostile import LINE_BREAKS, with_header_line


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
