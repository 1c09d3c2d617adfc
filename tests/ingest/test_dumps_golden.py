"""What each bundled dump parses to, every field of every paper, compared with golden JSON."""

import dataclasses
import json
from datetime import date
from pathlib import Path

import pytest

from bot.ingest.dumps import read_dump
from bot.ingest.parsed import ParsedSource
from tests.conftest import DATA, SAMPLES
from tests.golden import assert_golden
from tests.ingest.test_dumps import TAKEN


def _iso(value: object) -> str:
    """Dates as JSON: ISO 8601 (the only type in a parse that JSON lacks)."""
    assert isinstance(value, date), f"{type(value).__name__} in a parsed dump"
    return value.isoformat()


def as_json(parsed: ParsedSource) -> str:
    """The whole parse as indented JSON, fields in their declared order, one file's worth."""
    fields = dataclasses.asdict(parsed)
    return json.dumps(fields, default=_iso, ensure_ascii=False, indent=2) + "\n"


@pytest.mark.parametrize("dump", sorted(SAMPLES.iterdir()), ids=lambda path: path.name)
def test_golden_json(dump: Path) -> None:
    """The dump read as ingest reads it, against `tests/data/dumps/<name>.json`.

    Every field of every parsed paper, the warnings and the counts: a change to the
    parser shows as a diff of the papers it changed. After a deliberate change, write
    the files again with `PAPERBOT_REGENERATE_GOLDEN=1 .venv/bin/pytest -k golden tests`
    and review their diff.
    """
    parsed = read_dump(dump.read_bytes(), source=dump.name, taken=TAKEN)
    assert_golden(as_json(parsed), DATA / "dumps" / f"{dump.stem}.json")
