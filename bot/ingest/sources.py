"""The kinds of source paperbot reads, as one table: how each is recognised, fetched and parsed.

Adding a kind adds an entry here; no caller branches on a kind's name.

    bytes ─> first kind whose `recognise` accepts them ─> its `parse` ─> ParsedSource
    ParsedSource.kind ─> the kind that yields it ─> `authoritative`?

A kind whose records are `authoritative` is the paper's own record (arXiv's
feeds): a record of it that carries an arXiv id replaces the stored title,
abstract, authors and categories. Other kinds only fill in what is missing
and raise counts.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from bot.errors import DumpError
from bot.ingest.dumps import read_dump
from bot.ingest.feeds import looks_like_feed, parse_feed
from bot.ingest.hf_daily import looks_like_json, parse_hf_daily
from bot.ingest.parsed import ParsedSource

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
"""The Accept header of a fetch whose kind is not known beforehand."""


@dataclass(frozen=True)
class ReadContext:
    """What a parser may need besides the bytes: the source's name, and for dumps a date."""

    source: str
    taken: date | None = None  # the day a dump file was saved, for dates shown without a year
    year: int | None = None  # the year the user stated for a dump's dates


class Parser(Protocol):
    """Turns one document's bytes into papers, or raises `SourceError` naming `context.source`."""

    def __call__(self, data: bytes, context: ReadContext) -> ParsedSource: ...


@dataclass(frozen=True)
class SourceKind:
    """One kind of source.

    `name` is what settings and `--json` call it; `yields` are the prefixes of
    the `ParsedSource.kind` values its parser returns; `recognise` tells from
    the first bytes whether a document is of this kind; `accept` is the Accept
    header to fetch it with; `fetchable` says whether it is read from URLs (a
    dump is saved text, never served as a feed).
    """

    name: str
    yields: tuple[str, ...]
    recognise: Callable[[bytes], bool]
    accept: str
    parse: Parser
    authoritative: bool
    fetchable: bool = True


def _parse_feed(data: bytes, context: ReadContext) -> ParsedSource:
    return parse_feed(data, source=context.source)


def _parse_hf_daily(data: bytes, context: ReadContext) -> ParsedSource:
    return parse_hf_daily(data, source=context.source)


def _parse_dump(data: bytes, context: ReadContext) -> ParsedSource:
    # Dumps are files, never fetched: the pipeline always knows the day one was saved.
    if context.taken is None:
        raise DumpError(context.source, "a dump is read from a file, with the day it was saved")
    return read_dump(data, source=context.source, taken=context.taken, year=context.year)


def _anything(data: bytes) -> bool:
    return True


def _nothing(data: bytes) -> bool:
    return False


SOURCE_KINDS: tuple[SourceKind, ...] = (
    # Hugging Face's daily papers list: the only JSON paperbot reads, so any JSON is tried
    # as one, and JSON of another shape is said to be so.
    SourceKind(
        name="hf-daily",
        yields=("hf/",),
        recognise=looks_like_json,
        accept="application/json",
        parse=_parse_hf_daily,
        authoritative=False,
    ),
    # arXiv's RSS and its Atom API are feeds: the feed parser tells them apart by their
    # content, so this entry only says what their records are worth.
    SourceKind(
        name="arxiv",
        yields=("feed/arxiv-",),
        recognise=_nothing,
        accept=FEED_ACCEPT,
        parse=_parse_feed,
        authoritative=True,
    ),
    SourceKind(
        name="feed",
        yields=("feed/",),
        recognise=looks_like_feed,
        accept=FEED_ACCEPT,
        parse=_parse_feed,
        authoritative=False,
    ),
    # Last: a dump is any text that no other kind recognised.
    SourceKind(
        name="dump",
        yields=("dump/",),
        recognise=_anything,
        accept="text/plain, */*;q=0.5",
        parse=_parse_dump,
        authoritative=False,
        fetchable=False,
    ),
)
"""Every kind, in the order documents are tried against them."""

KIND_NAMES = tuple(kind.name for kind in SOURCE_KINDS)
"""The names a setting may give a source's kind."""

_FALLBACK_FETCHED = "feed"  # a URL's document no kind recognises is reported as "not a feed"


def kind_named(name: str) -> SourceKind:
    """Return the kind called `name` (one of `KIND_NAMES`)."""
    for kind in SOURCE_KINDS:
        if kind.name == name:
            return kind
    raise KeyError(name)


def recognise(data: bytes, *, fetched: bool) -> SourceKind:
    """Return the kind of the document `data`; `fetched` for one that came from a URL.

    A fetched document no fetchable kind recognises goes to the feed parser,
    whose error says what the document is instead (an HTML page, say).
    """
    for kind in SOURCE_KINDS:
        if fetched and not kind.fetchable:
            continue
        if kind.recognise(data):
            return kind
    return kind_named(_FALLBACK_FETCHED)


def read_source(
    data: bytes, context: ReadContext, *, fetched: bool, kind: str | None = None
) -> ParsedSource:
    """Parse `data` as the kind named `kind`, or as the kind its content shows."""
    found = kind_named(kind) if kind else recognise(data, fetched=fetched)
    return found.parse(data, context)


def is_authoritative(parsed_kind: str) -> bool:
    """Whether the records of a source that parsed as `parsed_kind` are the papers' own record."""
    for kind in SOURCE_KINDS:
        if parsed_kind.startswith(kind.yields):
            return kind.authoritative
    return False


def accept_header(kind: str | None) -> str:
    """The Accept header to fetch a source of the kind named `kind` (None: not known yet)."""
    return kind_named(kind).accept if kind else FEED_ACCEPT
