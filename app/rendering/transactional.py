"""Pure rendering of transactional mails (confirmation, self-service): data in, bytes out."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime, make_msgid
from enum import StrEnum
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.rendering.colors import contrast, readable_on
from app.rendering.header_text import header_safe
from app.rendering.mail import (
    _CONTROL,
    MAX_LINE,
    DkimKey,
    RenderError,
    _address,
    _crlf_body,
    _header,
    _Template,
    sign_message,
)
from app.resources import EMAIL_TEMPLATES_DIR

TEMPLATE_DIR = EMAIL_TEMPLATES_DIR / "transactional"

_env = Environment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)),
    undefined=StrictUndefined,
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
_inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)
_HEX = re.compile(r"#[0-9a-fA-F]{6}")
DEFAULT_BRAND = "#1f5f8b"


class MailKind(StrEnum):
    CONFIRMATION = "confirmation"
    SELF_SERVICE = "self_service"
    WELCOME = "welcome"
    SIGN_IN = "sign_in"
    DRAFT_NOTICE = "draft_notice"


def safe_color(color: str | None, fallback: str = DEFAULT_BRAND) -> str:
    """A #rrggbb colour, or the fallback for anything else (never reaches CSS unchecked)."""
    return color if color and _HEX.fullmatch(color) else fallback


def text_color_on(background: str) -> str:
    """White or near-black, whichever reaches 4.5:1 on the background."""
    return "#ffffff" if contrast(background, "#ffffff") >= 4.5 else "#141414"


def action_color(brand: str) -> str:
    """The brand colour for buttons and links on white, darkened until it reaches 4.5:1."""
    return readable_on(brand, "#ffffff")


@dataclass(frozen=True)
class Branding:
    name: str
    logo_url: str | None
    brand: str
    on_brand: str
    action: str
    postal_address: str
    website_url: str | None
    privacy_url: str

    @classmethod
    def of(cls, federation: Any, *, base_url: str) -> Branding:
        brand = safe_color(federation.brand_color)
        return cls(
            name=federation.name,
            logo_url=federation.logo_url,
            brand=brand,
            on_brand=text_color_on(brand),
            action=action_color(brand),
            postal_address=federation.postal_address or "",
            website_url=federation.website_url,
            privacy_url=f"{base_url}/f/{federation.slug}/integritet",
        )


@dataclass(frozen=True)
class Sender:
    from_name: str
    from_email: str
    reply_to: str | None
    timezone: str

    @classmethod
    def of(cls, federation: Any) -> Sender:
        return cls(
            from_name=federation.from_name,
            from_email=federation.from_email,
            reply_to=federation.reply_to,
            timezone=federation.timezone or "Europe/Stockholm",
        )


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def render(
    kind: MailKind,
    branding: Branding,
    *,
    link: str,
    valid_days: int = 0,
    valid_minutes: int = 0,
    text: str = "",
    title: str = "",
) -> RenderedMail:
    """Subject, text and HTML for a transactional mail. Nothing typed into the form is used:
    the mail carries only the federation's own texts (`text`: the welcome text, paragraphs
    separated by blank lines), the link, and for staff mails the `title` of what they concern."""
    paragraphs = [" ".join(p.split()) for p in text.replace("\r\n", "\n").split("\n\n")]
    context = {
        "b": branding,
        "link": link,
        "valid_days": valid_days,
        "paragraphs": [p for p in paragraphs if p],
        "valid_minutes": valid_minutes,
        "title": title,
    }
    subject = _env.get_template(f"{kind}.subject.txt").render(context).strip()
    text = _env.get_template(f"{kind}.txt").render(context)
    html = _env.get_template(f"{kind}.html").render({**context, "subject": subject})
    return RenderedMail(subject=subject, text=text, html=_inliner.inline(html))


# Slots in a prepared message, filled per mail (see mail._Template). The link's slot is in the
# rendered bodies, so the bodies are rendered and CSS-inlined once per federation's look.
_NONCE = secrets.token_hex(6)
_SLOTS = {key: f"NB{_NONCE}Q{key}Q".encode() for key in ("to", "date", "msgid", "link")}
# What a link may hold to go into the text part, the HTML part and a header as it is.
_SAFE_LINK = re.compile(r"https?://[A-Za-z0-9._~:/?#\[\]@!$()*+,;=%-]+")
_MIME_PART = b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'


