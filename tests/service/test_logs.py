"""Log lines: one JSON object per line with the extras as keys, or plain text."""

import json
import logging

import pytest

from bot.service.logs import JsonFormatter, PlainFormatter


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord(
        "paperbot.jobs", logging.INFO, __file__, 1, "job %s", ("finished",), None
    )
    record.__dict__.update(extra)
    return record


def test_json_lines_carry_the_extras_as_keys() -> None:
    line = JsonFormatter().format(_record(job="inbox", outcome="ok", seconds=0.25))
    data = json.loads(line)
    assert "\n" not in line
    assert data["message"] == "job finished" and data["level"] == "info"
    assert (data["job"], data["outcome"], data["seconds"]) == ("inbox", "ok", 0.25)
    assert data["logger"] == "paperbot.jobs" and data["time"].endswith("+00:00")


def test_json_lines_hold_tracebacks_on_one_line() -> None:
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        import sys

        record = _record()
        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line and "ValueError: boom" in json.loads(line)["traceback"]


@pytest.mark.parametrize("extra", [{}, {"job": "delivery", "sent": 3}])
def test_plain_lines_show_extras_as_key_value(extra: dict[str, object]) -> None:
    line = PlainFormatter().format(_record(**extra))
    assert "info paperbot.jobs: job finished" in line
    assert all(f"{k}={v}" in line for k, v in extra.items())
