"""Staff Markdown to sanitised HTML (nh3 allow-list) and to plain text with the same links.

Beyond CommonMark the renderer knows three things, documented in the README:
a link alone on its line followed by `{.knapp}` is a call-to-action button (a table cell with a
background plus a VML shape for Outlook desktop), an image alone on its line is a block image
whose title (`![Alt](adress "Bildtext")`) becomes a visible caption, and GFM pipe tables.
What it drops or cannot make readable (raw HTML, unknown `{…}` attributes, images without alt
text, vague link texts, long bare URLs) comes back as `MarkdownWarning`s with line numbers.
"""

from __future__ import annotations

import html
import re
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode

from app.messages import MARKDOWN_WARNINGS

# Raw HTML is parsed (so that it can be found, reported and dropped), never rendered.
_md = MarkdownIt("commonmark", {"html": True, "linkify": False, "typographer": False}).enable(
    "table"
)

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "a",
    "ul",
    "ol",
    "li",
    "blockquote",
    "img",
    "code",
    "pre",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
URL_SCHEMES = {"http", "https", "mailto"}
TEXT_WIDTH = 72
# The letter's content column: 600 px less 2 x 40 px padding. Outlook desktop ignores CSS
# max-width, so every image carries a width attribute no larger than this.
CONTENT_WIDTH = 520
BUTTON_CLASS = ".knapp"
# `{.class}`, `{#id}` or `{key=value}` after a link, image or paragraph (Pandoc/kramdown style).
_ATTRIBUTE = re.compile(
    r"\{\s*(?:[.#][\w-]+|[\w-]+=[^\s}]*)(?:\s+(?:[.#][\w-]+|[\w-]+=[^\s}]*))*\s*\}"
)
_BARE_URL = re.compile(r"(?:https?://|www\.)\S+")
BARE_URL_LIMIT = 40
VAGUE_LINK_TEXTS = {
    "klicka här",
    "klicka",
    "här",
    "tryck här",
    "länk",
    "länken",
    "denna länk",
    "den här länken",
    "click here",
    "here",
    "link",
}


@dataclass(frozen=True)
class MarkdownWarning:
    line: int
    code: str
    message: str


@dataclass(frozen=True)
class BodyStyle:
    """What the theme contributes to blocks the renderer draws itself."""

    button_background: str = "#1f5f8b"
    button_text: str = "#ffffff"
    font: str = "Arial, Helvetica, sans-serif"


@dataclass(frozen=True)
class RenderedBody:
    html: str
    text: str
    warnings: list[MarkdownWarning] = field(default_factory=list)


@dataclass(frozen=True)
class _Button:
    label: str
    href: str


_DROPPED = "dropped"  # a paragraph left empty by what was dropped from it


@dataclass(frozen=True)
class _Figure:
    src: str
    alt: str
    width: int
    caption: str


class _Collector:
    def __init__(self) -> None:
        self.warnings: list[MarkdownWarning] = []

    def add(self, line: int, code: str, detail: str = "") -> None:
        message = MARKDOWN_WARNINGS[code].format(detail=detail)
        found = MarkdownWarning(line=line, code=code, message=message)
        if found not in self.warnings:
            self.warnings.append(found)


def _normalise_headings(tokens: list[Token]) -> None:
    """The mail's h1 is the subject; body headings start at h2 and never skip a level.

    Each heading nests under the nearest earlier heading of a smaller Markdown level, so
    `##` after `#` becomes h3, and a lone `###` becomes h2."""
    stack: list[tuple[int, int]] = []  # (markdown level, output level)
    level = 2
    for token in tokens:
        if token.type == "heading_open":
            wanted = int(token.tag[1])
            while stack and stack[-1][0] >= wanted:
                stack.pop()
            level = min(stack[-1][1] + 1 if stack else 2, 6)
            stack.append((wanted, level))
        if token.type in {"heading_open", "heading_close"}:
            token.tag = f"h{level}"


def _line(block: Token) -> int:
    return block.map[0] + 1 if block.map else 1


def _is_blank(token: Token) -> bool:
    return token.type == "text" and not token.content.strip()


