"""Staff Markdown to sanitised HTML (nh3 allow-list) and to plain text with the same links."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markdown_it.tree import SyntaxTreeNode

# Raw HTML in Markdown is off: staff write Markdown, and nh3 still cleans the result.
_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})

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
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}}
URL_SCHEMES = {"http", "https", "mailto"}
TEXT_WIDTH = 72


@dataclass(frozen=True)
class RenderedBody:
    html: str
    text: str


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


def render_body(source: str) -> RenderedBody:
    """Markdown to (sanitised HTML, plain text) for one campaign body."""
    tokens = _md.parse(source)
    _normalise_headings(tokens)
    raw_html = _md.renderer.render(tokens, _md.options, {})
    safe = nh3.clean(
        raw_html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="noopener",
    )
    return RenderedBody(html=safe, text=_to_text(tokens))


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
    return "".join(parts)


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


def _blocks(node: SyntaxTreeNode, prefix: str = "") -> list[str]:
    out: list[str] = []
    for child in node.children:
        kind = child.type
        if kind == "paragraph":
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
        else:
            out.extend(_blocks(child, prefix))
    return out


def _to_text(tokens: list[Token]) -> str:
    return "\n\n".join(block for block in _blocks(SyntaxTreeNode(tokens)) if block.strip())
