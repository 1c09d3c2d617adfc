"""Items whose titles repeat stay apart when their stable identifiers differ.

The feeds in tests/data/feeds/ have the shapes of real ones: a status page's
Atom, a mailing-list archive, a comment feed, a photo log, a blog, a journal's
table of contents with prism:doi.
"""

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.clock import Clock
from bot.ingest.feeds import parse_feed
from bot.ingest.identity import doi_from_text
from bot.ingest.pipeline import FeedSource, FetchOptions, ingest_feed, ingest_file
from bot.models import Paper
from tests.conftest import DATA, StaticFeeds

FEEDS = DATA / "feeds"


def _titles(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return sorted(session.exec(select(col(Paper.title))).all())


@pytest.mark.parametrize(
    ("name", "titles"),
    [
        (
            "status_page.atom.xml",
            ["Degraded API performance", "Support System - Down", "Support System - Down"],
        ),
        (
            "mailing_list.rss.xml",
            [
                "Re: new maintainer for the packaging tools",
                "Re: new maintainer for the packaging tools",
                "new maintainer for the packaging tools",
            ],
        ),
        ("comments.rss.xml", ["By: Priya", "By: Priya"]),
        ("photo_log.rss.xml", ["Photo", "Photo", "Photo"]),
        (
            "weekly_blog.atom.xml",
            ["Sparse retrieval for long documents", "Weekly notes", "Weekly notes"],
        ),
        (
            "journal_toc.rdf.xml",
            ["Correction", "Correction", "Editorial", "Reply to: On the limits of scaling"],
        ),
    ],
)
def test_every_item_of_a_feed_is_its_own_paper_whatever_its_title(
    engine: Engine, clock: Clock, name: str, titles: list[str]
) -> None:
    result = ingest_file(engine, FEEDS / name, clock=clock)
    assert (result.status, result.new, result.dropped) == ("ok", len(titles), 0)
    assert _titles(engine) == titles


def test_a_journal_toc_gives_each_article_its_doi() -> None:
    parsed = parse_feed((FEEDS / "journal_toc.rdf.xml").read_bytes(), source="toc")
    assert [p.doi for p in parsed.papers] == [
        "10.1000/s41000-024-00101-7",
        "10.1000/s41000-024-00102-6",
        "10.1000/s41000-024-00103-5",
        "10.1000/s41000-024-00104-4",  # DOIs are case-insensitive: one spelling
    ]


def test_a_doi_is_read_from_its_usual_spellings() -> None:
    assert doi_from_text("doi:10.1000/ABC.12") == "10.1000/abc.12"
    assert doi_from_text("https://doi.org/10.48550/arXiv.2401.00001.") == (
        "10.48550/arxiv.2401.00001"
    )
    assert doi_from_text("volume 10.5 of the journal") is None


def test_a_later_fetch_adds_the_new_incident_and_keeps_the_old_ones(
    engine: Engine, clock: Clock, feed_server: StaticFeeds
) -> None:
    first = (FEEDS / "status_page.atom.xml").read_bytes()
    newer = first.replace(
        b"  <entry>",
        b"""  <entry>
    <id>tag:status.example.com,2005:Incident/22990001</id>
    <published>2024-11-28T10:00:00Z</published>
    <link rel="alternate" type="text/html" href="https://status.example.com/incidents/z9z9z9z9"/>
    <title>Support System - Down</title>
    <content type="html">Investigating.</content>
  </entry>
  <entry>""",
        1,
    )
    options = FetchOptions(timeout=10, deadline=30, user_agent="paperbot-test")
    feed = FeedSource(feed_server.url("/history.atom"))
    feed_server.documents["/history.atom"] = first
    assert ingest_feed(engine, feed, clock=clock, options=options).new == 3
    feed_server.documents["/history.atom"] = newer
    again = ingest_feed(engine, feed, clock=clock, options=options)
    assert (again.new, again.unchanged) == (1, 3)
    assert _titles(engine).count("Support System - Down") == 3


def test_a_title_still_joins_records_without_conflicting_identifiers(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    # Two copies of one feed saved apart: the same entries, so the same papers.
    copy = tmp_path / "copy.xml"
    copy.write_bytes((FEEDS / "weekly_blog.atom.xml").read_bytes() + b"\n")
    ingest_file(engine, FEEDS / "weekly_blog.atom.xml", clock=clock)
    assert ingest_file(engine, copy, clock=clock).new == 0
    # Another feed's post under a title stored once: no identifier conflicts, so it joins.
    other = tmp_path / "other.xml"
    other.write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Links</title>'
        "<link>https://links.example.com/</link><item><title>Sparse Retrieval for Long"
        " Documents</title><link>https://links.example.com/1</link></item></channel></rss>"
    )
    result = ingest_file(engine, other, clock=clock)
    assert (result.new, result.unchanged) == (0, 1)
    assert len(_titles(engine)) == 3
