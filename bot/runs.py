"""The run record: every job run is written down, so "why didn't anything happen?" has an answer.

A run row is written when the job starts and completed when it ends; each in
its own short transaction, so the record survives whatever the job does.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import JSON, Text, cast, type_coerce, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.db import write_session
from bot.models import Run

RUN_KINDS = ("ingest", "delivery")
"""The jobs that record their runs, as `start_run` is given them."""


@dataclass(frozen=True)
class RunView:
    """A recorded run as plain data."""

    id: int
    kind: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]
    details: list[dict[str, str]]


def start_run(engine: Engine, kind: str, *, now: datetime) -> int:
    """Record that a run of `kind` started; return its id."""
    with write_session(engine) as session:
        run = Run(kind=kind, started_at=now)
        session.add(run)
        session.flush()
        assert run.id is not None  # flushed above
        return run.id


def finish_run(
    engine: Engine,
    run_id: int,
    *,
    status: str,
    counts: dict[str, int],
    details: list[dict[str, str]] | str,
    now: datetime,
) -> None:
    """Record how the run ended.

    `details` may come as their JSON text already: a run of 100,000 rows writes
    them from its log (`OutcomeLog.details_json`) without a dict per row.
    """
    stored: object = details
    if isinstance(details, str):
        text = type_coerce(details, Text)
        # SQLite keeps JSON as text; PostgreSQL's json column takes the text cast to it.
        stored = text if engine.dialect.name == "sqlite" else cast(text, JSON)
    with write_session(engine) as session:
        session.execute(
            update(Run)
            .where(col(Run.id) == run_id)
            .values(status=status, counts=counts, details=stored, finished_at=now)
        )


def recent_runs(engine: Engine, *, limit: int, kind: str | None = None) -> list[RunView]:
    """Return the latest runs, newest first."""
    query = select(Run).order_by(col(Run.id).desc()).limit(limit)
    if kind is not None:
        query = query.where(Run.kind == kind)
    with Session(engine) as session:
        return [_view(run) for run in session.exec(query)]


def _view(run: Run) -> RunView:
    assert run.id is not None  # rows read back always have their key
    return RunView(
        run.id,
        run.kind,
        run.status,
        run.started_at,
        run.finished_at,
        dict(run.counts),
        list(run.details),
    )
