"""The service's heartbeat and job states, in a real SQLite file, with a controlled clock."""

from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from bot.db import write_session
from bot.locks import acquire
from bot.models import Feed
from bot.service.state import (
    FORGET_AFTER,
    SCHEDULE_LOCK,
    STALE_AFTER,
    beat,
    job_finished,
    job_started,
    read_health,
    set_next_runs,
    stopped,
)

T0 = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)


def test_no_heartbeat_means_not_running(engine: Engine) -> None:
    health = read_health(engine, now=T0)
    assert not health.alive and health.beat_at is None and health.jobs == ()


def test_a_fresh_heartbeat_is_alive_and_a_stale_one_is_not(engine: Engine) -> None:
    beat(engine, holder="host:1", started_at=T0, now=T0)
    assert read_health(engine, now=T0 + STALE_AFTER).alive
    assert not read_health(engine, now=T0 + STALE_AFTER + timedelta(seconds=1)).alive
    beat(engine, holder="host:1", started_at=T0, now=T0 + timedelta(minutes=5))
    assert read_health(engine, now=T0 + timedelta(minutes=5)).alive


def test_a_clean_stop_forgets_only_its_own_heartbeat(engine: Engine) -> None:
    beat(engine, holder="host:2", started_at=T0, now=T0)
    stopped(engine, holder="host:1")  # an older process stopping late
    assert read_health(engine, now=T0).holder == "host:2"
    stopped(engine, holder="host:2")
    assert read_health(engine, now=T0).beat_at is None


def test_job_states_keep_the_last_success_through_failures(engine: Engine) -> None:
    job_started(engine, "inbox", now=T0)
    assert read_health(engine, now=T0).jobs[0].last_outcome == "running"
    job_finished(engine, "inbox", now=T0 + timedelta(seconds=1), outcome="ok")
    job_started(engine, "inbox", now=T0 + timedelta(minutes=5))
    job_finished(
        engine, "inbox", now=T0 + timedelta(minutes=5, seconds=1), outcome="failed", error="bad.txt"
    )
    [job] = read_health(engine, now=T0).jobs
    assert (job.last_outcome, job.last_error) == ("failed", "bad.txt")
    assert job.last_success_at == T0 + timedelta(seconds=1)


def test_the_public_health_names_failed_feeds_and_when_but_shows_no_error_text(
    engine: Engine,
) -> None:
    url = "https://reader:PASSWORD@feeds.example/rss?api_key=KEY"
    with write_session(engine) as session:
        session.add(Feed(url=url, name="cs-lg", last_status="failed", last_fetched_at=T0))
        session.add(Feed(url="https://ok.example/rss", name="ok", last_status="ok"))
        session.add(Feed(url="https://once.example/rss", last_status="failed"))  # not configured
    job_finished(engine, "feeds", now=T0, outcome="partial", error=f"{url}: HTTP 503")

    health = read_health(engine, now=T0)
    public, private = health.as_json(), health.as_json(errors=True)

    assert public["failing_feeds"] == [{"name": "cs-lg", "failed_at": T0.isoformat()}]
    public_jobs, private_jobs = public["jobs"], private["jobs"]
    assert isinstance(public_jobs, list) and isinstance(private_jobs, list)
    assert "KEY" not in str(public) and "last_error" not in public_jobs[0]
    assert private_jobs[0]["last_error"] == f"{url}: HTTP 503"


def test_next_runs_are_recorded_and_unscheduled_jobs_dropped(engine: Engine) -> None:
    set_next_runs(engine, {"inbox": T0, "feeds": T0 + timedelta(hours=1)})
    set_next_runs(engine, {"inbox": T0 + timedelta(minutes=5)})
    [job] = read_health(engine, now=T0).jobs
    assert (job.name, job.next_run_at) == ("inbox", T0 + timedelta(minutes=5))


def test_each_worker_has_its_own_heartbeat_and_a_machine_judges_its_own(engine: Engine) -> None:
    beat(engine, holder="box-a:10", started_at=T0, now=T0)
    beat(engine, holder="box-b:20", started_at=T0, now=T0 + STALE_AFTER * 2)
    later = T0 + STALE_AFTER * 2
    on_a = read_health(engine, now=later, host="box-a")
    # box-a's worker is stuck, though box-b's is fine: box-a's health check says so.
    assert (on_a.alive, on_a.holder) == (False, "box-a:10")
    assert [(w.holder, w.alive) for w in on_a.workers] == [("box-b:20", True), ("box-a:10", False)]
    elsewhere = read_health(engine, now=later, host="admin-laptop")  # no worker ever ran there
    assert (elsewhere.alive, elsewhere.holder) == (True, "box-b:20")
    beat(engine, holder="box-b:20", started_at=T0, now=T0 + FORGET_AFTER + timedelta(seconds=1))
    assert [w.holder for w in read_health(engine, now=later).workers] == ["box-b:20"]


def test_the_schedule_leader_is_shown_while_its_lease_lasts(engine: Engine) -> None:
    acquire(engine, SCHEDULE_LOCK, holder="box-a:10", now=T0, lease=STALE_AFTER)
    assert read_health(engine, now=T0 + STALE_AFTER - timedelta(seconds=1)).leader == "box-a:10"
    assert read_health(engine, now=T0 + STALE_AFTER).leader is None
