"""Bulk subscription files, CSV and TOML, read and written (pure: text in, text out).

CSV: a header row, then one row per topic, with the columns
`email,name,keywords,exclusions,cadence,channels,timezone`, then what the topic
follows: `authors,organisations,categories,exclude_authors,
exclude_organisations,exclude_categories,min_upvotes,top`, then its example
papers and level: `liked,unliked,level`. The values of a list (keywords,
authors, liked papers, channels...) are separated by `;` inside their cell; `min_upvotes`
and `top` are whole numbers or empty, `level` a whole number from -3 to 3 or
empty (which keeps the topic's level). Only `email` and one column that selects
papers (`keywords`, `liked`, `authors`, `organisations`, `categories`,
`min_upvotes` or `top`) are required, so files written before a column existed
still read; a `format` column of older files (email, markdown or both) is read
as the channels it means. A paper is named by its arXiv id, a link to it or its exact title;
writing names it by its arXiv id, else by its title (with any `;` in it made a
`,`: titles are compared without their punctuation, so it still names the paper).

TOML: one `[[subscription]]` table per topic with the same keys; the lists are
arrays of strings, `min_upvotes`, `top` and `level` integers. Writing leaves out
the follows and example papers a topic does not have.

Reading validates every row with `make_spec` and names the row of the first
bad one, so a file is imported whole or not at all. Whether the store holds the
papers named is the importer's to check: `read_csv_entries` and
`read_toml_entries` say where each spec came from ("row 3", "subscription 2").

A CSV cell that a spreadsheet would take for a formula (it starts with `=`, `+`,
`-`, `@`, a tab or a carriage return) is written with a single quote before it,
so opening an export cannot run a formula a subscriber typed as a topic name.
To keep the quoting reversible, a cell that starts with a quote gets one more;
reading removes exactly one leading quote when what follows it starts with one
of those characters or with a quote. TOML has no formulas: it is written as is.
"""

import csv
import io
import json
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from bot.errors import InputError
from bot.matching.facets import FOLLOW_FIELDS, TRENDING_FIELDS
from bot.subscriptions.paper_reference import PaperReference
from bot.subscriptions.spec import (
    DEFAULT_TOPIC,
    SubscriptionSpec,
    channels_of_format,
    check_text,
    make_spec,
)

COLUMNS = (
    "email", "name", "keywords", "exclusions", "cadence", "channels", "timezone", *FOLLOW_FIELDS,
    "liked", "unliked", "level",
)  # fmt: skip
_LEGACY = ("format",)  # read, never written
_EXAMPLES = ("liked", "unliked")
_LISTS = (
    "keywords",
    "exclusions",
    "channels",
    *(name for name in FOLLOW_FIELDS if name not in TRENDING_FIELDS),
    *_EXAMPLES,
)
_SELECTING = ("keywords", "liked", "authors", "organisations", "categories", *TRENDING_FIELDS)
_SEPARATOR = ";"
# What starts a formula in Excel, LibreOffice and Google Sheets (OWASP's list).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"

Entry = tuple[str, SubscriptionSpec]
"""A spec read from a file, after where it was in the file: ("row 3", spec)."""


def read_csv(text: str) -> list[SubscriptionSpec]:
    """Parse a CSV subscriptions file; raise `InputError` naming the first bad row."""
    return [spec for _, spec in read_csv_entries(text)]


def read_csv_entries(text: str) -> list[Entry]:
    """Parse a CSV subscriptions file into specs with their rows ("row 3")."""
    return list(csv_entries(text))


def csv_entries(text: str) -> Iterator[Entry]:
    """The specs of a CSV subscriptions file with their rows ("row 3"), read as they are taken.

    The header is checked at once, and a bad header or NUL raises here; a bad row
    raises `InputError` when it is reached, so an import of 100,000 rows holds a
    batch of specs at a time rather than all of them.
    """
    text = text.removeprefix("\ufeff")
    nul = text.find("\x00")
    if nul >= 0:
        # Python's csv module before 3.13 stops at a NUL with an error naming no row:
        # name it here, with the one message for control characters.
        line = text.count("\n", 0, nul) + 1
        check_text("\x00", f"row {line}: a cell")
    reader = csv.DictReader(io.StringIO(text))
    try:
        _check_header(reader)
    except csv.Error as exc:
        raise _not_csv(reader, exc) from None
    return _read_rows(reader)


