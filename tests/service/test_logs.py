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


@pytest.mark.parametrize("formatter", [JsonFormatter(["sid"]), PlainFormatter(["sid"])])
def test_urls_in_lines_are_redacted_whatever_logged_them(formatter: logging.Formatter) -> None:
    url = "http://reader:pw-Secret1@feeds.example/rss?api_key=K3y-Secret2&sid=S1d-Secret3&q=x"
    try:
        raise RuntimeError(
            f"(sqlite3.OperationalError) database is locked [parameters: ('{url}',)]"
        )
    except RuntimeError:
        import sys

        record = _record(error=f"{url}: HTTP 503")
        record.exc_info = sys.exc_info()
    record.msg, record.args = "fetching %s", (url,)

    line = formatter.format(record)

    assert [s for s in ("pw-Secret1", "K3y-Secret2", "S1d-Secret3") if s in line] == []
    assert "http://***@feeds.example/rss?api_key=***&sid=***&q=x" in line
    assert "database is locked" in line
