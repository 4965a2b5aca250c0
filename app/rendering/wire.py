"""SMTP wire form (RFC 5321 §4.5.2): CRLF line endings and dot-stuffing, done once per message
text instead of by the SMTP client for every recipient."""

from __future__ import annotations

import re

_LINE_ENDING = re.compile(rb"\r\n|\n|\r(?!\n)")


def stuff(data: bytes) -> bytes:
    """Double the dot that starts a line; data must already use CRLF only."""
    data = data.replace(b"\r\n.", b"\r\n..")
    return b"." + data if data.startswith(b".") else data


END = b".\r\n"


def to_wire(message: bytes) -> bytes:
    """Any message exactly as it goes after DATA: CRLF only, every line starting with "."
    doubled, and the final "." line. What aiosmtplib would do to each message, for bytes that
    were not prepared once per campaign (transactional mail, DKIM-signed mail)."""
    data = _LINE_ENDING.sub(b"\r\n", message)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return stuff(data) + END
