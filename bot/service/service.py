"""`paperbot serve`: the scheduler, the web app, the heartbeat and the inbox watch, in one loop.

    start ─> scheduler (jobs kept in the database) started paused ─> if this
      worker leads: jobs brought in line with the settings ─> resumed: a run
      missed while down happens once ─> web app (/healthz) ─> heartbeat every
      few seconds (leadership renewed or taken over; delivery rounds others
      started joined) ─> inbox watched
    SIGTERM/SIGINT ─> no new job runs ─> the running ones finish or stop early
      (a delivery finishes the messages on their way) ─> exit 0

Several workers may share one database (PostgreSQL): one of them, the holder of
the "schedule" lock, runs the scheduled jobs, so each runs once; when it stops
or dies, another takes the lock over within `STALE_AFTER`. Every worker joins
the delivery rounds the leader (or `paperbot digest`) starts, so they share the
sending, and each scans its own inbox folder when files appear.

Jobs run in worker threads: the loop stays free for the web app and the heartbeat.
"""

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import uvicorn
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot import locks
from bot.clock import Clock, utc_now
from bot.config import Settings
from bot.db import write_session
from bot.delivery import claims
from bot.errors import JobLockedError, ServiceError
from bot.service import jobs
from bot.service.state import (
    BEAT_EVERY,
    SCHEDULE_LOCK,
    STALE_AFTER,
    beat,
    set_next_runs,
    stopped,
)
from bot.subscriptions.store import subscriber_time_zones
from bot.web.app import create_app
from bot.web.serving import proxy_options

log = logging.getLogger("paperbot.serve")

WATCH_EVERY = 1.0
"""Seconds between looks at the inbox folder for new or changed files."""

RECONCILE_EVERY = 60.0
"""Seconds between checks that the jobs match the settings and the subscribers' time zones."""

JOIN_WITHIN = timedelta(days=1)
"""Open delivery rounds started this recently are joined; older ones belong to an earlier day."""

