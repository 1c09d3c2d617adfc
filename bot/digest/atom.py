"""Atom feeds (RFC 4287) and the OPML list of a reader's feeds, written as XML (pure).

The feed pages (`bot.web.feed_pages`) decide what a feed holds; this only writes
it. Every text goes through ElementTree, which escapes it; the characters XML 1.0
cannot hold at all (most control characters) are dropped first, so no stored
title or abstract can make a feed that readers refuse.
"""

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from urllib.parse import urlsplit

ATOM_NAMESPACE = "http://www.w3.org/2005/Atom"

# Outside XML 1.0's Char production: C0 controls but tab, LF and CR; lone surrogates;
# U+FFFE and U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class AtomEntry:
    """One entry: `id` a stable IRI, `link` its page, `content_html` HTML as text (escaped here)."""

    id: str
    title: str
    link: str
    updated: datetime
    authors: tuple[str, ...] = ()
    summary: str = ""
    content_html: str = ""
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class AtomFeed:
    """A whole feed: its stable `id`, its own address (`self_link`) and its entries, in order."""

    id: str
    title: str
    updated: datetime
    self_link: str
    alternate_link: str
    author: str
    entries: tuple[AtomEntry, ...]
    subtitle: str = ""


@dataclass(frozen=True)
class OpmlFeed:
    """One feed of an OPML list: its title, its address, and the page it is about."""

    title: str
    xml_url: str
    html_url: str


def xml_text(text: str) -> str:
    """`text` without the characters XML 1.0 cannot hold (ElementTree would write them)."""
    return _NOT_XML.sub("", text)


def rfc3339(moment: datetime) -> str:
    """`moment` as Atom writes dates: UTC, to the second (`2025-11-22T08:00:00Z`).

    A naive datetime is taken as UTC, as the database stores them.
    """
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tag_uri(base_url: str, day: date, specific: str) -> str:
    """A tag URI (RFC 4151) minted by the site's host on `day`: `tag:host,2025-11-22:paper/7`.

    Made from what does not change (the host, a stored date, stored ids), never
    from a token, so an entry keeps its id across fetches and new feed addresses.
    """
    host = (urlsplit(base_url).hostname or "localhost").lower()
    return f"tag:{host},{day.isoformat()}:{specific}"


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attributes.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def _author(parent: ET.Element, name: str) -> None:
    _add(_add(parent, "author"), "name", name)


def _entry(parent: ET.Element, entry: AtomEntry) -> None:
    element = _add(parent, "entry")
    _add(element, "id", entry.id)
    _add(element, "title", entry.title, type="text")
    _add(element, "link", rel="alternate", type="text/html", href=entry.link)
    _add(element, "updated", rfc3339(entry.updated))
    for name in entry.authors:
        _author(element, name)
    for term in entry.categories:
        _add(element, "category", term=term)
    if entry.summary:
        _add(element, "summary", entry.summary, type="text")
    if entry.content_html:
        _add(element, "content", entry.content_html, type="html")


def render_atom(feed: AtomFeed) -> bytes:
    """The feed as an Atom document, UTF-8 with an XML declaration."""
    root = ET.Element("feed", {"xmlns": ATOM_NAMESPACE})
    _add(root, "id", feed.id)
    _add(root, "title", feed.title, type="text")
    if feed.subtitle:
        _add(root, "subtitle", feed.subtitle, type="text")
    _add(root, "updated", rfc3339(feed.updated))
    _author(root, feed.author)  # entries without authors of their own take this one
    _add(root, "link", rel="self", type="application/atom+xml", href=feed.self_link)
    _add(root, "link", rel="alternate", type="text/html", href=feed.alternate_link)
    _add(root, "generator", "paperbot")
    for entry in feed.entries:
        _entry(root, entry)
    return _document(root)


def render_opml(title: str, feeds: Sequence[OpmlFeed]) -> bytes:
    """An OPML 2.0 list of `feeds`, which feed readers import in one go."""
    root = ET.Element("opml", {"version": "2.0"})
    _add(_add(root, "head"), "title", title)
    body = _add(root, "body")
    for feed in feeds:
        # OPML names every subscription list "rss", whatever the feed's format.
        outline = {"type": "rss", "text": feed.title, "title": feed.title,
                   "xmlUrl": feed.xml_url, "htmlUrl": feed.html_url}  # fmt: skip
        ET.SubElement(body, "outline", {k: xml_text(v) for k, v in outline.items()})
    return _document(root)


def _document(root: ET.Element) -> bytes:
    written: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return written