def _link_label(children: list[Token], start: int) -> tuple[str, int]:
    """The plain text of the link opened at `start`, and the index of its link_close."""
    depth, i = 0, start
    parts: list[str] = []
    while i < len(children):
        child = children[i]
        if child.type == "link_open":
            depth += 1
        elif child.type == "link_close":
            depth -= 1
            if depth == 0:
                return "".join(parts), i
        elif child.type in {"text", "code_inline"} or child.type == "image":
            parts.append(child.content)
        i += 1
    return "".join(parts), i


def _button(inline: Token) -> _Button | None:
    """A paragraph that is one link followed by `{.knapp}`, nothing else."""
    children = [c for c in inline.children or [] if not _is_blank(c)]
    if len(children) < 3 or children[0].type != "link_open":
        return None
    label, close = _link_label(children, 0)
    rest = children[close + 1 :]
    if len(rest) != 1 or rest[0].type != "text" or rest[0].content.strip() != "{.knapp}":
        return None
    href = str(children[0].attrs.get("href", ""))
    if urlsplit(href).scheme not in URL_SCHEMES or not label.strip():
        return None
    return _Button(label=label.strip(), href=href)


def _check_inline(
    inline: Token,
    warn: _Collector,
    image_widths: Mapping[str, int],
    *,
    button: bool,
) -> None:
    """Report and drop what the letter cannot carry, in one pass over a block's inline tokens."""
    first = _line(inline)
    kept: list[Token] = []
    children = inline.children or []
    breaks = 0
    in_link = 0
    for index, child in enumerate(children):
        line = first + breaks
        if child.type in {"softbreak", "hardbreak"}:
            breaks += 1
        if child.type == "html_inline":
            warn.add(line, "raw_html")
            continue
        if child.type == "link_open":
            in_link += 1
            label, _ = _link_label(children, index)
            href = str(child.attrs.get("href", ""))
            spoken = re.sub(r"[^\w ]", "", label.lower()).strip()
            if spoken in VAGUE_LINK_TEXTS:
                warn.add(line, "vague_link_text", label.strip())
            elif label.strip() in {href, href.removeprefix("mailto:")} and len(label) > (
                BARE_URL_LIMIT
            ):
                warn.add(line, "bare_url", label.strip())
        elif child.type == "link_close":
            in_link -= 1
        elif child.type == "image":
            src = str(child.attrs.get("src", ""))
            if not child.content.strip():
                warn.add(line, "image_without_alt", src)
                continue
            known = image_widths.get(src)
            child.attrs["width"] = str(min(known, CONTENT_WIDTH) if known else CONTENT_WIDTH)
        elif child.type == "text":
            if button and index == len(children) - 1:
                child.content = ""
                kept.append(child)
                continue
            for match in _ATTRIBUTE.finditer(child.content):
                code = "button_not_alone" if match.group() == "{.knapp}" else "unknown_attribute"
                warn.add(line, code, match.group())
            child.content = _ATTRIBUTE.sub("", child.content)
            if not in_link:
                for url in _BARE_URL.findall(child.content):
                    if len(url) > BARE_URL_LIMIT:
                        warn.add(line, "bare_url", url)
        kept.append(child)
    inline.children = kept


def _figure(inline: Token, warn: _Collector) -> _Figure | None:
    """A paragraph that is one image (with alt text) becomes a block image with a caption."""
    children = [c for c in inline.children or [] if not _is_blank(c)]
    if len(children) != 1 or children[0].type != "image":
        return None
    image = children[0]
    src = str(image.attrs.get("src", ""))
    if urlsplit(src).scheme not in {"http", "https"}:
        warn.add(_line(inline), "image_unsafe_url", src)
        inline.children = []
        return None
    return _Figure(
        src=src,
        alt=" ".join(image.content.split()),
        width=int(str(image.attrs["width"])),
        caption=str(image.attrs.get("title") or "").strip(),
    )


