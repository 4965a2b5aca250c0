"""One logging set-up for every command: human lines on a terminal, JSON lines otherwise, each
with the request id, and never an e-mail address or a link token."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, TextIO

FORMAT_VARIABLE = "NEWSLETTER_LOG_FORMAT"
LEVEL_VARIABLE = "NEWSLETTER_LOG_LEVEL"
VARIABLES = (FORMAT_VARIABLE, LEVEL_VARIABLE)
FORMATS = ("auto", "human", "json")

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# An address, also percent-encoded in a URL (anna%40example.se). The local part stops at URL
# punctuation (/ ? = &), so a path before an address stays readable.
_EMAIL = re.compile(r"[\w.+'-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)
# Capability tokens in the public links: /u/TOKEN, /f/SLUG/bekrafta/TOKEN,
# /f/SLUG/mina-uppgifter/TOKEN[/export|/radera]. The slug and the page stay readable.
_TOKEN_PATH = re.compile(r"(/(?:u|bekrafta|mina-uppgifter)/)(?!export\b|radera\b)[^/\s?#\"']+")
# Search terms in query strings may hold (part of) an address.
_QUERY_VALUE = re.compile(r"([?&](?:q|email|search|token)=)[^&\s\"']*", re.IGNORECASE)
# Client IP addresses (access lines): candidates, each checked with ipaddress so a time such
# as 12:30:45 stays. An IPv4 address may be followed by :port.
_IP_CANDIDATE = re.compile(
    r"(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.])|(?<![\w:.])[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(?![\w:])"
)
REDACTED = "[redacted]"


def _ip(match: re.Match[str]) -> str:
    return REDACTED if _is_ip(match.group()) else match.group()


# Every access line holds a client address, and the same few come back: parse each once.
@lru_cache(maxsize=1024)
def _is_ip(candidate: str) -> bool:
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


def redact(text: str) -> str:
    """The text with e-mail addresses, link tokens, search terms and IP addresses replaced."""
    # Each pattern is tried only where it can match: trying one at every position costs more
    # than the look (every SMTP reply a dispatcher stores passes here).
    if "@" in text or "%40" in text:
        text = _EMAIL.sub(REDACTED, text)
    if "/" in text:
        text = _TOKEN_PATH.sub(rf"\g<1>{REDACTED}", text)
    if "=" in text:
        text = _QUERY_VALUE.sub(rf"\g<1>{REDACTED}", text)
    return _IP_CANDIDATE.sub(_ip, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (uvicorn's access lines included) before any handler
    formats it, so no output can carry personal data by way of a log argument."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True


class _Formatter(logging.Formatter):
    def exception_text(self, record: logging.LogRecord) -> str | None:
        if record.exc_info:
            return redact(self.formatException(record.exc_info))
        return None


class HumanFormatter(_Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = datetime.fromtimestamp(record.created).astimezone().strftime("%Y-%m-%d %H:%M:%S")
        rid = request_id.get()
        line = f"{stamp} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if rid:
            line += f" [{rid}]"
        exc = self.exception_text(record)
        return f"{line}\n{exc}" if exc else line


class JsonFormatter(_Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        exc = self.exception_text(record)
        if exc:
            entry["exception"] = exc
        return json.dumps(entry, ensure_ascii=False)


class _OwnHandler(logging.StreamHandler[TextIO]):
    """Ours, so a second set-up replaces it and leaves other handlers (pytest's) alone. Without
    a stream it writes to whatever sys.stderr is at the time (test runners swap it)."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream or sys.stderr)
        self._follow_stderr = stream is None

    def emit(self, record: logging.LogRecord) -> None:
        if self._follow_stderr:
            self.stream = sys.stderr
        super().emit(record)


def _choose_format(value: str, stream: TextIO) -> str:
    if value == "auto":
        return "human" if stream.isatty() else "json"
    return value


def configure_logging(stream: TextIO | None = None) -> list[str]:
    """Send every logger (the app's, uvicorn's, alembic's) through one handler on stderr.
    Returns problems with the two settings, for the caller to log once logging works."""
    problems = []
    chosen = os.environ.get(FORMAT_VARIABLE, "auto").strip().lower()
    if chosen not in FORMATS:
        problems.append(f"{FORMAT_VARIABLE}={chosen!r} is not one of {', '.join(FORMATS)}")
        chosen = "auto"
    level_name = os.environ.get(LEVEL_VARIABLE, "INFO").strip().upper()
    level = logging.getLevelNamesMapping().get(level_name)
    if level is None:
        problems.append(f"{LEVEL_VARIABLE}={level_name!r} is not a log level; using INFO")
        level = logging.INFO

    handler = _OwnHandler(stream)
    human = _choose_format(chosen, stream or sys.stderr) == "human"
    handler.setFormatter(HumanFormatter() if human else JsonFormatter())
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _OwnHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # uvicorn brings its own handlers; its records go through ours instead.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
    # SQL statements carry personal data in their parameters: never below WARNING. Alembic's
    # plugin registry announces itself at INFO on every start, and dev mode's aiosmtpd catcher
    # ("mail.log") every connection.
    for noisy in ("sqlalchemy.engine", "alembic.runtime.plugins", "mail.log"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    return problems


_warned = False


def setup() -> None:
    """Configure logging and warn, once per process, about settings that look wrong: a bad log
    setting, or a NEWSLETTER_* variable that nothing reads (a typo)."""
    from app.config import unknown_variables

    global _warned
    problems = configure_logging()
    if _warned:
        return
    _warned = True
    log = logging.getLogger("app.config")
    for problem in [*problems, *unknown_variables(os.environ, also_known=VARIABLES)]:
        log.warning("%s", problem)
