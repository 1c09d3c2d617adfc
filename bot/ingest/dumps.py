"""Parsing digest dumps: the saved text of a "Daily Papers" listing page.

A dump is a header (banner lines and the page date) followed by papers: a
title line, an abstract line and an optional metadata block (author count or
organisation, a lone `·`, a date with optional upvotes). The "spaced" layout
separates lines with blank lines, the "compact" one does not and glues the
first title to the "Subscribe" banner. Dumps come from other tools and are
often damaged, so the parser follows the structure while checking each line's
shape: a lost line costs one paper, never the alignment of the ones after it.
"""

import re
from dataclasses import dataclass, replace
from datetime import date
from itertools import compress, pairwise

from bot.errors import DumpError
from bot.ingest.decoding import decode_lines
from bot.ingest.links import extract_links
from bot.ingest.parsed import ParsedPaper, ParsedSource

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
# "Dec 5, 2023", "Feb 21", "Nov 25, 2023 8", "Sep 26 2". Without a comma, a
# four-digit number from 1900 to 2099 reads as a year rather than as upvotes.
_DATE = re.compile(
    r"(?P<month>[A-Za-z]{3,9})\.?\s+(?P<day>\d{1,2})"
    r"(?:(?:,\s*|\s+)(?P<year>(?:19|20)\d\d))?"
    r"(?:\s+(?P<upvotes>\d{1,7}))?"
)
# Something that starts like a date but is damaged, such as a cut "Nov 9, 20".
_DATE_LIKE = re.compile(r"[A-Za-z]{3,9}\.?\s+\d[\d,\s]*")
_AUTHORS = re.compile(r"(?:[•*·-]\s*)?(?P<count>\d+)\s+authors?", re.IGNORECASE)
_DOTS = frozenset({"·", "•"})
_BANNER = re.compile(
    r"new|subscribe|daily papers|get trending papers in your email inbox\b.*"
    r"|by\s*ak\b.*",
    re.IGNORECASE,
)
# "SubscribeFine-tune ..." but not a title such as "Subscribers: ...".
_GLUED_SUBSCRIBE = re.compile(r"Subscribe(?!(?:rs?|d|s)\b)(?=\S)")
_HAS_LETTER = re.compile(r"[^\W\d_]")
_SENTENCE_BREAK = re.compile(r"[a-z0-9)\]%][.!?] +[A-Z]")
_SENTENCE_END = re.compile(r"[.!?][\"')\]\u201d\u2019]*$")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]{0,500})?/?>")
# An HTML page has more tags than lines; an abstract may mention a few "<s>" tokens.
_MIN_TAGS = 20
# Metadata lines are short; longer lines are never checked against the patterns.
_MAX_META_LENGTH = 60
# Abstracts are paragraphs of several sentences; titles are one short line.
_LONG_ABSTRACT = 300
_LONG_TITLE = 150
_MIN_ABSTRACT = 80
_SNIPPET = 70
# At most this many stray lines between a title and its abstract are skipped.
_MAX_STRAYS = 3
# How far from the top the header may reach.
_HEADER_SEARCH = 50
# How much of the start of a file is checked for HTML or XML markup.
_MARKUP_WINDOW = 65536

_AUTHORS_KIND = "authors"
_DOT_KIND = "dot"
_DATE_KIND = "date"
_BAD_DATE_KIND = "bad date"
_NOISE_KIND = "noise"
# The order of the lines of a metadata block.
_BLOCK_ORDER = {_AUTHORS_KIND: 0, _DOT_KIND: 1, _DATE_KIND: 2, _BAD_DATE_KIND: 2}
_KIND_NAMES = {
    _AUTHORS_KIND: "stray authors line",
    _DOT_KIND: "stray separator line",
    _DATE_KIND: "stray date line",
    _BAD_DATE_KIND: "unreadable date line",
    _NOISE_KIND: "line with no words",
}


@dataclass(frozen=True)
class _Meta:
    """What a paper's metadata block said; `end` is the index of the line after it."""

    end: int
    author_count: int | None = None
    organization: str | None = None
    paper_date: date | None = None
    upvotes: int | None = None
    dated: bool = False


