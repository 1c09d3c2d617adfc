"""The table of source kinds: recognition by content, authority by kind."""

from datetime import UTC, datetime
from typing import get_args

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.config import FeedKind
from bot.db import write_session
from bot.ingest.parsed import ParsedPaper
from bot.ingest.sources import (
    SOURCE_KINDS,
    ReadContext,
    is_authoritative,
    read_source,
    recognise,
)
from bot.ingest.store import Origin, store_papers
from bot.models import Paper
from tests.conftest import DATA

FEEDS = DATA / "feeds"
NOW = datetime(2024, 11, 21, 12, tzinfo=UTC)


def test_documents_are_recognised_by_their_content() -> None:
    assert recognise((FEEDS / "arxiv_cs_LG.rss.xml").read_bytes(), fetched=False).name == "feed"
    assert recognise((FEEDS / "lab_blog.rss.xml").read_bytes(), fetched=False).name == "feed"
    assert recognise(b"Daily Papers\nby AK\nSome title\n", fetched=False).name == "dump"
    # A dump is never served: an unknown fetched document goes to the feed parser's errors.
    assert recognise(b"<html><body>Oops</body></html>", fetched=True).name == "feed"


def test_only_arxiv_feeds_are_authoritative() -> None:
    arxiv = read_source(
        (FEEDS / "arxiv_cs_LG.rss.xml").read_bytes(), ReadContext("arxiv"), fetched=False
    )
    blog = read_source(
        (FEEDS / "lab_blog.rss.xml").read_bytes(), ReadContext("blog"), fetched=False
    )
    assert is_authoritative(arxiv.kind)
    assert not is_authoritative(blog.kind)
    assert not is_authoritative("dump/spaced")


def test_a_blog_post_linking_an_arxiv_paper_does_not_rename_it(engine: Engine) -> None:
    arxiv = ParsedPaper("Graph Nets at Scale", "The arXiv abstract.", arxiv_id="2401.00001")
    post = ParsedPaper("Our new paper is out!", "A blog post.", arxiv_id="2401.00001")
    with write_session(engine) as session:
        store_papers(
            session, [arxiv], Origin(NOW, authoritative=is_authoritative("feed/arxiv-rss"))
        )
    with write_session(engine) as session:
        store_papers(session, [post], Origin(NOW, authoritative=is_authoritative("feed/rss")))
    with Session(engine) as session:
        [paper] = session.exec(select(Paper)).all()
    assert (paper.title, paper.abstract) == ("Graph Nets at Scale", "The arXiv abstract.")


def test_the_kinds_settings_accept_are_the_fetchable_kinds() -> None:
    assert set(get_args(FeedKind)) == {kind.name for kind in SOURCE_KINDS if kind.fetchable}
