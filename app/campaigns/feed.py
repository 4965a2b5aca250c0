"""The archive as an Atom feed (RFC 4287): the web versions' text, no personal data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

ATOM = "http://www.w3.org/2005/Atom"


@dataclass(frozen=True)
class FeedEntry:
    campaign_id: int
    title: str
    summary: str
    url: str
    published: datetime
    content_html: str


def _tag(base_url: str, slug: str, suffix: str, since: datetime) -> str:
    """A tag URI (RFC 4151): stable even if the service moves to another address later."""
    host = urlsplit(base_url).hostname or "localhost"
    return f"tag:{host},{since:%Y}:{slug}/{suffix}"


def build_feed(
    *,
    base_url: str,
    slug: str,
    title: str,
    archive_url: str,
    feed_url: str,
    created: datetime,
    updated: datetime,
    entries: list[FeedEntry],
) -> bytes:
    """UTF-8 Atom XML; ElementTree does the escaping."""
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": "sv"})

    def add(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM}}}{name}", attrs)
        element.text = text
        return element

    add(feed, "id", _tag(base_url, slug, "arkiv", created))
    add(feed, "title", title)
    add(feed, "updated", updated.isoformat())
    add(feed, "link", rel="self", type="application/atom+xml", href=feed_url)
    add(feed, "link", rel="alternate", type="text/html", href=archive_url)
    author = add(feed, "author")
    add(author, "name", title)
    for entry in entries:
        item = add(feed, "entry")
        add(item, "id", _tag(base_url, slug, f"arkiv/{entry.campaign_id}", entry.published))
        add(item, "title", entry.title)
        add(item, "published", entry.published.isoformat())
        add(item, "updated", entry.published.isoformat())
        add(item, "link", rel="alternate", type="text/html", href=entry.url)
        if entry.summary:
            add(item, "summary", entry.summary)
        add(item, "content", entry.content_html, type="html")
    body = ET.tostring(feed, encoding="unicode")
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + body).encode()
