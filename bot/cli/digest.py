"""`paperbot digest`: run delivery once (or say what it would send)."""

import json
import sys
import webbrowser
from collections.abc import Sequence
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
    state,
    warn_about_settings,
)
from bot.clock import utc_now
from bot.delivery.outcomes import (
    DeliveryReport,
    Outcome,
    needs_attention,
    summarise,
)
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
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object: the run, its counts, every row.")
    ] = False,
) -> None:
    """Send each due subscriber the matching papers they have not had yet.

    Prints a row per subscriber and channel, then the counts. A run of more than
    20 rows lists only the rows that need a look: failures, and skips other than
    the schedule's (not due, nothing new); `paperbot --verbose digest` or `--json`
    lists every row.
    """
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
    if as_json:
        print(json.dumps(outcomes_json(report), indent=2))
    else:
        print_outcomes(report, every_row=state.verbose)
    if report.counts.failed:
        raise typer.Exit(1)


SHOWN_WHOLE = 20
"""Up to this many rows a run's result lists them all: a small run reads as a whole."""

COLUMNS = ("subscriber", "channel", "status", "papers", "why")


def print_outcomes(report: DeliveryReport, *, every_row: bool) -> None:
    """Print a run's rows and then its counts, in the words `paperbot report` repeats.

    Every row when asked (`every_row`) or when there are at most `SHOWN_WHOLE`;
    otherwise only the rows that need a look (`needs_attention`: failures, and skips
    the schedule did not intend), since a table of thousands of deliveries costs
    seconds to draw and hides the few that failed. A last line
    then says what was left out and where every row is.
    """
    outcomes = report.outcomes
    whole = every_row or len(outcomes) <= SHOWN_WHOLE
    shown = outcomes if whole else tuple(o for o in outcomes if needs_attention(o))
    if shown or whole:
        print_rows(COLUMNS, map(_row, shown), empty="no subscribers: nothing to do")
    where = "dry run: nothing sent or recorded" if report.run_id is None else f"run {report.run_id}"
    out.print(f"{where}; {summarise(report.counts)}", markup=False, highlight=False)
    if not whole:
        out.print(_left_out(report, shown), markup=False, highlight=False, soft_wrap=True)


def _row(outcome: Outcome) -> tuple[str, ...]:
    return (
        outcome.email,
        outcome.channel,
        outcome.status,
        str(outcome.papers or ""),
        outcome.reason,
    )


def _left_out(report: DeliveryReport, shown: Sequence[Outcome]) -> str:
    """The line after a large run's counts: what its table left out, and where to see it."""
    total = len(report.outcomes)
    if report.run_id is None:
        every = "every row: paperbot --verbose digest --dry-run"
    else:
        # Running digest again would make a new run: this one's rows are in its record.
        every = "every row: paperbot report --json --kind delivery --limit 1"
    if not shown:
        return f"none of the {total} rows needs a look; {every}"
    return (
        f"listed: the {len(shown)} of {total} rows that need a look (failed, or skipped"
        f" other than by the schedule); {every}"
    )


def outcomes_json(report: DeliveryReport) -> dict[str, object]:
    """A run as `digest --json` prints it: its id, its counts as recorded, every row.

    The rows hold the table's fields; their reasons are already free of secrets
    (a server's reply to a login is never kept).
    """
    return {
        "run": report.run_id,
        "dry_run": report.counts.dry_run,
        "counts": report.counts.as_record(),
        "outcomes": [
            {
                "subscriber": o.email,
                "channel": o.channel,
                "status": o.status,
                "papers": o.papers,
                "why": o.reason,
            }
            for o in report.outcomes
        ],
    }


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
