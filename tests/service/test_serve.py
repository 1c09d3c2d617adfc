"""`paperbot serve` end to end: a real process, a real SMTP server, schedules of seconds."""

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import ColumnElement, func, select
from sqlmodel import Session, col

from bot.db import open_engine
from bot.models import Delivery, SentPaper
from tests.conftest import FEED_SECRETS, SAMPLES, GuardedFeeds, RunCli, StaticFeeds
from tests.delivery.conftest import SmtpServer, free_port
from tests.service.conftest import (
    MARGINS,
    Served,
    StartServe,
    forget_received,
    send_at_in,
    slot_in,
    smtp_env,
)

# Real services waiting on real clocks: `make test` runs them alone, after the rest.
pytestmark = pytest.mark.serial

FEEDS = Path(__file__).resolve().parents[1] / "data" / "feeds"

KEYWORDS = {
    "ana@lab.org": "graph neural network",
    "bo@lab.org": "diffusion",
}


def _subscribe(run_cli: RunCli, env: dict[str, str], *emails: str) -> None:
    for email in emails:
        done = run_cli("subscribe", email, KEYWORDS[email], env=env)
        assert done.returncode == 0, done.stderr


def _recipients(smtp: SmtpServer) -> list[str]:
    return sorted(r for message in smtp.handler.received for r in message.recipients)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}


def _count(data: Path, table: type, *where: ColumnElement[bool]) -> int:
    engine = open_engine(f"sqlite:///{data / 'paperbot.db'}")
    try:
        with Session(engine) as session:
            query = select(func.count()).select_from(table).where(*where)
            return int(session.scalar(query) or 0)
    finally:
        engine.dispose()


def _stopped_cleanly(served: Served) -> bool:
    """Whether the service logged its stop with no job left running."""
    messages = [line.get("message") for line in served.log_lines()]
    return "stopped" in messages and "stopped with a job still running" not in messages


def _sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(UTC)).total_seconds()))


def _began(run: dict[str, Any]) -> datetime:
    """When a logged job run began: its line is written when it ends."""
    return datetime.fromisoformat(run["time"]) - timedelta(seconds=run["seconds"])


def _slots_between(slot: datetime, every: float, after: datetime, until: datetime) -> int:
    """How many times of an interval through `slot`, `every` seconds apart, are in (after, until].

    `until` is given 10 ms more: log times and durations are rounded to milliseconds.
    """
    until += timedelta(milliseconds=10)
    return math.floor((until - slot) / timedelta(seconds=every)) - math.floor(
        (after - slot) / timedelta(seconds=every)
    )


