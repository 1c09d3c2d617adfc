"""Decoding dump files: encodings, byte-order marks, line ends, and files that are not text."""

import codecs
import random
from pathlib import Path

import pytest

from bot.errors import DumpError
from bot.ingest.decoding import decode_text

SAMPLES = Path(__file__).parents[2] / "examples" / "dumps"


def spaced_bytes() -> bytes:
    """The spaced sample: UTF-8 with non-ASCII characters ("é", "·", "•")."""
    return (SAMPLES / "spaced-1.txt").read_bytes()


def decode(data: bytes) -> tuple[str, tuple[str, ...]]:
    return decode_text(data, source="dump.txt")


def test_utf8_file_is_returned_as_is() -> None:
    data = spaced_bytes()
    assert decode(data) == (data.decode("utf-8"), ())


def test_utf8_byte_order_mark_is_dropped() -> None:
    data = spaced_bytes()
    assert decode(codecs.BOM_UTF8 + data) == (data.decode("utf-8"), ())


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-32"])
def test_wide_encodings_with_a_byte_order_mark(codec: str) -> None:
    text = spaced_bytes().decode("utf-8")
    data = text.encode(codec)
    if codec == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    assert decode(data) == (text, ())


def test_utf16_without_a_byte_order_mark() -> None:
    text = spaced_bytes().decode("utf-8")
    decoded, warnings = decode(text.encode("utf-16-le"))
    assert decoded == text
    assert warnings == ("no byte-order mark: read as UTF-16-LE",)


@pytest.mark.parametrize("line_end", ["\r\n", "\r"])
def test_line_ends_become_newlines(line_end: str) -> None:
    text = spaced_bytes().decode("utf-8")
    decoded, warnings = decode(text.replace("\n", line_end).encode("utf-8"))
    assert decoded == text
    assert warnings == ()


def test_stray_bad_bytes_in_a_utf8_file_are_replaced() -> None:
    data = spaced_bytes()
    offset = data.index(b"Graph Neural Networks (GNNs)")
    broken = data[:offset] + b"\xff" + data[offset:] + b"\xc3"
    text, warnings = decode(broken)
    assert text == data[:offset].decode() + "\ufffd" + data[offset:].decode() + "\ufffd"
    line = data.count(b"\n", 0, offset) + 1
    assert warnings == (
        f"line {line}: not valid UTF-8: 2 bad byte sequence(s) replaced"
        f" (the first at byte {offset})",
    )


def test_genuine_replacement_characters_are_not_counted() -> None:
    data = "caf\ufffd au lait, d\u00e9j\u00e0 vu".encode() + b" \xff\n"
    _, warnings = decode(data)
    assert "1 bad byte sequence(s)" in warnings[0]


def test_legacy_8bit_file_is_read_as_windows_1252() -> None:
    text = spaced_bytes().decode("utf-8")
    data = text.encode("cp1252")
    decoded, warnings = decode(data)
    assert decoded == text
    assert "Fréchet Cumulative Covariance Net" in decoded
    first = next(i for i, byte in enumerate(data) if byte >= 0x80)
    high = sum(byte >= 0x80 for byte in data)
    line = data.count(b"\n", 0, first) + 1
    assert warnings == (
        f"line {line}: not UTF-8, read as Windows-1252"
        f" ({high} non-ASCII byte(s), the first at byte {first})",
    )


@pytest.mark.parametrize(
    "data", [b"", b" ", b"\n\n\r\n\t  \n", codecs.BOM_UTF8, codecs.BOM_UTF16_LE + b"\n\x00"]
)
def test_empty_files_are_refused(data: bytes) -> None:
    with pytest.raises(DumpError, match="empty file") as caught:
        decode(data)
    assert caught.value.source == "dump.txt"
    assert str(caught.value).startswith("dump.txt: empty file")


def test_nul_bytes_mean_binary_data() -> None:
    data = spaced_bytes()
    with pytest.raises(DumpError, match="binary data, not a text dump"):
        decode(data[:500] + b"\x00" + data[500:])


def test_random_bytes_are_binary_data() -> None:
    rng = random.Random(3)
    noise = bytes(rng.randrange(256) for _ in range(10_000))
    with pytest.raises(DumpError, match="binary data"):
        decode(noise)
    # Without NUL bytes the control characters still give it away.
    with pytest.raises(DumpError, match="control characters"):
        decode(noise.replace(b"\x00", b"\x01"))


def test_high_bytes_that_are_not_text_are_binary_data() -> None:
    rng = random.Random(5)
    noise = bytes(rng.choice([*range(0x20, 0x7F), *range(0x80, 0x100)]) for _ in range(10_000))
    assert b"\x00" not in noise
    with pytest.raises(DumpError, match="binary data"):
        decode(noise)


def test_a_few_control_characters_are_tolerated() -> None:
    data = spaced_bytes().replace(b"We present", b"We\x0c present", 1)
    text, warnings = decode(data + b"\x1b")
    assert "We\x0c present" in text
    assert warnings == ()
