"""E-mail addresses: the one normaliser every domain stores addresses through."""

from __future__ import annotations

import re

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from app.config import get_settings

# RFC 5321's limit on a forward path, and the width of every address column.
MAX_EMAIL_LENGTH = 254


class InvalidAddress(ValueError):
    """Not an e-mail address (the message says why, in English, for API details)."""


class NeedsSmtpUtf8(InvalidAddress):
    """A local part with non-ASCII letters (`först@…`): deliverable only over SMTPUTF8, which
    the operator has not said the relay offers (NEWSLETTER_SMTPUTF8)."""


# The common shape of an address: an ASCII dot-atom before the @, letter-digit-hyphen labels
# and an alphabetic top-level domain after it. email_validator costs about 30 µs an address,
# most of an import's CPU; for this shape its answer is known (the local part as given, the
# domain lower-cased), so it is computed here. Anything else (IDN, quoted, odd lengths, "--"
# in a label, special-use domains) takes the full path. tests/core/test_addresses.py checks
# that both paths agree.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN = re.compile(rf"({_ATOM}(?:\.{_ATOM})*)@((?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_SPECIAL_USE = tuple(SPECIAL_USE_DOMAIN_NAMES)


def _plain(raw: str) -> str | None:
    """The normalised form of an address of the common shape; None: ask email_validator."""
    match = _PLAIN.fullmatch(raw)
    if match is None:
        return None
    local, domain = match.group(1), match.group(2).lower()
    if len(local) > 64 or len(domain) > 253 or "--" in domain:
        return None
    if any(domain == d or domain.endswith("." + d) for d in _SPECIAL_USE):
        return None
    return f"{local}@{domain}"


def normalize_email(raw: str) -> str:
    """The address as stored: normalised, domain as A-labels where it has an ASCII form."""
    # Checked first so an oversized post costs no parsing.
    if len(raw) > MAX_EMAIL_LENGTH:
        raise InvalidAddress(f"longer than {MAX_EMAIL_LENGTH} characters")
    plain = _plain(raw)
    if plain is not None:
        return plain
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
