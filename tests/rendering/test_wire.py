"""The SMTP wire form made once per message text is what aiosmtplib would send per message."""

from __future__ import annotations

import itertools

import pytest
from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings

from app.rendering.wire import stuff, to_wire


def aiosmtplib_data(message: bytes) -> bytes:
    """What aiosmtplib's execute_data_command writes after DATA for `message`."""
    return PERIOD_REGEX.sub(b"..", normalize_message_line_endings(message)) + b".\r\n"


class TestToWire:
    @pytest.mark.parametrize(
        "message",
        [
            b"",
            b".",
            b"..\r\n",
            b"Subject: x\r\n\r\n.hidden\r\n",
            b"a\n.b\r.c\r\n.d",
            b"\r\n.\r\n.\r\n",
            b"ends without newline",
        ],
    )
    def test_same_bytes_as_the_client_would_send(self, message: bytes) -> None:
        assert to_wire(message) == aiosmtplib_data(message)

    def test_every_short_combination_of_dots_and_line_ends(self) -> None:
        for length in range(6):
            for parts in itertools.product([b".", b"\r", b"\n", b"a"], repeat=length):
                message = b"".join(parts)
                assert to_wire(message) == aiosmtplib_data(message), message


class TestStuff:
    def test_a_line_starting_with_a_dot_gets_another(self) -> None:
        assert stuff(b".a\r\nb\r\n.c\r\n") == b"..a\r\nb\r\n..c\r\n"

    def test_a_dot_inside_a_line_is_left_alone(self) -> None:
        assert stuff(b"a.b\r\n") == b"a.b\r\n"
