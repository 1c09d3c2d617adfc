"""The command line's shared parts: the Typer app, global options, output, errors.

Errors the project raises on purpose become one line on stderr and exit
status 1; a bad value on the command line is a usage error, exit status 2
(`as_usage_error`). `--verbose` adds the traceback. Command modules
(`bot.cli.ingest`, `bot.cli.subscriptions`) register their commands on `app`.
"""

import json
import logging
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy.engine import Engine

from bot import __version__
from bot.bulk import settle_collector
from bot.config import ENV_PREFIX, Settings, describe, load_settings
from bot.db import open_engine, schema_state, sqlite_file, upgrade_schema
from bot.errors import InputError, NoDatabaseError, PaperbotError, StoreError
from bot.redaction import redact_url
from bot.service.logs import configure_console
from bot.web.links import missing_base_url_warning

app = typer.Typer(
    name="paperbot",
    help="Self-hosted paper-feed subscription and digest bot.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Click's plain help and usage errors rather than rich panels: the panels show a
    # value such as <bool> after plain flags (--json), as if they took one, and draw
    # boxes into pipes and logs; a usage error is one "Error: ..." line.
    rich_markup_mode=None,
)
out = Console()
err = Console(stderr=True)


@dataclass
class GlobalOptions:
    """The options given before the command."""

    config: Path | None = None
    verbose: bool = False


state = GlobalOptions()

DATABASE_URL_ENV = f"{ENV_PREFIX}DATABASE_URL"
"""The environment variable naming the database, as error messages suggest it."""


def _version(value: bool) -> None:
    if value:
        out.print(f"paperbot {__version__}")
        raise typer.Exit()