def _assemble(mail: RenderedMail, *, sender: Sender, list_unsubscribe: str | None) -> bytes:
    """The whole message with the To, Date and Message-ID slots in it: built by hand like a
    campaign's (app.rendering.mail), UTF-8 bodies with 8bit transfer encoding in CRLF lines
    short enough for a link to be filled in."""
    head = b"".join(
        [
            _header("Subject", mail.subject),
            f"From: {_address(sender.from_name, sender.from_email)}\r\n".encode(),
            b"To: " + _SLOTS["to"] + b"\r\n",
            (f"Reply-To: {header_safe(sender.reply_to)}\r\n".encode() if sender.reply_to else b""),
            b"Date: " + _SLOTS["date"] + b"\r\n",
            b"Message-ID: " + _SLOTS["msgid"] + b"\r\n",
            b"Auto-Submitted: auto-generated\r\n",
            # On one line: a folded List-Unsubscribe breaks one-click at some providers.
            (
                f"List-Unsubscribe: <{list_unsubscribe}>\r\n".encode()
                + b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
                if list_unsubscribe
                else b""
            ),
            b"MIME-Version: 1.0\r\n",
        ]
    )
    text_body, html_body = _crlf_body(mail.text), _crlf_body(mail.html)
    boundary = f"=_nb_{secrets.token_hex(12)}".encode()
    if boundary in text_body or boundary in html_body:
        raise RenderError("boundary collision")
    body = b"".join(
        [
            b'Content-Type: multipart/alternative; boundary="' + boundary + b'"\r\n\r\n',
            b"--" + boundary + b"\r\n",
            _MIME_PART % b"plain",
            text_body,
            b"\r\n--" + boundary + b"\r\n",
            _MIME_PART % b"html",
            html_body,
            b"\r\n--" + boundary + b"--\r\n",
        ]
    )
    return head + body


def _fill(
    template: _Template, *, sender: Sender, to: str, at: datetime, link: str, dkim: DkimKey | None
) -> bytes:
    if _CONTROL.search(to) or any(ch in to for ch in '<>,;" '):
        raise RenderError("invalid recipient address")
    message = template.fill(
        {
            "to": to.encode(),
            "date": format_datetime(at.astimezone(ZoneInfo(sender.timezone))).encode(),
            "msgid": make_msgid(domain=sender.from_email.rpartition("@")[2]).encode(),
            "link": link.encode(),
        }
    )
    if max(map(len, message.split(b"\r\n"))) > MAX_LINE:
        raise RenderError("a line of the mail is too long for e-mail")
    return message if dkim is None else sign_message(message, dkim)


def build_message(
    mail: RenderedMail,
    *,
    sender: Sender,
    to: str,
    at: datetime,
    unsubscribe_url: str | None = None,
    dkim: DkimKey | None = None,
) -> bytes:
    """RFC 5322 bytes with CRLF: multipart/alternative, text first, both UTF-8; DKIM-signed
    like campaign mail when a key is given.

    List-Unsubscribe only with `unsubscribe_url` (the welcome mail, which belongs to the
    list): a confirmation is not a list message, and a fake one-click header would invite
    providers to post to a link that unsubscribes nothing."""
    template = _Template.build(
        _assemble(mail, sender=sender, list_unsubscribe=unsubscribe_url), _SLOTS
    )
    return _fill(template, sender=sender, to=to, at=at, link="", dkim=dkim)


@lru_cache(maxsize=256)
def _prepared(
    kind: MailKind,
    branding: Branding,
    sender: Sender,
    *,
    valid_days: int,
    valid_minutes: int,
    text: str,
    title: str,
    list_unsubscribe: bool,
) -> _Template:
    """A mail rendered, inlined and assembled with its link left as a slot. Keyed by every
    value that goes into it, so an edited federation simply makes another key."""
    link = _SLOTS["link"].decode()
    mail = render(
        kind,
        branding,
        link=link,
        valid_days=valid_days,
        valid_minutes=valid_minutes,
        text=text,
        title=title,
    )
    message = _assemble(mail, sender=sender, list_unsubscribe=link if list_unsubscribe else None)
    return _Template.build(message, _SLOTS)


def message(
    kind: MailKind,
    branding: Branding,
    sender: Sender,
    *,
    link: str,
    to: str,
    at: datetime,
    dkim: DkimKey | None,
    valid_days: int = 0,
    valid_minutes: int = 0,
    text: str = "",
    title: str = "",
    list_unsubscribe: bool = False,
) -> bytes:
    """render() and build_message() in one step, the same mail, from a message prepared once
    per look of the federation and kind (a busy sign-up form sends the same mail but for its
    link, address, date and id); `list_unsubscribe`: the link is also the List-Unsubscribe
    address (the welcome mail)."""
    if not _SAFE_LINK.fullmatch(link):
        raise RenderError("the link cannot go into the mail as it is")
    template = _prepared(
        kind,
        branding,
        sender,
        valid_days=valid_days,
        valid_minutes=valid_minutes,
        text=text,
        title=title,
        list_unsubscribe=list_unsubscribe,
    )
    return _fill(template, sender=sender, to=to, at=at, link=link, dkim=dkim)


def staff_message(
    kind: MailKind,
    federation: Any,
    *,
    to: str,
    at: datetime,
    base_url: str,
    link: str,
    dkim: DkimKey | None,
    valid_minutes: int = 0,
    title: str = "",
) -> bytes:
    """A mail from the federation to a staff address (sign-in link, draft notice), rendered
    and built in one step: no list headers, DKIM-signed when a key is given."""
    return message(
        kind,
        Branding.of(federation, base_url=base_url),
        Sender.of(federation),
        link=link,
        to=to,
        at=at,
        dkim=dkim,
        valid_minutes=valid_minutes,
        title=title,
    )
