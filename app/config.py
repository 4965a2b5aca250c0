"""Settings read from NEWSLETTER_* environment variables (and .env), validated at start-up."""

from __future__ import annotations

import difflib
import ipaddress
import secrets
from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

VAR_DIR = Path("var")


class SmtpSecurity(StrEnum):
    NONE = "none"
    STARTTLS = "starttls"
    TLS = "tls"


def is_loopback_host(host: str) -> bool:
    """True for localhost and loopback addresses, the only hosts allowed without TLS."""
    if host.lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def cleartext_refused(host: str, security: SmtpSecurity | str | None) -> bool:
    """The one rule for relays: cleartext (security none, or unset) only to a loopback host."""
    return security in (None, SmtpSecurity.NONE) and not is_loopback_host(host)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEWSLETTER_", env_file=".env", extra="ignore", validate_default=True
    )

    database_url: str = "sqlite+aiosqlite:///var/newsletter.db"
    # Connections each process keeps open, and how many more it may open under load (closed
    # again when they come back to a full pool: a busy worker above the pool size opens and
    # closes a connection every few requests).
    database_pool_size: int = Field(5, ge=1, le=1000)
    database_max_overflow: int = Field(10, ge=0, le=1000)
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = ""
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_security: SmtpSecurity = SmtpSecurity.NONE
    # A federation's relay override may point at private and loopback addresses only if the
    # operator says so (link-local is never allowed).
    relay_allow_private: bool = False
    # The relay offers SMTPUTF8: addresses with non-ASCII local parts (först@…) are accepted.
    smtputf8: bool = False
    smtp_max_connections: int = Field(8, ge=1, le=256)
    smtp_timeout: float = Field(60, gt=0)
    # MAIL FROM, RCPT TO and DATA in one write when the relay offers PIPELINING (RFC 2920).
    smtp_pipelining: bool = True
    # The name given in EHLO; default: the host of BASE_URL.
    smtp_ehlo_name: str | None = None
    send_rate_per_second: float = Field(0, ge=0)
    timezone: str = "Europe/Stockholm"
    dev: bool = False

    # Consent and retention (days); see README "Retention".
    confirmation_token_days: int = Field(7, ge=1)
    self_service_token_days: int = Field(1, ge=1)
    unconfirmed_retention_days: int = Field(30, ge=1)
    # Unsubscribed subscribers are deleted this long after they left (a federation may set its
    # own period); the default privacy notice says so.
    unsubscribed_retention_days: int = Field(365, ge=1)
    expired_token_retention_days: int = Field(7, ge=0)
    store_ip_and_user_agent: bool = False
    ip_retention_days: int = Field(90, ge=1)
    # The audit log (who changed what; staff names, never subscriber addresses) is deleted this
    # long after each row: two full years of seasonal letters, and the time to answer a question
    # about one of them.
    audit_retention_days: int = Field(730, ge=1)
    # Abuse controls on the public form.
    form_min_seconds: float = Field(2.0, ge=0)
    form_max_age_hours: int = Field(24, ge=1)
    rate_limit_per_ip_per_minute: int = Field(10, ge=1)
    rate_limit_global_per_minute: int = Field(300, ge=1)
    confirmation_mails_per_day: int = Field(1, ge=1)
    confirmation_mails_per_week: int = Field(3, ge=1)
    # Request bodies (413 above these): public endpoints, and the staff API but its CSV import.
    public_max_body_bytes: int = Field(16 * 1024, ge=1024)
    max_body_bytes: int = Field(1024 * 1024, ge=16 * 1024)
    # Delivery.
    bounce_mailbox_domain: str | None = None
    deferred_give_up_hours: float = Field(72, gt=0)
    lease_seconds: int = Field(300, ge=10)
    # A scheduled campaign found this late (the dispatcher was down) waits for staff.
    overdue_hold_hours: float = Field(6, gt=0)
    journal_dir: Path = VAR_DIR / "journal"
    dkim_selector: str | None = None
    dkim_private_key_path: Path | None = None
    unsubscribe_mailto: str | None = None
    # Bearer token for /metrics; without one, only loopback clients may read it.
    metrics_token: str | None = None

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ValueError(
                "must be an absolute http(s) URL such as https://nyhetsbrev.example.se"
            )
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")
        return value

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown time zone") from exc
        return value

    @model_validator(mode="after")
    def _check_combinations(self) -> Self:
        if cleartext_refused(self.smtp_host, self.smtp_security):
            raise ValueError(
                "NEWSLETTER_SMTP_SECURITY: 'none' is allowed only for a loopback relay; "
                "use starttls or tls"
            )
        base = urlsplit(self.base_url)
        if not self.dev and base.scheme == "http" and not is_loopback_host(base.hostname or ""):
            # Links in mail carry sign-in and unsubscribe tokens. A loopback URL reaches no
            # subscriber, so a local rig (the browser tests) may still use plain http.
            raise ValueError(
                "NEWSLETTER_BASE_URL: must start with https:// outside development mode"
            )
        if not self.secret_key:
            if not self.dev:
                raise ValueError("NEWSLETTER_SECRET_KEY: required outside development mode")
            self.secret_key = _dev_secret()
        elif len(self.secret_key) < 32:
            raise ValueError("NEWSLETTER_SECRET_KEY: must be at least 32 characters")
        return self

    @property
    def ehlo_name(self) -> str | None:
        return self.smtp_ehlo_name or urlsplit(self.base_url).hostname

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _dev_secret() -> str:
    path = VAR_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


class ConfigError(Exception):
    """A setting is missing or invalid; the message names the variable."""


def describe_validation_error(exc: ValidationError) -> str:
    """One line naming the first bad variable."""
    err = exc.errors()[0]
    loc = [str(p) for p in err.get("loc", ()) if p]
    msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    if loc:
        return f"NEWSLETTER_{loc[0].upper()}: {msg}"
    return msg


# Read by the test suite and CI, not by the app.
_HARNESS_VARIABLES = ("NEWSLETTER_TEST_DATABASE_URL", "NEWSLETTER_REQUIRE_ALL_TESTS")


def unknown_variables(environ: Mapping[str, str], *, also_known: Iterable[str] = ()) -> list[str]:
    """One line per NEWSLETTER_* variable that nothing reads (a typo), with the closest name."""
    prefix = Settings.model_config.get("env_prefix", "")
    known = {f"{prefix}{name}".upper() for name in Settings.model_fields}
    known.update(_HARNESS_VARIABLES, also_known)
    lines = []
    for name in sorted(environ):
        if name.upper().startswith(prefix.upper()) and name.upper() not in known:
            close = difflib.get_close_matches(name.upper(), known, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else ""
            lines.append(f"{name} is not a known setting and is ignored{hint}")
    return lines


@lru_cache
def get_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(exc)) from None
