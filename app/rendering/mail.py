"""Campaign mail as bytes: render and inline once per campaign, then substitute per recipient.

`prepare_campaign` renders the themed HTML and the text part once, inlines the CSS once, and
assembles the complete RFC 5322 message with placeholders in it. `PreparedCampaign.render`
fills in the personal parts (To, greeting, unsubscribe link, Message-ID, Date) by joining
byte segments; no EmailMessage is built per recipient. Both bodies are UTF-8 with
`Content-Transfer-Encoding: 8bit` and short CRLF lines, so substituted values stay valid
without re-encoding (every relay we target offers 8BITMIME).
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.header import Header
from email.utils import format_datetime, formataddr
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import css_inline
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from app import clock
from app.rendering.header_text import header_safe
from app.rendering.markdown import BodyStyle, MarkdownWarning, RenderedBody, render_body
from app.rendering.themes import SANS, get_theme, theme_colors
from app.rendering.wire import END, stuff, to_wire
from app.resources import EMAIL_TEMPLATES_DIR

TEMPLATE_DIR = EMAIL_TEMPLATES_DIR
# Lines are wrapped below this before substitution; the longest substituted value (a 998-safe
# unsubscribe URL or an escaped 200-character name) still keeps every line under 998 octets.
WRAP_AT = 600
MAX_LINE = 998
# Staff test sends go to addresses that are not subscribers: their unsubscribe link is inert.
TEST_UNSUBSCRIBE_TOKEN = "testutskick"
SAMPLE_NAME = "Anna Andersson"
SAMPLE_TOKEN = "exempel"
# Headers a DKIM signature covers; dkimpy leaves List-Unsubscribe-Post out unless asked.
DKIM_HEADERS = [
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"Reply-To",
    b"MIME-Version",
    b"Content-Type",
    b"List-Id",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
]
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class RenderError(ValueError):
    """The campaign cannot be turned into a valid message (e.g. an unbreakable long line)."""


@dataclass(frozen=True)
class MailIdentity:
    """What a federation contributes to its mail."""

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
    # The Date header is the send time in the federation's own zone.
    timezone: str = "Europe/Stockholm"


@dataclass(frozen=True)
class HeaderImage:
    """A campaign's own header photo, shown instead of the theme's artwork."""

    url: str
    alt: str
    width: int
    height: int

    @property
    def display_height(self) -> int:
        """The height at the 600 px the letter shows it (Outlook needs both attributes)."""
        return round(600 * self.height / self.width)


@dataclass(frozen=True)
class Closing:
    """How the letter ends: the author's closing line and signature, nothing after them."""

    sign_off: str
    name: str = ""
    title: str = ""
    portrait: HeaderImage | None = None


@dataclass(frozen=True)
class CampaignContent:
    id: int
    subject: str
    preheader: str
    theme: str
    body_markdown: str
    # The "Visa i webbläsaren" link when it is not the public archive (a test send's preview).
    web_url: str | None = None
    header_image: HeaderImage | None = None
    # None: the theme's closing line and no signature.
    closing: Closing | None = None
    # Pixel widths of the uploaded images the body uses, keyed by URL.
    image_widths: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DkimKey:
    selector: str
    domain: str
    private_key: bytes


@dataclass(frozen=True)
class MailOptions:
    base_url: str
    unsubscribe_mailto: str | None = None
    dkim: DkimKey | None = None


