"""Pydantic models in and out of the federation and API key endpoints."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from app.addresses import InvalidAddress, normalize_email
from app.config import SmtpSecurity, cleartext_refused
from app.rendering.header_text import HeaderText

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{1,62}$"


def _email(value: str) -> str:
    try:
        return normalize_email(value)
    except InvalidAddress as exc:
        raise ValueError(f"not a valid e-mail address: {exc}") from None


def _color(value: str) -> str:
    if not re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        raise ValueError("must be a colour as #rrggbb")
    return value.lower()


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown time zone") from None
    return value


def _web_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    return value


_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def normal_origin(value: str) -> str | None:
    """`https://host[:port]` for an https origin, with the host as A-labels; None for anything
    else. The result goes verbatim into a CSP header, so nothing but a host name and a port
    may survive (`https://x.example; script-src *` would add a directive)."""
    parts = urlsplit(value)
    if (
        parts.scheme != "https"
        or parts.path not in {"", "/"}
        or parts.query
        or parts.fragment
        or parts.username
        or parts.password
    ):
        return None
    try:
        port = parts.port
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        return None
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        return None
    return f"https://{host}" + (f":{port}" if port is not None else "")


def _origin(value: str) -> str:
    origin = normal_origin(value)
    if origin is None:
        raise ValueError("must be an https origin such as https://www.example.se")
    return origin


Email = Annotated[str, Field(max_length=254), AfterValidator(_email)]
Color = Annotated[str, Field(examples=["#1f5f8b"]), AfterValidator(_color)]
TimeZone = Annotated[str, Field(max_length=64), AfterValidator(_timezone)]
WebUrl = Annotated[str, Field(max_length=500), AfterValidator(_web_url)]
Origin = Annotated[str, Field(max_length=200), AfterValidator(_origin)]
# Federation name and sender name appear in From, List-Id and transactional subjects.
Name = Annotated[HeaderText, Field(min_length=1, max_length=200)]


def relay_problem(host: str | None, security: str | None) -> str | None:
    """Why a relay override is unsafe (cleartext to a non-loopback host), or None."""
    if host and cleartext_refused(host, security):
        return "smtp_security must be starttls or tls for a non-loopback relay"
    return None


class FederationTexts(BaseModel):
    """The federation's own words and rules for its letters; the same on create and update."""

    default_sign_off: str | None = Field(
        default=None,
        max_length=300,
        description="Closing line of every letter; null: the theme's, empty: none.",
    )
    default_signature_name: str | None = Field(default=None, max_length=200)
    default_signature_title: str | None = Field(default=None, max_length=200)
    unsubscribed_retention_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="Days an unsubscribed subscriber is kept; null: the service default.",
    )
    welcome_text: str | None = Field(
        default=None,
        max_length=5000,
        description="The welcome mail's text (paragraphs separated by a blank line); "
        "null: the default Swedish text.",
    )


class FederationCreate(FederationTexts):
    """A new federation (tenant)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "slug": "sf-norra",
                    "name": "Samordningsförbundet Norra",
                    "from_email": "nyhetsbrev@sf-norra.example.se",
                    "from_name": "Samordningsförbundet Norra",
                    "reply_to": "kansli@sf-norra.example.se",
                    "postal_address": "Samordningsförbundet Norra\nBox 12\n901 10 Umeå",
                    "logo_url": "https://sf-norra.example.se/logo.png",
                    "brand_color": "#1f5f8b",
                    "timezone": "Europe/Stockholm",
                    "frame_ancestors": ["https://sf-norra.example.se"],
                }
            ]
        },
    )

    slug: str = Field(pattern=SLUG_PATTERN, description="Stable part of every public URL.")
    name: Name
    from_email: Email
    from_name: Name
    reply_to: Email | None = None
    postal_address: str = Field(min_length=1, max_length=1000)
    contact_email: Email | None = None
    website_url: WebUrl | None = None
    logo_url: WebUrl | None = None
    brand_color: Color = "#1f5f8b"
    accent_color: Color = "#f2c14e"
    timezone: TimeZone = "Europe/Stockholm"
    frame_ancestors: list[Origin] = Field(default_factory=list, max_length=20)
    smtp_host: str | None = Field(default=None, max_length=255)
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_username: str | None = Field(default=None, max_length=255)
    smtp_password: str | None = Field(
        default=None, max_length=255, description="Write-only: never returned."
    )
    smtp_security: SmtpSecurity | None = None
    send_rate_per_second: float | None = Field(default=None, ge=0, le=10000)
    welcome_enabled: bool = Field(
        default=True, description="Send a welcome mail after confirmation (default on)."
    )
    four_eyes: bool = Field(
        default=False,
        description="Campaigns need approval by an ansvarig other than their authors.",
    )
    publish_in_archive_default: bool = Field(
        default=True,
        description="A new campaign shows in the public archive unless it says otherwise.",
    )

    @model_validator(mode="after")
    def _relay_needs_tls(self) -> Self:
        problem = relay_problem(self.smtp_host, self.smtp_security)
        if problem:
            raise ValueError(problem)
        return self


class FederationUpdate(FederationTexts):
    """Changes to a federation; absent fields stay as they are. The slug never changes."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"name": "Samordningsförbundet Norra", "brand_color": "#00594f"}]
        },
    )

    name: Name | None = None
    from_email: Email | None = None
    from_name: Name | None = None
    reply_to: Email | None = None
    postal_address: str | None = Field(default=None, min_length=1, max_length=1000)
    contact_email: Email | None = None
    website_url: WebUrl | None = None
    logo_url: WebUrl | None = None
    brand_color: Color | None = None
    accent_color: Color | None = None
    timezone: TimeZone | None = None
    frame_ancestors: list[Origin] | None = Field(default=None, max_length=20)
    smtp_host: str | None = Field(default=None, max_length=255)
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_username: str | None = Field(default=None, max_length=255)
    smtp_password: str | None = Field(
        default=None, max_length=255, description="Write-only: never returned."
    )
    smtp_security: SmtpSecurity | None = None
    send_rate_per_second: float | None = Field(default=None, ge=0, le=10000)
    welcome_enabled: bool | None = Field(
        default=None, description="Send a welcome mail after confirmation (default on)."
    )
    four_eyes: bool | None = Field(
        default=None,
        description="Campaigns need approval by an ansvarig other than their authors.",
    )
    publish_in_archive_default: bool | None = Field(
        default=None,
        description="A new campaign shows in the public archive unless it says otherwise.",
    )

    @model_validator(mode="after")
    def _required_stay_set(self) -> Self:
        for name in NOT_NULLABLE:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} may not be null")
        return self


