"""Commands that get papers in and show them: `ingest`, `papers`."""

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import Progress

from bot.cli.app import (
    app,
    as_usage_error,
    err,
    fail,
    jsonable,
    open_store,
    out,
    print_rows,
    state,
)
from bot.clock import utc_now
from bot.papers import PAPER_SORTS, check_search, list_papers

if TYPE_CHECKING:
    from bot.ingest.pipeline import IngestResult
    from bot.ingest.run import Progress as IngestProgress


@app.command()
def ingest(
    paths: Annotated[
        list[str] | None,
        typer.Argument(help="Dump or feed files, folders of them, or http(s) feed URLs."),
    ] = None,
    inbox: Annotated[
        bool, typer.Option("--inbox", help="Every new file in the inbox folder.")
    ] = False,
    feeds: Annotated[
        bool, typer.Option("--feeds", help="Every feed listed in the settings.")
    ] = False,
    year: Annotated[
        int | None,
        typer.Option(min=1990, max=2100, help="The dumps' year (default: from each file's date)."),
    ] = None,
    hf_daily: Annotated[
        str | None,
        typer.Option(
            "--hf-daily",
            metavar="<since[..until]>",
            help="Hugging Face's daily papers lists of these days (YYYY-MM-DD; until defaults"
            " to today, UTC), one request at a time with ingest.hf_daily_pause between days.",
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON array of results.")
    ] = False,
) -> None:
    """Ingest dumps, feeds and Hugging Face daily papers; files already ingested are skipped."""
    from bot.ingest.hf_daily import days_between
    from bot.ingest.run import ingest_sources  # parsers and HTTP: see bot.cli

    if not (paths or inbox or feeds or hf_daily):
        fail(
            "nothing to ingest: give files, folders or URLs, or --inbox, --feeds or --hf-daily",
            code=2,
        )
    hf_days = []
    if hf_daily is not None:
        with as_usage_error():
            hf_days = days_between(hf_daily, today=utc_now().date())
    settings, engine = open_store(create=True)
    with _progress_bar(show=not as_json) as progress:
        report = ingest_sources(
            engine, settings, clock=utc_now, targets=paths or (), inbox=inbox, feeds=feeds,
            year=year, hf_days=hf_days, progress=progress,
        )  # fmt: skip
    results, site = list(report.results), report.site_digests
    if as_json:
        out.print_json(json.dumps([_result_json(r) for r in results]))
    else:
        _print_results(results)
        if site:
            print(f"site digest: {len(site)} day(s) written to {site[0].parent}")
    if report.failed:
        raise typer.Exit(1)


@app.command()
def papers(
    search: Annotated[
        str | None,
        typer.Option(
            "--search",
            "-s",
            metavar="TEXT",
            help="Only papers that TEXT matches, as a keyword: the rules of subscriptions"
            " and `paperbot match --keyword` (case, hyphens, plurals, typos, whole words).",
        ),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            min=0, help="At most this many rows (default: 50, all with --json); 0 for all."
        ),
    ] = None,
    sort: Annotated[
        str,
        typer.Option(
            metavar="<order>",
            help="date: the papers' own dates, newest first (the default); ingested: the"
            " papers paperbot got last first; upvotes: the most upvoted first.",
        ),
    ] = "date",
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON array with every stored field.")
    ] = False,
) -> None:
    """List stored papers, newest first (--sort for another order)."""
    if sort not in PAPER_SORTS:
        fail(f"--sort must be {', '.join(PAPER_SORTS)}, not {sort!r}", code=2)
    if search is not None:
        with as_usage_error():  # before the database is opened: bad input is said first
            check_search(search)
    _, engine = open_store()
    shown = (None if as_json else 50) if limit is None else limit or None
    rows = list_papers(engine, search=search, limit=shown, sort=sort)
    if as_json:
        out.print_json(json.dumps([jsonable(asdict(row)) for row in rows]))
        return
    print_rows(
        ("id", "title", "date", "authors", "upvotes", "arXiv", "seen"),
        (
            (
                str(row.id),
                row.title,
                str(row.paper_date or ""),
                row.organization or ("" if row.author_count is None else str(row.author_count)),
                "" if row.upvotes is None else str(row.upvotes),
                row.arxiv_id or "",
                str(row.sightings),
            )
            for row in rows
        ),
        empty="no papers stored yet" if search is None else f"no papers match {search!r}",
    )
    if rows:
        out.print(f"{len(rows)} paper(s) shown")


@contextmanager
def _progress_bar(*, show: bool) -> "Iterator[IngestProgress | None]":
    """A progress bar on a terminal, for runs of several sources; nothing otherwise."""
    if not (show and err.is_terminal):
        yield None
        return
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("ingesting", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def _print_results(results: "list[IngestResult]") -> None:
    print_rows(
        ("kind", "status", "parsed", "new", "updated", "unchanged", "source", "why"),
        (
            (
                r.kind or "",
                r.status,
                str(r.parsed),
                str(r.new),
                str(r.updated),
                str(r.unchanged),
                r.source,
                r.error or r.reason or "",
            )
            for r in results
        ),
        empty="nothing to ingest: no files found",
    )
    if not results:
        return
    for r in results:
        for line in _problem_lines(r, every_warning=state.verbose):
            print(line, file=sys.stderr)
        if r.year_from_file is not None:
            print(
                f"{r.source}: year {r.year_from_file} from the file's date; use --year to state it"
            )
    new = sum(r.new for r in results)
    updated = sum(r.updated for r in results)
    counts = {
        s: sum(r.status == s for r in results) for s in ("ok", "partial", "skipped", "failed")
    }
    print(
        f"{len(results)} source(s): {counts['ok']} ingested, {counts['partial']} with papers dropped, "
        f"{counts['skipped']} skipped, {counts['failed']} failed; "
        f"{new} new paper(s), {updated} updated."
    )


def _problem_lines(result: "IngestResult", *, every_warning: bool) -> list[str]:
    """One line for a source that failed, lost papers or was repaired; every warning if asked."""
    if result.error:
        return [f"{result.source}: {result.error}"]
    if not result.warnings:
        return []
    if every_warning:
        return [f"{result.source}: warning: {warning}" for warning in result.warnings]
    more = len(result.warnings) - 1
    rest = f" (and {more} more warning(s): see --verbose or --json)" if more else ""
    if result.dropped:
        return [
            f"{result.source}: kept {result.parsed} paper(s), dropped {result.dropped}: "
            f"{result.warnings[0]}{rest}"
        ]
    return [f"{result.source}: warning: {result.warnings[0]}{rest}"]


def _result_json(result: "IngestResult") -> dict[str, Any]:
    data = asdict(result)
    data["path"] = data.pop("source")
    data["skipped"] = result.reason if result.status == "skipped" else None
    data["errors"] = [result.error] if result.error else []
    return data
