"""Reading RSS and Atom feeds, arXiv's own in particular, into parsed papers.

Pure: bytes in, records out; nothing here touches the network or the disk.
feedparser does the XML work; everything it returns is untyped, so it is read
through a few small helpers and turned into typed values straight away.
"""

import codecs
import functools
import html
import io
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date
from typing import Any

import feedparser

from bot.errors import FeedError
from bot.ingest.feed_pieces import PIECE_BYTES, feed_pieces
from bot.ingest.identity import arxiv_id_from_text, arxiv_id_from_url, doi_from_text, entry_key
from bot.ingest.links import extract_links
from bot.ingest.parsed import ParsedPaper, ParsedSource

ARXIV_NAMESPACE = "http://arxiv.org/schemas/atom"

# Enough to get past a BOM, an XML declaration, a stylesheet instruction, a
# DOCTYPE and a licence comment or two.
_SNIFF_BYTES = 8192
_PROLOGUE = re.compile(
    r"(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^>\[]|\[[^\]]*\])*>)*",
    re.DOTALL | re.IGNORECASE,
)
_FEED_ROOT = re.compile(r"<(?:rss|(?:[\w.-]+:)?feed|rdf:RDF)[\s/>]", re.IGNORECASE)
_HTML_ROOT = re.compile(r"<(?:html|head|body)[\s>]", re.IGNORECASE)

# arXiv's daily feeds start every description with
# "arXiv:2409.01234v1 Announce Type: new \nAbstract: ...".
_ANNOUNCE = re.compile(
    r"\s*arXiv:(?P<id>\S+)\s+Announce\s+Type:\s*(?P<type>[A-Za-z-]+)\s*(?:Abstract:\s*)?",
    re.IGNORECASE,
)
_OAI_ID = re.compile(r"oai:arXiv\.org:(?P<id>\S+)", re.IGNORECASE)

# Only things shaped like real tags count as markup, so LaTeX such as
# "$x<y$ and $z>w$" in an abstract survives.
_SCRIPT_OR_STYLE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.DOTALL | re.IGNORECASE)
_BLOCK_TAG = re.compile(
    r"</?(?:p|br|div|li|ul|ol|dl|dt|dd|h[1-6]|tr|td|th|table|blockquote|pre|hr|section"
    r"|article|header|footer)\b[^<>]*>",
    re.IGNORECASE,
)
_ANCHOR_HREF = re.compile(r"""<a\s[^<>]*?\bhref\s*=\s*["']([^"'<>]+)["']""", re.IGNORECASE)
_TAG = re.compile(r"<(?:/?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?|!--.*?--)>", re.DOTALL)

_AUTHOR_SEPARATOR = re.compile(r"\s*[,;]\s*(?:and\s+)?|\s+and\s+|\s+&\s+")
_PARENTHESISED = re.compile(r"\s*\([^()]*\)")
_NAME_SUFFIX = re.compile(r"(?:Jr|Sr|II|III|IV)\.?", re.IGNORECASE)
# RSS <author> is meant to be "address (Name)"; the address alone is no name.
_EMAIL_WITH_NAME = re.compile(r"\S+@\S+\s*\((?P<name>[^()]+)\)")
_BARE_EMAIL = re.compile(r"\S+@\S+\.\S+")

_ISO_DATE = re.compile(r"\s*(\d{4})-(\d{2})-(\d{2})")
_RFC822_DATE = re.compile(r"(\d{1,2})\s+([A-Za-z]{3})[A-Za-z]*\.?\s+(\d{4})")
_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}

_PLAIN_TYPES = frozenset({"text/plain", ""})

# The end of a complete document: its root's end tag, then only spaces and comments.
_ROOT_END = re.compile(
    rb"</(?:[\w.-]+:)?(?:rss|feed|RDF)\s*>(?:\s|<!--.*?-->)*\Z", re.DOTALL | re.IGNORECASE
)
_TAIL_BYTES = 4096
# Whole start and end tags of items and entries (not self-closing), any prefix.
_ITEM_OPEN = re.compile(rb"<(?:[\w.-]+:)?(?:item|entry)(?:\s[^<>]*)?(?<!/)>", re.IGNORECASE)
_ITEM_CLOSE = re.compile(rb"</(?:[\w.-]+:)?(?:item|entry)\s*>", re.IGNORECASE)

