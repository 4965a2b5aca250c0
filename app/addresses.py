"""E-mail addresses: the one normaliser every domain stores addresses through."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from app.config import get_settings

# RFC 5321's limit on a forward path, and the width of every address column.
MAX_EMAIL_LENGTH = 254


class InvalidAddress(ValueError):
    """Not an e-mail address (the message says why, in English, for API details)."""


class NeedsSmtpUtf8(InvalidAddress):
    """A local part with non-ASCII letters (`först@…`): deliverable only over SMTPUTF8, which
    the operator has not said the relay offers (NEWSLETTER_SMTPUTF8)."""


def normalize_email(raw: str) -> str:
    """The address as stored: normalised, domain as A-labels where it has an ASCII form."""
    # Checked first so an oversized post costs no parsing.
    if len(raw) > MAX_EMAIL_LENGTH:
        raise InvalidAddress(f"longer than {MAX_EMAIL_LENGTH} characters")
    try:
        result = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    if result.ascii_email:
        # email_validator also refuses an address whose A-label spelling passes 254 characters.
        return result.ascii_email
    # Refused here, where it enters, rather than failing after MAIL FROM at send time.
    if not get_settings().smtputf8:
        raise NeedsSmtpUtf8(
            "the part before @ has non-ASCII characters, which the relay cannot take "
            "(NEWSLETTER_SMTPUTF8 is off)"
        )
    return f"{result.local_part}@{result.ascii_domain}"


def mailbox(email: str) -> str:
    """The mailbox an address delivers to, for per-address limits: lower-cased and without
    a `+tag` sub-address (`anna+1@x.se` and `Anna+2@x.se` both reach `anna@x.se`)."""
    local, _, domain = email.lower().rpartition("@")
    return f"{local.split('+', 1)[0] or local}@{domain}"
