from datetime import UTC, date, datetime

from bot.ingest.identity import title_key
from bot.ingest.merge import merge_into, new_row
from bot.ingest.parsed import ParsedPaper

NOW = datetime(2024, 11, 22, tzinfo=UTC)


def _row(paper: ParsedPaper) -> dict[str, object]:
    return new_row(paper, key=title_key(paper.title), now=NOW)


def test_a_dump_fills_gaps_and_raises_upvotes_but_never_overwrites() -> None:
    row = _row(ParsedPaper(title="Stable Video", abstract="Long abstract.", upvotes=3))
    later = ParsedPaper(
        title="Stable video",
        abstract="Other text",
        upvotes=8,
        author_count=12,
        paper_date=date(2023, 11, 25),
        code_urls=("https://github.com/a/b",),
    )
    assert merge_into(row, later, authoritative=False)
    assert row["title"] == "Stable Video"
    assert row["abstract"] == "Long abstract."
    assert (row["upvotes"], row["author_count"], row["paper_date"]) == (8, 12, date(2023, 11, 25))
    assert row["code_urls"] == ["https://github.com/a/b"]


def test_fewer_upvotes_seen_later_do_not_lower_the_count() -> None:
    row = _row(ParsedPaper(title="T", upvotes=8))
    assert not merge_into(row, ParsedPaper(title="T", upvotes=2), authoritative=False)
    assert row["upvotes"] == 8


def test_an_arxiv_feed_entry_replaces_title_abstract_and_authors() -> None:
    row = _row(ParsedPaper(title="Old title", abstract="v1", author_count=3))
    replacement = ParsedPaper(
        title="New title",
        abstract="v2",
        authors=("A", "B"),
        arxiv_id="2409.01234",
        announce_type="replace",
    )
    assert merge_into(row, replacement, authoritative=True)
    assert (row["title"], row["abstract"], row["authors"]) == ("New title", "v2", ["A", "B"])
    assert row["title_key"] == "newtitle"
    assert row["author_count"] == 2
    assert row["arxiv_id"] == "2409.01234"


def test_the_same_sighting_twice_changes_nothing() -> None:
    paper = ParsedPaper(title="T", abstract="a", upvotes=1, project_urls=("https://x.org",))
    row = _row(paper)
    assert not merge_into(row, paper, authoritative=False)


def test_a_complete_abstract_replaces_one_cut_short() -> None:
    row = _row(ParsedPaper(title="T", abstract="We propose a method that"))
    assert merge_into(
        row, ParsedPaper(title="T", abstract="We propose a method that works."), authoritative=False
    )
    assert row["abstract"] == "We propose a method that works."
    assert not merge_into(
        row, ParsedPaper(title="T", abstract="A different summary."), authoritative=False
    )
