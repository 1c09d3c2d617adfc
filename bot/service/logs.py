"""Logging for the service: one JSON object per line, or plain text, on stderr.

Fields given with `extra=` (`job`, `outcome`, `seconds`...) become keys of the
JSON line, so a log shipper can filter on them; plain lines show them as
`key=value` after the message. Every URL in a line is redacted (`bot.redaction`),
whatever logged it: a database error quoting a feed's URL among its parameters too,
httpx's line for each request to a webhook whose address holds its secret.
The other commands log `LEVEL logger: message` lines, redacted the same way
(`configure_console`).
"""

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bot.redaction import redact_text

# Attributes every LogRecord has; anything else on a record came from `extra=`
# (apart from uvicorn's coloured copy of its message).
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",
}


def _extra(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


CONSOLE_FORMAT = "%(levelname)s %(name)s: %(message)s"
"""The lines the commands other than `serve` and `web` log."""


class _RedactingFormatter(logging.Formatter):
    """A formatter whose lines have their URLs redacted (`bot.redaction`)."""

    def __init__(self, secret_params: Iterable[str] = (), fmt: str | None = None) -> None:
        """Redact URLs, masking the values of `secret_params` too (`bot.redaction`).

        `fmt` is a `logging` format string, for the formatters that use one.
        """
        super().__init__(fmt)
        self.secret_params = tuple(secret_params)

    def redact(self, text: str) -> str:
        """`text` with every URL in it redacted."""
        return redact_text(text, secret_params=self.secret_params)


class ConsoleFormatter(_RedactingFormatter):
    """Formats a record with a `logging` format string (`CONSOLE_FORMAT`), then redacts it."""

    def __init__(self, secret_params: Iterable[str] = (), fmt: str = CONSOLE_FORMAT) -> None:
        """Format records with `fmt`, masking the values of `secret_params` too."""
        super().__init__(secret_params, fmt)

    def format(self, record: logging.LogRecord) -> str:
        """Return the record's line, and its traceback if any, with every URL redacted."""
        return self.redact(super().format(record))


class JsonFormatter(_RedactingFormatter):
    """Formats a record as one JSON object: time, level, logger, message and the extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of JSON."""
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_extra(record),
        }
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        # Each text on its own, before JSON escapes join a URL to what follows it.
        for key, value in data.items():
            if isinstance(value, str):
                data[key] = self.redact(value)
        return json.dumps(data, default=str, ensure_ascii=False)


class PlainFormatter(_RedactingFormatter):
    """Formats a record as `time level logger: message key=value...`."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one line of text (plus a traceback, if any)."""
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%d %H:%M:%S")
        extras = " ".join(f"{k}={v}" for k, v in _extra(record).items())
        line = f"{when} {record.levelname.lower()} {record.name}: {record.getMessage()}"
        line = f"{line} {extras}" if extras else line
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return self.redact(line)


class RedactUrls(logging.Filter):
    """Redacts every URL in a record's message (`bot.redaction`): for libraries that log URLs."""

    def __init__(self, secret_params: Iterable[str] = ()) -> None:
        """Mask the values of `secret_params` too, besides the secret-looking ones."""
        super().__init__()
        self.secret_params = tuple(secret_params)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with its URLs redacted; never drop the record."""
        record.msg = redact_text(record.getMessage(), secret_params=self.secret_params)
        record.args = None
        return True


def configure_console(*, level: int, verbose: bool, secret_params: Iterable[str] = ()) -> None:
    """Send every log record at `level` or above to stderr as redacted `CONSOLE_FORMAT` lines.

    httpx and httpcore log every request at INFO or DEBUG, with its whole URL: their
    lines are shown only when `verbose`. URLs in the lines are redacted, with the
    values of `secret_params` masked too.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(ConsoleFormatter(secret_params))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # A handler added by someone else formats httpx's request lines its own way: the
    # filter redacts the message itself, before any handler sees it.
    logging.getLogger("httpx").filters[:] = [RedactUrls(secret_params)]
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)


def configure(*, fmt: str, level: str, secret_params: Iterable[str] = ()) -> None:
    """Send every log record to stderr as JSON lines (`fmt` "json") or plain text.

    URLs in the lines are redacted, with the values of `secret_params` masked too.
    """
    handler = logging.StreamHandler(sys.stderr)
    formatter = JsonFormatter if fmt == "json" else PlainFormatter
    handler.setFormatter(formatter(secret_params))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The scheduler logs every job start and end at INFO; the service logs one line per
    # job run itself, with its outcome.
    logging.getLogger("apscheduler").setLevel(max(root.level, logging.WARNING))
    logging.getLogger("uvicorn.access").setLevel(max(root.level, logging.WARNING))
