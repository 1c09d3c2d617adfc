"""The plain data a digest is made of (pure: no I/O).

Selection builds these from the database; rendering and message building
read them. Nothing here knows about Jinja, SMTP or SQL.
"""

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, slots=True)
class DigestPaper:
    """What a digest shows of one paper.

    `url` is the paper's own web page as its source gave it; `hf_url` its page
    on Hugging Face; `comments`, `github_stars` and `ai_summary` come from
    Hugging Face's daily lists. Anything unknown is None or empty.
    """

    paper_id: int
    title: str
    abstract: str
    authors: tuple[str, ...] = ()
    author_count: int | None = None
    organization: str | None = None
    paper_date: date | None = None
    upvotes: int | None = None
    code_urls: tuple[str, ...] = ()
    project_urls: tuple[str, ...] = ()
    arxiv_id: str | None = None
    url: str | None = None
    pdf_url: str | None = None
    hf_url: str | None = None
    comments: int | None = None
    github_stars: int | None = None
    ai_summary: str | None = None


@dataclass(frozen=True, slots=True)
class MatchReason:
    """Why a paper is in a digest: the rule that matched, where, and the text around it.

    `snippet[snippet_span[0]:snippet_span[1]]` is the matched text, for highlighting.
    For a keyword (`kind` "keyword") the snippet is from the title or abstract;
    for an author, organisation or category it is the paper's own name for it
    ("Yann LeCun" for the rule "author: Y. LeCun"), and for trending alone the
    paper's standing ("42 upvotes, #3 of the day"). For a paper similar to the
    topic's example papers (`kind` "similar") `keyword` and the snippet are the
    closest example's title and `similarity` the paper's similarity to it. `label`
    names the rule ("author: Y. LeCun", "trending", "similar to <title> (0.71)");
    `trending` says how the paper stands ("trending: 42 upvotes, #3 of the day")
    when a rule of another kind asks for it.
    """

    topic: str
    keyword: str
    field: str  # "title", "abstract", "authors", "organisations", "categories", "upvotes"
    # or "examples"
    snippet: str
    snippet_span: tuple[int, int]
    similarity: float
    kind: str = "keyword"  # or "author", "organisation", "category", "trending", "similar"
    label: str = ""
    trending: str | None = None


@dataclass(frozen=True, slots=True)
class FeedbackLinks:
    """An entry's signed "more like this" and "fewer like this" links, for its topic."""

    more_url: str
    fewer_url: str


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One paper in a digest, with its best reason and score.

    `feedback` holds the reader's links to mark the paper in the entry's topic
    (None when no base URL is configured, and in site-wide digests).
    """

    paper: DigestPaper
    reason: MatchReason
    score: float
    feedback: FeedbackLinks | None = None


@dataclass(frozen=True, slots=True)
class DigestSection:
    """The entries of one topic; a subscriber with one topic gets one section.

    `topic_id` is the stored topic's id, which its entries' feedback links name.
    """

    topic: str
    entries: tuple[DigestEntry, ...]
    topic_id: int | None = None


@dataclass(frozen=True, slots=True)
class Digest:
    """Everything one subscriber receives in one delivery.

    `more` counts the matched papers left out by the cap; they come next time.
    `manage_url` and `unsubscribe_url` are signed per-subscriber links (None
    when no base URL is configured).
    """

    subscriber_id: int
    email: str
    day: date
    sections: tuple[DigestSection, ...]
    more: int = 0
    unsubscribe_url: str | None = None
    manage_url: str | None = None

    @property
    def entries(self) -> tuple[DigestEntry, ...]:
        """Every entry of every section, in order."""
        return tuple(entry for section in self.sections for entry in section.entries)
