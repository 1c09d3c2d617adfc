"""Listing stored papers, and searching them by the matching rules, on each database."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from bot.db import IN_CHUNK, write_session
from bot.errors import InputError
from bot.ingest.parsed import ParsedPaper
from bot.ingest.store import Origin, store_papers
from bot.papers import list_papers, papers_for_matching
from tests.conftest import store_titled

NOW = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)


def test_a_search_is_a_keyword_and_keeps_the_newest_first_order(engine: Engine) -> None:
    # More matches than one IN (...) query takes, seen on three days.
    for day in range(3):
        store_titled(
            engine,
            NOW - timedelta(days=day),
            [(f"Paper {day}-{n}", f"Scaling in-context learning, part {n}.") for n in range(150)]
            + [(f"Other {day}-{n}", "Learning in context of robotics.") for n in range(20)],
        )
    everything = list_papers(engine)
    expected = [p.id for p in everything if p.title.startswith("Paper")]
    assert len(expected) == 450 > IN_CHUNK
    found = list_papers(engine, search="in context learning")
    assert [p.id for p in found] == expected
    assert [p.id for p in list_papers(engine, search="In-Context Learnings", limit=7)] == (
        expected[:7]
    )
    assert list_papers(engine, search='"in context learning"') == []


def test_a_search_that_is_not_a_usable_keyword_is_refused_naming_it(engine: Engine) -> None:
    with pytest.raises(InputError, match="search '---' has no letters or digits"):
        list_papers(engine, search="---")


def test_papers_sort_by_their_date_by_default_or_as_ingested_or_by_upvotes(
    engine: Engine,
) -> None:
    # Ingested in this order: an old paper seen last, one without a date or upvotes.
    for seen, paper in [
        (NOW - timedelta(days=3), ParsedPaper("Recent", "A.", paper_date=date(2025, 11, 20), upvotes=5)),
        (NOW - timedelta(days=2), ParsedPaper("Undated", "B.")),
        (NOW - timedelta(days=1), ParsedPaper("Popular", "C.", paper_date=date(2025, 11, 1), upvotes=90)),
        (NOW, ParsedPaper("Old", "D.", paper_date=date(2025, 10, 1), upvotes=1)),
    ]:  # fmt: skip
        with write_session(engine) as session:
            store_papers(session, [paper], Origin(seen_at=seen))

    def titles(sort: str = "date", search: str | None = None) -> list[str]:
        return [p.title for p in list_papers(engine, sort=sort, search=search)]

    assert [p.title for p in list_papers(engine)] == ["Recent", "Popular", "Old", "Undated"]
    assert titles("ingested") == ["Old", "Popular", "Undated", "Recent"]
    assert titles("upvotes") == ["Popular", "Recent", "Old", "Undated"]
    assert titles("upvotes", search="popular") == ["Popular"]


def test_papers_for_matching_can_be_the_newest_first_seen_whatever_their_rows_order(
    engine: Engine,
) -> None:
    # Stored newest first, so the rows' order is the opposite of the sightings'.
    for day, title in enumerate(["Newest", "Middle", "Oldest"]):
        store_titled(engine, NOW - timedelta(days=day), [(title, "An abstract.")])
    store_titled(engine, NOW - timedelta(days=1), [("Middle too", "An abstract.")])
    newest, _ = papers_for_matching(engine, newest=3)
    assert [paper.title for paper in newest] == ["Newest", "Middle too", "Middle"]
    every, _ = papers_for_matching(engine)
    assert sorted(paper.title for paper in every) == ["Middle", "Middle too", "Newest", "Oldest"]
