"""The service's state in the database: its workers' heartbeats and how each job is doing.

Written by `paperbot serve` (one heartbeat row per worker: several may share a
database); read by `paperbot health` and /healthz, which may run in another
process (a container's HEALTHCHECK), so everything goes through the database
rather than memory.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.db import write_session
from bot.locks import machine_name
from bot.models import Feed, Heartbeat, JobLock, JobState

SCHEDULE_LOCK = "schedule"
"""The lock whose holder runs the scheduled jobs for every worker on the database."""

BEAT_EVERY = timedelta(seconds=5)
"""How often the running service renews its heartbeat."""

STALE_AFTER = BEAT_EVERY * 6
"""A heartbeat older than this means the service is not running (or is stuck)."""

FORGET_AFTER = timedelta(days=1)
"""Heartbeats of workers gone this long are dropped."""


@dataclass(frozen=True)
class WorkerView:
    """One `paperbot serve` process, as its heartbeat shows it."""

    holder: str
    started_at: datetime
    beat_at: datetime
    alive: bool


@dataclass(frozen=True)
class JobView:
    """One job's state, as plain data."""

    name: str
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_success_at: datetime | None
    last_outcome: str | None
    last_error: str | None
    next_run_at: datetime | None


@dataclass(frozen=True)
class FailingFeed:
    """A configured feed whose last fetch failed: its name, and when."""

    name: str
    failed_at: datetime | None


@dataclass(frozen=True)
class Health:
    """Whether the service is alive, its workers, and its jobs.

    `alive`, `holder`, `started_at` and `beat_at` describe the newest worker of
    this machine, or of any machine when none ever ran here: a container's
    health check judges its own worker. `leader` runs the scheduled jobs.
    `failing_feeds` are the configured feeds whose last fetch failed.
    """

    alive: bool
    holder: str | None
    started_at: datetime | None
    beat_at: datetime | None
    jobs: tuple[JobView, ...]
    workers: tuple[WorkerView, ...] = ()
    leader: str | None = None
    failing_feeds: tuple[FailingFeed, ...] = ()

    def as_json(self, *, errors: bool = False) -> dict[str, object]:
        """The health as JSON-ready data (times as ISO 8601 strings).

        The jobs' error texts are left out unless `errors` is true: /healthz
        answers anyone, and errors name subscribers' addresses and feed URLs.
        Which feeds failed, and when, is always there, by their names.
        """

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "alive": self.alive,
            "holder": self.holder,
            "started_at": iso(self.started_at),
            "beat_at": iso(self.beat_at),
            "leader": self.leader,
            "workers": [
                {
                    "holder": worker.holder,
                    "started_at": iso(worker.started_at),
                    "beat_at": iso(worker.beat_at),
                    "alive": worker.alive,
                }
                for worker in self.workers
            ],
            "jobs": [
                {
                    "name": job.name,
                    "last_started_at": iso(job.last_started_at),
                    "last_finished_at": iso(job.last_finished_at),
                    "last_success_at": iso(job.last_success_at),
                    "last_outcome": job.last_outcome,
                    **({"last_error": job.last_error} if errors else {}),
                    "next_run_at": iso(job.next_run_at),
                }
                for job in self.jobs
            ],
            "failing_feeds": [
                {"name": feed.name, "failed_at": iso(feed.failed_at)} for feed in self.failing_feeds
            ],
        }


def beat(engine: Engine, *, holder: str, started_at: datetime, now: datetime) -> None:
    """Renew the heartbeat of the worker `holder`; forget workers gone for a day."""
    with write_session(engine) as session:
        row = session.get(Heartbeat, holder) or Heartbeat(name=holder, holder=holder)
        row.started_at, row.beat_at = started_at, now
        session.add(row)
        session.execute(delete(Heartbeat).where(col(Heartbeat.beat_at) < now - FORGET_AFTER))


def stopped(engine: Engine, *, holder: str) -> None:
    """Forget the heartbeat of a worker that stopped cleanly."""
    with write_session(engine) as session:
        session.execute(delete(Heartbeat).where(col(Heartbeat.holder) == holder))


def job_started(engine: Engine, name: str, *, now: datetime) -> None:
    """Record that job `name` started."""
    with write_session(engine) as session:
        row = session.get(JobState, name) or JobState(name=name)
        row.last_started_at, row.last_outcome = now, "running"
        session.add(row)


def job_finished(
    engine: Engine, name: str, *, now: datetime, outcome: str, error: str | None = None
) -> None:
    """Record how job `name` ended: `outcome` "ok" also marks it as the last success."""
    with write_session(engine) as session:
        row = session.get(JobState, name) or JobState(name=name)
        row.last_finished_at, row.last_outcome, row.last_error = now, outcome, error
        if outcome == "ok":
            row.last_success_at = now
        session.add(row)


def set_next_runs(engine: Engine, next_runs: Mapping[str, datetime | None]) -> None:
    """Record each scheduled job's next run time; jobs no longer scheduled are dropped."""
    with write_session(engine) as session:
        for row in session.exec(select(JobState)):
            if row.name not in next_runs:
                session.delete(row)
        for name, when in next_runs.items():
            row = session.get(JobState, name) or JobState(name=name)
            row.next_run_at = when
            session.add(row)


def read_health(
    engine: Engine, *, now: datetime, host: str | None = None, worker: str | None = None
) -> Health:
    """Return whether a worker's heartbeat is fresh at `now`, every worker, and every job's state.

    The worker judged is `worker` when given (a worker answering for itself),
    else the newest of `host` (this machine, `machine_name()`, by default), or of
    any machine when none ever ran on `host`.
    """
    with Session(engine) as session:
        heartbeats = session.exec(select(Heartbeat).order_by(col(Heartbeat.beat_at).desc())).all()
        rows = session.exec(select(JobState).order_by(JobState.name)).all()
        lock = session.get(JobLock, SCHEDULE_LOCK)
        leader = lock.holder if lock is not None and lock.expires_at > now else None
        # Feeds given on the command line have no name: they are no job's business.
        failing = session.exec(
            select(Feed)
            .where(Feed.last_status == "failed", col(Feed.name).is_not(None))
            .order_by(Feed.name)
        ).all()
    failing_feeds = tuple(FailingFeed(f.name, f.last_fetched_at) for f in failing if f.name)
    jobs = tuple(
        JobView(
            r.name,
            r.last_started_at,
            r.last_finished_at,
            r.last_success_at,
            r.last_outcome,
            r.last_error,
            r.next_run_at,
        )
        for r in rows
    )
    workers = tuple(
        WorkerView(h.holder, h.started_at, h.beat_at, now - h.beat_at <= STALE_AFTER)
        for h in heartbeats
    )
    if worker is not None:
        judged = [w for w in workers if w.holder == worker]
    else:
        host = machine_name() if host is None else host
        here = [w for w in workers if w.holder.rpartition(":")[0] == host]
        judged = (here or list(workers))[:1]
    if not judged:
        return Health(False, None, None, None, jobs, workers, leader, failing_feeds)
    (it,) = judged
    return Health(
        it.alive, it.holder, it.started_at, it.beat_at, jobs, workers, leader, failing_feeds
    )
