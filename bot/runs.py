"""The run record: every job run is written down, so "why didn't anything happen?" has an answer.

A run row is written when the job starts and completed when it ends; each in
its own short transaction, so the record survives whatever the job does. Its
details, one entry per source or recipient, are rows of their own (`RunRow`),
written and read a page at a time.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import islice

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.db import bulk_insert, write_session
from bot.models import Run, RunRow

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


DETAILS_PAGE = 1_000
"""Details written in one statement: a run of 100,000 recipients holds a page at a time."""


def finish_run(
    engine: Engine,
    run_id: int,
    *,
    status: str,
    counts: dict[str, int],
    details: Iterable[Mapping[str, str]],
    now: datetime,
) -> None:
    """Record how the run ended, and its details in the order given, in one transaction.

    `details` is read a page at a time: a delivery run gives them as a generator
    over its log, so that none of its rows is held longer than its page.
    """
    table = RunRow.__table__  # type: ignore[attr-defined]
    numbered = enumerate(details)
    with write_session(engine) as session:
        while page := list(islice(numbered, DETAILS_PAGE)):
            rows = [{"run_id": run_id, "number": n, "detail": dict(d)} for n, d in page]
            bulk_insert(session, table, rows)
        session.execute(
            update(Run)
            .where(col(Run.id) == run_id)
            .values(status=status, counts=counts, finished_at=now)
        )


def recent_runs(engine: Engine, *, limit: int, kind: str | None = None) -> list[RunView]:
    """Return the latest runs, newest first."""
    query = select(Run).order_by(col(Run.id).desc()).limit(limit)
    if kind is not None:
        query = query.where(Run.kind == kind)
    with Session(engine) as session:
        runs = session.exec(query).all()
        details: dict[int | None, list[dict[str, str]]] = {r.id: list(r.details) for r in runs}
        # One query for every run listed: a run recorded before there were rows keeps its own.
        for run_id, detail in session.exec(
            select(RunRow.run_id, RunRow.detail)
            .where(col(RunRow.run_id).in_(list(details)))
            .order_by(col(RunRow.run_id), col(RunRow.number))
        ):
            details[run_id].append(dict(detail))
        return [_view(run, details[run.id]) for run in runs]


def _view(run: Run, details: list[dict[str, str]]) -> RunView:
    assert run.id is not None  # rows read back always have their key
    return RunView(
        run.id,
        run.kind,
        run.status,
        run.started_at,
        run.finished_at,
        dict(run.counts),
        details,
    )
