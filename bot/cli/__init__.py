"""The command line. Importing the command modules registers their commands on `app`."""

from bot.cli import digest, ingest, match, report, subscriptions  # noqa: F401  (registers the commands)
from bot.cli.app import app, main

__all__ = ["app", "main"]
