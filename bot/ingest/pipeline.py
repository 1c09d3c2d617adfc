"""Ingest orchestration: files, folders and feed URLs into the store.

    path ─> stat ─(same size+mtime as a good import?)─> skip
              └─> read ─> hash ─(same content as a good import?)─> skip
                            └─> kind (bot.ingest.sources) ─> parse ─> store + ImportedFile row (one transaction)
    url  ─> conditional GET (ETag, Last-Modified) ─(304 or same hash)─> skip
              └─> kind ─> parse ─> store + Feed row (one transaction)

A source that fails leaves a record saying why (an ImportedFile or Feed
row) and never changes stored papers: parsing happens before the write
transaction, and any error inside it rolls the whole source back.
"""

import hashlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, col, select

from bot.bulk import collector_paused
from bot.clock import Clock
from bot.db import write_session
from bot.errors import SourceError
from bot.ingest.fetch import fetch_feed
from bot.ingest.parsed import ParsedSource
from bot.ingest.sources import ReadContext, accept_header, is_authoritative, read_source
from bot.ingest.store import Origin, store_papers
from bot.models import Feed, ImportedFile
from bot.redaction import redact_url

log = logging.getLogger(__name__)

_GOOD = ("ok", "partial")


@dataclass(frozen=True)
class IngestResult:
    """What ingesting one file or feed did.

    `status` is "ok", "partial" (stored, but some papers were dropped),
    "skipped" (unchanged since a good import or fetch; `reason` says why) or
    "failed" (nothing stored; `error` says why). `year_from_file` is the year
    a dump's dates shown without one took from the file's date (see
    `ParsedSource.year_from_file`).
    """

    source: str
    status: str
    kind: str | None = None
    parsed: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    dropped: int = 0
    reason: str | None = None
    error: str | None = None
    warnings: tuple[str, ...] = field(default=())
    year_from_file: int | None = None

    @property
    def failed(self) -> bool:
        """Whether the source failed or lost papers, which makes the command fail."""
        return self.status == "failed" or self.dropped > 0


@dataclass(frozen=True)
class FeedSource:
    """A feed to fetch: its URL, an optional name from the configuration, and its kind if stated.

    `kind` names an entry of `bot.ingest.sources.SOURCE_KINDS`; without it the
    document's content tells.
    """

    url: str
    name: str | None = None
    kind: str | None = None


@dataclass(frozen=True)
class FetchOptions:
    """How feeds are fetched."""

    timeout: float
    deadline: float
    user_agent: str
    client: httpx.Client | None = None
    secret_params: tuple[str, ...] = ()


def expand_paths(paths: Iterable[Path], *, skip: Iterable[Path] = ()) -> Iterator[Path]:
    """Yield the files named, and the files inside the folders named, in a stable order.

    Inside a folder, hidden files and folders (names starting with a dot) are
    passed over, since editors and copy tools leave partial files there, and so
    is anything at or below a path in `skip` (paperbot's own database and output
    folders). A path that does not exist is yielded as is, so ingesting it
    reports the problem.
    """
    skipped = {path.resolve() for path in skip}
    for path in paths:
        if not path.is_dir():
            yield path
            continue
        for found in sorted(path.rglob("*")):
            hidden = any(part.startswith(".") for part in found.relative_to(path).parts)
            if not found.is_file() or hidden:
                continue
            resolved = found.resolve()
            if not skipped.intersection((resolved, *resolved.parents)):
                yield found


