"""E-mail addresses: the one normaliser every domain stores addresses through."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

# RFC 5321's limit on a forward path, and the width of every address column.
MAX_EMAIL_LENGTH = 254


class InvalidAddress(ValueError):
    """Not an e-mail address (the message says why, in English, for API details)."""


def normalize_email(raw: str) -> str:
    """The address as stored: normalised, domain as A-labels where it has an ASCII form."""
    # Checked first so an oversized post costs no parsing.
    if len(raw) > MAX_EMAIL_LENGTH:
        raise InvalidAddress(f"longer than {MAX_EMAIL_LENGTH} characters")
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    # email_validator also refuses an address whose A-label spelling passes 254 characters.
    return result.ascii_email or result.normalized
