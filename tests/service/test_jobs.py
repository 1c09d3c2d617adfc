"""The service's job runner: what a run records, in a real database."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from bot.config import load_settings
from bot.service import jobs
from bot.service.jobs import JobContext, Outcome
from bot.service.state import read_health

T0 = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)


@pytest.fixture
def context(engine: Engine, tmp_path: Path) -> Iterator[JobContext]:
    """The jobs' context, registered as a running service does."""
    settings = load_settings(environ={"PAPERBOT_INGEST_SECRET_PARAMS": "session"}, cwd=tmp_path)
    context = JobContext(engine, settings, lambda: T0)
    jobs.use_context(context)
    yield context
    jobs.use_context(None)


def test_an_unexpected_error_quoting_a_feed_url_is_recorded_masked(
    context: JobContext, engine: Engine
) -> None:
    def broken(_: JobContext) -> Outcome:
        raise RuntimeError(
            "[parameters: ('https://ana:hunter2pw@feeds.example.org/rss"
            "?api_key=K3YVALUE&session=S3SSION&page=2',)]"
        )

    jobs._run("feeds", broken, record=True)
    [job] = read_health(engine, now=T0).jobs
    assert job.last_outcome == "failed" and job.last_error is not None
    assert "feeds.example.org/rss" in job.last_error and "page=2" in job.last_error
    for secret in ("hunter2pw", "K3YVALUE", "S3SSION"):
        assert secret not in job.last_error
