"""Searching and paging one archive day's papers (pure: no I/O).

A search is what a subscription's keywords are: one keyword, or several separated
by commas, matched by the digests' rules (`bot.matching`: typos, plurals and
hyphens tolerated, acronyms whole, quoted keywords exact). Matching papers come
best first, as in a digest; without a search, in the day's own order. Either
way the list is shown `PAGE_SIZE` papers at a time.

The query string is typed by anyone: `read_archive_request` bounds and checks
it, and says in one sentence what is wrong.
"""

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from bot.digest.model import DigestPaper
from bot.errors import InputError
from bot.matching.engine import Match, Matcher, PaperText, Rule
from bot.matching.keywords import parse_keyword
from bot.matching.ranking import PaperFacts, rank
from bot.subscriptions.spec import split_keywords

PAGE_SIZE = 25
"""Papers shown on one page."""

MAX_QUERY_LENGTH = 500
"""The longest search accepted, in characters."""

MAX_QUERY_KEYWORDS = 10
"""The most keywords one search may hold."""

MAX_PAGE = 999_999
"""The highest page number accepted; past the last page, the last page is shown."""

_PAGE_NUMBER = re.compile(r"[0-9]{1,6}")


@dataclass(frozen=True)
class ArchiveRequest:
    """A checked request for a day's papers: the search (trimmed, "" for none) and the page."""

    query: str = ""
    page: int = 1


@dataclass(frozen=True)
class Hit:
    """One paper to show, and why it matched the search (None without a search)."""

    paper: DigestPaper
    match: Match | None = None


@dataclass(frozen=True)
class ArchivePage:
    """One page of a day's papers: the hits shown, where they sit, and how many there are."""

    hits: tuple[Hit, ...]
    page: int
    pages: int
    total: int

    @property
    def first(self) -> int:
        """The position (from 1) of the first paper shown; 0 when there is none."""
        return (self.page - 1) * PAGE_SIZE + 1 if self.hits else 0

    @property
    def last(self) -> int:
        """The position (from 1) of the last paper shown; 0 when there is none."""
        return self.first + len(self.hits) - 1 if self.hits else 0


def read_archive_request(query: str | None, page: str | None) -> ArchiveRequest:
    """Check the `q` and `page` parameters; raise `InputError` saying what is wrong.

    `page` is a whole number from 1 to `MAX_PAGE` (missing or empty: 1). `q` holds
    at most `MAX_QUERY_KEYWORDS` keywords, each usable as a subscription keyword.
    """
    text = (query or "").strip()
    if len(text) > MAX_QUERY_LENGTH:
        raise InputError(
            f"the search is too long: {len(text)} characters (at most {MAX_QUERY_LENGTH})"
        )
    keywords = split_keywords(text)
    if len(keywords) > MAX_QUERY_KEYWORDS:
        raise InputError(
            f"the search has too many keywords: {len(keywords)} (at most {MAX_QUERY_KEYWORDS},"
            " separated by commas)"
        )
    for keyword in keywords:
        parse_keyword(keyword, what="search")
    number = (page or "").strip() or "1"
    if not _PAGE_NUMBER.fullmatch(number) or not 1 <= int(number) <= MAX_PAGE:
        raise InputError(f"the page must be a whole number from 1 to {MAX_PAGE}")
    return ArchiveRequest(text, int(number))


class DayIndex:
    """One day's papers, indexed once for any number of searches, from any number of threads.

    Indexing is the cost (about 0.5 s for a day of 500 papers); a search of the
    index then takes a millisecond.
    """

    def __init__(self, papers: Sequence[DigestPaper]) -> None:
        self.papers = tuple(papers)
        self._matcher = Matcher(PaperText(p.paper_id, p.title, p.abstract) for p in self.papers)
        self._facts = {p.paper_id: PaperFacts(p.upvotes, p.paper_date) for p in self.papers}
        self._by_id = {p.paper_id: p for p in self.papers}

    def search(self, query: str) -> list[Hit]:
        """The papers matching `query`, best first (score, upvotes, date); all of them for ""."""
        keywords = split_keywords(query)
        if not keywords:
            return [Hit(paper) for paper in self.papers]
        # Nothing of the search is kept beyond this call: anyone can type one.
        ranked = rank(self._matcher.match_apart([Rule(0, keywords)]), self._facts)
        return [Hit(self._by_id[item.paper_id], item.best) for item in ranked]


class DayIndexCache:
    """The indexes of the days searched last, each rebuilt when its papers change."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._indexes: dict[date, DayIndex] = {}
        self._lock = threading.Lock()

    def index(self, day: date, papers: Sequence[DigestPaper]) -> DayIndex:
        """The index of `day`'s `papers`: the one kept when they are the same papers."""
        papers = tuple(papers)
        with self._lock:
            kept = self._indexes.pop(day, None)
            if kept is not None and kept.papers == papers:
                self._indexes[day] = kept  # now the most recently used
                return kept
        built = DayIndex(papers)  # outside the lock: other days' searches go on meanwhile
        with self._lock:
            self._indexes.pop(day, None)
            self._indexes[day] = built
            while len(self._indexes) > self.size:
                del self._indexes[next(iter(self._indexes))]
        return built


def page_of(hits: Sequence[Hit], page: int) -> ArchivePage:
    """Page `page` of `hits`; a page past the last gives the last one."""
    pages = max(1, -(-len(hits) // PAGE_SIZE))
    page = min(max(page, 1), pages)
    start = (page - 1) * PAGE_SIZE
    return ArchivePage(tuple(hits[start : start + PAGE_SIZE]), page, pages, len(hits))


def page_link(path: str, query: str, page: int) -> str:
    """The address of page `page` of `path` for the search `query`, the search kept."""
    parameters: dict[str, str | int] = {}
    if query:
        parameters["q"] = query
    if page > 1:
        parameters["page"] = page
    return f"{path}?{urlencode(parameters)}" if parameters else path
