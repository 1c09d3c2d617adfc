"""Bulk subscription files, CSV and TOML, read and written (pure: text in, text out).

CSV: a header row, then one row per topic, with the columns
`email,name,keywords,exclusions,cadence,format,timezone`. Keywords and
exclusions are separated by `;` inside their cell. Only `email` and `keywords`
are required, so files written before a column existed still read.

TOML: one `[[subscription]]` table per topic with the same keys; `keywords`
and `exclusions` are arrays of strings.

Reading validates every row with `make_spec` and names the row of the first
bad one, so a file is imported whole or not at all.

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
from collections.abc import Iterable, Mapping
from typing import Any

from bot.errors import InputError
from bot.subscriptions.spec import DEFAULT_TOPIC, SubscriptionSpec, check_text, make_spec

COLUMNS = ("email", "name", "keywords", "exclusions", "cadence", "format", "timezone")
_SEPARATOR = ";"
# What starts a formula in Excel, LibreOffice and Google Sheets (OWASP's list).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_QUOTE = "'"


def read_csv(text: str) -> list[SubscriptionSpec]:
    """Parse a CSV subscriptions file; raise `InputError` naming the first bad row."""
    text = text.removeprefix("\ufeff")
    nul = text.find("\x00")
    if nul >= 0:
        # Python's csv module before 3.13 stops at a NUL with an error naming no row:
        # name it here, with the one message for control characters.
        line = text.count("\n", 0, nul) + 1
        check_text("\x00", f"row {line}: a cell")
    reader = csv.DictReader(io.StringIO(text))
    try:
        return _read_rows(reader)
    except csv.Error as exc:
        # A cell over csv.field_size_limit() (131,072 characters), far beyond the
        # longest valid one (100 keywords of 200 characters), is one such error. The
        # DictReader's own line_num is the last good row's: the inner reader's counts
        # the line that failed.
        raise InputError(f"row {reader.reader.line_num}: not valid CSV: {exc}") from None


def _read_rows(reader: "csv.DictReader[str]") -> list[SubscriptionSpec]:
    missing = {"email", "keywords"} - set(reader.fieldnames or ())
    if missing:
        raise InputError(f"CSV header lacks the column(s) {', '.join(sorted(missing))}")
    unknown = set(reader.fieldnames or ()) - set(COLUMNS)
    if unknown:
        raise InputError(f"CSV header has unknown column(s) {', '.join(sorted(unknown))}")
    specs = []
    for cells in reader:
        where = f"row {reader.line_num}"
        row = {key: unquote_cell(value) for key, value in cells.items() if isinstance(value, str)}
        specs.append(
            _spec(
                where,
                {
                    **row,
                    "keywords": _split(row.get("keywords")),
                    "exclusions": _split(row.get("exclusions")),
                },
            )
        )
    return specs


def read_toml(text: str) -> list[SubscriptionSpec]:
    """Parse a TOML subscriptions file; raise `InputError` naming the first bad table."""
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
        extra = set(table) - set(COLUMNS)
        if extra:
            raise InputError(f"{where}: unknown key(s) {', '.join(sorted(extra))}")
        specs.append(_spec(where, table))
    return specs


def write_csv(specs: Iterable[SubscriptionSpec]) -> str:
    """Render subscriptions as CSV, in the format `read_csv` reads."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for spec in specs:
        cells = [
            spec.email,
            spec.name,
            _SEPARATOR.join(spec.keywords),
            _SEPARATOR.join(spec.exclusions),
            spec.cadence or "",
            spec.format or "",
            spec.timezone or "",
        ]
        writer.writerow([quote_cell(cell) for cell in cells])
    return buffer.getvalue()


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
        if spec.format:
            lines.append(f"format = {json.dumps(spec.format)}")
        if spec.timezone:
            lines.append(f"timezone = {json.dumps(spec.timezone)}")
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks)


def _spec(where: str, row: Mapping[str, Any]) -> SubscriptionSpec:
    try:
        return make_spec(
            _text(row, "email", where) or "",
            _texts(row, "keywords", where),
            _texts(row, "exclusions", where),
            name=_text(row, "name", where) or DEFAULT_TOPIC,
            cadence=_text(row, "cadence", where) or None,
            format=_text(row, "format", where) or None,
            timezone=_text(row, "timezone", where) or None,
        )
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None


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


def _split(cell: str | None) -> list[str]:
    return [part for part in (cell or "").split(_SEPARATOR) if part.strip()]
