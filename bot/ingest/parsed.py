"""Plain records that parsers return and the store consumes.

Parsers are pure: they take text or bytes and return these frozen dataclasses,
touching no file, clock or database.
"""

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class HubFacts:
    """What Hugging Face's daily papers list says of a paper besides the usual fields.

    `organization_name` is the organisation's short name on the Hub ("google");
    `ParsedPaper.organization` holds its full name ("Google").
    """

    paper_url: str
    list_day: date | None = None
    github_stars: int | None = None
    comments: int | None = None
    ai_summary: str | None = None
    ai_keywords: tuple[str, ...] = ()
    organization_name: str | None = None


@dataclass(frozen=True)
class ParsedPaper:
    """One paper as a source describes it; any field a source lacks stays empty."""

    title: str
    abstract: str = ""
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
    categories: tuple[str, ...] = ()
    # arXiv's announce type: "new", "cross", "replace" or "replace-cross".
    announce_type: str | None = None
    # A DOI, lower-cased (`bot.ingest.identity.doi_from_text`).
    doi: str | None = None
    # A feed entry's guid (else link) within its feed (`bot.ingest.identity.entry_key`).
    entry_key: str | None = None
    # What Hugging Face's daily papers list adds; None from other sources.
    hub: HubFacts | None = None


@dataclass(frozen=True)
class ParsedSource:
    """Everything one dump or feed yielded.

    `kind` names the layout or feed type ("dump/spaced", "dump/compact",
    "feed/arxiv-rss", "feed/arxiv-atom", "feed/rss", "feed/atom", "hf/daily").
    `warnings` are one-line, human-readable notes about what was dropped or
    repaired; they never stop the rest of the source from being stored.
    `dropped` counts the papers or items the parser had to leave out.
    `year_from_file` is the year a dump's dates shown without one were given from
    the day the file was taken (its page date's year, or that day's year when
    the page shows no date); None when the page showed its year, the user
    stated one, or no date lacked a year.
    """

    kind: str
    papers: tuple[ParsedPaper, ...]
    page_date: date | None = None
    warnings: tuple[str, ...] = field(default=())
    dropped: int = 0
    year_from_file: int | None = None
