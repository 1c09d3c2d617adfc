"""Reading stored papers back, for listing and later for matching and digests."""

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, nulls_last, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.db import in_chunks
from bot.digest.model import DigestPaper
from bot.matching.engine import Matcher, PaperText
from bot.matching.keywords import parse_keyword
from bot.matching.ranking import PaperFacts
from bot.models import Paper, Sighting
from bot.subscriptions.spec import check_text

PAPER_SORTS: dict[str, tuple[ColumnElement[Any], ...]] = {
    # Newest first by the paper's own date (its page's day); papers without one last.
    "date": (
        nulls_last(col(Paper.paper_date).desc()),
        col(Paper.first_seen_at).desc(),
        col(Paper.id).desc(),
    ),
    # The papers paperbot got most recently first.
    "ingested": (col(Paper.first_seen_at).desc(), col(Paper.id).desc()),
    # The most upvoted first; then newest first, as "date".
    "upvotes": (
        nulls_last(col(Paper.upvotes).desc()),
        nulls_last(col(Paper.paper_date).desc()),
        col(Paper.id).desc(),
    ),
}
"""The orders `list_papers` knows, by name, each as its ORDER BY."""


@dataclass(frozen=True)
class StoredPaper:
    """A stored paper with every stored field and how many times it was seen."""

    id: int
    title: str
    abstract: str
    authors: list[str]
    author_count: int | None
    organization: str | None
    paper_date: date | None
    upvotes: int | None
    code_urls: list[str]
    project_urls: list[str]
    arxiv_id: str | None
    url: str | None
    pdf_url: str | None
    categories: list[str]
    first_seen_at: datetime
    updated_at: datetime
    sightings: int
    doi: str | None = None
    hf_url: str | None = None
    list_day: date | None = None
    github_stars: int | None = None
    comments: int | None = None
    ai_summary: str | None = None
    ai_keywords: list[str] = field(default_factory=list)
    organization_name: str | None = None


def list_papers(
    engine: Engine, *, search: str | None = None, limit: int | None = None, sort: str = "date"
) -> list[StoredPaper]:
    """Return stored papers in the order `sort` names, optionally only those `search` matches.

    `sort` is a key of `PAPER_SORTS`: "date" (the paper's date, newest first),
    "ingested" (most recently first seen first) or "upvotes".
    `search` is a keyword under the matching rules, as `paperbot match --keyword`
    and subscriptions read it (case, accents, hyphens, plurals, typos, whole
    words, quotes); a keyword that is not usable raises `InputError`.
    """
    order = PAPER_SORTS[sort]
    seen = (
        select(Sighting.paper_id, func.count().label("n"))  # type: ignore[call-overload]
        .group_by(Sighting.paper_id)
        .subquery()
    )
    query = (
        select(Paper, func.coalesce(seen.c.n, 0))
        .outerjoin(seen, seen.c.paper_id == Paper.id)
        .order_by(*order)
    )
    if not search:
        if limit:
            query = query.limit(limit)
        with Session(engine) as session:
            return [_view(paper, count) for paper, count in session.execute(query)]
    matched = _matching_ids(engine, search)
    with Session(engine) as session:
        in_order = session.execute(select(col(Paper.id)).order_by(*order)).scalars()
        wanted = [paper_id for paper_id in in_order if paper_id in matched][: limit or None]
    rows: dict[int, StoredPaper] = {}
    with Session(engine) as session:
        for chunk in in_chunks(wanted):
            for paper, count in session.execute(query.where(col(Paper.id).in_(chunk))):
                row = _view(paper, count)
                rows[row.id] = row
    return [rows[paper_id] for paper_id in wanted if paper_id in rows]


def check_search(search: str) -> None:
    """Raise `InputError` when `search` is not usable as a keyword, saying what is wrong."""
    parse_keyword(check_text(search, "search text"), what="search")