def _not_csv(reader: "csv.DictReader[str]", exc: csv.Error) -> InputError:
    # A cell over csv.field_size_limit() (131,072 characters), far beyond the
    # longest valid one (100 keywords of 200 characters), is one such error. The
    # DictReader's own line_num is the last good row's: the inner reader's counts
    # the line that failed.
    return InputError(f"row {reader.reader.line_num}: not valid CSV: {exc}")


def _check_header(reader: "csv.DictReader[str]") -> None:
    header = set(reader.fieldnames or ())
    if "email" not in header:
        raise InputError("CSV header lacks the column(s) email")
    if not header & set(_SELECTING):
        raise InputError(
            f"CSV header lacks a column that selects papers: one of {', '.join(_SELECTING)}"
        )
    unknown = set(reader.fieldnames or ()) - {*COLUMNS, *_LEGACY}
    if unknown:
        raise InputError(f"CSV header has unknown column(s) {', '.join(sorted(unknown))}")


def _read_rows(reader: "csv.DictReader[str]") -> Iterator[Entry]:
    try:
        for cells in reader:
            where = f"row {reader.line_num}"
            row: dict[str, Any] = {
                key: unquote_cell(value) for key, value in cells.items() if isinstance(value, str)
            }
            for key in _LISTS:
                row[key] = _split(row.get(key))
            for key in TRENDING_FIELDS:
                row[key] = _number(row.get(key), key, where)
            row["level"] = _signed_number(row.get("level"), "level", where)
            yield where, _spec(where, row)
    except csv.Error as exc:
        raise _not_csv(reader, exc) from None


def read_toml(text: str) -> list[SubscriptionSpec]:
    """Parse a TOML subscriptions file; raise `InputError` naming the first bad table."""
    return [spec for _, spec in read_toml_entries(text)]


def read_toml_entries(text: str) -> list[Entry]:
    """Parse a TOML subscriptions file into specs with their tables ("subscription 2")."""
    try:
        data = tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}") from None
    unknown = set(data) - {"subscription"}
    if unknown:
        raise InputError(
            f"unknown top-level key(s) {', '.join(sorted(unknown))}: expected [[subscription]] tables"
        )
    tables = data.get("subscription", [])
    if not isinstance(tables, list):
        raise InputError("'subscription' must be an array of tables: [[subscription]]")
    specs = []
    for number, table in enumerate(tables, start=1):
        where = f"subscription {number}"
        if not isinstance(table, dict):
            raise InputError(f"{where}: expected a table")
        extra = set(table) - {*COLUMNS, *_LEGACY}
        if extra:
            raise InputError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        specs.append((where, _spec(where, table)))
    return specs


