"""`paperbot digest`: run delivery once (or say what it would send)."""

import webbrowser
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import Progress as RichProgress
from rich.table import Table

from bot.cli.app import app, err, fail, open_store, out, warn_about_settings
from bot.clock import utc_now
from bot.subscriptions.spec import normalise_email


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
    from bot.delivery.run import deliver  # templates and SMTP: see bot.cli

    if only is not None:
        only = normalise_email(only)  # checked before it is recorded with the run
    settings, engine = open_store()
    warn_about_settings(settings)
    if err.is_terminal and not dry_run:
        with RichProgress(console=err, transient=True) as bar:
            task = bar.add_task("delivering", total=None)
            report = deliver(
                engine, settings, clock=utc_now, only=only,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )  # fmt: skip
    else:
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


@app.command("preview")
def preview_command(
    email: Annotated[str, typer.Argument(help="The subscriber.")],
    format: Annotated[str, typer.Option("--format", help="html, text or md.")] = "html",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write here.")] = None,
    open_it: Annotated[bool, typer.Option("--open", help="Open the file in a browser.")] = False,
) -> None:
    """Write the digest a subscriber would get now to a file; nothing is sent or recorded."""
    from bot.delivery.run import preview  # templates and SMTP: see bot.cli
    from bot.delivery.transports import safe_name
    from bot.digest.render import DigestRenderer

    suffixes = {"html": ".html", "text": ".txt", "md": ".md"}
    if format not in suffixes:
        fail(f"--format must be html, text or md, not {format!r}", code=2)
    settings, engine = open_store()
    digest = preview(engine, settings, email, clock=utc_now)
    if digest is None:
        out.print(f"{email.strip()} has no new matching papers: the next digest would be empty")
        return
    renderer = DigestRenderer(settings.delivery.templates)
    render = {"html": renderer.html, "text": renderer.text, "md": renderer.markdown}[format]
    path = output or Path(f"preview-{safe_name(digest.email)}{suffixes[format]}")
    path.write_text(render(digest), encoding="utf-8")
    out.print(f"wrote {path}: {len(digest.entries)} paper(s), {digest.more} more waiting")
    if open_it:
        webbrowser.open(path.resolve().as_uri())