def _prepare(tokens: list[Token], warn: _Collector, image_widths: Mapping[str, int]) -> list[Token]:
    """Drop raw HTML blocks, check inline content, mark buttons and figures, align tables."""
    kept: list[Token] = []
    for index, token in enumerate(tokens):
        if token.type == "html_block":
            warn.add(_line(token), "raw_html")
            continue
        if token.type in {"th_open", "td_open"}:
            style = str(token.attrs.pop("style", ""))
            if "text-align:" in style:
                token.attrs["align"] = style.split("text-align:", 1)[1].strip()
        if token.type == "inline":
            opener = tokens[index - 1]
            top_paragraph = opener.type == "paragraph_open" and opener.level == 0
            button = _button(token) if top_paragraph else None
            _check_inline(token, warn, image_widths, button=button is not None)
            if button is not None:
                opener.meta["block"] = button
            elif top_paragraph:
                figure = _figure(token, warn)
                if figure is not None:
                    opener.meta["block"] = figure
            if opener.type == "paragraph_open" and all(map(_is_blank, token.children or [])):
                opener.meta["block"] = _DROPPED
        kept.append(token)
    return kept


def _clean(fragment: str) -> str:
    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener",
        set_tag_attribute_values={"table": {"class": "tabell"}},
    )


def _button_html(button: _Button, style: BodyStyle) -> str:
    """A bulletproof button: the cell's background carries the colour everywhere, and Outlook
    desktop (Word, which ignores padding on links) draws a VML rounded rectangle instead."""
    label = html.escape(button.label)
    href = html.escape(button.href, quote=True)
    bg, fg, font = style.button_background, style.button_text, html.escape(style.font)
    # VML needs a fixed size; about 9 px per character of 16 px bold text, plus the padding.
    width = min(CONTENT_WIDTH, 52 + 9 * len(button.label))
    return (
        '<table role="presentation" class="knapp" cellpadding="0" cellspacing="0" border="0">'
        f'<tr><td class="knapp-td" align="center" bgcolor="{bg}">\n'
        f"<!--[if mso]>"
        f'<v:roundrect xmlns:v="urn:schemas-microsoft-com:vml" '
        f'xmlns:w="urn:schemas-microsoft-com:office:word" href="{href}" '
        f'style="height:48px;v-text-anchor:middle;width:{width}px;" arcsize="13%" stroke="f" '
        f'fillcolor="{bg}"><w:anchorlock/>'
        f'<center style="color:{fg};font-family:Arial,sans-serif;font-size:16px;'
        f'font-weight:bold;">{label}</center></v:roundrect>'
        f"<![endif]-->\n"
        f"<!--[if !mso]><!-->"
        f'<a class="knapp-a" href="{href}" style="background-color:{bg};color:{fg};'
        f'font-family:{font};">{label}</a>'
        f"<!--<![endif]-->\n"
        "</td></tr></table>\n"
    )


def _figure_html(figure: _Figure) -> str:
    src = html.escape(figure.src, quote=True)
    alt = html.escape(figure.alt, quote=True)
    caption = (
        f'<tr><td class="bildtext">{html.escape(figure.caption)}</td></tr>'
        if figure.caption
        else ""
    )
    return (
        '<table role="presentation" class="bild" width="100%" cellpadding="0" cellspacing="0" '
        'border="0">'
        f'<tr><td class="bild-td"><img src="{src}" alt="{alt}" width="{figure.width}" '
        # Percent width inside a table cell: max-width alone would let the cell grow.
        f'style="width:100%;max-width:{figure.width}px;"></td></tr>'
        f"{caption}</table>\n"
    )


def _render_html(tokens: list[Token], style: BodyStyle) -> str:
    """Markdown segments go through nh3; buttons and figures are drawn here from escaped parts
    (nh3 would strip the VML and the conditional comments a button needs)."""
    out: list[str] = []
    pending: list[Token] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        block = token.meta.get("block") if token.type == "paragraph_open" else None
        if block is None:
            pending.append(token)
            index += 1
            continue
        out.append(_clean(_md.renderer.render(pending, _md.options, {})))
        pending = []
        if isinstance(block, _Button):
            out.append(_button_html(block, style))
        elif isinstance(block, _Figure):
            out.append(_figure_html(block))
        index += 3  # paragraph_open, inline, paragraph_close
    out.append(_clean(_md.renderer.render(pending, _md.options, {})))
    return "".join(out)


