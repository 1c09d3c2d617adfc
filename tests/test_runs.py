import json
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine

from bot.clock import Clock
from bot.runs import finish_run, recent_runs, start_run
from tests.conftest import DATABASES


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


@pytest.mark.parametrize("database_url", DATABASES, indirect=True)
def test_details_given_as_json_text_are_stored_as_rows(engine: Engine, clock: Clock) -> None:
    rows = [
        {"target": "ana@lab.org", "outcome": "sent", "reason": "250 ok"},
        {"target": "zoë@lab.org", "outcome": "skipped", "reason": "not due\n", "routine": "yes"},
    ]
    run_id = start_run(engine, "delivery", now=clock())

    finish_run(engine, run_id, status="ok", counts={"emails": 1}, details=json.dumps(rows),
               now=clock())  # fmt: skip

    [done] = recent_runs(engine, limit=1)
    assert (done.status, done.counts, done.details) == ("ok", {"emails": 1}, rows)
