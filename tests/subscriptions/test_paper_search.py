"""Finding stored papers by a piece of their title, on each database."""

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.db import write_session
from bot.errors import InputError
from bot.ingest.parsed import ParsedPaper
from bot.ingest.store import Origin, store_papers
from bot.subscriptions.paper_search import MAX_QUERY, MAX_RESULTS, search_titles

NOW = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)


@pytest.fixture
def stored(engine: Engine) -> Engine:
    """A store with a few titles, and more than one page of "Scaling" papers."""
    papers = [
        ParsedPaper("Grokking Modular Addition", "Fourier.", arxiv_id="2401.00001"),
        ParsedPaper("100% Sparse_Autoencoders: Find Features", "Dictionary."),
        *(ParsedPaper(f"Scaling Laws Part {n}", "Laws.") for n in range(MAX_RESULTS + 2)),
    ]
    with write_session(engine) as session:
        store_papers(session, papers, Origin(seen_at=NOW))
    return engine


def _titles(engine: Engine, text: str) -> list[str]:
    with Session(engine) as session:
        return [paper.title for paper in search_titles(session, text)]


def test_a_piece_of_a_title_finds_it_whatever_its_case_spacing_and_punctuation(
    stored: Engine,
) -> None:
    assert _titles(stored, "  modular ADDITION ") == ["Grokking Modular Addition"]
    assert _titles(stored, "sparse autoencoders:find") == [
        "100% Sparse_Autoencoders: Find Features"
    ]
    with Session(stored) as session:
        [paper] = search_titles(session, "grokking")
    assert paper.arxiv_id == "2401.00001"


def test_wildcards_are_plain_characters_and_results_are_bounded(stored: Engine) -> None:
    assert _titles(stored, "100%") == ["100% Sparse_Autoencoders: Find Features"]
    assert len(_titles(stored, "scaling laws")) == MAX_RESULTS
    assert _titles(stored, "no such title here") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [("", "too short"), ("a-b", "too short"), ("x" * (MAX_QUERY + 1), "search too long")],
)
def test_an_empty_short_or_long_query_is_refused(stored: Engine, text: str, message: str) -> None:
    with Session(stored) as session, pytest.raises(InputError, match=message):
        search_titles(session, text)