_RUN_JOB = f"{jobs.__name__}:{jobs.run_job.__name__}"  # how the job store names the function


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the service owns SIGTERM and SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Leave signals alone."""
        yield


def desired_triggers(settings: Settings, zones: Iterable[str] = ()) -> dict[str, BaseTrigger]:
    """The jobs the settings ask for, by name, with their triggers.

    Delivery runs at `schedule.send_at` in the configured zone and, as
    `delivery@<zone>`, at the same time of day in each other zone in `zones`
    (the zones subscribers chose), so everyone's digest leaves at their own hour.
    """
    schedule = settings.schedule
    zone = ZoneInfo(schedule.timezone)
    triggers: dict[str, BaseTrigger] = {
        jobs.INBOX: IntervalTrigger(seconds=schedule.inbox_every, timezone=zone),
        jobs.DELIVERY: _daily_at(settings, zone),
    }
    for other in sorted(set(zones) - {schedule.timezone}):
        triggers[f"{jobs.DELIVERY}@{other}"] = _daily_at(settings, ZoneInfo(other))
    if settings.feeds:
        triggers[jobs.FEEDS] = IntervalTrigger(seconds=schedule.feeds_every, timezone=zone)
    return triggers


def _daily_at(settings: Settings, zone: ZoneInfo) -> CronTrigger:
    send_at = settings.schedule.send_at
    return CronTrigger(
        hour=send_at.hour, minute=send_at.minute, second=send_at.second, timezone=zone
    )


def same_trigger(a: BaseTrigger, b: BaseTrigger) -> bool:
    """True when `a` and `b` fire at the same times (an interval's start is not compared)."""
    if isinstance(a, IntervalTrigger) and isinstance(b, IntervalTrigger):
        return bool(a.interval == b.interval)
    if isinstance(a, CronTrigger) and isinstance(b, CronTrigger):
        return str(a) == str(b) and str(a.timezone) == str(b.timezone)
    return False


def inbox_snapshot(folder: Path) -> frozenset[tuple[str, int, int]]:
    """Every file under `folder` with its size and modification time; empty if it is missing."""

    def walk(path: Path) -> Iterator[tuple[str, int, int]]:
        with contextlib.suppress(OSError), os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    yield from walk(Path(entry.path))
                elif entry.is_file():
                    info = entry.stat()
                    yield entry.path, info.st_size, info.st_mtime_ns

    return frozenset(walk(folder))


class Service:
    """The long-running service for one database and one set of settings."""

    def __init__(self, engine: Engine, settings: Settings, *, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.holder = locks.holder_name()
        self.leading = False
        self.started_at = clock()
        self.joined: set[int] = set()
        self.background: set[asyncio.Task[None]] = set()
        self.context = jobs.JobContext(engine, settings, clock)
        self.store = SQLAlchemyJobStore(engine=engine)
        self.scheduler = AsyncIOScheduler(
            jobstores={"default": self.store},
            job_defaults={
                "coalesce": True,  # after downtime, one run, not one per missed slot
                "max_instances": 1,
                "misfire_grace_time": int(settings.schedule.grace),
            },
            timezone=ZoneInfo(settings.schedule.timezone),
        )

    def run(self) -> None:
        """Serve until SIGTERM or SIGINT; return once stopped (within `schedule.stop_timeout`)."""
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._request_stop, stopping, sig)
        web, listening = self._web_server()
        jobs.use_context(self.context)
        started = self.started_at = self.clock()
        with write_session(self.engine) as session:
            # The scheduler creates its table when missing, unguarded: workers starting
            # together on a new database would race, and all but one fail. Created
            # here, under the writers' lock, the scheduler then finds it.
            self.store.jobs_t.create(session.connection(), checkfirst=True)
        self.scheduler.start(paused=True)
        self._lead()
        tasks = [
            asyncio.create_task(web.serve(sockets=[listening])),
            asyncio.create_task(self._heartbeat(started)),
            asyncio.create_task(self._watch_inbox()),
        ]
        log.info(
            "started",
            extra={
                "holder": self.holder,
                "leading": self.leading,
                "listen": f"{web.config.host}:{web.config.port}",
            },
        )
        await stopping.wait()
        await self._stop(web, tasks)

    def _request_stop(self, stopping: asyncio.Event, sig: signal.Signals) -> None:
        if not stopping.is_set():
            log.info("stopping", extra={"signal": sig.name, "running_jobs": self.context.running})
        self.context.stop.set()
        stopping.set()

    async def _stop(self, web: _Server, tasks: list[asyncio.Task[None]]) -> None:
        self.scheduler.shutdown(wait=False)  # no new job runs
        web.should_exit = True
        deadline = time.monotonic() + self.settings.schedule.stop_timeout
        while self.context.running and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for task in tasks[1:]:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        jobs.use_context(None)
        with contextlib.suppress(Exception):
            stopped(self.engine, holder=self.holder)
        with contextlib.suppress(Exception):
            # Another worker takes the schedule over at its next heartbeat.
            locks.release(self.engine, SCHEDULE_LOCK, holder=self.holder)
        if self.context.running:
            # A job did not finish in time. Only what a server confirmed is in the
            # ledger, so leaving now loses nothing; waiting longer breaks the promise
            # of a bounded stop.
            log.warning("stopped with a job still running", extra={"jobs": self.context.running})
            logging.shutdown()
            os._exit(0)
        log.info("stopped")

    def _lead(self) -> None:
        """Take or keep the schedule lock; run the scheduler while it is held, and only then.

        Waiting workers try again at every heartbeat: one takes over once the
        leader's lease runs out, or at once when the leader was a process of this
        machine that is gone.
        """
        now = self.clock()
        try:
            locks.acquire(
                self.engine, SCHEDULE_LOCK, holder=self.holder, now=now, lease=STALE_AFTER
            )
        except JobLockedError:
            if self.leading:
                self.scheduler.pause()
                self.leading = False
                log.warning("no longer leading the schedule: another worker took it over")
            return
        if not self.leading:
            self._reconcile()
            self.scheduler.resume()
            self.leading = True
            log.info("leading the schedule", extra={"holder": self.holder})

    def _join_rounds(self) -> None:
        """Take part in the delivery rounds other workers started and have not finished."""
        since = self.clock() - JOIN_WITHIN
        for delivery_round in claims.open_rounds(self.engine, since=since):
            if delivery_round.id in self.joined or self._started_here(delivery_round):
                continue
            self.joined.add(delivery_round.id)
            self._in_background(jobs.join_round, delivery_round)

    def _started_here(self, delivery_round: claims.Round) -> bool:
        """Whether this process started the round (its own delivery job is working on it).

        A round left open by an earlier process of the same name (a restarted
        container's worker has its old name again) started before this one and
        is joined.
        """
        process = delivery_round.started_by.partition("/")[0]
        started_at = delivery_round.started_at
        return process == self.holder and started_at is not None and started_at >= self.started_at

    def _in_background(self, job: Callable[..., None], *args: object) -> None:
        """Run `job` in a worker thread without waiting for it (kept until it ends)."""
        task = asyncio.create_task(asyncio.to_thread(job, *args))
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    def _reconcile(self) -> None:
        """Bring the stored jobs in line with the settings, keeping their next run times.

        A job whose trigger is unchanged keeps its stored next run time, so a run
        missed while the service was down is still due (and runs once, if within
        `schedule.grace`). Re-adding it would schedule it afresh and lose that run.
        """
        with Session(self.engine) as session:
            zones = subscriber_time_zones(session)
        wanted = desired_triggers(self.settings, zones)
        for job in self.scheduler.get_jobs():
            if job.id not in wanted:
                job.remove()
        for name, trigger in wanted.items():
            job = self.scheduler.get_job(name)
            if job is None:
                self.scheduler.add_job(_RUN_JOB, trigger, args=[name], id=name, name=name)
            elif not same_trigger(job.trigger, trigger):
                self.scheduler.reschedule_job(name, trigger=trigger)

    def _next_runs(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self.scheduler.get_jobs()}

    def _web_server(self) -> tuple[_Server, socket.socket]:
        web = self.settings.web
        try:
            # Bound here, not by uvicorn, so a port in use is one clear error.
            listening = socket.create_server((web.host, web.port), reuse_port=False)
        except OSError as exc:
            raise ServiceError(
                f"cannot listen on {web.host}:{web.port} (web.host, web.port): "
                f"{exc.strerror or exc}"
            ) from exc
        config = uvicorn.Config(
            create_app(self.engine, self.settings, clock=self.clock, worker=self.holder),
            host=web.host,
            port=web.port,
            log_config=None,  # our handlers, our format
            lifespan="off",
            **proxy_options(web),
        )
        return _Server(config), listening

    async def _heartbeat(self, started: datetime) -> None:
        reconciled = time.monotonic()
        while True:
            try:
                await asyncio.to_thread(
                    beat, self.engine, holder=self.holder, started_at=started, now=self.clock()
                )
                self._lead()
                if self.leading:
                    if time.monotonic() - reconciled >= RECONCILE_EVERY:
                        # Subscribers may have chosen new time zones meanwhile.
                        self._reconcile()
                        reconciled = time.monotonic()
                    await asyncio.to_thread(set_next_runs, self.engine, self._next_runs())
                if not self.context.stop.is_set():
                    self._join_rounds()
            except Exception:  # the database is busy or gone: say so, try again
                log.exception("heartbeat failed")
            await asyncio.sleep(BEAT_EVERY.total_seconds())

    async def _watch_inbox(self) -> None:
        """Run the inbox job soon after files appear or change (once they stop changing)."""
        folder = self.settings.inbox_dir
        handled: frozenset[tuple[str, int, int]] = frozenset()
        previous: frozenset[tuple[str, int, int]] | None = None
        while True:
            current = await asyncio.to_thread(inbox_snapshot, folder)
            # Unchanged since the last look: a file still being written is left alone.
            if current == previous and current != handled and current - handled:
                # Run here, not through the scheduler: every worker scans its own inbox.
                self._in_background(jobs.run_job, jobs.INBOX)
                handled = current
            elif current == previous:
                handled = current  # files removed only: nothing to scan
            previous = current
            await asyncio.sleep(WATCH_EVERY)
