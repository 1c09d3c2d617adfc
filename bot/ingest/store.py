"""Storing one source's papers: find each paper's row, insert or merge, record sightings.

The caller owns the transaction (`bot.db.write_session`), so one file's papers
are stored all together or not at all. Work is done in bulk: existing rows are
looked up a few hundred keys per query, new rows are inserted in bulk
(`bot.db.bulk_insert`), and nothing is committed per row.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from bot.db import bulk_insert, in_chunks
from bot.ingest.identity import entry_feed, title_key
from bot.ingest.merge import MERGED_COLUMNS, merge_into, new_row
from bot.ingest.parsed import ParsedPaper
from bot.models import Paper, Sighting

_paper = Paper.__table__  # type: ignore[attr-defined]
_sighting = Sighting.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class StoreCounts:
    """What storing one source did to the papers table."""

    new: int
    updated: int
    unchanged: int


@dataclass(frozen=True)
class Origin:
    """Where a batch of papers was seen: an imported file or a feed, and the page date.

    `authoritative` marks a source whose records are the papers' own (arXiv's
    feeds, `bot.ingest.sources`): its entries with an arXiv id replace what
    other sources said.
    """

    seen_at: datetime
    authoritative: bool = False
    imported_file_id: int | None = None
    feed_id: int | None = None
    page_date: date | None = None


def store_papers(session: Session, papers: Sequence[ParsedPaper], origin: Origin) -> StoreCounts:
    """Insert the papers not stored yet, merge the others, and record every sighting.

    A paper is the stored one with the same arXiv id, else the same DOI, else
    the same feed entry (guid or link within its feed), else the same
    normalised title, provided no identifier of one conflicts with the
    other's: two different arXiv ids or DOIs, or two entries of one feed, are
    two papers whatever their titles ("Editorial", "Support System - Down").
    A title with no letters or digits ("???") matches nothing: such a paper is
    always new.
    """
    keys = [title_key(paper.title) for paper in papers]
    resolver = _Resolver(_load_existing(session, papers, keys))
    fresh: list[dict[str, Any]] = []
    changed: dict[int, dict[str, Any]] = {}
    # One sighting per stored paper, keyed by row identity since new rows have no id yet.
    sighted: dict[int, tuple[dict[str, Any], int | None]] = {}
    for paper, key in zip(papers, keys, strict=True):
        row = resolver.find(paper, key)
        if row is None:
            row = new_row(paper, key=key, now=origin.seen_at)
            fresh.append(row)
            resolver.add(row)
        else:
            if merge_into(row, paper, authoritative=origin.authoritative) and "id" in row:
                changed[row["id"]] = row
            resolver.add(row)  # identifiers the merge added find it too
        sighted.setdefault(id(row), (row, paper.upvotes))
    bulk_insert(session, _paper, fresh)
    _update_papers(session, changed.values(), origin.seen_at)
    _insert_sightings(session, list(sighted.values()), origin)
    matched = len(sighted) - len(fresh)
    return StoreCounts(new=len(fresh), updated=len(changed), unchanged=matched - len(changed))


# The stable identifiers, strongest first: each maps one value to one paper.
_IDENTIFIERS = ("arxiv_id", "doi", "entry_key")


class _Resolver:
    """Finds the row a parsed paper belongs to among loaded and just-created rows."""

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self._by: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in _IDENTIFIERS}
        self._by_title: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            self.add(row)

    def add(self, row: dict[str, Any]) -> None:
        for name in _IDENTIFIERS:
            if row[name]:
                self._by[name].setdefault(row[name], row)
        titled = self._by_title.setdefault(row["title_key"], []) if row["title_key"] else None
        if titled is not None and not any(other is row for other in titled):
            titled.append(row)  # a title with no letters or digits identifies nothing

    def find(self, paper: ParsedPaper, key: str) -> dict[str, Any] | None:
        for name in _IDENTIFIERS:
            value = getattr(paper, name)
            row = self._by[name].get(value) if value else None
            if row is not None and not _conflict(row, paper):
                return row
        for row in self._by_title.get(key, ()) if key else ():
            if not _conflict(row, paper):
                return row
        return None


def _conflict(row: dict[str, Any], paper: ParsedPaper) -> bool:
    """Whether `row` and `paper` carry identifiers that say they are two papers."""
    if paper.arxiv_id and row["arxiv_id"] and paper.arxiv_id != row["arxiv_id"]:
        return True
    if paper.doi and row["doi"] and paper.doi != row["doi"]:
        return True
    # A guid means something only within its feed: two entries of one feed are two papers.
    stored = row["entry_key"]
    return bool(
        paper.entry_key
        and stored
        and paper.entry_key != stored
        and entry_feed(paper.entry_key) == entry_feed(stored)
    )


def _load_existing(
    session: Session, papers: Sequence[ParsedPaper], title_keys: list[str]
) -> list[dict[str, Any]]:
    columns = [_paper.c.id, *(_paper.c[name] for name in MERGED_COLUMNS)]
    rows: dict[int, dict[str, Any]] = {}
    wanted = {"title_key": {key for key in title_keys if key}}
    for name in _IDENTIFIERS:
        wanted[name] = {value for p in papers if (value := getattr(p, name))}
    for name, values in wanted.items():
        for chunk in in_chunks(sorted(values)):
            query = select(*columns).where(_paper.c[name].in_(chunk))
            rows.update(
                (r.id, dict(r._mapping)) for r in session.execute(query) if r.id not in rows
            )
    return list(rows.values())


def _update_papers(session: Session, rows: Iterable[dict[str, Any]], now: datetime) -> None:
    params = [
        {"row_id": row["id"], "updated_at": now, **{c: row[c] for c in MERGED_COLUMNS}}
        for row in rows
    ]
    if params:
        statement = update(_paper).where(_paper.c.id == bindparam("row_id"))
        session.execute(statement, params)


def _insert_sightings(
    session: Session, sighted: list[tuple[dict[str, Any], int | None]], origin: Origin
) -> None:
    if origin.feed_id is not None:
        # A feed lists the same paper on every fetch: one sighting per feed is enough.
        known = _sighted_by_feed(session, [row["id"] for row, _ in sighted], origin.feed_id)
        sighted = [(row, upvotes) for row, upvotes in sighted if row["id"] not in known]
    params = [
        {
            "paper_id": row["id"],
            "imported_file_id": origin.imported_file_id,
            "feed_id": origin.feed_id,
            "page_date": origin.page_date,
            "upvotes": upvotes,
            "seen_at": origin.seen_at,
        }
        for row, upvotes in sighted
    ]
    bulk_insert(session, _sighting, params)


def _sighted_by_feed(session: Session, paper_ids: list[int], feed_id: int) -> set[int]:
    known: set[int] = set()
    for chunk in in_chunks(paper_ids):
        query = select(_sighting.c.paper_id).where(
            _sighting.c.feed_id == feed_id, _sighting.c.paper_id.in_(chunk)
        )
        known.update(session.execute(query).scalars())
    return known