_env = Environment(
    loader=FileSystemLoader(str(TEMPLATE_DIR)),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def greeting(name: str | None) -> str:
    """The first line of every letter: "Hej Anna Andersson!" or "Hej!"."""
    clean = _CONTROL.sub(" ", name or "").strip()[:200]
    return f"Hej {clean}!" if clean else "Hej!"


def archive_url(base_url: str, slug: str, campaign_id: int) -> str:
    return f"{base_url}/f/{slug}/arkiv/{campaign_id}"


def letter_body(content: CampaignContent, branding: MailIdentity) -> RenderedBody:
    """The campaign's Markdown in the theme's button colours."""
    theme = get_theme(content.theme)
    colors = theme_colors(theme, branding.brand_color, branding.accent_color)
    style = BodyStyle(button_background=colors.button, button_text="#ffffff", font=SANS)
    return render_body(content.body_markdown, style=style, image_widths=content.image_widths)


def body_warnings(content: CampaignContent, branding: MailIdentity) -> list[MarkdownWarning]:
    """What staff should fix in the Markdown, with line numbers."""
    return letter_body(content, branding).warnings


def _header_image(content: CampaignContent, theme: Any, base_url: str) -> HeaderImage:
    if content.header_image is not None:
        return content.header_image
    return HeaderImage(
        url=base_url + theme.artwork_path, alt=theme.artwork_alt, width=600, height=200
    )


def _context(
    content: CampaignContent,
    branding: MailIdentity,
    base_url: str,
    *,
    greeting_html: str,
    unsubscribe_url: str,
    web_version: bool,
) -> dict[str, Any]:
    theme = get_theme(content.theme)
    body = letter_body(content, branding)
    return {
        "theme": theme,
        "sans": SANS,
        "c": theme.light,
        "d": theme.dark,
        "brand": theme_colors(theme, branding.brand_color, branding.accent_color),
        "federation": branding,
        "subject": content.subject,
        "preheader": content.preheader,
        "body_html": body.html,
        "body_text": body.text,
        "greeting": greeting_html,
        "header": _header_image(content, theme, base_url),
        "closing": content.closing or Closing(sign_off=theme.sign_off),
        "archive_url": content.web_url or archive_url(base_url, branding.slug, content.id),
        "archive_list_url": f"{base_url}/f/{branding.slug}/arkiv",
        "subscribe_url": f"{base_url}/f/{branding.slug}/prenumerera",
        "unsubscribe_url": unsubscribe_url,
        "web_version": web_version,
    }


def render_html(
    content: CampaignContent,
    branding: MailIdentity,
    base_url: str,
    *,
    greeting_html: str,
    unsubscribe_url: str,
    web_version: bool = False,
) -> str:
    """The themed HTML with CSS inlined (media queries kept in <style>)."""
    ctx = _context(
        content,
        branding,
        base_url,
        greeting_html=greeting_html,
        unsubscribe_url=unsubscribe_url,
        web_version=web_version,
    )
    source = _env.get_template(f"{content.theme}/mail.html").render(ctx)
    return str(_inliner.inline(source))


def render_text(
    content: CampaignContent,
    branding: MailIdentity,
    base_url: str,
    *,
    greeting_text: str,
    unsubscribe_url: str,
) -> str:
    ctx = _context(
        content,
        branding,
        base_url,
        greeting_html=greeting_text,
        unsubscribe_url=unsubscribe_url,
        web_version=False,
    )
    return _env.get_template("base.txt").render(ctx)


def render_web_version(content: CampaignContent, branding: MailIdentity, base_url: str) -> str:
    """The non-personal archive page: the same letter, no token, a sign-up link instead."""
    return render_html(
        content, branding, base_url, greeting_html="Hej!", unsubscribe_url="", web_version=True
    )


def _wrap_line(line: str) -> list[str]:
    """Break a long line at spaces (equivalent whitespace in HTML and in wrapped text)."""
    out: list[str] = []
    while len(line.encode()) > WRAP_AT:
        # Characters, not octets: a non-ASCII line is cut early enough for 4-octet characters.
        cut = line.rfind(" ", 0, WRAP_AT if line.isascii() else WRAP_AT // 4)
        if cut <= 0:
            cut = line.find(" ", 1)
            if cut <= 0:
                break
        out.append(line[:cut])
        line = line[cut + 1 :]
    out.append(line)
    return out


def _crlf_body(text: str) -> bytes:
    lines: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        lines.extend(_wrap_line(line.rstrip()))
    data = "\r\n".join(lines).encode()
    if any(len(line) > WRAP_AT * 1.5 for line in data.split(b"\r\n")):
        raise RenderError("The letter has a line (e.g. a link) too long for e-mail.")
    return data


def _header(name: str, value: str) -> bytes:
    """One folded header; non-ASCII text as RFC 2047 encoded-words."""
    value = header_safe(value)
    charset = "us-ascii" if value.isascii() else "utf-8"
    encoded = Header(value, charset, header_name=name).encode(linesep="\r\n")
    return f"{name}: {encoded}\r\n".encode("ascii")


def _address(name: str, addr: str) -> str:
    return formataddr((header_safe(name), header_safe(addr)), charset="utf-8")


@dataclass
class _Template:
    """Bytes split at placeholders: segments[0] slot[0] segments[1] slot[1] … segments[-1]."""

    segments: list[bytes]
    slots: list[str]
    # Whether each slot starts a line: a value there that begins with "." needs another on
    # the wire (RFC 5321 §4.5.2).
    line_starts: list[bool] = field(default_factory=list)

    @classmethod
    def build(cls, data: bytes, placeholders: dict[str, bytes]) -> _Template:
        pattern = re.compile(b"|".join(re.escape(p) for p in placeholders.values()))
        by_value = {v: k for k, v in placeholders.items()}
        segments: list[bytes] = []
        slots: list[str] = []
        line_starts: list[bool] = []
        pos = 0
        for match in pattern.finditer(data):
            segments.append(data[pos : match.start()])
            slots.append(by_value[match.group()])
            line_starts.append(match.start() == 0 or data.endswith(b"\r\n", 0, match.start()))
            pos = match.end()
        segments.append(data[pos:])
        return cls(segments, slots, line_starts)

    def fill(self, values: dict[str, bytes]) -> bytes:
        parts = [self.segments[0]]
        for slot, segment in zip(self.slots, self.segments[1:], strict=True):
            parts.append(values[slot])
            parts.append(segment)
        return b"".join(parts)

    def on_the_wire(self) -> _Template:
        """This template in SMTP wire form, for `fill_wire`: the fixed bytes dot-stuffed once
        and the final "." line added. A segment after a slot goes on with the slot's line
        (values are never empty and hold no line break), so only its inner line starts count."""
        first, *rest = self.segments
        segments = [stuff(first), *(s.replace(b"\r\n.", b"\r\n..") for s in rest)]
        segments[-1] += END
        return _Template(segments, self.slots, self.line_starts)

    def fill_wire(self, values: dict[str, bytes]) -> bytes:
        """Fill a template made by `on_the_wire`: each value made safe for that form."""
        parts = [self.segments[0]]
        for slot, at_line_start, segment in zip(
            self.slots, self.line_starts, self.segments[1:], strict=True
        ):
            value = values[slot]
            if not value or b"\r" in value or b"\n" in value:
                raise RenderError(f"the {slot} value cannot go into the message as it is")
            if at_line_start and value.startswith(b"."):
                parts.append(b".")
            parts.append(value)
            parts.append(segment)
        return b"".join(parts)


@dataclass
class PreparedCampaign:
    """A campaign rendered once; `render` gives one recipient's complete message."""

    campaign_id: int
    base_url: str
    from_address: str
    from_domain: str
    unsubscribe_mailto: str | None
    dkim_key: DkimKey | None
    html_size: int
    zone: ZoneInfo
    _message: _Template
    _wire: _Template
    _text: _Template
    _html: _Template
    _date_cache: tuple[int, bytes] = field(default=(0, b""))

    @property
    def envelope_from(self) -> str:
        return self.from_address

    def unsubscribe_url(self, token: str) -> str:
        return f"{self.base_url}/u/{token}"

    def _values(self, *, to_address: str, name: str | None, token: str) -> dict[str, bytes]:
        if not _TOKEN_RE.match(token):
            raise RenderError("invalid unsubscribe token")
        if _CONTROL.search(to_address) or any(ch in to_address for ch in '<>,;" '):
            raise RenderError("invalid recipient address")
        text_greeting = greeting(name)
        return {
            "to": to_address.encode(),
            "unsub": self.unsubscribe_url(token).encode(),
            "token": token.encode(),
            "greet_text": text_greeting.encode(),
            "greet_html": html.escape(text_greeting, quote=True).encode(),
        }

    def _date(self) -> bytes:
        at = clock.now()
        second = int(at.timestamp())
        if self._date_cache[0] != second:
            local = at.replace(microsecond=0).astimezone(self.zone)
            self._date_cache = (second, format_datetime(local).encode())
        return self._date_cache[1]

    def _recipient(
        self, *, delivery_id: int, to_address: str, name: str | None, unsubscribe_token: str
    ) -> dict[str, bytes]:
        values = self._values(to_address=to_address, name=name, token=unsubscribe_token)
        values["date"] = self._date()
        values["msgid"] = (
            f"{self.campaign_id}.{delivery_id}.{secrets.token_hex(6)}@{self.from_domain}".encode()
        )
        return values

    def render(
        self, *, delivery_id: int, to_address: str, name: str | None, unsubscribe_token: str
    ) -> bytes:
        """The complete message (CRLF, 8bit UTF-8 bodies) for one recipient."""
        values = self._recipient(
            delivery_id=delivery_id,
            to_address=to_address,
            name=name,
            unsubscribe_token=unsubscribe_token,
        )
        message = self._message.fill(values)
        if self.dkim_key is not None:
            message = sign_message(message, self.dkim_key)
        return message

    def render_wire(
        self, *, delivery_id: int, to_address: str, name: str | None, unsubscribe_token: str
    ) -> bytes:
        """`render`'s message as the DATA phase writes it (dot-stuffed, final "." line), from
        bytes prepared once per campaign; only the personal values are added per recipient."""
        if self.dkim_key is not None:
            # The signature covers each recipient's bytes, so they are whole only here.
            return to_wire(
                self.render(
                    delivery_id=delivery_id,
                    to_address=to_address,
                    name=name,
                    unsubscribe_token=unsubscribe_token,
                )
            )
        values = self._recipient(
            delivery_id=delivery_id,
            to_address=to_address,
            name=name,
            unsubscribe_token=unsubscribe_token,
        )
        return self._wire.fill_wire(values)

    def render_parts(self, *, name: str | None, unsubscribe_token: str) -> tuple[str, str]:
        """(text, html) bodies for one recipient, exactly as `render` puts them in the mail."""
        values = self._values(to_address="preview@invalid", name=name, token=unsubscribe_token)
        return self._text.fill(values).decode(), self._html.fill(values).decode()


def sign_message(message: bytes, key: DkimKey) -> bytes:
    """Prepend a DKIM-Signature over the exact bytes that will be sent."""
    # dkimpy (with dnspython) costs a dispatcher 0.1 s of start-up; only signers need it.
    import dkim

    present = {
        line.split(b":", 1)[0].strip().lower()
        for line in message.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        if line and line[:1] not in b" \t"
    }
    headers = [h for h in DKIM_HEADERS if h.lower() in present]
    signature: bytes = dkim.sign(
        message,
        key.selector.encode(),
        key.domain.encode(),
        key.private_key,
        include_headers=headers,
        linesep=b"\r\n",
    )
    return signature + message


def prepare_campaign(
    content: CampaignContent, branding: MailIdentity, options: MailOptions
) -> PreparedCampaign:
    """Render, inline and encode one campaign; per-recipient work is left to substitution."""
    nonce = secrets.token_hex(6)
    ph = {
        key: f"NB{nonce}Q{code}Q".encode()
        for key, code in (
            ("to", "T"),
            ("unsub", "U"),
            ("token", "K"),
            ("greet_text", "G"),
            ("greet_html", "H"),
            ("date", "D"),
            ("msgid", "M"),
        )
    }
    unsub = ph["unsub"].decode()
    html_body = _crlf_body(
        render_html(
            content,
            branding,
            options.base_url,
            greeting_html=ph["greet_html"].decode(),
            unsubscribe_url=unsub,
        )
    )
    text_body = _crlf_body(
        render_text(
            content,
            branding,
            options.base_url,
            greeting_text=ph["greet_text"].decode(),
            unsubscribe_url=unsub,
        )
    )
    from_domain = branding.from_email.rpartition("@")[2].lower()
    host = urlsplit(options.base_url).hostname or "localhost"
    list_host = host if host.startswith("nyhetsbrev.") else f"nyhetsbrev.{host}"
    boundary = f"=_nb_{secrets.token_hex(12)}"
    list_unsubscribe = f"<{unsub}>"
    if options.unsubscribe_mailto:
        subject = quote(f"Avsluta {ph['token'].decode()}")
        list_unsubscribe += f", <mailto:{options.unsubscribe_mailto}?subject={subject}>"
    head = b"".join(
        [
            b"Date: " + ph["date"] + b"\r\n",
            f"From: {_address(branding.from_name, branding.from_email)}\r\n".encode(),
            b"To: " + ph["to"] + b"\r\n",
            _header("Subject", content.subject),
            b"Message-ID: <" + ph["msgid"] + b">\r\n",
            (
                f"Reply-To: {header_safe(branding.reply_to)}\r\n".encode()
                if branding.reply_to
                else b""
            ),
            f"List-Id: {_address(branding.name, f'{branding.slug}.{list_host}')}\r\n".encode(),
            # Kept on one line: a folded or encoded List-Unsubscribe breaks one-click.
            f"List-Unsubscribe: {list_unsubscribe}\r\n".encode(),
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n",
            b"Precedence: bulk\r\n",
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n'.encode(),
        ]
    )
    b = boundary.encode()
    part = b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
    body = b"".join(
        [
            b"This is a multi-part message in MIME format.\r\n",
            b"--" + b + b"\r\n",
            part % b"plain",
            text_body,
            b"\r\n",
            b"--" + b + b"\r\n",
            part % b"html",
            html_body,
            b"\r\n",
            b"--" + b + b"--\r\n",
        ]
    )
    if b in text_body or b in html_body:
        raise RenderError("boundary collision")
    message = head + b"\r\n" + body
    template = _Template.build(message, ph)
    return PreparedCampaign(
        campaign_id=content.id,
        base_url=options.base_url,
        from_address=branding.from_email,
        from_domain=from_domain,
        unsubscribe_mailto=options.unsubscribe_mailto,
        dkim_key=options.dkim,
        html_size=len(html_body),
        zone=ZoneInfo(branding.timezone),
        _message=template,
        _wire=template.on_the_wire(),
        _text=_Template.build(text_body, ph),
        _html=_Template.build(html_body, ph),
    )
