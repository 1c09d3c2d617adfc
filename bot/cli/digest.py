"""`paperbot digest`: run delivery once (or say what it would send)."""

import sys
import webbrowser
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress as RichProgress

from bot.cli.app import (
    app,
    as_usage_error,
    err,
    fail,
    open_store,
    out,
    print_rows,
    warn_about_settings,
)
from bot.clock import utc_now
from bot.delivery.outcomes import count_outcomes, summarise
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
        with as_usage_error():  # checked before it is recorded with the run
            only = normalise_email(only)
    settings, engine = open_store(create=not dry_run)
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
    print_rows(
        ("subscriber", "channel", "status", "papers", "why"),
        ((o.email, o.channel, o.status, str(o.papers or ""), o.reason) for o in report.outcomes),
        empty="no subscribers: nothing to do",
    )
    counts = count_outcomes(report.outcomes, dry_run=dry_run)
    where = "dry run: nothing sent or recorded" if report.run_id is None else f"run {report.run_id}"
    out.print(f"{where}; {summarise(counts)}", markup=False, highlight=False)
    if counts.failed:
        raise typer.Exit(1)


@app.command("preview")
def preview_command(
    email: Annotated[str, typer.Argument(help="The subscriber.")],
    format: Annotated[str, typer.Option("--format", help="html, text or md.")] = "html",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not to stdout.")
    ] = None,
    open_it: Annotated[
        bool, typer.Option("--open", help="Open the --output file in a browser.")
    ] = False,
) -> None:
    """Print the digest a subscriber would get now; nothing is sent or recorded."""
    from bot.delivery.run import preview  # templates and SMTP: see bot.cli
    from bot.digest.render import DigestRenderer

    if format not in ("html", "text", "md"):
        fail(f"--format must be html, text or md, not {format!r}", code=2)
    if open_it and output is None:
        fail("--open needs --output FILE: the file to open", code=2)
    with as_usage_error():  # before the database is opened: bad input is said first
        normalise_email(email)
    settings, engine = open_store()
    digest = preview(engine, settings, email, clock=utc_now)
    if digest is None:
        out.print(f"{email.strip()} has no new matching papers: the next digest would be empty")
        return
    renderer = DigestRenderer(settings.delivery.templates)
    render = {"html": renderer.html, "text": renderer.text, "md": renderer.markdown}[format]
    summary = f"{len(digest.entries)} paper(s), {digest.more} more waiting"
    if output is None:
        # stdout holds the digest alone, to be piped or redirected; the summary is beside it.
        sys.stdout.write(render(digest))
        err.print(summary, markup=False, highlight=False)
        return
    output.write_text(render(digest), encoding="utf-8")
    out.print(f"wrote {output}: {summary}", markup=False, highlight=False)
    if open_it:
        webbrowser.open(output.resolve().as_uri())
