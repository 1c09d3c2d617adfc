"""Log lines: one JSON object per line with the extras as keys, or plain text; URLs redacted."""

import asyncio
import json
import logging
import sys
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from bot.service import logs
from bot.service.logs import ConsoleFormatter, JsonFormatter, PlainFormatter, RedactUrls
from tests.conftest import serving

SLACK_PATH = "/services/T0AB12CD3/B0EF45GH6/aB3dE6gH9jK2mN5pQ8rS1tV4"
SLACK_SECRET = "aB3dE6gH9jK2mN5pQ8rS1tV4"
DISCORD_PATH = "/api/webhooks/123456789012345678/Tok3n-Secret"


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


@pytest.mark.parametrize(
    "formatter", [JsonFormatter(), PlainFormatter(), ConsoleFormatter()], ids=type
)
def test_webhook_path_secrets_are_masked_in_messages_extras_and_tracebacks(
    formatter: logging.Formatter,
) -> None:
    slack = f"https://hooks.slack.com{SLACK_PATH}"
    discord = f"https://discord.com{DISCORD_PATH}"
    try:
        raise RuntimeError(f"Client error '404 Not Found' for {discord}: HTTP 404")
    except RuntimeError:
        record = _record(channel=slack)
        record.exc_info = sys.exc_info()
    record.msg, record.args = 'HTTP Request: POST %s "HTTP/1.1 %s"', (slack, "404 Not Found")

    line = formatter.format(record)

    assert [s for s in (SLACK_SECRET, "T0AB12CD3", "Tok3n-Secret") if s in line] == []
    assert "POST https://hooks.slack.com/services/***/***/*** " in line
    assert "for https://discord.com/api/webhooks/***/***: HTTP 404" in line


@pytest.mark.parametrize("formatter", [JsonFormatter(), PlainFormatter(), ConsoleFormatter()])
def test_paper_links_in_lines_are_shown_whole(formatter: logging.Formatter) -> None:
    record = _record()
    record.msg = "new: https://arxiv.org/abs/2401.01234 https://huggingface.co/papers/2401.01234"
    record.args = None

    line = formatter.format(record)

    assert "https://arxiv.org/abs/2401.01234 https://huggingface.co/papers/2401.01234" in line


def test_the_filter_redacts_the_message_itself_for_any_handler() -> None:
    record = logging.LogRecord(
        "httpx", logging.INFO, __file__, 1, "HTTP Request: %s %s", ("POST", DISCORD_PATH), None
    )

    assert RedactUrls().filter(record)
    assert record.getMessage() == "HTTP Request: POST /api/webhooks/***/***"


# --- A real request, logged by httpx and httpcore ---------------------------------------


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Puts back the root logger's handlers and level, and httpx's and httpcore's settings."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    libraries = [logging.getLogger(name) for name in ("httpx", "httpcore")]
    saved = [(lib.level, lib.filters[:]) for lib in libraries]
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    for lib, (lib_level, filters) in zip(libraries, saved, strict=True):
        lib.setLevel(lib_level)
        lib.filters[:] = filters


def _verbose_console() -> None:
    logs.configure_console(level=logging.DEBUG, verbose=True)


def _service_json() -> None:
    logs.configure(fmt="json", level="debug")


def _service_plain() -> None:
    logs.configure(fmt="plain", level="debug")


@pytest.mark.parametrize("setup", [_verbose_console, _service_json, _service_plain])
def test_a_request_to_a_webhook_is_logged_without_its_secret(
    setup: Callable[[], None], restored_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    received: list[str] = []

    class Webhook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.path)
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200 if self.path == SLACK_PATH else 404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    async def post(base: str) -> None:
        async with httpx.AsyncClient(base_url=base) as client:
            (await client.post(SLACK_PATH, json={"text": "digest"})).raise_for_status()
            try:
                (await client.post(DISCORD_PATH, json={"content": "digest"})).raise_for_status()
            except httpx.HTTPStatusError:
                logging.getLogger("paperbot.channels").exception("the webhook refused")
            await client.get("/abs/2401.01234")

    with serving(Webhook) as base:
        setup()
        asyncio.run(post(base))
    logged = capsys.readouterr().err

    # The secrets did reach the server, and were logged nowhere.
    assert received == [SLACK_PATH, DISCORD_PATH]
    assert [s for s in (SLACK_SECRET, "Tok3n-Secret", "123456789012345678") if s in logged] == []
    host = base.removeprefix("http://")
    assert f"POST http://{host}/services/T0AB12CD3/B0EF45GH6/*** " in logged
    assert f"POST http://{host}/api/webhooks/***/*** " in logged
    assert f"http://{host}/abs/2401.01234" in logged
    assert "the webhook refused" in logged and "HTTPStatusError" in logged
    assert "httpcore.http11" in logged  # the DEBUG lines of httpcore are shown too
