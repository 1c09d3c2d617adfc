"""The jobs the settings ask for, and when two triggers are the same."""

from datetime import UTC, datetime, time
from pathlib import Path

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.config import load_settings
from bot.service.service import desired_triggers, inbox_snapshot, same_trigger


def test_jobs_follow_the_settings(tmp_path: Path) -> None:
    env = {"PAPERBOT_SCHEDULE_SEND_AT": "07:30:15", "PAPERBOT_SCHEDULE_TIMEZONE": "Europe/Berlin"}
    triggers = desired_triggers(load_settings(environ=env, cwd=tmp_path))
    assert set(triggers) == {"inbox", "delivery"}  # no feeds configured: no feed job
    delivery = triggers["delivery"]
    assert isinstance(delivery, CronTrigger) and str(delivery.timezone) == "Europe/Berlin"
    assert str(delivery) == "cron[hour='7', minute='30', second='15']"
    config = tmp_path / "paperbot.toml"
    config.write_text("[[feeds]]\nname = 'arxiv'\nurl = 'https://feeds.example/rss'\n")
    assert "feeds" in desired_triggers(load_settings(config, environ={}, cwd=tmp_path))


def test_same_trigger_ignores_an_intervals_start_but_not_its_length() -> None:
    assert same_trigger(IntervalTrigger(seconds=60), IntervalTrigger(seconds=60))
    assert not same_trigger(IntervalTrigger(seconds=60), IntervalTrigger(seconds=30))
    at_eight = CronTrigger(hour=8, minute=0, second=0, timezone="UTC")
    assert same_trigger(at_eight, CronTrigger(hour=8, minute=0, second=0, timezone="UTC"))
    assert not same_trigger(
        at_eight, CronTrigger(hour=8, minute=0, second=0, timezone="Asia/Tokyo")
    )
    assert not same_trigger(at_eight, CronTrigger(hour=9, minute=0, second=0, timezone="UTC"))
    assert not same_trigger(at_eight, IntervalTrigger(hours=24))


def test_inbox_snapshot_sees_new_and_changed_files(tmp_path: Path) -> None:
    assert inbox_snapshot(tmp_path / "missing") == frozenset()
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("one")
    first = inbox_snapshot(tmp_path)
    assert [Path(p).name for p, _, _ in first] == ["a.txt"]
    (tmp_path / "sub" / "a.txt").write_text("one and more")
    assert inbox_snapshot(tmp_path) != first


def test_send_at_default_is_eight(tmp_path: Path) -> None:
    assert load_settings(environ={}, cwd=tmp_path).schedule.send_at == time(8, 0)


def test_each_subscriber_zone_gets_its_own_delivery_time(tmp_path: Path) -> None:
    settings = load_settings(environ={"PAPERBOT_SCHEDULE_SEND_AT": "08:00"}, cwd=tmp_path)
    triggers = desired_triggers(settings, ["Asia/Tokyo", "UTC", "Asia/Kolkata"])
    assert sorted(triggers) == ["delivery", "delivery@Asia/Kolkata", "delivery@Asia/Tokyo", "inbox"]
    tokyo = triggers["delivery@Asia/Tokyo"]
    assert isinstance(tokyo, CronTrigger) and str(tokyo.timezone) == "Asia/Tokyo"
    after = datetime(2025, 11, 22, 0, 0, tzinfo=UTC)
    fire = tokyo.get_next_fire_time(None, after)
    assert fire.astimezone(UTC) == datetime(2025, 11, 22, 23, 0, tzinfo=UTC)  # 08:00 JST