def render_body(
    source: str,
    *,
    style: BodyStyle | None = None,
    image_widths: Mapping[str, int] | None = None,
) -> RenderedBody:
    """Markdown to (sanitised HTML, plain text, warnings) for one campaign body.

    `image_widths` gives the pixel width of images the service knows (uploaded ones), so the
    width attribute matches the picture instead of stretching a small one."""
    warn = _Collector()
    tokens = _prepare(_md.parse(source), warn, image_widths or {})
    _normalise_headings(tokens)
    body_html = _render_html(tokens, style or BodyStyle())
    return RenderedBody(html=body_html, text=_to_text(tokens), warnings=warn.warnings)


def _inline_text(node: SyntaxTreeNode) -> str:
    parts: list[str] = []
    for child in node.children:
        kind = child.type
        if kind == "text" or kind == "code_inline":
            parts.append(child.content)
        elif kind in {"softbreak"}:
            parts.append(" ")
        elif kind == "hardbreak":
            parts.append("\n")
        elif kind == "link":
            label = _inline_text(child)
            href = str(child.attrs.get("href", ""))
            if href.startswith("mailto:"):
                href = href.removeprefix("mailto:")
            parts.append(label if label == href else f"{label} ({href})")
        elif kind == "image":
            alt = _inline_text(child) or "Bild"
            parts.append(f"[{alt}: {child.attrs.get('src', '')}]")
        else:
            parts.append(_inline_text(child))
    return "".join(parts).strip(" ") if node.type == "inline" else "".join(parts)


def _wrap(text: str, prefix: str = "", first: str | None = None) -> str:
    lines: list[str] = []
    for i, para_line in enumerate(text.split("\n")):
        lead = first if (first is not None and i == 0) else prefix
        wrapped = textwrap.wrap(
            para_line,
            width=TEXT_WIDTH,
            initial_indent=lead,
            subsequent_indent=prefix,
            break_long_words=False,
            break_on_hyphens=False,
        )
        lines.extend(wrapped or [lead.rstrip()])
    return "\n".join(lines)


def _table_text(node: SyntaxTreeNode, prefix: str) -> str:
    rows: list[str] = []
    for section in node.children:
        for row in section.children:
            cells = [
                _inline_text(cell.children[0]) if cell.children else "" for cell in row.children
            ]
            rows.append(prefix + " | ".join(cells))
    return "\n".join(rows)


def _blocks(node: SyntaxTreeNode, prefix: str = "") -> list[str]:
    out: list[str] = []
    for child in node.children:
        kind = child.type
        if kind == "paragraph":
            block = child.meta.get("block")
            if isinstance(block, _Figure):
                caption = f"\n{prefix}{block.caption}" if block.caption else ""
                out.append(f"{prefix}[{block.alt}: {block.src}]{caption}")
            elif child.children:
                out.append(_wrap(_inline_text(child.children[0]), prefix))
        elif kind == "heading":
            title = _inline_text(child.children[0])
            underline = "=" if child.tag == "h2" else "-"
            out.append(f"{prefix}{title}\n{prefix}{underline * min(len(title), TEXT_WIDTH)}")
        elif kind == "blockquote":
            out.extend(_blocks(child, prefix + "> "))
        elif kind in {"bullet_list", "ordered_list"}:
            start = int(str(child.attrs.get("start", 1)))
            items: list[str] = []
            for n, item in enumerate(child.children):
                marker = f"{start + n}. " if kind == "ordered_list" else "- "
                inner = _blocks(item, "")
                body = "\n".join(inner)
                first, *rest = body.split("\n") if body else [""]
                lines = [prefix + marker + first] + [
                    prefix + " " * len(marker) + line if line else "" for line in rest
                ]
                items.append("\n".join(lines))
            out.append("\n".join(items))
        elif kind in {"fence", "code_block"}:
            out.append("\n".join(prefix + "    " + line for line in child.content.splitlines()))
        elif kind == "hr":
            out.append(prefix + "-" * 20)
        elif kind == "table":
            out.append(_table_text(child, prefix))
        else:
            out.extend(_blocks(child, prefix))
    return out


def _to_text(tokens: list[Token]) -> str:
    return "\n\n".join(block for block in _blocks(SyntaxTreeNode(tokens)) if block.strip())