def write_csv(specs: Iterable[SubscriptionSpec]) -> str:
    """Render subscriptions as CSV, in the format `read_csv` reads."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for spec in specs:
        follows = spec.follows
        cells = [
            spec.email,
            spec.name,
            _SEPARATOR.join(spec.keywords),
            _SEPARATOR.join(spec.exclusions),
            spec.cadence or "",
            _SEPARATOR.join(spec.channels or ()),
            spec.timezone or "",
            *(
                ("" if follows[name] is None else str(follows[name]))
                if name in TRENDING_FIELDS
                else _SEPARATOR.join(follows[name])
                for name in FOLLOW_FIELDS
            ),
            _SEPARATOR.join(_csv_reference(reference) for reference in spec.liked),
            _SEPARATOR.join(_csv_reference(reference) for reference in spec.unliked),
            "" if spec.level is None else str(spec.level),
        ]
        # The level is a number the writer made, never a formula: "-1" stays as it is.
        writer.writerow([*(quote_cell(cell) for cell in cells[:-1]), cells[-1]])
    return buffer.getvalue()


def _csv_reference(reference: PaperReference) -> str:
    # A title is found by its letters and digits alone, so a `;` in it, which would
    # split the cell, becomes a `,` and still names the same paper.
    return reference.text.replace(_SEPARATOR, ",")


def quote_cell(cell: str) -> str:
    """A CSV cell as written: a quote before one a spreadsheet would run, or one starting with a quote."""
    return _QUOTE + cell if cell.startswith((*_FORMULA_STARTS, _QUOTE)) else cell


def unquote_cell(cell: str) -> str:
    """A CSV cell as read: the inverse of `quote_cell`, so a round trip is exact."""
    if cell.startswith(_QUOTE) and cell[1:].startswith((*_FORMULA_STARTS, _QUOTE)):
        return cell[1:]
    return cell


def write_toml(specs: Iterable[SubscriptionSpec]) -> str:
    """Render subscriptions as TOML, in the format `read_toml` reads."""
    # A JSON string is a valid TOML basic string: same quotes, same escapes.
    blocks = []
    for spec in specs:
        lines = [
            "[[subscription]]",
            f"email = {json.dumps(spec.email)}",
            f"name = {json.dumps(spec.name)}",
        ]
        lines.append(f"keywords = {json.dumps(list(spec.keywords), ensure_ascii=False)}")
        lines.append(f"exclusions = {json.dumps(list(spec.exclusions), ensure_ascii=False)}")
        if spec.cadence:
            lines.append(f"cadence = {json.dumps(spec.cadence)}")
        if spec.channels:
            lines.append(f"channels = {json.dumps(list(spec.channels))}")
        if spec.timezone:
            lines.append(f"timezone = {json.dumps(spec.timezone)}")
        for name, value in spec.follows.items():
            if value:  # None, or an empty list: the topic does not follow it
                lines.append(f"{name} = {json.dumps(value, ensure_ascii=False)}")
        for name, references in (("liked", spec.liked), ("unliked", spec.unliked)):
            if references:
                texts = [reference.text for reference in references]
                lines.append(f"{name} = {json.dumps(texts, ensure_ascii=False)}")
        if spec.level is not None:
            lines.append(f"level = {spec.level}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _spec(where: str, row: Mapping[str, Any]) -> SubscriptionSpec:
    follows: dict[str, Any] = {
        name: _integer(row, name, where) if name in TRENDING_FIELDS else _texts(row, name, where)
        for name in FOLLOW_FIELDS
    }
    try:
        return make_spec(
            _text(row, "email", where) or "",
            _texts(row, "keywords", where),
            _texts(row, "exclusions", where),
            name=_text(row, "name", where) or DEFAULT_TOPIC,
            cadence=_text(row, "cadence", where) or None,
            channels=_channels(row, where),
            timezone=_text(row, "timezone", where) or None,
            liked=_texts(row, "liked", where),
            unliked=_texts(row, "unliked", where),
            level=_integer(row, "level", where),
            **follows,
        )
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


def _channels(row: Mapping[str, Any], where: str) -> tuple[str, ...] | None:
    """The row's `channels`, or what an older file's `format` means; None when it says neither."""
    channels = _texts(row, "channels", where)
    format = _text(row, "format", where) or None
    if channels and format:
        raise InputError("give channels or format, not both")
    return tuple(channels) if channels else channels_of_format(format)


def _text(row: Mapping[str, Any], key: str, where: str) -> str | None:
    value = row.get(key)
    if value is not None and not isinstance(value, str):
        raise InputError(f"{where}: {key} must be a string")
    return value


def _texts(row: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = row.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InputError(f"{where}: {key} must be a list of strings")
    return value


def _integer(row: Mapping[str, Any], key: str, where: str) -> int | None:
    value = row.get(key)
    # TOML's booleans are Python's ints: refused with the strings and floats.
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise InputError(f"{where}: {key} must be a whole number")
    return value


def _number(cell: str | None, key: str, where: str) -> int | None:
    """A CSV cell holding a whole number, or nothing."""
    text = (cell or "").strip()
    if not text:
        return None
    if not text.isdecimal() or len(text) > 9:
        raise InputError(f"{where}: {key} must be a whole number, not {text[:20]!r}")
    return int(text)


def _signed_number(cell: str | None, key: str, where: str) -> int | None:
    """A CSV cell holding a whole number that may be negative, or nothing."""
    text = (cell or "").strip()
    digits = text.removeprefix("-")
    if not text:
        return None
    if not digits.isdecimal() or len(digits) > 9:
        raise InputError(f"{where}: {key} must be a whole number, not {text[:20]!r}")
    return int(text)


def _split(cell: str | None) -> list[str]:
    return [part for part in (cell or "").split(_SEPARATOR) if part.strip()]
