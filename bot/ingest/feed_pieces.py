"""Cutting a large feed between its items into smaller feeds that parse the same.

feedparser holds a whole document's records at once (about 8 KB per item) and
two more copies of its text while it settles the encoding: a 20,000-entry
arXiv API feed of 47 MB costs it over 200 MB. Cut between items into pieces
of about `PIECE_BYTES`, each with the document's own prologue, root and
channel around its items, the same feed parses a piece at a time.

Only a document that is safe to cut is cut: well-formed to expat, in UTF-8 or
ASCII, its items siblings with nothing but white space between them. Anything
else is parsed whole, and so is a feed whose pieces read as different kinds of
feed (arXiv's API declares its namespace inside each entry). Pure: bytes in,
bytes out.
"""

import xml.parsers.expat
from collections.abc import Iterator
from itertools import pairwise

PIECE_BYTES = 1 << 20

_ITEMS = frozenset({"item", "entry"})
_PLAIN_ENCODINGS = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


class _UncuttableError(Exception):
    """The document is not one `feed_pieces` cuts."""


def feed_pieces(data: bytes, *, piece_bytes: int = PIECE_BYTES) -> Iterator[bytes] | None:
    """Return the pieces of `data` (each a whole feed), or None when it is parsed whole.

    A document no larger than `piece_bytes`, or with fewer than two items, is
    not cut. Each piece is the text before the first item, whole items of about
    `piece_bytes` in all (at least one), and the text after the last item.
    """
    if len(data) <= piece_bytes or data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    try:
        spans = _item_spans(data)
    except (_UncuttableError, xml.parsers.expat.ExpatError):
        return None
    if len(spans) < 2:
        return None
    for (_, end), (start, _) in pairwise(spans):
        if data[end:start].strip():
            return None
    return _pieces(data, spans, piece_bytes)


def _pieces(data: bytes, spans: list[tuple[int, int]], piece_bytes: int) -> Iterator[bytes]:
    head, tail = data[: spans[0][0]], data[spans[-1][1] :]
    first = 0
    for number, (_, end) in enumerate(spans):
        last = number == len(spans) - 1
        if last or end - spans[first][0] >= piece_bytes:
            yield head + data[spans[first][0] : end] + tail
            first = number + 1


def _item_spans(data: bytes) -> list[tuple[int, int]]:
    """The byte spans of a feed's items, read by expat; `_UncuttableError` when unsafe to cut."""
    parser = xml.parsers.expat.ParserCreate()
    spans: list[tuple[int, int]] = []
    path: list[str] = []  # local names of the open elements
    item_at = -1  # depth of the open item, or -1
    item_parents: set[tuple[str, ...]] = set()

    def declared(version: str, encoding: str | None, standalone: int) -> None:
        if encoding is not None and encoding.lower() not in _PLAIN_ENCODINGS:
            raise _UncuttableError(f"encoding {encoding}")

    def opened(name: str, attributes: dict[str, str]) -> None:
        nonlocal item_at
        local = name.rpartition(":")[2]
        if (
            item_at < 0
            and local in _ITEMS
            and (len(path) == 1 or (len(path) == 2 and path[1] == "channel"))
        ):
            item_at = len(path)
            item_parents.add(tuple(path))
            spans.append((parser.CurrentByteIndex, -1))
        path.append(local)

    def closed(name: str) -> None:
        nonlocal item_at
        path.pop()
        if len(path) != item_at:
            return
        item_at = -1
        at = parser.CurrentByteIndex
        if not data.startswith(b"</", at):
            raise _UncuttableError("a self-closing item")
        spans[-1] = (spans[-1][0], data.index(b">", at) + 1)

    parser.XmlDeclHandler = declared
    parser.StartElementHandler = opened
    parser.EndElementHandler = closed
    parser.Parse(data, True)
    if len(item_parents) > 1:
        raise _UncuttableError("items under different parents")
    return spans
