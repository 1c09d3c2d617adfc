"""Searching and paging an archive day's papers, without the app."""

from datetime import date

import pytest

from bot.digest.model import DigestPaper
from bot.errors import InputError
from bot.web.archive_search import (
    PAGE_SIZE,
    ArchiveRequest,
    DayIndexCache,
    Hit,
    page_link,
    page_of,
    read_archive_request,
)

DAY = date(2025, 11, 22)


def paper(number: int, title: str = "", abstract: str = "", upvotes: int = 0) -> DigestPaper:
    """A paper of `DAY`."""
    return DigestPaper(number, title or f"Paper {number}", abstract, upvotes=upvotes)


def test_a_request_is_trimmed_and_defaults_to_the_first_page() -> None:
    assert read_archive_request(None, None) == ArchiveRequest("", 1)
    assert read_archive_request("  graph, LoRA ", " 3 ") == ArchiveRequest("graph, LoRA", 3)
    assert read_archive_request("", "") == ArchiveRequest("", 1)


@pytest.mark.parametrize("page", ["0", "-2", "+2", "2.0", "1e2", "x", "1000000", "٣"])
def test_a_page_that_is_not_a_whole_number_from_1_to_999999_is_refused(page: str) -> None:
    with pytest.raises(InputError, match=r"^the page must be a whole number from 1 to 999999$"):
        read_archive_request(None, page)


def test_a_search_is_checked_as_keywords_are() -> None:
    with pytest.raises(InputError, match=r"^search '\?\?' has no letters or digits$"):
        read_archive_request("graph, ??", None)
    with pytest.raises(InputError, match="too long: 501 characters"):
        read_archive_request("a" * 501, None)
    with pytest.raises(InputError, match="too many keywords: 11"):
        read_archive_request(",".join("abcdefghijk"), None)


def test_pages_hold_page_size_hits_and_a_page_past_the_last_is_the_last() -> None:
    hits = [Hit(paper(n)) for n in range(PAGE_SIZE * 2 + 3)]
    first, last = page_of(hits, 1), page_of(hits, 3)
    assert (first.page, first.pages, first.total, first.first, first.last) == (1, 3, 53, 1, 25)
    assert [h.paper.paper_id for h in last.hits] == [50, 51, 52]
    assert (last.first, last.last) == (51, 53)
    assert page_of(hits, 99) == last
    empty = page_of([], 5)
    assert (empty.page, empty.pages, empty.hits, empty.first) == (1, 1, (), 0)


def test_page_links_keep_the_search_url_encoded() -> None:
    assert page_link("/archive/2025-11-22", "", 1) == "/archive/2025-11-22"
    assert page_link("/archive/2025-11-22", "", 2) == "/archive/2025-11-22?page=2"
    assert (
        page_link("/archive/2025-11-22", 'a&b, "c d"', 3)
        == "/archive/2025-11-22?q=a%26b%2C+%22c+d%22&page=3"
    )


def test_a_search_ranks_title_matches_first_then_upvotes() -> None:
    papers = [
        paper(1, abstract="We train a graph model.", upvotes=90),
        paper(2, title="Graph transformers", upvotes=1),
        paper(3, title="Nothing relevant", abstract="No match here."),
        paper(4, title="Graphs at scale", upvotes=5),
    ]
    index = DayIndexCache().index(DAY, papers)
    assert [h.paper.paper_id for h in index.search("graph")] == [4, 2, 1]
    assert [h.match is None for h in index.search("")] == [True] * 4


def test_the_cache_keeps_a_days_index_until_its_papers_change() -> None:
    cache = DayIndexCache(size=2)
    papers = [paper(1, "Graph"), paper(2, "Trees")]
    index = cache.index(DAY, papers)
    assert cache.index(DAY, list(papers)) is index
    changed = cache.index(DAY, [*papers, paper(3, "Graphs again")])
    assert changed is not index and len(changed.search("graph")) == 2
    # Only the last `size` days are kept.
    cache.index(date(2025, 11, 21), papers)
    cache.index(date(2025, 11, 20), papers)
    assert cache.index(DAY, [*papers, paper(3, "Graphs again")]) is not changed
