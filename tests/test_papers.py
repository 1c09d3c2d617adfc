"""Listing stored papers, and searching them by the matching rules, on each database."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from bot.db import IN_CHUNK, write_session
from bot.errors import InputError
from bot.ingest.parsed import ParsedPaper
from bot.ingest.store import Origin, store_papers
from bot.papers import list_papers

NOW = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)


def _store(engine: Engine, seen: datetime, papers: list[tuple[str, str]]) -> None:
    with write_session(engine) as session:
        parsed = [ParsedPaper(title=title, abstract=abstract) for title, abstract in papers]
        store_papers(session, parsed, Origin(seen_at=seen))


def test_a_search_is_a_keyword_and_keeps_the_newest_first_order(engine: Engine) -> None:
    # More matches than one IN (...) query takes, seen on three days.
    for day in range(3):
        _store(
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
