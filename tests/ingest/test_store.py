from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.clock import Clock
from bot.db import write_session
from bot.ingest.parsed import ParsedPaper
from bot.ingest.store import Origin, StoreCounts, store_papers
from bot.models import Feed, Paper, Sighting


def _store(engine: Engine, papers: list[ParsedPaper], origin: Origin) -> StoreCounts:
    with write_session(engine) as session:
        return store_papers(session, papers, origin)


def _papers(engine: Engine) -> list[Paper]:
    with Session(engine) as session:
        return list(session.scalars(select(Paper).order_by(col(Paper.id))))


def _count(engine: Engine, table: type) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_a_paper_seen_twice_is_stored_once_with_two_sightings(engine: Engine, clock: Clock) -> None:
    now: datetime = clock()
    first = _store(
        engine,
        [ParsedPaper("Graph Nets", "abs", upvotes=1)],
        Origin(now, page_date=date(2024, 11, 21)),
    )
    second = _store(
        engine,
        [ParsedPaper("graph  nets!", "abs", upvotes=4)],
        Origin(now, page_date=date(2024, 11, 22)),
    )
    assert (first.new, second.new, second.updated) == (1, 0, 1)
    [paper] = _papers(engine)
    assert paper.title == "Graph Nets" and paper.upvotes == 4
    assert _count(engine, Sighting) == 2


def test_duplicates_inside_one_source_are_merged(engine: Engine, clock: Clock) -> None:
    counts = _store(
        engine,
        [ParsedPaper("A B"), ParsedPaper("a-b", upvotes=2), ParsedPaper("C")],
        Origin(clock()),
    )
    assert counts.new == 2
    assert [p.upvotes for p in _papers(engine)] == [2, None]
    assert _count(engine, Sighting) == 2


def test_a_feed_entry_and_a_dump_paper_with_one_title_are_one_paper(
    engine: Engine, clock: Clock
) -> None:
    _store(
        engine, [ParsedPaper("Fine-tune Language Models", "dump text", upvotes=5)], Origin(clock())
    )
    with write_session(engine) as session:
        feed = Feed(url="http://127.0.0.1/feed")
        session.add(feed)
        session.flush()
        feed_id = feed.id
    entry = ParsedPaper(
        "Fine-tune language models", "arXiv text", arxiv_id="2401.00001", authors=("A",)
    )
    counts = _store(engine, [entry], Origin(clock(), authoritative=True, feed_id=feed_id))
    assert (counts.new, counts.updated) == (0, 1)
    [paper] = _papers(engine)
    assert (paper.arxiv_id, paper.abstract, paper.upvotes) == ("2401.00001", "arXiv text", 5)
    # A later dump listing finds the paper through its title and changes nothing it should not.
    again = _store(engine, [ParsedPaper("Fine-tune Language Models", "dump text")], Origin(clock()))
    assert (again.new, again.unchanged) == (0, 1)


def test_one_title_under_two_arxiv_ids_is_two_papers(engine: Engine, clock: Clock) -> None:
    _store(
        engine,
        [ParsedPaper("A Survey", arxiv_id="2401.00001")],
        Origin(clock(), authoritative=True),
    )
    counts = _store(
        engine,
        [ParsedPaper("A Survey", arxiv_id="2402.00002")],
        Origin(clock(), authoritative=True),
    )
    assert counts.new == 1
    assert sorted(p.arxiv_id or "" for p in _papers(engine)) == ["2401.00001", "2402.00002"]


def test_a_feed_sights_each_paper_once_however_often_it_is_fetched(
    engine: Engine, clock: Clock
) -> None:
    with write_session(engine) as session:
        feed = Feed(url="http://127.0.0.1/feed")
        session.add(feed)
        session.flush()
        origin = Origin(clock(), authoritative=True, feed_id=feed.id)
    entries = [ParsedPaper("P1", arxiv_id="2401.00001"), ParsedPaper("P2", arxiv_id="2401.00002")]
    _store(engine, entries, origin)
    _store(engine, entries, origin)
    assert _count(engine, Sighting) == 2


def test_many_papers_in_one_batch(engine: Engine, clock: Clock) -> None:
    papers = [ParsedPaper(f"Paper number {n}", arxiv_id=f"2401.{n:05d}") for n in range(2500)]
    assert _store(engine, papers, Origin(clock(), authoritative=True)).new == 2500
    counts = _store(engine, papers, Origin(clock(), authoritative=True))
    assert (counts.new, counts.updated, counts.unchanged) == (0, 0, 2500)


def test_titles_without_letters_or_digits_never_merge_papers(engine: Engine, clock: Clock) -> None:
    papers = [
        ParsedPaper("???", "first", url="https://a.org/1"),
        ParsedPaper("!!!", "second", url="https://a.org/2"),
    ]
    assert _store(engine, papers, Origin(clock())).new == 2
    assert _store(engine, [ParsedPaper("...", "third")], Origin(clock())).new == 1
    assert [p.abstract for p in _papers(engine)] == ["first", "second", "third"]
