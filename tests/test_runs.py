from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot import runs
from bot.clock import Clock
from bot.models import RunRow
from bot.runs import finish_run, recent_runs, start_run


def test_a_run_is_recorded_at_start_and_completed_at_the_end(engine: Engine, clock: Clock) -> None:
    run_id = start_run(engine, "ingest", now=clock())
    [running] = recent_runs(engine, limit=5)
    assert (running.id, running.status, running.finished_at) == (run_id, "running", None)
    details = [{"target": "a.txt", "outcome": "failed", "reason": "empty file"}]
    finish_run(
        engine,
        run_id,
        status="failed",
        counts={"failed": 1},
        details=details,
        now=clock() + timedelta(seconds=2),
    )
    [done] = recent_runs(engine, limit=5)
    assert (done.status, done.counts, done.details) == ("failed", {"failed": 1}, details)
    assert (
        done.finished_at is not None and (done.finished_at - done.started_at).total_seconds() == 2
    )


def test_recent_runs_are_newest_first_and_filtered_by_kind(engine: Engine, clock: Clock) -> None:
    first = start_run(engine, "ingest", now=clock())
    second = start_run(engine, "delivery", now=clock())
    third = start_run(engine, "ingest", now=clock())
    assert [r.id for r in recent_runs(engine, limit=2)] == [third, second]
    assert [r.id for r in recent_runs(engine, limit=5, kind="ingest")] == [third, first]


def test_details_given_lazily_are_written_over_several_pages_and_read_back_in_order(
    engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "DETAILS_PAGE", 2)
    rows = [
        {"target": f"reader{n}@lab.org", "outcome": "sent", "reason": "250 ok"} for n in range(4)
    ]
    rows.insert(
        2, {"target": "zoë@lab.org", "outcome": "skipped", "reason": "not due\n", "routine": "yes"}
    )
    taken: list[int] = []

    def given() -> Iterator[dict[str, str]]:  # as a delivery run gives them, from its log
        for number, row in enumerate(rows):
            taken.append(number)
            yield row

    first = start_run(engine, "delivery", now=clock())
    second = start_run(engine, "delivery", now=clock())
    finish_run(engine, second, status="ok", counts={"emails": 4}, details=given(), now=clock())
    finish_run(
        engine,
        first,
        status="failed",
        counts={},
        details=[{"target": "-", "outcome": "failed", "reason": "boom"}],
        now=clock(),
    )

    done, failed = recent_runs(engine, limit=2)
    assert (done.id, done.status, done.counts, done.details) == (second, "ok", {"emails": 4}, rows)
    assert (failed.id, [d["reason"] for d in failed.details]) == (first, ["boom"])
    assert taken == list(range(5))
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(RunRow)) == 6