# feedparser's records are dict subclasses whose own `get` maps key aliases on
# every call; the keys read here are the canonical ones, so a plain dict lookup
# gives the same answer several times faster.
_Record = dict[str, Any]
_get: Callable[[_Record, str], Any] = dict.get


def looks_like_feed(data: bytes) -> bool:
    """Tell cheaply whether `data` starts like an RSS, Atom or RDF document.

    Only the first few KB are read: a BOM, whitespace, the XML declaration,
    processing instructions, a DOCTYPE and comments are skipped, then the root
    element must be `<rss`, `<feed` or `<rdf:RDF`. HTML pages are not feeds.
    """
    head = _decode_head(data[:_SNIFF_BYTES])
    start = _PROLOGUE.match(head)
    position = start.end() if start else 0
    return _FEED_ROOT.match(head, position) is not None


def parse_feed(data: bytes, *, source: str, piece_bytes: int = PIECE_BYTES) -> ParsedSource:
    """Parse one RSS or Atom document into papers, one per item.

    arXiv's daily RSS and its Atom API get their ids, announce types, primary
    categories and PDF links filled in; any other feed's items are papers too.
    Items without a title and repeated items are dropped with a warning. A
    malformed feed whose items could still be read is kept with a warning; a
    document that is not a feed, or a broken one with nothing readable, raises
    `FeedError`. A valid feed with no items yields no papers and no error.

    A feed cut short (the document ends before its root element is closed) has
    lost what came after the cut: the item it ends in is dropped, and the
    source counts one item dropped at least, as how many followed cannot be known.

    A well-formed feed larger than `piece_bytes` is read a piece of that size
    at a time (see `bot.ingest.feed_pieces`), with the same result.
    """
    pieces = feed_pieces(data, piece_bytes=piece_bytes)
    if pieces is not None:
        try:
            return _parse_pieces(pieces)
        except _PieceUnlikeError:
            pass  # read it whole, as any other feed
    parsed = _feedparser(data)
    version = str(_get(parsed, "version") or "")
    entries: Sequence[_Record] = _get(parsed, "entries") or []
    bozo_reason = _bozo_reason(parsed)
    if not version and not entries:
        raise FeedError(source, _not_a_feed_reason(data, bozo_reason))
    if bozo_reason and not entries:
        raise FeedError(source, f"broken feed with no readable items ({bozo_reason})")

    warnings: list[str] = []
    lost = 0
    if bozo_reason and _cut_short(data):
        lost = 1
        if _ends_inside_an_item(data):
            entries = entries[:-1]  # what was read of it may be cut too
            where = "it ends inside an item, which was dropped"
        else:
            where = "it ends after an item, before the feed is closed"
        warnings.append(
            f"feed cut short: {where}; any items after it are lost (XML error: {bozo_reason})"
        )
    elif bozo_reason:
        warnings.append(f"malformed feed ({bozo_reason}); kept the items that could be read")
    channel: _Record = _get(parsed, "feed") or {}
    return _parsed_source(_feed_kind(version, parsed), channel, entries, warnings, lost)


class _PieceUnlikeError(Exception):
    """A piece of a cut feed read differently from the whole: read the feed whole instead."""


def _feedparser(data: bytes) -> _Record:
    # A file object, not bytes: given bytes, feedparser first tries them as a
    # path on the local disk.
    parsed: _Record = feedparser.parse(
        io.BytesIO(data), sanitize_html=False, resolve_relative_uris=False
    )
    return parsed


def _parse_pieces(pieces: Iterator[bytes]) -> ParsedSource:
    """Parse a feed cut by `feed_pieces`; `_PieceUnlikeError` if any piece reads unlike a sound feed."""
    first = _feedparser(next(pieces))
    version = str(_get(first, "version") or "")
    kind = _feed_kind(version, first)
    if not version or _get(first, "bozo"):
        raise _PieceUnlikeError
    channel: _Record = _get(first, "feed") or {}
    entries = _piece_entries(first, pieces, kind)
    del first  # the generator holds it until it moves on to the next piece
    return _parsed_source(kind, channel, entries, [], 0)


