"""Pure rendering of transactional mails (confirmation, self-service): data in, bytes out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app.rendering.colors import contrast, readable_on
from app.rendering.header_text import header_safe
from app.rendering.mail import DkimKey, sign_message
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
    # A folded List-Unsubscribe breaks one-click at some providers: keep it on one line.
    chosen = policy.SMTP.clone(max_line_length=998) if unsubscribe_url else policy.SMTP
    msg = EmailMessage(policy=chosen)
    msg["Subject"] = header_safe(mail.subject)
    msg["From"] = Address(display_name=header_safe(sender.from_name), addr_spec=sender.from_email)
    msg["To"] = to
    if sender.reply_to:
        msg["Reply-To"] = sender.reply_to
    msg["Date"] = format_datetime(at.astimezone(ZoneInfo(sender.timezone)))
    msg["Message-ID"] = make_msgid(domain=sender.from_email.rpartition("@")[2])
    msg["Auto-Submitted"] = "auto-generated"
    if unsubscribe_url:
        msg["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["MIME-Version"] = "1.0"
    msg.set_content(mail.text, subtype="plain", charset="utf-8")
    msg.add_alternative(mail.html, subtype="html", charset="utf-8")
    message = msg.as_bytes(policy=chosen)
    return message if dkim is None else sign_message(message, dkim)


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
    mail = render(
        kind,
        Branding.of(federation, base_url=base_url),
        link=link,
        valid_minutes=valid_minutes,
        title=title,
    )
    return build_message(mail, sender=Sender.of(federation), to=to, at=at, dkim=dkim)
