"""Personal data out of logs and stored reply texts: e-mail addresses, link tokens, search
terms and client IP addresses are replaced before a line is written or a reason is stored."""

from __future__ import annotations

import ipaddress
import logging
import re
from typing import Any

REDACTED = "[redacted]"

# An address, also percent-encoded in a URL (anna%40example.se).
_EMAIL = re.compile(r"[\w.+'-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
# The capability token in a public link: /u/TOKEN, /f/SLUG/bekrafta/TOKEN,
# /f/SLUG/mina-uppgifter/TOKEN[/export|/radera]; the slug and the page stay readable.
_TOKEN_PATH = re.compile(r"(/(?:u|bekrafta|mina-uppgifter)/)(?!export\b|radera\b)[^/\s?#\"']+")
# Query values that may hold (part of) an address: the staff search, an address, a token.
_QUERY_VALUE = re.compile(r"([?&](?:q|email|token)=)[^&\s\"']*", re.IGNORECASE)
# Candidates for IP addresses, each checked with ipaddress (so 12:30:45 stays a time).
_IP_CANDIDATE = re.compile(
    r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])"  # IPv4, a :port may follow
    r"|(?<![\w:.])[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(?![\w:])"  # IPv6
)


def _ip(match: re.Match[str]) -> str:
    try:
        ipaddress.ip_address(match.group())
    except ValueError:
        return match.group()
    return REDACTED


def redact(text: str) -> str:
    """The text with addresses, link tokens, search terms and IP addresses replaced."""
    text = _EMAIL.sub(REDACTED, text)
    text = _TOKEN_PATH.sub(rf"\g<1>{REDACTED}", text)
    text = _QUERY_VALUE.sub(rf"\g<1>{REDACTED}", text)
    return _IP_CANDIDATE.sub(_ip, text)


def _redacted(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


def install_log_redaction() -> None:
    """Redact every log record of this process when it is created, whoever logs it (uvicorn's
    access lines included) and whatever handler writes it. The arguments keep their shape,
    since uvicorn's access formatter unpacks them; a traceback is formatted and redacted once."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "redacting", False):
        return

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        record.msg = _redacted(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redacted(v) for k, v in record.args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    make_record.redacting = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)
