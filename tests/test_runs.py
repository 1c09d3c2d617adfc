from datetime import timedelta

from sqlalchemy.engine import Engine

from bot.clock import Clock
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