@app.callback()
def _global_options(
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="Settings file (else $PAPERBOT_CONFIG, ./paperbot.toml)."
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Debug logs and tracebacks.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    if config is not None and not config.is_file():
        fail(f"--config {config}: no such file", code=2)
    state.config = config
    state.verbose = verbose


@app.command("config")
def show_config() -> None:
    """Show the effective settings (secrets masked) and where they came from."""
    settings = load_config()
    warn_about_settings(settings)
    out.print(f"# from {settings.source or 'embedded defaults'}")
    out.print_json(json.dumps(jsonable(describe(settings))))


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line: `bot.__main__.run`, the console script, imports it and calls this."""
    settle_collector()
    try:
        app(args=list(argv) if argv is not None else None, standalone_mode=True)
    except PaperbotError as exc:
        if state.verbose:
            err.print_exception()
        err.print(f"paperbot: error: {exc}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(1)


def load_config() -> Settings:
    """Load the settings named on the command line and set up logging."""
    settings = load_settings(state.config)
    level = logging.DEBUG if state.verbose else getattr(logging, settings.log.level.upper())
    # httpx logs every request at INFO with its whole URL, and a feed's or a webhook's
    # URL may hold a password, a key or a token: paperbot says itself what became of
    # each feed and digest, and with --verbose the URLs in httpx's lines are redacted.
    configure_console(
        level=level, verbose=state.verbose, secret_params=settings.ingest.secret_params
    )
    return settings


def open_store(*, create: bool = False) -> tuple[Settings, Engine]:
    """Load the settings and open the database with its schema up to date.

    `create` is for the commands that store what they are given (ingest,
    subscribe, digest, serve): they make the database when there is none yet.
    The others only read it, and refuse with `NoDatabaseError` rather than
    leave a new empty database behind: run from the wrong folder, they would
    otherwise answer "nothing here" about a database nobody meant.

    With `database.auto_upgrade` (the default) the schema is upgraded here; without
    it, a schema that is behind is one error line pointing at `paperbot db upgrade`.
    """
    settings = load_config()
    engine = open_database(settings) if create else open_existing_database(settings)
    schema = schema_state(engine)
    if schema.current is None and not create:
        engine.dispose()
        shown = _database_shown(settings)
        raise NoDatabaseError(
            shown,
            f"the database {shown} holds no paperbot tables ({_settings_shown(settings)}):"
            f" point at yours with --config FILE or {DATABASE_URL_ENV}, or create them with"
            " `paperbot db upgrade`",
        )
    if not schema.behind:
        return settings, engine
    if settings.database.auto_upgrade:
        upgrade_schema(engine)
        return settings, engine
    raise StoreError(
        f"the database schema is at {schema.current or 'nothing (an empty database)'},"
        f" paperbot needs {schema.head}: run `paperbot db upgrade`"
    )


def open_existing_database(settings: Settings) -> Engine:
    """Open the database the settings name, schema as it is; never create a SQLite file.

    A SQLite file that does not exist is `NoDatabaseError`, naming the file and
    how to point at another; nothing is created, not even its folder.
    """
    path = sqlite_file(settings.database_url)
    if path is not None and not path.exists():
        raise NoDatabaseError(
            str(path),
            f"no database at {path} ({_settings_shown(settings)}): point at yours with"
            f" --config FILE or {DATABASE_URL_ENV}",
        )
    return open_database(settings)


def open_database(settings: Settings) -> Engine:
    """Open the database the settings name, schema as it is (a new SQLite file is created)."""
    database = settings.database
    return open_engine(
        settings.database_url,
        busy_timeout=database.busy_timeout,
        idle_transaction_timeout=database.idle_transaction_timeout,
    )


def _database_shown(settings: Settings) -> str:
    path = sqlite_file(settings.database_url)
    return str(path) if path is not None else redact_url(settings.database_url)


def _settings_shown(settings: Settings) -> str:
    return f"settings from {settings.source}" if settings.source else "no settings file found"


Cell = str | Text
"""A table cell: plain text, or rich `Text` (styled on a terminal, its plain text elsewhere)."""


def print_rows(
    columns: Sequence[str],
    rows: Iterable[Sequence[Cell]],
    *,
    empty: str,
    show_lines: bool = False,
) -> None:
    """Print rows under `columns`: a table on a terminal, one line per row elsewhere.

    Written to a pipe or a log (cron, make, a container), a table would be cut
    to 80 columns: long paths folded over several lines, reasons cut with "…".
    There each row is one line instead, its fields separated by tabs, after a
    line naming the columns; a field's own line breaks become "; ". With no
    rows, `empty` (such as "no papers match") is printed instead of a table.
    """
    listed: list[list[Cell]] = [list(row) for row in rows]
    if not listed:
        out.print(empty, markup=False, highlight=False, soft_wrap=True)
        return
    if not out.is_terminal:
        header: list[Cell] = list(columns)
        for fields in [header, *listed]:
            print("\t".join(_one_line(field) for field in fields))
        return
    table = Table(show_lines=show_lines)
    for column in columns:
        table.add_column(column, overflow="fold")  # wrapped when narrow, never cut
    for row in listed:
        table.add_row(*(cell if isinstance(cell, Text) else Text(cell) for cell in row))
    out.print(table)


def _one_line(cell: Cell) -> str:
    text = cell.plain if isinstance(cell, Text) else cell
    return "; ".join(line.strip() for line in text.splitlines() if line.strip()).replace("\t", " ")


def jsonable(value: Any) -> Any:
    """Return `value` with dates and paths turned into strings, for JSON output."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


@contextmanager
def as_usage_error() -> Iterator[None]:
    """Check values given on the command line inside: an `InputError` there exits 2.

    A bad value typed on the command line (an email address, a keyword, a
    cadence) is a usage error, as a bad number is to Click: status 2. The
    same error found in a file or the database stays a failure, status 1.
    Commands check their values this way before they open the database.
    """
    try:
        yield
    except InputError as exc:
        fail(str(exc), code=2)


def warn_about_settings(settings: Settings) -> None:
    """Print one warning line on stderr when a missing setting costs the mail its links."""
    warning = missing_base_url_warning(settings)
    if warning is not None:
        err.print(f"paperbot: warning: {warning}", markup=False, highlight=False, soft_wrap=True)


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Print one error line and leave with `code`."""
    # soft_wrap: one line whatever the width, also when stderr is not a terminal.
    err.print(f"paperbot: error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(code)
