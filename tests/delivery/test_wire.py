"""The DATA phase writes bytes prepared once per campaign: the relay stores exactly the message
`render` gives, dot-leading lines and all."""

from __future__ import annotations

import pytest

from app.campaigns.samples import sample_branding
from app.config import get_settings
from app.delivery.smtp import Connection, Outcome, Relay
from app.rendering.mail import (
    CampaignContent,
    MailOptions,
    PreparedCampaign,
    RenderError,
    _Template,
    prepare_campaign,
)
from app.rendering.wire import to_wire
from tests.fixtures.smtp import SmtpRecorder

BODY = """## Punkter

.punkt först på raden, som SMTP annars tar för slutet

Mer text.

.
"""


def prepared_with_dots() -> PreparedCampaign:
    content = CampaignContent(
        id=7, subject="Punkter", preheader="Punkter", theme="allman", body_markdown=BODY
    )
    return prepare_campaign(
        content, sample_branding(), MailOptions(base_url="https://nyhetsbrev.example.se")
    )


def recipient(delivery_id: int) -> dict[str, object]:
    return {
        "delivery_id": delivery_id,
        "to_address": "anna@example.se",
        "name": ".Anna",
        "unsubscribe_token": "tok_EN-123",
    }


class TestPreparedData:
    async def test_the_relay_stores_exactly_the_rendered_message(
        self, smtp_server: SmtpRecorder
    ) -> None:
        prepared = prepared_with_dots()
        data = prepared.render_wire(**recipient(1))  # type: ignore[arg-type]
        # Rendered again for the comparison: only the Message-ID's random part differs.
        assert b"\r\n..punkt" in data
        connection = Connection(Relay.from_settings(get_settings()))
        try:
            result = await connection.send(
                "bounces@example.se", "anna@example.se", data, on_wire=lambda: None
            )
        finally:
            await connection.close()
        assert result.outcome is Outcome.SENT
        (_, _, stored) = smtp_server.envelopes[0]
        assert b"\r\n.punkt" in stored
        assert b"\r\n..punkt" not in stored
        assert to_wire(stored) == data

    def test_wire_form_is_the_rendered_message_stuffed_once(self) -> None:
        prepared = prepared_with_dots()
        for delivery_id in (1, 2):
            data = prepared.render_wire(**recipient(delivery_id))  # type: ignore[arg-type]
            msgid = data.split(b"Message-ID: <", 1)[1].split(b">", 1)[0]
            rendered = prepared.render(**recipient(delivery_id))  # type: ignore[arg-type]
            rendered = rendered.replace(
                rendered.split(b"Message-ID: <", 1)[1].split(b">", 1)[0], msgid
            )
            assert data == to_wire(rendered)


class TestValues:
    def test_a_value_that_starts_a_line_with_a_dot_is_stuffed(self) -> None:
        template = _Template.build(b"a\r\nXX\r\nb XX\r\n", {"v": b"XX"}).on_the_wire()
        assert template.fill_wire({"v": b".x"}) == b"a\r\n..x\r\nb .x\r\n.\r\n"

    @pytest.mark.parametrize("value", [b"", b"a\nb", b"a\rb", b"a\r\n.b"])
    def test_a_value_that_would_change_the_lines_is_refused(self, value: bytes) -> None:
        template = _Template.build(b"a XX\r\n", {"v": b"XX"}).on_the_wire()
        with pytest.raises(RenderError):
            template.fill_wire({"v": value})
