"""The service's state in the database: its heartbeat and how each job is doing.

Written by `paperbot serve`; read by `paperbot health` and /healthz, which may run
in another process (a container's HEALTHCHECK), so everything goes through the
database rather than memory.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.db import write_session
from bot.models import Heartbeat, JobState

SERVICE = "serve"
"""The heartbeat row of `paperbot serve`."""

BEAT_EVERY = timedelta(seconds=5)
"""How often the running service renews its heartbeat."""

STALE_AFTER = BEAT_EVERY * 6
"""A heartbeat older than this means the service is not running (or is stuck)."""


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
class Health:
    """Whether the service is alive, and its jobs."""

    alive: bool
    holder: str | None
    started_at: datetime | None
    beat_at: datetime | None
    jobs: tuple[JobView, ...]

    def as_json(self) -> dict[str, object]:
        """The health as JSON-ready data (times as ISO 8601 strings)."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "alive": self.alive,
            "holder": self.holder,
            "started_at": iso(self.started_at),
            "beat_at": iso(self.beat_at),
            "jobs": [
                {
                    "name": job.name,
                    "last_started_at": iso(job.last_started_at),
                    "last_finished_at": iso(job.last_finished_at),
                    "last_success_at": iso(job.last_success_at),
                    "last_outcome": job.last_outcome,
                    "last_error": job.last_error,
                    "next_run_at": iso(job.next_run_at),
                }
                for job in self.jobs
            ],
        }


def beat(engine: Engine, *, holder: str, started_at: datetime, now: datetime) -> None:
    """Renew the service's heartbeat."""
    with write_session(engine) as session:
        row = session.get(Heartbeat, SERVICE)
        if row is None:
            row = Heartbeat(name=SERVICE, holder=holder, started_at=started_at, beat_at=now)
        row.holder, row.started_at, row.beat_at = holder, started_at, now
        session.add(row)


def stopped(engine: Engine, *, holder: str) -> None:
    """Forget the heartbeat of a service that stopped cleanly (if it is still this one's)."""
    with write_session(engine) as session:
        row = session.get(Heartbeat, SERVICE)
        if row is not None and row.holder == holder:
            session.delete(row)


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


def read_health(engine: Engine, *, now: datetime) -> Health:
    """Return whether the service's heartbeat is fresh at `now`, and every job's state."""
    with Session(engine) as session:
        heartbeat = session.get(Heartbeat, SERVICE)
        rows = session.exec(select(JobState).order_by(JobState.name)).all()
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
    if heartbeat is None:
        return Health(False, None, None, None, jobs)
    alive = now - heartbeat.beat_at <= STALE_AFTER
    return Health(alive, heartbeat.holder, heartbeat.started_at, heartbeat.beat_at, jobs)
