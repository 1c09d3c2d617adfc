"""Golden files: output users see, compared with a reviewed copy in `tests/data/`.

A test renders or parses something, masks what differs from run to run, and calls
`assert_golden`; a mismatch fails with a unified diff of the golden file against
the output. After a deliberate change, write the copies again and review their diff
before committing it:

    PAPERBOT_REGENERATE_GOLDEN=1 .venv/bin/pytest -q -k golden tests
    git diff tests/data

With the variable set, every golden test writes its file and then passes. Golden
tests have "golden" in their names, so `-k golden` selects them all.
"""

import difflib
import os
import re
from pathlib import Path

import pytest

REGENERATE_VARIABLE = "PAPERBOT_REGENERATE_GOLDEN"
REGENERATE = os.environ.get(REGENERATE_VARIABLE) == "1"
"""True when the golden files are to be written from the output instead of compared."""

_BOUNDARY = re.compile(r'boundary="([^"]+)"')


def assert_golden(actual: str, path: Path) -> None:
    """Fail with a diff unless `actual` is exactly the text of the golden file `path`.

    The file is read as bytes, so line ends are compared too (an email's CRLF).
    With `PAPERBOT_REGENERATE_GOLDEN=1`, `path` is written with `actual` first.
    """
    if REGENERATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(actual.encode("utf-8"))
    if not path.is_file():
        pytest.fail(
            f"{path.name}: no golden file; write it with {REGENERATE_VARIABLE}=1", pytrace=False
        )
    expected = path.read_bytes().decode("utf-8")
    if actual == expected:
        return
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            f"{path.name} (golden)",
            f"{path.name} (now)",
        )
    )
    pytest.fail(
        f"{path.name} differs from the golden file; if the change is intended, rerun with "
        f"{REGENERATE_VARIABLE}=1 and review the file's diff.\n{diff}",
        pytrace=False,
    )


def mask_email(raw: bytes) -> str:
    """An email's SMTP text with what is new for every message masked.

    The Message-ID and Date headers become `<MESSAGE-ID>` and `DATE`, and each MIME
    boundary (random) becomes `BOUNDARY-1`, `BOUNDARY-2`...; everything else is kept
    byte for byte. Each header must be there once: a message without one fails here.
    """
    text = raw.decode("ascii")  # SMTP text: 7-bit, anything else is a failure itself
    for number, boundary in enumerate(dict.fromkeys(_BOUNDARY.findall(text)), start=1):
        text = text.replace(boundary, f"BOUNDARY-{number}")
    head, separator, body = text.partition("\r\n\r\n")
    for name, placeholder in (("Message-ID", "<MESSAGE-ID>"), ("Date", "DATE")):
        # A header runs on over folded lines: those starting with a space or a tab.
        header = re.compile(
            rf"^{name}:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*", re.IGNORECASE | re.MULTILINE
        )
        head, found = header.subn(f"{name}: {placeholder}", head)
        assert found == 1, f"{found} {name} headers in the message"
    return head + separator + body
