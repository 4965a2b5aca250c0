"""Asynchronous bounces: signed VERP envelope senders and RFC 3464 delivery status reports.

A relay that accepted a message may later send a DSN to the envelope sender
`bounces+<delivery-id>-<signature>@domain`. The signature (an HMAC of the id) means a stranger
who guesses delivery ids cannot mark subscribers as bounced with forged reports."""

from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message

from app.delivery.smtp import enhanced_code
from app.security import constant_time_equal, verp_signature

VERP = re.compile(r"^bounces\+(\d+)-([A-Za-z0-9_-]+)@", re.IGNORECASE)


def verp_address(delivery_id: int, domain: str) -> str:
    """The envelope sender for one delivery."""
    return f"bounces+{delivery_id}-{verp_signature(delivery_id)}@{domain}"


def parse_verp(address: str) -> int | None:
    """The delivery id of a VERP address whose signature holds, else None."""
    match = VERP.match(address.strip().strip("<>"))
    if match is None:
        return None
    delivery_id = int(match.group(1))
    if not constant_time_equal(match.group(2), verp_signature(delivery_id)):
        return None
    return delivery_id


@dataclass(frozen=True)
class DeliveryStatusReport:
    delivery_id: int
    action: str  # failed, delayed, delivered, relayed or expanded (RFC 3464 §2.3.3)
    status: str | None  # the enhanced status code, "5.1.1"
    diagnostic: str | None

    @property
    def is_failure(self) -> bool:
        return self.action == "failed" and (self.status or "5").startswith("5")

    @property
    def is_hard(self) -> bool:
        return self.is_failure and (self.status or "").startswith("5.1.")


def _recipient_fields(message: Message) -> list[Message]:
    """The per-recipient blocks of a message/delivery-status part."""
    for part in message.walk():
        if part.get_content_type() == "message/delivery-status":
            blocks = part.get_payload()
            if isinstance(blocks, list):
                # The first block is per-message (Reporting-MTA, …); the rest per recipient.
                return [b for b in blocks[1:] if isinstance(b, Message)]
    return []


def parse_dsn(raw: bytes, *, envelope_recipient: str | None = None) -> DeliveryStatusReport | None:
    """Read a DSN addressed to a VERP address; None when it is not one of ours or not a DSN."""
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    candidates = [envelope_recipient or ""] + [
        str(message.get(h, "")) for h in ("Delivered-To", "X-Original-To", "To")
    ]
    delivery_id = next((i for c in candidates if c and (i := parse_verp(c)) is not None), None)
    if delivery_id is None:
        return None
    if message.get_content_type() != "multipart/report":
        return None
    for block in _recipient_fields(message):
        action = str(block.get("Action", "")).strip().lower()
        if not action:
            continue
        status = enhanced_code(str(block.get("Status", "")))
        diagnostic = str(block.get("Diagnostic-Code", "")).strip() or None
        return DeliveryStatusReport(delivery_id, action, status, diagnostic)
    return None
