"""Large feeds read a piece at a time: cut only where safe, and always to the same papers."""

from pathlib import Path

import feedparser
import pytest

from bot.ingest.feed_pieces import feed_pieces
from bot.ingest.feeds import parse_feed

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"
WELL_FORMED = sorted(
    path.name
    for path in FEEDS.iterdir()
    if not feedparser.parse(path.read_bytes()).bozo  # the broken ones are read whole
)
WHOLE = 1 << 40  # no feed is larger: read whole


def atom(*entries: str, encoding: str = "utf-8", between: str = "\n") -> bytes:
    """An Atom feed of `entries` (each an entry's inner XML), `between` separating them."""
    body = between.join(f"<entry>{entry}</entry>" for entry in entries)
    return (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<feed xmlns="http://www.w3.org/2005/Atom"><title>Lab</title>'
        f"<id>https://lab.example.org/</id>\n{body}\n</feed>\n"
    ).encode(encoding)


def entry(number: int, extra: str = "") -> str:
    """One entry's inner XML."""
    return (
        f"<title>Paper {number}</title><id>https://lab.example.org/{number}</id>"
        f"<link href='https://lab.example.org/{number}'/><summary>About {number}.</summary>{extra}"
    )


def test_the_sample_feeds_include_several_well_formed_ones_to_cut() -> None:
    assert len(WELL_FORMED) >= 8


@pytest.mark.parametrize("name", WELL_FORMED)
def test_a_well_formed_feed_cut_into_single_items_parses_to_what_it_parses_to_whole(
    name: str,
) -> None:
    data = (FEEDS / name).read_bytes()
    pieces = feed_pieces(data, piece_bytes=1)

    assert pieces is not None
    assert len(list(pieces)) == len(feedparser.parse(data).entries)
    assert parse_feed(data, source=name, piece_bytes=1) == parse_feed(
        data, source=name, piece_bytes=WHOLE
    )


def test_each_piece_is_a_whole_feed_with_the_prologue_channel_and_its_own_items() -> None:
    data = atom(*(entry(number) for number in range(1, 6)))

    pieces = list(feed_pieces(data, piece_bytes=1) or [])

    assert len(pieces) == 5
    for number, piece in enumerate(pieces, start=1):
        parsed = feedparser.parse(piece)
        assert not parsed.bozo
        assert parsed.feed.title == "Lab"
        assert [item.title for item in parsed.entries] == [f"Paper {number}"]


def test_pieces_gather_items_up_to_about_the_size_asked_for() -> None:
    data = atom(*(entry(number) for number in range(1, 11)))
    one_item = len(f"<entry>{entry(10)}</entry>".encode())

    pieces = list(feed_pieces(data, piece_bytes=3 * one_item) or [])

    # An item is added until a piece reaches the size: 10 items, 3 or 4 to a piece.
    counts = [len(feedparser.parse(piece).entries) for piece in pieces]
    assert sum(counts) == 10
    assert len(pieces) == 3


def test_items_repeated_in_different_pieces_are_still_dropped_as_repeats() -> None:
    data = atom(entry(1), entry(2), entry(1))

    parsed = parse_feed(data, source="lab.xml", piece_bytes=1)

    assert [paper.title for paper in parsed.papers] == ["Paper 1", "Paper 2"]
    assert parsed.warnings == ("dropped 1 duplicate item(s)",)


def test_a_feed_no_larger_than_a_piece_is_read_whole() -> None:
    data = atom(entry(1), entry(2))

    assert feed_pieces(data, piece_bytes=len(data)) is None
    assert feed_pieces(data, piece_bytes=len(data) - 1) is not None


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (atom(entry(1)), "a single item"),
        (atom(entry(1), entry(2)).replace(b"</feed>", b""), "not well-formed"),
        (atom(entry(1), entry(2), encoding="iso-8859-1"), "an encoding other than UTF-8"),
        (atom(entry(1), entry(2), encoding="utf-16"), "UTF-16"),
        (atom(entry(1), entry(2), between="<subtitle>Notes</subtitle>"), "text between items"),
        (atom(entry(1), entry(2), between="<entry/>"), "a self-closing item"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_a_feed_that_is_not_safe_to_cut_is_read_whole(data: bytes, why: str) -> None:
    assert feed_pieces(data, piece_bytes=1) is None, why


def test_items_at_two_depths_are_not_cut() -> None:
    data = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Lab</title>'
        b"<item><title>One</title></item></channel><item><title>Two</title></item></rss>"
    )

    assert feed_pieces(data, piece_bytes=1) is None


def test_a_feed_whose_pieces_read_as_different_kinds_is_parsed_whole() -> None:
    # Only the second entry declares arXiv's namespace, as arXiv's API does on
    # each of its own: read alone, the first piece looks like any Atom feed.
    arxiv = (
        '<arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.LG"/>'
        "<link title='pdf' href='http://arxiv.org/pdf/2409.01234v1'/>"
    )
    data = atom(entry(1), entry(2, arxiv))

    cut = parse_feed(data, source="lab.xml", piece_bytes=1)

    assert cut == parse_feed(data, source="lab.xml", piece_bytes=WHOLE)
    assert cut.kind == "feed/arxiv-atom"
