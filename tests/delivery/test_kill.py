"""A delivery process killed halfway: the next run sends what is missing, and nothing twice."""

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import Session

from bot.models import SentPaper
from tests.delivery.conftest import ManualClock, SmtpServer
from tests.delivery.test_run import _setup, _smtp_env, _subscribe
from tests.signals import signal_and_wait

RECIPIENTS = [f"reader{n}@lab.org" for n in range(8)]


def test_a_killed_run_is_finished_by_the_next_without_duplicates(
    tmp_path: Path, database_url: str, smtp_server: SmtpServer
) -> None:
    clock = ManualClock()
    env = {**_smtp_env(smtp_server), "PAPERBOT_SMTP_MAX_CONNECTIONS": "1"}
    if not database_url.startswith("sqlite"):  # SQLite: the settings' own file
        env["PAPERBOT_DATABASE_URL"] = database_url
    engine, _ = _setup(tmp_path, clock, env)
    for email in RECIPIENTS:
        _subscribe(engine, clock, email, "graph neural network")
    process_env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    process_env.update(env, PAPERBOT_DATA_DIR=str(tmp_path / "data"))
    seen: list[str] = []
    bot: subprocess.Popen[str] | None = None

    def kill_at_the_fourth(address: str) -> None:
        # One connection sends in order and records each acceptance before the next
        # RCPT: when the fourth RCPT arrives, three messages are sent and recorded. It
        # is answered once the process is dead, so the fourth message never goes.
        seen.append(address)
        if len(seen) == 4 and bot is not None:
            signal_and_wait(bot.pid, signal.SIGKILL)

    smtp_server.handler.on_rcpt = kill_at_the_fourth
    command = [sys.executable, "-m", "bot", "digest"]
    bot = subprocess.Popen(
        command,
        env=process_env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    bot.communicate(timeout=60)
    assert bot.returncode == -signal.SIGKILL
    assert len(smtp_server.handler.received) == 3
    smtp_server.handler.on_rcpt = None

    # The killed run's lock names a process that is gone: the next run takes it over.
    again = subprocess.run(
        command, env=process_env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0, again.stderr
    received = sorted(r.recipients[0] for r in smtp_server.handler.received)
    assert received == sorted(RECIPIENTS)  # every reader exactly once
    with Session(engine) as session:
        recorded = session.scalar(select(func.count(func.distinct(SentPaper.subscriber_id))))
    assert recorded == len(RECIPIENTS)
