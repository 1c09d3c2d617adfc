"""How a new sighting of a paper changes what is stored about it (pure).

A stored paper is held here as a plain dict of its columns. Most sources fill
in what is missing and raise the counts; an entry of an authoritative source
(arXiv's feeds, `bot.ingest.sources`) that carries an arXiv id is arXiv's own
record of the paper, so it also replaces the title, abstract, authors and
categories (a "replace" announcement is a new version).
"""

from datetime import datetime
from typing import Any

from bot.ingest.identity import title_key
from bot.ingest.parsed import ParsedPaper

# Columns that a merge may change: the store reads and writes exactly these.
MERGED_COLUMNS = (
    "title",
    "title_key",
    "abstract",
    "authors",
    "author_count",
    "organization",
    "paper_date",
    "upvotes",
    "code_urls",
    "project_urls",
    "arxiv_id",
    "url",
    "pdf_url",
    "categories",
    "doi",
    "entry_key",
    "hf_url",
    "list_day",
    "github_stars",
    "comments",
    "ai_summary",
    "ai_keywords",
    "organization_name",
)


def new_row(paper: ParsedPaper, *, key: str, now: datetime) -> dict[str, Any]:
    """Return the column values of a paper seen for the first time; `key` is its title key."""
    authors = list(paper.authors)
    hub = paper.hub
    return {
        "title": paper.title,
        "title_key": key,
        "abstract": paper.abstract,
        "authors": authors,
        "author_count": len(authors) if authors else paper.author_count,
        "organization": paper.organization,
        "paper_date": paper.paper_date,
        "upvotes": paper.upvotes,
        "code_urls": list(paper.code_urls),
        "project_urls": list(paper.project_urls),
        "arxiv_id": paper.arxiv_id,
        "url": paper.url,
        "pdf_url": paper.pdf_url,
        "categories": list(paper.categories),
        "doi": paper.doi,
        "entry_key": paper.entry_key,
        "hf_url": hub.paper_url if hub else None,
        "list_day": hub.list_day if hub else None,
        "github_stars": hub.github_stars if hub else None,
        "comments": hub.comments if hub else None,
        "ai_summary": hub.ai_summary if hub else None,
        "ai_keywords": list(hub.ai_keywords) if hub else [],
        "organization_name": hub.organization_name if hub else None,
        "first_seen_at": now,
        "updated_at": now,
    }


def merge_into(row: dict[str, Any], paper: ParsedPaper, *, authoritative: bool) -> bool:
    """Update `row` in place with what `paper` adds; return whether anything changed.

    `authoritative`: `paper` comes from a source whose records are the papers' own.
    """
    before = {column: row[column] for column in MERGED_COLUMNS}
    if authoritative and paper.arxiv_id is not None:
        _replace_if_given(row, "title", paper.title)
        _replace_if_given(row, "abstract", paper.abstract)
        _replace_if_given(row, "url", paper.url)
        _replace_if_given(row, "pdf_url", paper.pdf_url)
        _replace_if_given(row, "authors", list(paper.authors))
        _replace_if_given(row, "categories", list(paper.categories))
        row["title_key"] = title_key(row["title"])
    else:
        _fill(row, "abstract", paper.abstract)
        if len(paper.abstract) > len(row["abstract"]) and paper.abstract.startswith(
            row["abstract"]
        ):
            # The stored abstract was cut short (a truncated dump): this one completes it.
            row["abstract"] = paper.abstract
        _fill(row, "url", paper.url)
        _fill(row, "pdf_url", paper.pdf_url)
        _fill(row, "authors", list(paper.authors))
        _fill(row, "categories", list(paper.categories))
    _fill(row, "arxiv_id", paper.arxiv_id)
    _fill(row, "doi", paper.doi)
    _fill(row, "entry_key", paper.entry_key)
    _fill(row, "organization", paper.organization)
    _fill(row, "paper_date", paper.paper_date)
    if row["authors"]:
        row["author_count"] = len(row["authors"])
    else:
        _fill(row, "author_count", paper.author_count)
    # Upvotes, stars and comments only grow, so the larger count is the newer one
    # whatever the order of ingest.
    _raise(row, "upvotes", paper.upvotes)
    if paper.hub is not None:
        hub = paper.hub
        _fill(row, "hf_url", hub.paper_url)
        _fill(row, "list_day", hub.list_day)
        _fill(row, "ai_summary", hub.ai_summary)
        _fill(row, "ai_keywords", list(hub.ai_keywords))
        _fill(row, "organization_name", hub.organization_name)
        _raise(row, "github_stars", hub.github_stars)
        _raise(row, "comments", hub.comments)
    row["code_urls"] = _union(row["code_urls"], paper.code_urls)
    row["project_urls"] = _union(row["project_urls"], paper.project_urls)
    return any(row[column] != before[column] for column in MERGED_COLUMNS)


def _replace_if_given(row: dict[str, Any], column: str, value: Any) -> None:
    if value:
        row[column] = value


def _fill(row: dict[str, Any], column: str, value: Any) -> None:
    if value and not row[column]:
        row[column] = value


def _raise(row: dict[str, Any], column: str, value: int | None) -> None:
    if value is not None and (row[column] is None or value > row[column]):
        row[column] = value


def _union(stored: list[str], added: tuple[str, ...]) -> list[str]:
    return stored + [url for url in added if url not in stored] if added else stored