def _piece_entries(parsed: _Record, pieces: Iterator[bytes], kind: str) -> Iterator[_Record]:
    """The entries of `parsed`, then of each further piece: one piece's records held at a time."""
    while True:
        if _get(parsed, "bozo") or _feed_kind(str(_get(parsed, "version")), parsed) != kind:
            raise _PieceUnlikeError
        yield from _get(parsed, "entries") or []
        piece = next(pieces, None)
        if piece is None:
            return
        parsed = _feedparser(piece)


def _parsed_source(
    kind: str, channel: _Record, entries: Iterable[_Record], warnings: list[str], lost: int
) -> ParsedSource:
    papers, untitled, duplicates = _papers_from_entries(
        entries, is_arxiv="arxiv" in kind, feed=_feed_identity(channel)
    )
    if untitled:
        warnings.append(f"dropped {untitled} item(s) without a title")
    if duplicates:
        warnings.append(f"dropped {duplicates} duplicate item(s)")
    return ParsedSource(
        kind=kind,
        papers=tuple(papers),
        page_date=_entry_date(channel),
        warnings=tuple(warnings),
        # Repeats lose nothing, so only untitled items and a cut count as dropped.
        dropped=untitled + lost,
    )


def _feed_identity(channel: _Record) -> str:
    """What names a feed in its entries' keys: its own link, else its id, else its title."""
    for key in ("link", "id", "title"):
        value = _string(_get(channel, key)).strip()
        if value:
            return value
    return "feed"


def _papers_from_entries(
    entries: Iterable[_Record], *, is_arxiv: bool, feed: str
) -> tuple[list[ParsedPaper], int, int]:
    papers: list[ParsedPaper] = []
    seen: set[str] = set()
    untitled = duplicates = 0
    for entry in entries:
        paper = _paper_from_entry(entry, is_arxiv=is_arxiv, feed=feed)
        if paper is None:
            untitled += 1
            continue
        # An item repeated is one with the same identifier or link (a repost under a
        # new guid); a repeated title is not.
        keys = [
            key
            for key in (
                paper.arxiv_id and f"arxiv {paper.arxiv_id}",
                paper.doi and f"doi {paper.doi}",
                paper.entry_key and f"entry {paper.entry_key}",
                paper.url and f"url {paper.url}",
            )
            if key
        ]
        if seen.intersection(keys):
            duplicates += 1
            continue
        seen.update(keys)
        papers.append(paper)
    return papers, untitled, duplicates


def _doi(entry: _Record, guid: str, url: str | None) -> str | None:
    for text in (
        _string(_get(entry, "prism_doi")),
        _string(_get(entry, "arxiv_doi")),
        _string(_get(entry, "dc_identifier")),
        guid,
        url or "",
    ):
        if "10." in text:
            found = doi_from_text(text)
            if found:
                return found
    return None


def _paper_from_entry(entry: _Record, *, is_arxiv: bool, feed: str) -> ParsedPaper | None:
    title = _clean(_string(_get(entry, "title")), markup=_is_markup(entry, "title"))
    if not title:
        return None

    # arXiv's descriptions are plain text that may hold LaTeX such as "$a<b$";
    # reading them as HTML would eat it.
    summary = _string(_get(entry, "summary"))
    summary_is_markup = not is_arxiv and _is_markup(entry, "summary")
    text = _html_to_text(summary) if summary_is_markup else summary
    arxiv_id: str | None = None
    announce_type: str | None = None
    announced = _ANNOUNCE.match(text)
    if announced:
        arxiv_id = arxiv_id_from_text(announced.group("id"))
        announce_type = announced.group("type").lower()
        text = text[announced.end() :]
    abstract = _one_line(text)
    declared_type = _string(_get(entry, "arxiv_announce_type")).strip().lower()
    if declared_type:
        announce_type = declared_type

    url = _string(_get(entry, "link")) or None
    guid = _string(_get(entry, "id"))
    arxiv_id = arxiv_id or _arxiv_id_from_guid(guid) or (arxiv_id_from_url(url) if url else None)

    pdf_url = _pdf_link(entry)
    if pdf_url is None and arxiv_id:
        pdf_url = f"https://arxiv.org/pdf/{arxiv_id}"

    # Blog posts link their code from anchors, whose targets the text loses.
    link_text = abstract
    if summary_is_markup and "href" in summary:
        link_text = " ".join((abstract, *_anchor_targets(summary)))
    code_urls, project_urls = extract_links(link_text) if "://" in link_text else ((), ())
    return ParsedPaper(
        title=title,
        abstract=abstract,
        authors=_author_names(entry, split_joined=is_arxiv),
        paper_date=_entry_date(entry),
        code_urls=code_urls,
        project_urls=project_urls,
        arxiv_id=arxiv_id,
        url=url,
        pdf_url=pdf_url,
        categories=_categories(entry),
        announce_type=announce_type,
        doi=_doi(entry, guid, url),
        entry_key=entry_key(feed, guid or url or ""),
    )