# Columns that always hold a value: PATCH may change them but not clear them.
NOT_NULLABLE = (
    "name",
    "from_email",
    "from_name",
    "postal_address",
    "brand_color",
    "accent_color",
    "timezone",
    "frame_ancestors",
    "four_eyes",
    "welcome_enabled",
    "publish_in_archive_default",
)


class FederationRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 1,
                    "slug": "sf-norra",
                    "name": "Samordningsförbundet Norra",
                    "from_email": "nyhetsbrev@sf-norra.example.se",
                    "from_name": "Samordningsförbundet Norra",
                    "reply_to": "kansli@sf-norra.example.se",
                    "postal_address": "Samordningsförbundet Norra\nBox 12\n901 10 Umeå",
                    "contact_email": None,
                    "website_url": None,
                    "logo_url": "https://sf-norra.example.se/logo.png",
                    "brand_color": "#1f5f8b",
                    "accent_color": "#f2c14e",
                    "timezone": "Europe/Stockholm",
                    "frame_ancestors": ["https://sf-norra.example.se"],
                    "smtp_host": None,
                    "smtp_port": None,
                    "smtp_username": None,
                    "smtp_password_set": False,
                    "smtp_security": None,
                    "send_rate_per_second": None,
                    "four_eyes": False,
                    "created_at": "2026-11-23T21:00:00Z",
                    "updated_at": "2026-11-23T21:00:00Z",
                }
            ]
        },
    )

    id: int
    slug: str
    name: str
    from_email: str
    from_name: str
    reply_to: str | None
    postal_address: str
    contact_email: str | None
    website_url: str | None
    logo_url: str | None
    brand_color: str
    accent_color: str
    timezone: str
    frame_ancestors: list[str]
    smtp_host: str | None
    smtp_port: int | None
    smtp_username: str | None
    smtp_password_set: bool
    smtp_security: str | None
    send_rate_per_second: float | None
    welcome_enabled: bool = True
    welcome_text: str | None = None
    unsubscribed_retention_days: int | None = None
    default_sign_off: str | None = None
    default_signature_name: str | None = None
    default_signature_title: str | None = None
    four_eyes: bool
    publish_in_archive_default: bool = True
    created_at: datetime
    updated_at: datetime


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"name": "kansliet"}]}
    )

    name: str = Field(default="api", min_length=1, max_length=200)


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "name": "kansliet",
                    "prefix": "nb_Xq3v9Jk2a",
                    "scope": "federation",
                    "federation": "sf-norra",
                    "created_at": "2026-11-23T21:00:00Z",
                    "last_used_at": None,
                    "revoked_at": None,
                }
            ]
        }
    )

    id: int
    name: str
    prefix: str = Field(description="The first characters of the key, to recognise it.")
    scope: Literal["admin", "federation"]
    federation: str | None = Field(description="Slug of the federation a federation key reaches.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The key itself. Shown once; only its hash is stored.")


class EmbedSnippets(BaseModel):
    """HTML to paste into the federation's own site. The iframes show only on the origins
    listed in `frame_ancestors`."""

    form_url: str
    form_iframe: str
    archive_url: str
    archive_iframe: str
    feed_url: str = Field(description="Atom feed of the published archive.")
    frame_ancestors: list[str]
