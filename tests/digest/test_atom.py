"""The Atom and OPML writer: well-formed whatever the text holds."""

import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone

import feedparser

from bot.digest.atom import AtomEntry, AtomFeed, OpmlFeed, render_atom, render_opml, tag_uri

NOW = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)


def _feed(title: str) -> AtomFeed:
    entry = AtomEntry(
        "tag:p.example,2025-11-22:paper/1", title, "https://arxiv.org/abs/2401.00001",
        NOW, authors=("Ana <Lab>",), summary=title, content_html=f"<p>{title}</p>",
    )  # fmt: skip
    return AtomFeed("tag:p.example,2025-11-22:feed/1/all", title, NOW,
                    "https://p.example/feed/x.atom", "https://p.example/archive", "paperbot",
                    (entry,))  # fmt: skip


def test_markup_and_control_characters_in_text_still_make_a_valid_feed() -> None:
    nasty = 'A <script>alert("x")</script> & \x00\x1b title\ufffe'
    parsed = feedparser.parse(render_atom(_feed(nasty)))
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.feed.title == 'A <script>alert("x")</script> &  title'
    assert parsed.entries[0].author == "Ana <Lab>"


def test_dates_are_written_in_utc_and_tag_uris_name_the_host() -> None:
    berlin = NOW.astimezone(timezone(timedelta(hours=1)))
    root = ET.fromstring(render_atom(replace(_feed("x"), updated=berlin)))
    assert root.findtext("{http://www.w3.org/2005/Atom}updated") == "2025-11-22T08:00:00Z"
    naive = ET.fromstring(render_atom(replace(_feed("x"), updated=NOW.replace(tzinfo=None))))
    assert naive.findtext("{http://www.w3.org/2005/Atom}updated") == "2025-11-22T08:00:00Z"
    assert tag_uri("https://P.example:8443/x", date(2025, 11, 22), "paper/7") == (
        "tag:p.example,2025-11-22:paper/7"
    )


def test_the_opml_lists_each_feed_with_its_title_and_address() -> None:
    body = render_opml("feeds", [OpmlFeed("Papers “a” & b", "https://p.example/feed/x.atom",
                                          "https://p.example/archive")])  # fmt: skip
    [outline] = ET.fromstring(body).findall("body/outline")
    assert outline.attrib == {
        "type": "rss", "text": "Papers “a” & b", "title": "Papers “a” & b",
        "xmlUrl": "https://p.example/feed/x.atom", "htmlUrl": "https://p.example/archive",
    }  # fmt: skip