def _is_markup(entry: _Record, key: str) -> bool:
    """Tell whether feedparser says the entry's `key` text is HTML rather than plain text."""
    detail = _get(entry, f"{key}_detail")
    if not isinstance(detail, dict):
        # feedparser copies Atom <content> into `summary` without a detail record.
        return True
    return _string(_get(detail, "type")) not in _PLAIN_TYPES


def _clean(text: str, *, markup: bool) -> str:
    """Return `text` as one line: tags dropped and entities decoded if it is markup."""
    return _one_line(_html_to_text(text) if markup else text)


def _one_line(text: str) -> str:
    """Collapse every run of whitespace in `text` to one space."""
    # Splitting a long abstract costs more than looking for what would need it.
    # XML allows no other ASCII control characters, so for ASCII text these
    # checks are exact.
    if (
        text.isascii()
        and "  " not in text
        and "\n" not in text
        and "\t" not in text
        and "\r" not in text
        and not text.startswith(" ")
        and not text.endswith(" ")
    ):
        return text
    return " ".join(text.split())


def _anchor_targets(markup: str) -> list[str]:
    return [html.unescape(target) for target in _ANCHOR_HREF.findall(markup)]


def _html_to_text(markup: str) -> str:
    if "<" in markup:
        markup = _SCRIPT_OR_STYLE.sub(" ", markup)
        markup = _BLOCK_TAG.sub(" ", markup)
        markup = _TAG.sub("", markup)
    if "&" in markup:
        markup = html.unescape(markup)
    return markup


def _arxiv_id_from_guid(guid: str) -> str | None:
    if not guid:
        return None
    oai = _OAI_ID.match(guid)
    if oai:
        return arxiv_id_from_text(oai.group("id"))
    return arxiv_id_from_url(guid)


def _pdf_link(entry: _Record) -> str | None:
    for link in _sequence(_get(entry, "links")):
        if not isinstance(link, dict):
            continue
        if _get(link, "title") == "pdf" or _get(link, "type") == "application/pdf":
            href = _string(_get(link, "href"))
            if href:
                return href
    return None


def _author_names(entry: _Record, *, split_joined: bool) -> tuple[str, ...]:
    names: list[str] = []
    for author in _sequence(_get(entry, "authors")):
        if isinstance(author, dict):
            name = _author_name(_string(_get(author, "name")))
            if name:
                names.append(name)
    # arXiv's RSS puts every author into one dc:creator: "A. One, B. Two and C. Three".
    if split_joined and len(names) == 1:
        return tuple(_split_authors(names[0]))
    return tuple(dict.fromkeys(names))


def _author_name(raw: str) -> str:
    if "<" in raw or "&" in raw:
        raw = _html_to_text(raw)
    raw = " ".join(raw.split())
    if "@" in raw:
        with_name = _EMAIL_WITH_NAME.fullmatch(raw)
        if with_name:
            return with_name.group("name").strip()
        if _BARE_EMAIL.fullmatch(raw):
            return ""
    return raw


def _split_authors(joined: str) -> list[str]:
    if "(" in joined:
        # Affiliations in brackets may hold commas of their own.
        joined = _PARENTHESISED.sub("", joined)
    names: list[str] = []
    for part in _AUTHOR_SEPARATOR.split(joined):
        name = part.strip()
        if not name:
            continue
        if names and _NAME_SUFFIX.fullmatch(name):
            names[-1] = f"{names[-1]} {name}"
        elif name not in names:
            names.append(name)
    return names