def parse_dump(text: str, *, source: str, taken: date, year: int | None = None) -> ParsedSource:
    """Parse the text of a digest dump into papers, with a warning per repair.

    `taken` is the day the dump was taken (it dates a page shown without a
    year); `year`, when given, is the year of the dump as stated by the user.
    Damaged papers are dropped or repaired with a one-line warning naming the
    line. Raises `DumpError` when the text is not a dump at all (HTML, XML,
    plain prose) or holds no paper.
    """
    text = text.removeprefix("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _parse_lines(text.split("\n"), source=source, taken=taken, year=year)


def read_dump(data: bytes, *, source: str, taken: date, year: int | None = None) -> ParsedSource:
    """Decode a dump file's bytes and parse them; decoding warnings come first."""
    raw_lines, decode_warnings = decode_lines(data, source=source)
    parsed = _parse_lines(raw_lines, source=source, taken=taken, year=year)
    if not decode_warnings:
        return parsed
    return replace(parsed, warnings=decode_warnings + parsed.warnings)


def _parse_lines(
    raw_lines: list[str], *, source: str, taken: date, year: int | None
) -> ParsedSource:
    """Parse a dump given as its lines (without line ends)."""
    _refuse_markup(_head(raw_lines), source)
    numbers, lines, spaced = _content_lines(raw_lines)
    if not lines:
        raise DumpError(source, "empty file (only whitespace)")
    parser = _DumpParser(lines, numbers, taken=taken, year=year)
    parser.run()
    _refuse_non_dump(parser, source)
    parser.check_end(ends_with_newline=raw_lines[-1] == "")
    return ParsedSource(
        kind="dump/spaced" if spaced else "dump/compact",
        papers=tuple(parser.papers),
        page_date=parser.page_date,
        warnings=tuple(parser.warnings),
        dropped=parser.dropped,
        year_from_file=parser.year_from_file,
    )


def _head(raw_lines: list[str]) -> str:
    """Return the start of the text, enough to tell a markup document."""
    head: list[str] = []
    size = 0
    for line in raw_lines:
        if size >= _MARKUP_WINDOW:
            break
        head.append(line)
        size += len(line) + 1
    return "\n".join(head)[:_MARKUP_WINDOW]


def _content_lines(raw_lines: list[str]) -> tuple[list[int], list[str], bool]:
    """Return the non-blank lines (stripped) with their 1-based numbers, and whether
    blank lines separate them (the spaced layout)."""
    stripped = list(map(str.strip, raw_lines))
    # compress() keeps the items whose stripped line is not empty, at C speed.
    numbers = list(compress(range(1, len(stripped) + 1), stripped))
    lines = list(compress(stripped, stripped))
    spaced = any(after - before > 1 for before, after in pairwise(numbers))
    return numbers, lines, spaced


def _refuse_markup(text: str, source: str) -> None:
    """Raise `DumpError` when the text is an HTML page or an XML document."""
    head = text[:_MARKUP_WINDOW]
    start = head.lstrip()[:2048].lower()
    if start.startswith(("<?xml", "<rss", "<feed", "<rdf:rdf")):
        if any(tag in start for tag in ("<rss", "<feed", "<rdf:rdf")):
            raise DumpError(source, "looks like an RSS/Atom feed (XML), not a digest dump")
        if "<html" not in start:
            raise DumpError(source, "looks like an XML document, not a digest dump")
    # A paper may mention "<html>"; a page starts with markup.
    html = start.startswith("<") and ("<html" in start or "<!doctype html" in start)
    if not html:
        tags = len(_TAG.findall(head))
        html = tags >= _MIN_TAGS and tags * 2 >= head.count("\n") + 1
    if html:
        raise DumpError(
            source, "looks like HTML, not a digest dump (save the page as text, not as HTML)"
        )


def _refuse_non_dump(parser: "_DumpParser", source: str) -> None:
    """Raise `DumpError` when parsing found no paper, or nothing shaped like a dump."""
    if not parser.papers:
        if parser.header_seen:
            raise DumpError(source, "digest header found but no papers found")
        raise DumpError(
            source, "no papers found: no title/abstract structure, this is not a digest dump"
        )
    if parser.header_seen or parser.metadata_seen:
        return
    # Without header or metadata, only real abstracts make a file a dump.
    real = sum(1 for paper in parser.papers if _is_abstract(paper.abstract))
    used = 2 * len(parser.papers)
    if real * 2 < len(parser.papers) or used * 2 < len(parser.lines):
        raise DumpError(
            source, "looks like plain text, not a digest dump (no header, no title/abstract pairs)"
        )


def _meta_kind(line: str) -> str | None:
    """Return which metadata line `line` is, or None for a title or abstract line."""
    if len(line) > _MAX_META_LENGTH:
        return None
    if line in _DOTS:
        return _DOT_KIND
    if _AUTHORS.fullmatch(line):
        return _AUTHORS_KIND
    found = _DATE.fullmatch(line)
    if found and found.group("month").lower() in _MONTHS:
        return _DATE_KIND
    if _DATE_LIKE.fullmatch(line) and line.split()[0].rstrip(".").lower() in _MONTHS:
        return _BAD_DATE_KIND
    if not _HAS_LETTER.search(line):
        return _NOISE_KIND
    return None


def _page_date(line: str) -> re.Match[str] | None:
    """Match a page date line: a date without upvotes."""
    found = _DATE.fullmatch(line) if len(line) <= _MAX_META_LENGTH else None
    if found and found.group("upvotes") is None and found.group("month").lower() in _MONTHS:
        return found
    return None


def _is_abstract(line: str) -> bool:
    """Whether `line` is unmistakably an abstract: a long paragraph of sentences."""
    size = len(line)
    if size >= _LONG_ABSTRACT:
        return True
    return (
        size >= _MIN_ABSTRACT
        and _SENTENCE_END.search(line) is not None
        and _SENTENCE_BREAK.search(line) is not None
    )


def _may_be_abstract(line: str) -> bool:
    """Whether `line` could be a (short) abstract rather than a title."""
    if _is_abstract(line) or len(line) >= _LONG_TITLE:
        return True
    if line.endswith((".", "!")) or _SENTENCE_BREAK.search(line):
        return True
    # Sentences are mostly lower-case words; titles mostly capitalised ones.
    words = line.split()
    lower = sum(1 for word in words if word[0].islower())
    return len(words) >= 4 and lower * 2 > len(words)


def _is_block(kinds: list[str]) -> bool:
    """Whether metadata lines of these kinds, in this order, form (part of) one block."""
    ranks = [_BLOCK_ORDER.get(kind, -1) for kind in kinds]
    return len(ranks) >= 2 and min(ranks) >= 0 and all(a < b for a, b in pairwise(ranks))


def _organization(line: str) -> str:
    """Return the organisation named by a line that shows the name twice ("KFUPM KFUPM")."""
    half, rest = divmod(len(line), 2)
    if rest and line[half] == " " and line[:half] == line[half + 1 :]:
        return line[:half]
    return line


def _snippet(text: str) -> str:
    return repr(text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…")


class _DumpParser:
    """Walks the content lines of one dump: header first, then papers."""

    def __init__(
        self, lines: list[str], numbers: list[int], *, taken: date, year: int | None
    ) -> None:
        self.lines = lines
        self.numbers = numbers
        self.taken = taken
        self.year = year
        self.papers: list[ParsedPaper] = []
        self.warnings: list[str] = []
        self.dropped = 0
        self.page_date: date | None = None
        # The year taken from `taken` for dates shown without one, if any was.
        self.year_from_file: int | None = None
        self.header_seen = False
        self.metadata_seen = False
        # The reference day for yearless paper dates: the page date once known.
        self.reference = taken if year is None or year == taken.year else date(year, 12, 31)
        # Where the last kept paper's abstract and metadata block end.
        self.last_abstract = -1
        self.last_meta: _Meta | None = None

    def run(self) -> None:
        """Parse the header, then every paper."""
        i = self._read_header()
        while i < len(self.lines):
            i = self._read_paper(i)

    def _warn(self, i: int, message: str) -> None:
        self.warnings.append(f"line {self.numbers[i]}: {message}")

    # The header

    def _read_header(self) -> int:
        """Read the banner lines and the page date; return the index of the first paper line."""
        end = self._header_end()
        dated = False
        unknown: list[int] = []
        for i in range(end):
            line = self.lines[i]
            if _BANNER.fullmatch(line):
                continue
            found = None if dated else _page_date(line)
            if found is not None:
                dated = True
                self._set_page_date(i, found)
                continue
            unknown.append(i)
        self.header_seen = end > 0
        glued = _GLUED_SUBSCRIBE.match(self.lines[end]) if end < len(self.lines) else None
        if glued:
            # The rest of the line is the first title.
            self.header_seen = True
            self.lines[end] = self.lines[end][glued.end() :]
        if unknown:
            first, last = self.numbers[unknown[0]], self.numbers[unknown[-1]]
            where = f"line {first}" if first == last else f"lines {first}-{last}"
            self.warnings.append(
                f"{where}: {len(unknown)} unrecognised line(s) in the header skipped,"
                f" starting with {_snippet(self.lines[unknown[0]])}"
            )
        return end

    def _header_end(self) -> int:
        """Return the index just past the last header line (0 when there is no header).

        Unknown lines among the header's (a page saved with its navigation)
        are part of it; the first abstract ends the search.
        """
        last = -1
        dated = False
        for i, line in enumerate(self.lines[:_HEADER_SEARCH]):
            if _BANNER.fullmatch(line):
                last = i
            elif _GLUED_SUBSCRIBE.match(line):
                return i
            elif not dated and _page_date(line) is not None:
                last, dated = i, True
            elif _is_abstract(line):
                break
        return last + 1

    def _set_page_date(self, i: int, found: re.Match[str]) -> None:
        month = _MONTHS[found.group("month").lower()]
        day = int(found.group("day"))
        if found.group("year"):
            page_year = int(found.group("year"))
        elif self.year is not None:
            page_year = self.year
        else:
            # A page dated later in the year than the day it was taken is last year's.
            later = (month, day) > (self.taken.month, self.taken.day)
            page_year = self.taken.year - 1 if later else self.taken.year
            self.year_from_file = page_year
        page_date = self._make_date(i, page_year, month, day, "page date")
        if page_date is not None:
            self.page_date = self.reference = page_date

    def _make_date(self, i: int, year: int, month: int, day: int, what: str) -> date | None:
        try:
            return date(year, month, day)
        except ValueError:
            self._warn(i, f"impossible {what} {self.lines[i]!r} in {year}; date left empty")
            return None

    # Papers

    def _read_paper(self, i: int) -> int:
        """Read the paper starting at line `i`, or drop what is there; return the next line."""
        lines = self.lines
        title = lines[i]
        kind = _meta_kind(title)
        if kind is not None:
            self._warn(i, f"{_KIND_NAMES[kind]} {title!r} skipped")
            return i + 1
        if _BANNER.fullmatch(title):
            self._warn(i, f"header line {title!r} among the papers skipped")
            return i + 1
        if _is_abstract(title):
            self.dropped += 1
            self._warn(i, f"abstract with no title dropped: {_snippet(title)}")
            return self._skip_meta(i + 1)
        j = self._skip_strays(i + 1)
        if j == len(lines):
            self.dropped += 1
            self._warn(i, f"title {_snippet(title)} has no abstract (file truncated?); dropped")
            return j
        if not self._abstract_at(j):
            self.dropped += 1
            self._warn(i, f"title {_snippet(title)} has no abstract; dropped")
            return self._skip_meta(j)
        abstract = lines[j]
        meta = self._read_meta(j + 1)
        code_urls, project_urls = extract_links(abstract)
        self.papers.append(
            ParsedPaper(
                title=title,
                abstract=abstract,
                author_count=meta.author_count,
                organization=meta.organization,
                paper_date=meta.paper_date,
                upvotes=meta.upvotes,
                code_urls=code_urls,
                project_urls=project_urls,
            )
        )
        self.metadata_seen = self.metadata_seen or meta.end > j + 1
        self.last_abstract, self.last_meta = j, meta
        return meta.end

    def _skip_strays(self, j: int) -> int:
        """Skip stray metadata lines between a title and its abstract (line `j` on)."""
        lines = self.lines
        kinds: list[str] = []
        end = j
        while end < len(lines) and len(kinds) < _MAX_STRAYS:
            kind = _meta_kind(lines[end])
            if kind is None:
                break
            kinds.append(kind)
            end += 1
        # Only a real abstract after them shows they are strays; a whole metadata
        # block there means the title's abstract and the next title are missing.
        if not kinds or end == len(lines) or not _is_abstract(lines[end]) or _is_block(kinds):
            return j
        for k, kind in zip(range(j, end), kinds, strict=True):
            self._warn(k, f"{_KIND_NAMES[kind]} {lines[k]!r} skipped")
        return end

    def _abstract_at(self, j: int) -> bool:
        """Whether line `j`, which follows a title, is that title's abstract."""
        lines = self.lines
        line = lines[j]
        if _is_abstract(line):
            return True
        if self._meta_at(j) or not _may_be_abstract(line):
            return False
        # A short line followed by a real abstract is the next paper's title.
        after = j + 1
        return after == len(lines) or not _is_abstract(lines[after])

    def _meta_at(self, i: int) -> bool:
        """Whether line `i` starts a metadata block (or is a stray metadata line)."""
        return _meta_kind(self.lines[i]) is not None or self._organization_at(i)

    def _organization_at(self, i: int) -> bool:
        """Whether line `i` is an organisation line: a name followed by a lone `·`.

        A title followed by a stray `·` and then its abstract is not one.
        """
        lines = self.lines
        return (
            i + 1 < len(lines)
            and lines[i + 1] in _DOTS
            and len(lines[i]) <= _LONG_TITLE
            and _meta_kind(lines[i]) is None
            and not (i + 2 < len(lines) and _is_abstract(lines[i + 2]))
        )

    def _skip_meta(self, i: int) -> int:
        """Skip the metadata block of a dropped paper, if one starts at line `i`."""
        if i < len(self.lines) and self._meta_at(i):
            return self._read_meta(i).end
        return i

    def _read_meta(self, i: int) -> _Meta:
        """Read the optional metadata block starting at line `i`."""
        lines = self.lines
        size = len(lines)
        author_count: int | None = None
        organization: str | None = None
        if i < size and (authors := _AUTHORS.fullmatch(lines[i])) is not None:
            author_count = int(authors.group("count"))
            i += 1
        elif self._organization_at(i):
            organization = _organization(lines[i])
            i += 1
        if i < size and lines[i] in _DOTS:
            i += 1
        if i < size and len(lines[i]) <= _MAX_META_LENGTH:
            found = _DATE.fullmatch(lines[i])
            if found and found.group("month").lower() in _MONTHS:
                paper_date, upvotes = self._paper_date(i, found)
                return _Meta(i + 1, author_count, organization, paper_date, upvotes, dated=True)
            if _meta_kind(lines[i]) == _BAD_DATE_KIND:
                self._warn(i, f"unreadable date {lines[i]!r} skipped")
                return _Meta(i + 1, author_count, organization, dated=True)
        return _Meta(i, author_count, organization)

    def _paper_date(self, i: int, found: re.Match[str]) -> tuple[date | None, int | None]:
        """Return the date and upvotes of date line `i`; a yearless date takes the page's year."""
        month = _MONTHS[found.group("month").lower()]
        day = int(found.group("day"))
        upvotes = int(found.group("upvotes")) if found.group("upvotes") else None
        if found.group("year"):
            year = int(found.group("year"))
        else:
            # A yearless date later than the page's is from the year before.
            ref = self.reference
            year = ref.year - 1 if (month, day) > (ref.month, ref.day) else ref.year
            if self.year is None and self.page_date is None and self.year_from_file is None:
                self.year_from_file = self.taken.year  # no page date to go by: the file's day
        return self._make_date(i, year, month, day, "paper date"), upvotes

    # The end of the file

    def check_end(self, *, ends_with_newline: bool) -> None:
        """Warn when the file seems cut inside the last paper (which is kept)."""
        meta, last = self.last_meta, len(self.lines) - 1
        if meta is None or meta.end != last + 1:
            return
        title = _snippet(self.papers[-1].title)
        if self.last_abstract == last:
            # Only a file that does not end with a newline can stop mid-line.
            if not ends_with_newline and _SENTENCE_END.search(self.lines[last]) is None:
                self._warn(last, f"abstract of {title} looks cut off: the file may be truncated")
        elif not meta.dated:
            self._warn(
                last, f"metadata of {title} stops before its date: the file may be truncated"
            )