def test_a_dump_dropped_in_the_inbox_reaches_each_subscriber_once_at_send_time(
    serve: StartServe, run_cli: RunCli, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    for margin in MARGINS:
        data = tmp_path / f"data-{margin:g}"
        env = {"PAPERBOT_DATA_DIR": str(data), "PAPERBOT_SCHEDULE_INBOX_EVERY": "300"}
        _subscribe(run_cli, env, "ana@lab.org", "bo@lab.org")
        slot = slot_in(margin)
        env = smtp_env(smtp_server, slot.send_at, **env)
        served = serve(env)
        inbox = data / "inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        shutil.copy(SAMPLES / "spaced-1.txt", inbox / "today.txt")

        # The inbox is watched: the file is ingested long before the 300 s scan.
        def scans_with_new_papers(s: Served = served) -> list[dict[str, Any]]:
            return [r for r in s.job_runs("inbox") if r["new"] > 0]

        [scan] = served.wait_for(scans_with_new_papers, message="the inbox scan")
        received = list(smtp_server.handler.received)
        # Read after the messages: a delivery not begun by now sent none of them.
        if served.delivery_due_at(slot.at) and not served.delivery_started():
            break
        # Too slow for this margin: the send time came before the scan was done.
        served.process.kill()
        forget_received(smtp_server)
    else:
        pytest.fail(f"the send time was never ahead of the inbox scan:\n{served.logs()}")
    assert scan["outcome"] == "ok" and scan["sources"] == 1
    assert received == []  # nothing before the send time
    served.wait_for(lambda: served.job_runs("delivery"), message="the delivery run")
    assert _recipients(smtp_server) == ["ana@lab.org", "bo@lab.org"]
    # Health says when each job last succeeded, over HTTP and on the command line.
    status, health = served.health()
    jobs = {job["name"]: job for job in health["jobs"]}
    assert status == 200 and health["alive"]
    assert jobs["delivery"]["last_outcome"] == "ok" and jobs["delivery"]["last_success_at"]
    assert jobs["inbox"]["next_run_at"]
    checked = run_cli("health", env=env)
    assert checked.returncode == 0 and "alive" in checked.stdout
    # Later scans of the inbox send nothing again.
    (inbox / "today.txt").touch()
    served.wait_for(lambda: len(served.job_runs("inbox")) >= 2, message="a second scan")
    code, _ = served.stop()
    assert code == 0 and _stopped_cleanly(served)
    assert _recipients(smtp_server) == ["ana@lab.org", "bo@lab.org"]
    assert run_cli("health", env=env).returncode == 1  # stopped: not alive


def test_a_send_time_missed_while_stopped_is_made_up_once_on_start(
    serve: StartServe, run_cli: RunCli, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    every = 1  # seconds between inbox scans
    for margin in MARGINS:
        data = tmp_path / f"data-{margin:g}"
        env = {"PAPERBOT_DATA_DIR": str(data), "PAPERBOT_SCHEDULE_INBOX_EVERY": str(every)}
        _subscribe(run_cli, env, "ana@lab.org")
        ingested = run_cli("ingest", "--year", "2025", str(SAMPLES / "spaced-1.txt"), env=env)
        assert ingested.returncode == 0, ingested.stderr
        slot = slot_in(margin)
        env = smtp_env(smtp_server, slot.send_at, **env)
        first = serve(env)
        due = first.delivery_due_at(slot.at)
        inbox_job = first.job_state("inbox")
        code, _ = first.stop()
        assert code == 0
        stopped_at = datetime.now(UTC)
        if due and not first.job_runs("delivery"):
            break
        # Too slow for this margin: the send time came before the first service stopped.
        forget_received(smtp_server)
    else:
        pytest.fail(f"the send time was never ahead of the stop:\n{first.logs()}")
    assert inbox_job and inbox_job["next_run_at"]
    # Down over the send time and over several inbox scans: the clock must pass them.
    _sleep_until(max(slot.at, stopped_at) + timedelta(seconds=8 * every))
    launched = datetime.now(UTC)
    second = serve(env)
    second.wait_for(lambda: second.job_runs("delivery"), message="the catch-up delivery")
    assert _recipients(smtp_server) == ["ana@lab.org"]
    code, _ = second.stop()
    assert code == 0
    assert len(second.job_runs("delivery")) == 1
    # Missed runs are coalesced: one inbox scan at start, not one per missed interval.
    # Any later scan waits for its own slot of the interval, so there are no more of
    # them than slots passed since the launch (a slow machine makes fewer, not more).
    scans = second.job_runs("inbox")
    last = max(_began(scan) for scan in scans)
    slots = _slots_between(datetime.fromisoformat(inbox_job["next_run_at"]), every, launched, last)
    assert 1 <= len(scans) <= 1 + slots, (len(scans), slots)


def test_sigterm_during_delivery_finishes_the_messages_on_their_way(
    serve: StartServe, run_cli: RunCli, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    emails = [f"reader{n}@lab.org" for n in range(12)]
    table = tmp_path / "subscribers.csv"
    table.write_text("email,keywords\n" + "".join(f"{e},graph neural network\n" for e in emails))
    smtp_server.handler.data_delay = 0.5  # each message takes a while
    for margin in MARGINS:
        data = tmp_path / f"data-{margin:g}"
        setup = {"PAPERBOT_DATA_DIR": str(data)}
        assert run_cli("subscriptions", "import", str(table), env=setup).returncode == 0
        ingested = run_cli("ingest", "--year", "2025", str(SAMPLES / "spaced-1.txt"), env=setup)
        assert ingested.returncode == 0, ingested.stderr
        slot = slot_in(margin)
        env = smtp_env(smtp_server, slot.send_at, PAPERBOT_SCHEDULE_STOP_TIMEOUT="15", **setup)
        served = serve(env)
        if served.delivery_due_at(slot.at):
            break
        served.process.kill()  # too slow: the send time passed before the service started
    else:
        pytest.fail(f"the send time was never ahead of the start:\n{served.logs()}")
    served.wait_for(lambda: smtp_server.handler.received, message="the first message")
    code, _ = served.stop()
    # The delivery ended by itself, its messages on their way sent, before the stop timeout.
    assert code == 0 and _stopped_cleanly(served)
    received = _recipients(smtp_server)
    assert 0 < len(received) < len(emails)
    # Exactly what the server accepted is recorded as sent, each with its papers.
    assert _count(data, Delivery, col(Delivery.status) == "sent") == len(received)
    assert len(set(received)) == len(received)
    papers_each = _count(data, SentPaper) // len(received)
    assert papers_each > 0 and _count(data, SentPaper) == papers_each * len(received)
    # The rest are still due: the next run sends them, and nobody twice.
    smtp_server.handler.data_delay = 0
    done = run_cli("digest", env=env)
    assert done.returncode == 0, done.stderr
    assert _recipients(smtp_server) == sorted(emails)


def test_a_bad_file_fails_its_scan_and_the_service_keeps_running(
    serve: StartServe, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    served = serve(smtp_env(smtp_server, send_at_in(3600)))
    inbox = tmp_path / "paperbot-data" / "inbox"
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / "broken.txt").write_bytes(b"\x00\x01\x02 not a dump \xff" * 100)
    [failed] = served.wait_for(
        lambda: [r for r in served.job_runs("inbox") if r["outcome"] != "ok"],
        message="the bad scan",
    )
    assert failed["outcome"] == "failed" and "broken.txt" in failed["error"]
    status, health = served.health()
    assert status == 200 and health["alive"]
    shutil.copy(SAMPLES / "spaced-1.txt", inbox / "good.txt")
    served.wait_for(
        lambda: [r for r in served.job_runs("inbox") if r["new"] > 0], message="the good scan"
    )
    assert served.stop()[0] == 0


def test_a_port_in_use_is_one_clear_error(
    serve: StartServe, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    served = serve(smtp_env(smtp_server, send_at_in(3600)))
    other = tmp_path / "other"
    other.mkdir()
    env = {**served.env, "PAPERBOT_DATA_DIR": str(other / "data")}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve"],
        cwd=other, env={**_clean_env(), **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{served.port}" in done.stderr
    assert served.stop()[0] == 0


def test_feeds_are_polled_and_a_mail_server_down_is_reported_not_fatal(
    serve: StartServe, feed_server: StaticFeeds, tmp_path: Path
) -> None:
    feed_server.documents["/rss/cs.LG"] = (FEEDS / "arxiv_cs_LG.rss.xml").read_bytes()
    (tmp_path / "paperbot.toml").write_text(
        f"[[feeds]]\nname = 'cs-lg'\nurl = '{feed_server.url('/rss/cs.LG')}'\n"
    )
    down = free_port()  # nothing listens there
    env = {
        "PAPERBOT_DELIVERY_TRANSPORT": "smtp",
        "PAPERBOT_SMTP_HOST": "127.0.0.1",
        "PAPERBOT_SMTP_PORT": str(down),
        "PAPERBOT_SMTP_SECURITY": "none",
        "PAPERBOT_DELIVERY_RETRIES": "0",
        "PAPERBOT_SCHEDULE_FEEDS_EVERY": "2",
    }
    for margin in MARGINS:
        data = tmp_path / f"data-{margin:g}"
        env["PAPERBOT_DATA_DIR"] = str(data)
        setup = subprocess.run(
            [sys.executable, "-m", "bot", "subscribe", "ana@lab.org", "learning"],
            cwd=tmp_path, env={**_clean_env(), **env}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert setup.returncode == 0, setup.stderr
        # Papers for her from the start: the delivery has mail to send, whether it
        # comes before or after the polls.
        setup = subprocess.run(
            [sys.executable, "-m", "bot", "ingest", "--year", "2025", str(SAMPLES / "spaced-1.txt")],
            cwd=tmp_path, env={**_clean_env(), **env}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert setup.returncode == 0, setup.stderr
        slot = slot_in(margin)
        served = serve({**env, "PAPERBOT_SCHEDULE_SEND_AT": slot.send_at})
        if served.delivery_due_at(slot.at):
            break
        served.process.kill()  # too slow: the send time passed before the service started
    else:
        pytest.fail(f"the send time was never ahead of the start:\n{served.logs()}")
    [polled] = served.wait_for(
        lambda: [r for r in served.job_runs("feeds") if r["new"] > 0], message="the feed poll"
    )
    assert polled["outcome"] == "ok"
    served.wait_for(lambda: len(served.job_runs("feeds")) >= 2, message="a second poll")
    [failed] = served.wait_for(lambda: served.job_runs("delivery"), message="the delivery run")
    assert failed["outcome"] == "failed" and "cannot connect" in failed["error"]
    status, health = served.health()
    jobs = {job["name"]: job for job in health["jobs"]}
    assert status == 200 and jobs["delivery"]["last_success_at"] is None
    # /healthz answers anyone: the error, which names the subscriber, is for the command.
    assert "last_error" not in jobs["delivery"] and "ana@lab.org" not in json.dumps(health)
    checked = subprocess.run(
        [sys.executable, "-m", "bot", "health", "--json"],
        cwd=tmp_path, env={**_clean_env(), **env}, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    jobs = {job["name"]: job for job in json.loads(checked.stdout)["jobs"]}
    assert "cannot connect" in jobs["delivery"]["last_error"]
    code, _ = served.stop(signal.SIGINT)
    assert code == 0


def test_secrets_in_feed_urls_reach_neither_healthz_nor_the_log(
    serve: StartServe, guarded_feeds: GuardedFeeds, tmp_path: Path
) -> None:
    guarded_feeds.write_settings(tmp_path)
    served = serve({"PAPERBOT_SCHEDULE_FEEDS_EVERY": "2"})
    [polled, *_] = served.wait_for(lambda: served.job_runs("feeds"), message="the feed poll")
    served.wait_for(lambda: len(served.job_runs("feeds")) >= 2, message="a second poll")
    assert (polled["outcome"], polled["new"], polled["failed"]) == ("partial", 6, 1)
    assert {"/feed", "/down"} <= set(guarded_feeds.authorized)  # the credentials were used
    assert "/down?api_key=***&sid=***&lang=en: HTTP 503" in polled["error"]
    status, health = served.health()
    assert status == 200
    [down] = health["failing_feeds"]
    assert down["name"] == "down" and down["failed_at"]
    code, _ = served.stop()
    assert code == 0
    shown = json.dumps(health) + served.logs()
    assert [secret for secret in FEED_SECRETS if secret in shown] == []


def test_serve_listens_on_the_port_given_not_the_configured_one(serve: StartServe) -> None:
    configured, given = free_port(), free_port()
    # Up means /healthz answers on `given`; the settings name `configured`.
    served = serve(
        {"PAPERBOT_WEB_HOST": "127.0.0.2", "PAPERBOT_WEB_PORT": str(configured)},
        port=given,
        options=("--host", "127.0.0.1", "--port", str(given)),
    )
    assert served.health()[0] == 200
    assert served.stop()[0] == 0