def ingest_file(
    engine: Engine, path: Path, *, clock: Clock, year: int | None = None
) -> IngestResult:
    """Ingest one dump or feed file, unless its content was already ingested."""
    source = str(path)
    try:
        stat = path.stat()
    except OSError as exc:
        return IngestResult(source, "failed", error=_os_reason(exc))
    if not path.is_file():
        return IngestResult(source, "failed", error="not a file")
    with Session(engine) as session:
        earlier = _good_import(session, path=source, size=stat.st_size, mtime_ns=stat.st_mtime_ns)
    if earlier is not None:
        return _skipped(source, earlier, "unchanged since it was ingested")
    try:
        data = path.read_bytes()
    except OSError as exc:
        return IngestResult(source, "failed", error=_os_reason(exc))
    content_hash = hashlib.sha256(data).hexdigest()
    with Session(engine) as session:
        earlier = _good_import(session, content_hash=content_hash)
    if earlier is not None:
        return _skipped(source, earlier, f"same content as {earlier.path}, already ingested")
    record = ImportedFile(
        path=source, content_hash=content_hash, size=stat.st_size, mtime_ns=stat.st_mtime_ns,
        status="failed", imported_at=clock(),
    )  # fmt: skip
    with collector_paused():
        try:
            parsed = _parse_file(data, source=source, taken=_taken_on(stat.st_mtime), year=year)
        except SourceError as exc:
            return _record_failure(engine, record, exc.reason)
        # Local days on both sides: the file's day is read on this machine's calendar.
        parsed = dated_in_future(parsed, today=clock().astimezone().date())
        del data  # a large dump's bytes are not needed to store its papers: free them first
        return _store_file(engine, record, parsed)


def _store_file(engine: Engine, record: ImportedFile, parsed: ParsedSource) -> IngestResult:
    source = record.path
    try:
        with write_session(engine) as session:
            # Another process may have stored the same content while this one parsed.
            earlier = _good_import(session, content_hash=record.content_hash)
            if earlier is not None:
                return _skipped(
                    source, earlier, f"same content as {earlier.path}, already ingested"
                )
            record.kind = parsed.kind
            record.status = "partial" if parsed.dropped else "ok"
            record.warnings = list(parsed.warnings)
            record.papers_parsed = len(parsed.papers)
            session.add(record)
            session.flush()
            origin = Origin(
                seen_at=record.imported_at,
                authoritative=is_authoritative(parsed.kind),
                imported_file_id=record.id,
                page_date=parsed.page_date,
            )
            counts = store_papers(session, parsed.papers, origin)
            record.papers_new, record.papers_updated = counts.new, counts.updated
    except DBAPIError as exc:
        log.debug("storing %s failed", source, exc_info=True)
        return IngestResult(source, "failed", kind=parsed.kind, error=f"cannot store: {exc.orig}")
    return IngestResult(
        source, record.status, kind=parsed.kind, parsed=len(parsed.papers), new=counts.new,
        updated=counts.updated, unchanged=counts.unchanged, dropped=parsed.dropped,
        warnings=parsed.warnings, year_from_file=parsed.year_from_file,
    )  # fmt: skip


def dated_in_future(parsed: ParsedSource, *, today: date) -> ParsedSource:
    """Return `parsed` with a warning first when the file's date put its page date after `today`.

    A file copied with a wrong date, or saved on a machine whose clock was off,
    dates a page shown without a year in the future: the year is then wrong.
    """
    page_date = parsed.page_date
    if parsed.year_from_file is None or page_date is None or page_date <= today:
        return parsed
    warning = (
        f"page date {page_date} is in the future: its year {parsed.year_from_file} came from"
        " the file's date; give the year with --year"
    )
    return replace(parsed, warnings=(warning, *parsed.warnings))


