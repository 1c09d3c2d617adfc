"""The command line. Importing the command modules registers their commands on `app`."""

from bot.cli import (  # noqa: F401  (registers the commands)
    db,
    digest,
    ingest,
    match,
    report,
    serve,
    subscriptions,
)
from bot.cli.app import app, main

__all__ = ["app", "main"]