def _matching_ids(engine: Engine, search: str) -> set[int]:
    """The ids of the papers `search` matches."""
    check_search(search)  # one line naming what is wrong, before any reading
    query = select(col(Paper.id), col(Paper.title), col(Paper.abstract))
    with Session(engine) as session:
        stored = session.execute(query).all()
    return {
        match.paper_id
        for match in Matcher(
            PaperText(i, title, abstract) for i, title, abstract in stored
        ).match_keyword(search)
    }


def papers_for_matching(
    engine: Engine, *, newest: int | None = None
) -> tuple[list[PaperText], dict[int, PaperFacts]]:
    """Return every stored paper's text for the matcher, and the facts ranking uses.

    With `newest`, only that many papers, the last first seen first.
    """
    query = select(
        col(Paper.id),
        col(Paper.title),
        col(Paper.abstract),
        col(Paper.upvotes),
        col(Paper.paper_date),
        col(Paper.authors),
        col(Paper.organization),
        col(Paper.organization_name),
        col(Paper.categories),
        col(Paper.list_day),
    )
    if newest is not None:
        query = query.order_by(*PAPER_SORTS["ingested"]).limit(newest)
    texts: list[PaperText] = []
    facts: dict[int, PaperFacts] = {}
    with Session(engine) as session:
        for row in session.execute(query):
            paper_id, title, abstract, upvotes, paper_date, *listed = row
            authors, organization, organization_name, categories, list_day = listed
            texts.append(
                PaperText(
                    paper_id, title, abstract, tuple(authors), organization, organization_name,
                    tuple(categories), upvotes, list_day or paper_date,
                )
            )  # fmt: skip
            facts[paper_id] = PaperFacts(upvotes, paper_date)
    return texts, facts


def paper_text(paper: Paper) -> PaperText:
    """What the matcher reads of a stored paper; its day is the day it was listed, else its date."""
    assert paper.id is not None  # rows read back always have their key
    return PaperText(
        paper.id,
        paper.title,
        paper.abstract,
        authors=tuple(paper.authors),
        organization=paper.organization,
        organization_name=paper.organization_name,
        categories=tuple(paper.categories),
        upvotes=paper.upvotes,
        day=paper.list_day or paper.paper_date,
    )


def as_digest_paper(paper: Paper) -> DigestPaper:
    """Return what a digest shows of a stored paper (which link it gets is the renderer's choice)."""
    assert paper.id is not None  # rows read back always have their key
    return DigestPaper(
        paper_id=paper.id,
        title=paper.title,
        abstract=paper.abstract,
        authors=tuple(paper.authors),
        author_count=paper.author_count,
        organization=paper.organization or paper.organization_name,
        paper_date=paper.paper_date,
        upvotes=paper.upvotes,
        code_urls=tuple(paper.code_urls),
        project_urls=tuple(paper.project_urls),
        arxiv_id=paper.arxiv_id,
        url=paper.url,
        pdf_url=paper.pdf_url,
        hf_url=paper.hf_url,
        comments=paper.comments,
        github_stars=paper.github_stars,
        ai_summary=paper.ai_summary,
    )


def _view(paper: Paper, sightings: int) -> StoredPaper:
    assert paper.id is not None  # rows read back always have their key
    return StoredPaper(
        id=paper.id,
        title=paper.title,
        abstract=paper.abstract,
        authors=paper.authors,
        author_count=paper.author_count,
        organization=paper.organization,
        paper_date=paper.paper_date,
        upvotes=paper.upvotes,
        code_urls=paper.code_urls,
        project_urls=paper.project_urls,
        arxiv_id=paper.arxiv_id,
        url=paper.url,
        pdf_url=paper.pdf_url,
        categories=paper.categories,
        first_seen_at=paper.first_seen_at,
        updated_at=paper.updated_at,
        sightings=sightings,
        doi=paper.doi,
        hf_url=paper.hf_url,
        list_day=paper.list_day,
        github_stars=paper.github_stars,
        comments=paper.comments,
        ai_summary=paper.ai_summary,
        ai_keywords=paper.ai_keywords,
        organization_name=paper.organization_name,
    )