def ingest_feed(
    engine: Engine, feed: FeedSource, *, clock: Clock, options: FetchOptions
) -> IngestResult:
    """Fetch one feed URL with a conditional GET and store its items when it changed.

    The result names the feed by its redacted URL (`bot.redaction`): results
    are printed, logged and kept in run records. The feed row keeps the real one.
    """
    now = clock()
    shown = redact_url(feed.url, options.secret_params)
    with write_session(engine) as session:
        row = session.exec(select(Feed).where(Feed.url == feed.url)).first()
        if row is None:
            row = Feed(url=feed.url, name=feed.name)
            session.add(row)
        elif feed.name:
            row.name = feed.name
        session.flush()
        feed_id, etag, last_modified, last_hash = (
            row.id,
            row.etag,
            row.last_modified,
            row.content_hash,
        )
        # What its last good fetch found; a feed never read yet is at least a feed.
        known_kind = row.kind or "feed"
    try:
        fetched = fetch_feed(
            feed.url, etag=etag, last_modified=last_modified, timeout=options.timeout,
            deadline=options.deadline, user_agent=options.user_agent, client=options.client,
            secret_params=options.secret_params, accept=accept_header(feed.kind),
        )  # fmt: skip
        if fetched.not_modified:
            _record_feed(engine, feed_id, now, status="not-modified")
            return IngestResult(
                shown, "skipped", kind=known_kind, reason="not modified since the last fetch"
            )
        content_hash = hashlib.sha256(fetched.content).hexdigest()
        if content_hash == last_hash:
            _record_feed(engine, feed_id, now, status="unchanged")
            return IngestResult(
                shown, "skipped", kind=known_kind, reason="same content as the last fetch"
            )
        with collector_paused():
            parsed = read_source(fetched.content, ReadContext(shown), fetched=True, kind=feed.kind)
    except SourceError as exc:
        _record_feed(engine, feed_id, now, status="failed", error=exc.reason)
        return IngestResult(shown, "failed", kind=known_kind, error=exc.reason)
    with collector_paused(), write_session(engine) as session:
        origin = Origin(
            seen_at=now,
            authoritative=is_authoritative(parsed.kind),
            feed_id=feed_id,
            page_date=None,
        )
        counts = store_papers(session, parsed.papers, origin)
        row = session.get_one(Feed, feed_id)
        row.etag, row.last_modified = fetched.etag, fetched.last_modified
        row.content_hash, row.kind = content_hash, parsed.kind
        row.last_fetched_at, row.last_status, row.last_error = now, "ok", None
        row.last_new = counts.new
    return IngestResult(
        shown, "partial" if parsed.dropped else "ok", kind=parsed.kind,
        parsed=len(parsed.papers), new=counts.new, updated=counts.updated,
        unchanged=counts.unchanged, dropped=parsed.dropped, warnings=parsed.warnings,
    )  # fmt: skip


def summarise(results: list[IngestResult]) -> tuple[str, dict[str, int], list[dict[str, str]]]:
    """Return an ingest run's status, counts and one detail per source, for the run record."""
    counts = {
        "sources": len(results),
        "papers_new": sum(r.new for r in results),
        "papers_updated": sum(r.updated for r in results),
        "papers_dropped": sum(r.dropped for r in results),
        "skipped": sum(r.status == "skipped" for r in results),
        "failed": sum(r.status == "failed" for r in results),
    }
    details = [
        {
            "target": r.source,
            "outcome": r.status,
            "reason": r.error or r.reason or "; ".join(r.warnings),
        }
        for r in results
    ]
    if counts["failed"] and counts["failed"] == len(results):
        status = "failed"
    elif any(r.failed for r in results):
        status = "partial"
    else:
        status = "ok"
    return status, counts, details


def _parse_file(data: bytes, *, source: str, taken: date, year: int | None) -> ParsedSource:
    return read_source(data, ReadContext(source, taken=taken, year=year), fetched=False)


def _good_import(
    session: Session,
    *,
    path: str | None = None,
    size: int | None = None,
    mtime_ns: int | None = None,
    content_hash: str | None = None,
) -> ImportedFile | None:
    query = select(ImportedFile).where(col(ImportedFile.status).in_(_GOOD))
    if content_hash is not None:
        query = query.where(ImportedFile.content_hash == content_hash)
    else:
        query = query.where(
            ImportedFile.path == path, ImportedFile.size == size, ImportedFile.mtime_ns == mtime_ns
        )
    return session.exec(query.order_by(col(ImportedFile.id).desc())).first()


def _skipped(source: str, earlier: ImportedFile, reason: str) -> IngestResult:
    when = earlier.imported_at.strftime("%Y-%m-%d %H:%M UTC")
    return IngestResult(source, "skipped", kind=earlier.kind, reason=f"{reason} ({when})")


def _record_failure(engine: Engine, record: ImportedFile, reason: str) -> IngestResult:
    record.error = reason
    with write_session(engine) as session:
        session.add(record)
    return IngestResult(record.path, "failed", error=reason)


def _record_feed(
    engine: Engine, feed_id: int | None, now: datetime, *, status: str, error: str | None = None
) -> None:
    with write_session(engine) as session:
        row = session.get_one(Feed, feed_id)
        row.last_fetched_at, row.last_status, row.last_error = now, status, error


def _taken_on(mtime: float) -> date:
    # The dump was saved on the machine that wrote it; its local calendar day is the best guess.
    return datetime.fromtimestamp(mtime).date()


def _os_reason(exc: OSError) -> str:
    return exc.strerror.lower() if exc.strerror else str(exc)
