"""The service's jobs: scan the inbox, poll the feeds, deliver the digests.

The scheduler stores its jobs in the database by reference (`run_job` and the
job's name), so a job survives restarts; the running service registers the
engine, settings and clock the jobs work with through `use_context`. Each run is
recorded (`JobState`) and logged as one line with its outcome; a failing job is
logged and reported and never stops the service: the next run tries again.
"""

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from bot.clock import Clock
from bot.config import Settings
from bot.delivery.claims import Round
from bot.delivery.run import deliver
from bot.ingest.run import IngestReport, ingest_sources
from bot.redaction import redact_text
from bot.service.state import job_finished, job_started

log = logging.getLogger("paperbot.jobs")

INBOX, FEEDS, DELIVERY = "inbox", "feeds", "delivery"


@dataclass
class JobContext:
    """What jobs work with, and the service's stop request."""

    engine: Engine
    settings: Settings
    clock: Clock
    stop: threading.Event = field(default_factory=threading.Event)
    _running: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def running(self) -> int:
        """How many job runs are under way."""
        with self._lock:
            return len(self._running)

    def _enter(self, name: str) -> bool:
        """Mark `name` as running; False when it already is (in this process)."""
        with self._lock:
            if name in self._running:
                return False
            self._running.add(name)
            return True

    def _leave(self, name: str) -> None:
        with self._lock:
            self._running.discard(name)


_context: JobContext | None = None


def use_context(context: JobContext | None) -> None:
    """Make `context` the one jobs run with (None when the service stops)."""
    global _context
    _context = context


@dataclass(frozen=True)
class Outcome:
    """How one job run ended: "ok", "partial" (some part failed) or "failed"."""

    outcome: str
    summary: dict[str, object]
    error: str | None = None


def run_job(name: str) -> None:
    """Run the job called `name` once: record it, log one line, never raise.

    Does nothing when the same job is already running in this process (a scan
    the inbox watch asked for while the scheduled one runs, say).
    """
    # "delivery@Asia/Tokyo" is the delivery job timed for subscribers in that zone.
    work = _JOBS[name.partition("@")[0]]
    _run(name, work, record=True)


def join_round(delivery_round: Round) -> None:
    """Take part in a delivery round another worker started: log one line, never raise."""
    _run(
        f"{DELIVERY}#{delivery_round.id}",
        lambda context: deliver_digests(context, join=delivery_round),
        record=False,
    )


def _run(name: str, work: Callable[[JobContext], Outcome], *, record: bool) -> None:
    context = _context
    if context is None or context.stop.is_set():
        return  # the service is stopping: take no new work
    if not context._enter(name):
        return
    started = time.monotonic()
    try:
        if record:
            job_started(context.engine, name, now=context.clock())
        try:
            result = work(context)
        except Exception as exc:  # a job's failure is reported, not fatal
            log.exception("job failed", extra={"job": name, "outcome": "failed"})
            # An unexpected error (a database's, say) may quote a feed URL among its
            # parameters: what is recorded for `paperbot health` is masked like the log.
            error = redact_text(
                str(exc) or type(exc).__name__,
                secret_params=context.settings.ingest.secret_params,
            )
            result = Outcome("failed", {}, error)
        if record:
            job_finished(
                context.engine, name, now=context.clock(), outcome=result.outcome,
                error=result.error,
            )  # fmt: skip
        level = logging.INFO if result.outcome in ("ok", "skipped") else logging.WARNING
        extra = {"job": name, "outcome": result.outcome, **result.summary}
        extra["seconds"] = round(time.monotonic() - started, 3)
        if result.error:
            extra["error"] = result.error
        log.log(level, "job finished", extra=extra)
    except Exception:  # recording itself failed (database gone): log, keep serving
        log.exception("job could not be recorded", extra={"job": name})
    finally:
        context._leave(name)


def _ingest_outcome(report: IngestReport) -> Outcome:
    results = report.results
    failed = [r for r in results if r.failed]
    summary: dict[str, object] = {
        "run": report.run_id,
        "sources": len(results),
        "new": sum(r.new for r in results),
        "updated": sum(r.updated for r in results),
        "failed": len(failed),
    }
    if not failed:
        return Outcome("ok", summary)
    error = f"{failed[0].source}: {failed[0].error}"
    if len(failed) > 1:
        error += f" (and {len(failed) - 1} more)"
    return Outcome("partial" if len(failed) < len(results) else "failed", summary, error)


def scan_inbox(context: JobContext) -> Outcome:
    """Ingest every new file in the inbox folder."""
    return _ingest(context, inbox=True)


def poll_feeds(context: JobContext) -> Outcome:
    """Fetch every configured feed (conditional GET: unchanged feeds cost one request)."""
    return _ingest(context, feeds=True)


def _ingest(context: JobContext, *, inbox: bool = False, feeds: bool = False) -> Outcome:
    report = ingest_sources(
        context.engine, context.settings, clock=context.clock,
        inbox=inbox, feeds=feeds, stop=context.stop,
    )  # fmt: skip
    return _ingest_outcome(report)


def deliver_digests(context: JobContext, *, join: Round | None = None) -> Outcome:
    """Deliver the digests of every subscriber due now, in a new round or in `join`."""
    report = deliver(
        context.engine, context.settings, clock=context.clock,
        sleep=context.stop.wait,  # backoff pauses end at once when the service stops
        stop=context.stop, join=join,
    )  # fmt: skip
    counts = report.counts
    summary: dict[str, object] = {
        "run": report.run_id,
        "round": report.round_id,
        **counts.as_record(),
    }
    if not counts.failed:
        return Outcome("ok", summary)
    failed = [o for o in report.outcomes if o.status == "failed"]
    error = f"{failed[0].email}: {failed[0].reason}"
    if len(failed) > 1:
        error += f" (and {len(failed) - 1} more)"
    return Outcome(counts.status, summary, error)


_JOBS: dict[str, Callable[[JobContext], Outcome]] = {
    INBOX: scan_inbox,
    FEEDS: poll_feeds,
    DELIVERY: deliver_digests,
}
