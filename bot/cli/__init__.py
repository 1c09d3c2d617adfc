"""The command line. Importing the command modules registers their commands on `app`.

Every `paperbot` run imports every command module, so a command imports what
only it needs (the scheduler, the web app, templates and SMTP, feed parsing and
HTTP) inside its own function: `paperbot health`, run by the container every
30 s, and `paperbot subscribe` do not load them.
"""

from bot.cli import (  # noqa: F401  (registers the commands)
    channels,
    db,
    digest,
    feedback,
    ingest,
    match,
    report,
    serve,
    subscriptions,
)
from bot.cli.app import app, main

__all__ = ["app", "main"]
