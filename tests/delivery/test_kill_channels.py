"""A delivery to chat channels killed halfway: the next run sends what is missing, once.

Half the channels are readers' own, half lab channels fed by a reader's topic; each
kind of service in turn (Slack, Discord, Matrix, a JSON webhook).
"""

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import Session, col

from bot.db import write_session
from bot.models import SentPaper
from bot.subscriptions.lab_channels import route_topic
from bot.subscriptions.spec import DEFAULT_TOPIC
from tests.channels.conftest import Received, Receiver
from tests.delivery.conftest import ChatKind, ManualClock, channel_of
from tests.delivery.test_run import _setup, _subscribe

READERS = [f"reader{n}@lab.org" for n in range(8)]


def test_a_run_killed_while_posting_is_finished_by_the_next_and_resends_only_the_one_in_flight(
    tmp_path: Path, database_url: str, chat_kind: ChatKind, receiver: Receiver
) -> None:
    clock = ManualClock()
    # One request at a time: when the fourth arrives, three are answered and recorded.
    env = {"PAPERBOT_DELIVERY_CHANNEL_CONNECTIONS": "1"}
    if not database_url.startswith("sqlite"):  # SQLite: the settings' own file
        env["PAPERBOT_DATABASE_URL"] = database_url
    engine, _ = _setup(tmp_path, clock, env)
    for number, email in enumerate(READERS):
        _subscribe(engine, clock, email, "graph neural network", channels=["markdown"])
        with write_session(engine) as session:
            lab = number % 2 == 1
            owner = None if lab else email
            chat_kind.add(session, f"hook-{number}", receiver, owner=owner, now=clock())
            if lab:
                route_topic(session, f"hook-{number}", DEFAULT_TOPIC, owner=email, now=clock())
    process_env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    process_env.update(env, PAPERBOT_DATA_DIR=str(tmp_path / "data"))
    bot: subprocess.Popen[str] | None = None

    def kill_at_the_fourth(request: Received) -> None:
        if len(receiver.requests) == 4 and bot is not None:
            os.kill(bot.pid, signal.SIGKILL)
            bot.wait()  # dead before this request is answered

    receiver.on_request = kill_at_the_fourth
    command = [sys.executable, "-m", "bot", "digest"]
    bot = subprocess.Popen(
        command, env=process_env, cwd=tmp_path, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    bot.communicate(timeout=60)
    assert bot.returncode == -signal.SIGKILL
    assert len(receiver.requests) == 4
    receiver.on_request = None

    again = subprocess.run(
        command, env=process_env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert again.returncode == 0, again.stderr
    posts = Counter(channel_of(r) for r in receiver.requests)
    assert set(posts) == {f"hook-{n}" for n in range(len(READERS))}  # every channel reached
    # Only the request in flight at the kill went twice: with the same key where the
    # service has one (it then keeps one message); Slack and Discord may show it twice.
    assert sorted(posts.values()) == [1] * (len(READERS) - 1) + [2]
    [twice] = [name for name, count in posts.items() if count == 2]
    if chat_kind.key is not None:
        keys = {chat_kind.key(r) for r in receiver.requests if channel_of(r) == twice}
        assert len(keys) == 1
    with Session(engine) as session:
        query = select(func.count(func.distinct(SentPaper.channel))).where(
            col(SentPaper.channel).like("hook-%")
        )
        assert session.scalar(query) == len(READERS)