def _categories(entry: _Record) -> tuple[str, ...]:
    terms: list[str] = []
    primary = _get(entry, "arxiv_primary_category")
    if isinstance(primary, dict):
        term = _string(_get(primary, "term")).strip()
        if term:
            terms.append(term)
    for tag in _sequence(_get(entry, "tags")):
        if isinstance(tag, dict):
            term = _string(_get(tag, "term")).strip()
            if term:
                terms.append(term)
    return tuple(dict.fromkeys(terms))


def _entry_date(entry: _Record) -> date | None:
    """Return the published (else updated) calendar date as the feed wrote it.

    The date is read from the text first, so "Tue, 03 Sep 2024 00:00:00 -0400"
    stays the 3rd; feedparser's own value is in UTC and serves as a fallback.
    """
    for key in ("published", "updated"):
        found = _date_from_text(_string(_get(entry, key)))
        if found:
            return found
        parsed = _get(entry, f"{key}_parsed")
        if parsed is not None:
            try:
                return date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday)
            except (AttributeError, TypeError, ValueError):
                continue
    return None


# Every item of a daily feed tends to carry the same date text.
@functools.lru_cache(maxsize=256)
def _date_from_text(text: str) -> date | None:
    if not text:
        return None
    try:
        iso = _ISO_DATE.match(text)
        if iso:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        rfc = _RFC822_DATE.search(text)
        if rfc:
            month = _MONTHS.get(rfc.group(2).lower())
            if month:
                return date(int(rfc.group(3)), month, int(rfc.group(1)))
    except ValueError:
        return None
    return None


def _feed_kind(version: str, parsed: _Record) -> str:
    flavour = "atom" if version.startswith("atom") else "rss"
    return f"feed/arxiv-{flavour}" if _is_arxiv(parsed) else f"feed/{flavour}"


def _is_arxiv(parsed: _Record) -> bool:
    namespaces = _get(parsed, "namespaces")
    if isinstance(namespaces, dict) and ARXIV_NAMESPACE in namespaces.values():
        return True
    channel = _get(parsed, "feed")
    if not isinstance(channel, dict):
        return False
    home = _string(_get(channel, "link")) or _string(_get(channel, "id"))
    return "//arxiv.org/" in home or ".arxiv.org/" in home


def _bozo_reason(parsed: _Record) -> str:
    """Say what feedparser found wrong, or "" when the document was well-formed."""
    if not _get(parsed, "bozo"):
        return ""
    problem = _get(parsed, "bozo_exception")
    # A wrong encoding declaration is repaired by feedparser and loses nothing.
    if isinstance(problem, feedparser.CharacterEncodingOverride):
        return ""
    line = getattr(problem, "getLineNumber", None)
    column = getattr(problem, "getColumnNumber", None)
    message = getattr(problem, "getMessage", None)
    if callable(line) and callable(column) and callable(message):
        return f"{message()} at line {line()}, column {column()}"
    text = " ".join(str(problem).split())
    return text or type(problem).__name__


def _cut_short(data: bytes) -> bool:
    """Tell whether a document ends before its root element is closed."""
    return _ROOT_END.search(data[-_TAIL_BYTES:]) is None


def _ends_inside_an_item(data: bytes) -> bool:
    """Tell whether the last item or entry of a document is opened and never closed."""
    opened = [found.start() for found in _ITEM_OPEN.finditer(data)]
    closed = [found.start() for found in _ITEM_CLOSE.finditer(data)]
    return bool(opened) and (not closed or opened[-1] > closed[-1])


def _not_a_feed_reason(data: bytes, bozo_reason: str) -> str:
    head = _decode_head(data[:_SNIFF_BYTES])
    if not head.strip():
        return "empty document, not a feed"
    start = _PROLOGUE.match(head)
    if _HTML_ROOT.match(head, start.end() if start else 0):
        return "an HTML page, not an RSS or Atom feed"
    if bozo_reason:
        return f"not an RSS or Atom feed (not well-formed XML: {bozo_reason})"
    return "not an RSS or Atom feed (no <rss>, <feed> or <rdf:RDF> root)"


def _decode_head(head: bytes) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head.decode("utf-16", errors="replace")
    if head.startswith(codecs.BOM_UTF8):
        head = head[len(codecs.BOM_UTF8) :]
    # Markup is ASCII; latin-1 reads any byte, so no sniff ever fails to decode.
    return head.decode("latin-1")


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _sequence(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else ()
