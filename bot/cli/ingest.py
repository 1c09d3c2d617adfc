"""Commands that get papers in and show them: `ingest`, `papers`."""

import json
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.engine import make_url

from bot.cli.app import app, err, fail, jsonable, open_store, out, state
from bot.clock import utc_now
from bot.config import Settings
from bot.digest.render import DigestRenderer
from bot.digest.site import days_touched, write_site_digests
from bot.ingest.pipeline import (
    FeedSource,
    FetchOptions,
    IngestResult,
    expand_paths,
    ingest_feed,
    ingest_file,
    summarise,
)
from bot.papers import list_papers
from bot.runs import finish_run, start_run

T = TypeVar("T")


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
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON array of results.")
    ] = False,
) -> None:
    """Ingest digest dumps and RSS/Atom feeds; files already ingested are skipped."""
    settings, engine = open_store()
    targets = list(paths or [])
    if not (targets or inbox or feeds):
        fail("nothing to ingest: give files, folders or URLs, or --inbox or --feeds", code=2)
    if inbox:
        settings.inbox_dir.mkdir(parents=True, exist_ok=True)
        targets.append(str(settings.inbox_dir))
    urls = [FeedSource(t) for t in targets if t.startswith(("http://", "https://"))]
    if feeds:
        urls += [FeedSource(f.url, f.name) for f in settings.feeds]
    files = list(
        expand_paths(
            (Path(t) for t in targets if not t.startswith(("http://", "https://"))),
            skip=_own_files(settings),
        )
    )
    options = FetchOptions(
        timeout=settings.ingest.feed_timeout, user_agent=settings.ingest.user_agent
    )
    jobs: list[Callable[[], IngestResult]] = [
        *(lambda f=f: ingest_file(engine, f, clock=utc_now, year=year) for f in files),
        *(lambda u=u: ingest_feed(engine, u, clock=utc_now, options=options) for u in urls),
    ]
    started = utc_now()
    run_id = start_run(engine, "ingest", now=started)
    results = _run_with_progress(jobs, show=not as_json)
    status, counts, details = summarise(results)
    finish_run(engine, run_id, status=status, counts=counts, details=details, now=utc_now())
    days = days_touched(engine, started)
    site = (
        write_site_digests(
            engine, DigestRenderer(settings.delivery.templates), settings.digests_dir, days
        )
        if days
        else []
    )
    if as_json:
        out.print_json(json.dumps([_result_json(r) for r in results]))
    else:
        _print_results(results)
        if site:
            print(f"site digest: {len(site)} day(s) written to {site[0].parent}")
    if any(r.failed for r in results):
        raise typer.Exit(1)


@app.command()
def papers(
    search: Annotated[
        str | None,
        typer.Option("--search", "-s", help="Only papers whose title or abstract has TEXT."),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            min=0, help="At most this many rows (default: 50, all with --json); 0 for all."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON array with every stored field.")
    ] = False,
) -> None:
    """List stored papers, newest first."""
    _, engine = open_store()
    rows = list_papers(
        engine, search=search, limit=(None if as_json else 50) if limit is None else limit or None
    )
    if as_json:
        out.print_json(json.dumps([jsonable(asdict(row)) for row in rows]))
        return
    table = Table("id", "title", "date", "authors", "upvotes", "arXiv", "seen", title=None)
    for row in rows:
        table.add_row(
            str(row.id),
            row.title,
            str(row.paper_date or ""),
            row.organization or (str(row.author_count) if row.author_count is not None else ""),
            "" if row.upvotes is None else str(row.upvotes),
            row.arxiv_id or "",
            str(row.sightings),
        )
    out.print(table)
    out.print(f"{len(rows)} paper(s) shown")


def _own_files(settings: Settings) -> list[Path]:
    """The files and folders paperbot writes itself, never to be ingested."""
    own = [settings.outbox_dir, settings.digests_dir]
    database = make_url(settings.database_url).database
    if settings.database_url.startswith("sqlite") and database:
        own += [Path(database + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
    return own


def _run_with_progress(jobs: list[Callable[[], T]], *, show: bool) -> list[T]:
    if not (show and err.is_terminal and len(jobs) > 1):
        return [job() for job in jobs]
    results = []
    with Progress(console=err, transient=True) as progress:
        task = progress.add_task("ingesting", total=len(jobs))
        for job in jobs:
            results.append(job())
            progress.advance(task)
    return results


def _print_results(results: list[IngestResult]) -> None:
    if not results:
        out.print("nothing to ingest: no files found")
        return
    table = Table("kind", "status", "parsed", "new", "updated", "unchanged")
    table.add_column("source", overflow="fold")
    for r in results:
        table.add_row(
            r.kind or "",
            r.status,
            str(r.parsed),
            str(r.new),
            str(r.updated),
            str(r.unchanged),
            r.source,
        )
    out.print(table)
    for r in results:
        for line in _problem_lines(r, every_warning=state.verbose):
            print(line, file=sys.stderr)
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


def _problem_lines(result: IngestResult, *, every_warning: bool) -> list[str]:
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


def _result_json(result: IngestResult) -> dict[str, Any]:
    data = asdict(result)
    data["path"] = data.pop("source")
    data["skipped"] = result.reason if result.status == "skipped" else None
    data["errors"] = [result.error] if result.error else []
    return data
