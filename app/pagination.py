"""Opaque keyset cursors for list endpoints: the last row id, versioned so the format can change."""

from __future__ import annotations

import base64
import binascii

from app.db import MAX_ROW_ID
from app.errors import Unprocessable


class InvalidCursor(Unprocessable):
    code = "invalid_cursor"
    default_message = "The cursor is not valid; start again without one."


def encode_cursor(kind: str, last_id: int) -> str:
    """`kind` names the list (a cursor of one list is refused by another)."""
    return base64.urlsafe_b64encode(f"{kind}:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(kind: str, cursor: str) -> int:
    """The last id of the previous page, or InvalidCursor (422)."""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor() from None
    prefix, _, value = text.partition(":")
    if prefix != kind or not value.isdigit() or int(value[:12] or 0) > MAX_ROW_ID:
        # Ids are 32-bit columns: a larger one matches no row and would overflow PostgreSQL.
        raise InvalidCursor()
    return int(value)
