"""`paperbot digest`: run delivery once (or say what it would send)."""

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from bot.cli.app import app, open_store, out
from bot.clock import utc_now
from bot.delivery.run import deliver


@app.command("digest")
def digest_command(
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Render everything, say what would be sent, change nothing."
        ),
    ] = False,
    only: Annotated[str | None, typer.Option(help="Deliver to this subscriber only.")] = None,
) -> None:
    """Send each due subscriber the matching papers they have not had yet."""
    settings, engine = open_store()
    report = deliver(engine, settings, clock=utc_now, only=only, dry_run=dry_run)
    table = Table("subscriber", "channel", "status", "papers", "why")
    for outcome in report.outcomes:
        table.add_row(
            escape(outcome.email),
            outcome.channel,
            outcome.status,
            str(outcome.papers or ""),
            escape(outcome.reason),
        )
    out.print(table)
    sent = sum(o.status == "sent" for o in report.outcomes)
    failed = sum(o.status == "failed" for o in report.outcomes)
    where = "dry run: nothing sent or recorded" if report.run_id is None else f"run {report.run_id}"
    out.print(
        f"{where}; {sent} delivered, {failed} failed, {len(report.outcomes) - sent - failed} other"
    )
    if failed:
        raise typer.Exit(1)
