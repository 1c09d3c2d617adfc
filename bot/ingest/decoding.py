"""Turning the bytes of a dump file into text, saying what had to be repaired.

Dumps are written by other tools: they may carry a byte-order mark, Windows or
old Mac line ends, a few bytes that are not UTF-8, or be in a legacy 8-bit
encoding altogether. Files that are not text at all are refused.
"""

import codecs
import re

from bot.errors import DumpError

# One well-formed multi-byte UTF-8 sequence (no overlongs, no surrogates).
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]"
    rb"|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x20), 0x7F])
# Every byte but the control ones: deleting them leaves only the controls.
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL_BYTES)
_HIGH_BYTES = bytes(range(0x80, 0x100))
_CONTROL_CHARS = re.compile("[\x00-\x08\x0e-\x1f\x7f]")
_NON_SPACE = re.compile(r"\S")
# Text has next to no control characters; binary data has one byte in ten or so.
_MAX_CONTROL_SHARE = 0.02
# UTF-16 text without a mark: at least this share of its characters is ASCII.
_MIN_UTF16_ZEROS = 0.5
# A damaged UTF-8 file has a few bad bytes, not one in twenty.
_MAX_BAD_SHARE = 0.05
# Legacy 8-bit text is mostly ASCII; random bytes are half high bytes.
_MAX_LEGACY_HIGH_SHARE = 0.3
_BOMS = (
    # UTF-32 before UTF-16: the UTF-32-LE mark begins with the UTF-16-LE one.
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)


def decode_text(data: bytes, *, source: str) -> tuple[str, tuple[str, ...]]:
    """Decode a dump file's bytes into text with `\\n` line ends; return `(text, warnings)`.

    A UTF-8 byte-order mark is dropped; a UTF-16 or UTF-32 one selects that
    encoding. Bytes that are not UTF-8 are replaced when the file is otherwise
    UTF-8, or the whole file is read as Windows-1252 when none of its non-ASCII
    bytes form UTF-8; either way a warning says so. Raises `DumpError` for an
    empty or whitespace-only file and for binary data.
    """
    if not data:
        raise DumpError(source, "empty file (0 bytes)")
    warnings: list[str] = []
    if data.startswith(codecs.BOM_UTF8):
        text = _decode_8bit(data[len(codecs.BOM_UTF8) :], source, warnings)
    else:
        wide = _decode_wide(data, source, warnings)
        text = _decode_8bit(data, source, warnings) if wide is None else wide
    if not _NON_SPACE.search(text):
        raise DumpError(source, "empty file (only whitespace)")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, tuple(warnings)


def decode_lines(data: bytes, *, source: str) -> tuple[list[str], tuple[str, ...]]:
    """Decode a dump file's bytes into its lines (without line ends); return `(lines, warnings)`.

    The same rules as `decode_text`. A clean UTF-8 file is split before it is
    decoded: as one string, a large file holding a single character beyond
    Latin-1 (a bullet, say) would take two or four bytes per character, while
    its lines, mostly ASCII, take one.
    """
    body = data.removeprefix(codecs.BOM_UTF8)
    if b"\x00" not in body and b"\r" not in body and not _too_many_control_bytes(body):
        try:
            lines = [line.decode("utf-8") for line in body.split(b"\n")]
        except UnicodeDecodeError:
            pass  # repaired, with warnings, by the whole-file path below
        else:
            if any(map(_NON_SPACE.search, lines)):
                return lines, ()
    text, warnings = decode_text(data, source=source)
    return text.split("\n"), warnings


def _decode_wide(data: bytes, source: str, warnings: list[str]) -> str | None:
    """Decode UTF-16 or UTF-32 text (marked, or UTF-16 told by its NUL bytes); None if not."""
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            return _checked_wide(data[len(bom) :], codec, name, source, warnings)
    if b"\x00" not in data or len(data) % 2:
        return None
    # Mostly-ASCII UTF-16 has a NUL as every other byte, and (nearly) only there.
    half = len(data) // 2
    for codec, zeros, others in (
        ("utf-16-le", data[1::2].count(0), data[0::2].count(0)),
        ("utf-16-be", data[0::2].count(0), data[1::2].count(0)),
    ):
        if zeros > _MIN_UTF16_ZEROS * half and others * 20 < zeros:
            warnings.append(f"no byte-order mark: read as {codec.upper()}")
            return _checked_wide(data, codec, "UTF-16", source, warnings)
    return None


def _checked_wide(data: bytes, codec: str, name: str, source: str, warnings: list[str]) -> str:
    text = data.decode(codec, errors="replace")
    if "\x00" in text or _too_many_controls(len(_CONTROL_CHARS.findall(text)), len(text)):
        raise DumpError(source, f"binary data, not a text dump (not even as {name})")
    bad = text.count("\ufffd")
    if bad:
        line = text.count("\n", 0, text.index("\ufffd")) + 1
        warnings.append(f"line {line}: not valid {name}: {bad} bad sequence(s) replaced")
    return text


def _decode_8bit(data: bytes, source: str, warnings: list[str]) -> str:
    """Decode bytes that are not UTF-16/32: UTF-8, or legacy 8-bit text."""
    if b"\x00" in data:
        raise DumpError(source, "binary data, not a text dump (it contains NUL bytes)")
    if _too_many_control_bytes(data):
        raise DumpError(source, "binary data, not a text dump (too many control characters)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    where = f"line {_line_at(data, first_bad)}"
    if _UTF8_MULTIBYTE.search(data):
        text = data.decode("utf-8", errors="replace")
        # A file may hold real U+FFFD characters; only count the new ones.
        bad = text.count("\ufffd") - data.count("\ufffd".encode())
        if bad > _MAX_BAD_SHARE * len(data):
            raise DumpError(source, "binary data, not a text dump (mostly not UTF-8)")
        warnings.append(
            f"{where}: not valid UTF-8: {bad} bad byte sequence(s) replaced"
            f" (the first at byte {first_bad})"
        )
        return text
    high = len(data) - len(data.translate(None, _HIGH_BYTES))
    if high > _MAX_LEGACY_HIGH_SHARE * len(data):
        raise DumpError(source, "binary data, not a text dump (neither UTF-8 nor 8-bit text)")
    warnings.append(
        f"{where}: not UTF-8, read as Windows-1252"
        f" ({high} non-ASCII byte(s), the first at byte {first_bad})"
    )
    return data.decode("cp1252", errors="replace")


def _line_at(data: bytes, offset: int) -> int:
    """Return the 1-based line number of byte `offset`, whatever the line ends."""
    return (data.count(b"\n", 0, offset) or data.count(b"\r", 0, offset)) + 1


def _too_many_control_bytes(data: bytes) -> bool:
    return _too_many_controls(len(data.translate(None, _NOT_CONTROL)), len(data))


def _too_many_controls(count: int, size: int) -> bool:
    return count > max(2, _MAX_CONTROL_SHARE * size)
