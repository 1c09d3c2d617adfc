"""One ingest run: files, folders, the inbox and feeds, recorded as one run.

    sources ─> each file or feed ingested on its own (a failure is that source's result)
      ─> run record completed ─> site-wide Markdown digests of the days touched

Used by `paperbot ingest` and by the service's inbox and feed jobs.
"""

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import httpx
from sqlalchemy.engine import Engine, make_url

from bot.clock import Clock
from bot.config import Settings
from bot.digest.render import DigestRenderer
from bot.digest.site import days_touched, write_site_digests
from bot.ingest.fetch import MAX_REDIRECTS
from bot.ingest.hf_daily import daily_url
from bot.ingest.pipeline import (
    FeedSource,
    FetchOptions,
    IngestResult,
    expand_paths,
    ingest_feed,
    ingest_file,
    summarise,
)
from bot.runs import finish_run, start_run

Progress = Callable[[int, int], None]
"""Hears (sources done, sources found) as a run goes."""


@dataclass(frozen=True)
class IngestReport:
    """What one ingest run did: its record, one result per source, the site digests written."""

    run_id: int
    results: tuple[IngestResult, ...]
    site_digests: tuple[Path, ...]

    @property
    def failed(self) -> bool:
        """True when any source failed."""
        return any(r.failed for r in self.results)


def is_url(target: str) -> bool:
    """True for an http(s) feed address, False for a file or folder."""
    return target.startswith(("http://", "https://"))


def ingest_sources(
    engine: Engine,
    settings: Settings,
    *,
    clock: Clock,
    targets: Iterable[str] = (),
    inbox: bool = False,
    feeds: bool = False,
    year: int | None = None,
    hf_days: Sequence[date] = (),
    progress: Progress | None = None,
    stop: threading.Event | None = None,
) -> IngestReport:
    """Ingest `targets` (files, folders, feed URLs), and the inbox and configured feeds if asked.

    With `feeds` and `ingest.hf_daily`, today's (UTC) Hugging Face daily list
    is fetched too. `hf_days` back-fills those days' lists, one request at a
    time with `ingest.hf_daily_pause` seconds between them; each day's URL
    keeps its validators, so a day unchanged since its last fetch is a 304.
    Files paperbot writes itself (outbox, digests, the database) are never
    ingested. Once `stop` is set, no further source is started; each source is
    stored in its own transaction, so what was done stays done.
    """
    targets = list(targets)
    if inbox:
        settings.inbox_dir.mkdir(parents=True, exist_ok=True)
        targets.append(str(settings.inbox_dir))
    urls = [FeedSource(t) for t in targets if is_url(t)]
    if feeds:
        urls += [FeedSource(f.url, f.name, f.kind) for f in settings.feeds]
    days = list(hf_days)
    if feeds and settings.ingest.hf_daily and clock().date() not in days:
        days.append(clock().date())
    hub = [FeedSource(daily_url(settings.ingest.hf_daily_url, d), kind="hf-daily") for d in days]
    files = list(
        expand_paths((Path(t) for t in targets if not is_url(t)), skip=own_files(settings))
    )
    options = FetchOptions(
        timeout=settings.ingest.feed_timeout,
        deadline=settings.feed_deadline,
        user_agent=settings.ingest.user_agent,
        secret_params=settings.ingest.secret_params,
    )
    # Each job with the pause before it: the API is asked politely, one day at a time,
    # over one kept-alive connection.
    pause = settings.ingest.hf_daily_pause
    api_client = httpx.Client(max_redirects=MAX_REDIRECTS) if hub else None
    api_options = replace(options, client=api_client)
    jobs: list[tuple[Callable[[], IngestResult], float]] = [
        *((lambda f=f: ingest_file(engine, f, clock=clock, year=year), 0.0) for f in files),
        *((lambda u=u: ingest_feed(engine, u, clock=clock, options=options), 0.0) for u in urls),
        *(
            (
                lambda u=u: ingest_feed(engine, u, clock=clock, options=api_options),
                pause if n else 0.0,
            )
            for n, u in enumerate(hub)
        ),
    ]
    started = clock()
    run_id = start_run(engine, "ingest", now=started)
    results: list[IngestResult] = []
    try:
        for job, wait in jobs:
            if wait:
                _pause(wait, stop)
            if stop is not None and stop.is_set():
                break
            results.append(job())
            if progress is not None:
                progress(len(results), len(jobs))
    finally:
        if api_client is not None:
            api_client.close()
    status, counts, details = summarise(results)
    finish_run(engine, run_id, status=status, counts=counts, details=details, now=clock())
    touched = days_touched(engine, started)
    site: list[Path] = []
    if touched:
        renderer = DigestRenderer(settings.delivery.templates)
        site = write_site_digests(engine, renderer, settings.digests_dir, touched)
    return IngestReport(run_id, tuple(results), tuple(site))


def _pause(seconds: float, stop: threading.Event | None) -> None:
    """Wait `seconds`, or less if `stop` is set meanwhile."""
    if stop is not None:
        stop.wait(seconds)
    else:
        time.sleep(seconds)


def own_files(settings: Settings) -> list[Path]:
    """The files and folders paperbot writes itself, never to be ingested."""
    own = [settings.outbox_dir, settings.digests_dir]
    database = make_url(settings.database_url).database
    if settings.database_url.startswith("sqlite") and database:
        own += [Path(database + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
    return own
