"""The command line's shared parts: the Typer app, global options, output, errors.

Errors the project raises on purpose become one line on stderr and exit
status 1 (2 for bad usage); `--verbose` adds the traceback. Command modules
(`bot.cli.ingest`, `bot.cli.subscriptions`) register their commands on `app`.
"""

import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from sqlalchemy.engine import Engine

from bot import __version__
from bot.config import Settings, describe, load_settings
from bot.db import open_engine, schema_state, upgrade_schema
from bot.errors import PaperbotError, StoreError
from bot.service.logs import RedactUrls
from bot.web.links import missing_base_url_warning

app = typer.Typer(
    name="paperbot",
    help="Self-hosted paper-feed subscription and digest bot.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)


@dataclass
class GlobalOptions:
    """The options given before the command."""

    config: Path | None = None
    verbose: bool = False


state = GlobalOptions()


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
    """Run the command line; the console script's entry point."""
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
    logging.basicConfig(
        level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    # httpx logs every request at INFO with its whole URL, and a feed's URL may hold a
    # password or a key: paperbot says itself what became of each feed, and with
    # --verbose the URLs in httpx's lines are redacted.
    http_log = logging.getLogger("httpx")
    http_log.filters[:] = [RedactUrls(settings.ingest.secret_params)]
    if not state.verbose:
        for name in ("httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return settings


def open_store() -> tuple[Settings, Engine]:
    """Load the settings and open the database with its schema up to date.

    With `database.auto_upgrade` (the default) the schema is upgraded here; without
    it, a schema that is behind is one error line pointing at `paperbot db upgrade`.
    """
    settings = load_config()
    engine = open_database(settings)
    if settings.database.auto_upgrade:
        upgrade_schema(engine)
        return settings, engine
    schema = schema_state(engine)
    if schema.behind:
        raise StoreError(
            f"the database schema is at {schema.current or 'nothing (an empty database)'},"
            f" paperbot needs {schema.head}: run `paperbot db upgrade`"
        )
    return settings, engine


def open_database(settings: Settings) -> Engine:
    """Open the database the settings name, schema as it is."""
    database = settings.database
    return open_engine(
        settings.database_url,
        busy_timeout=database.busy_timeout,
        idle_transaction_timeout=database.idle_transaction_timeout,
    )


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
