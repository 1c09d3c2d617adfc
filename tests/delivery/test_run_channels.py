"""Digests to chat channels and webhooks on the delivery run's ledger, claims and retries.

A webhook receiver on 127.0.0.1 stands in for the service; each test runs on
SQLite and on PostgreSQL.
"""

import json
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.config import Settings
from bot.db import write_session
from bot.delivery import claims
from bot.delivery.claims import Round
from bot.delivery.outcomes import DeliveryReport
from bot.delivery.run import deliver
from bot.models import Delivery, SentPaper
from bot.subscriptions.channels import add_channel
from tests.channels.conftest import Receiver, Reply
from tests.delivery.conftest import ManualClock
from tests.delivery.test_run import _setup, _subscribe

SECRET = "a-webhook-signing-secret"


def _with_hook(
    tmp_path: Path, database_url: str, clock: ManualClock, hook: Receiver, **options: Any
) -> tuple[Engine, Settings]:
    """Ana subscribed to graph papers by email and through a webhook channel `hook`."""
    env = {"PAPERBOT_DELIVERY_RETRIES": "1"}
    engine, settings = _setup(tmp_path, clock, env, database_url=database_url)
    _subscribe(engine, clock, "ana@lab.org", "graph neural network")
    with write_session(engine) as session:
        add_channel(
            session, "hook", "webhook", {"url": hook.url("/in"), "secret": SECRET, **options},
            owner="ana@lab.org", now=clock(),
        )  # fmt: skip
    return engine, settings


def _ledger(engine: Engine, channel: str) -> set[int]:
    with Session(engine) as session:
        query = select(col(SentPaper.paper_id)).where(col(SentPaper.channel) == channel)
        return set(session.scalars(query))


def _posted_papers(hook: Receiver) -> list[list[str]]:
    """The titles each accepted request carried, in order."""
    return [
        [paper["title"] for topic in json.loads(r.body)["topics"] for paper in topic["papers"]]
        for r in hook.requests
    ]


def test_a_webhook_gets_each_digest_once_beside_the_email(
    tmp_path: Path, database_url: str, clock: ManualClock, receiver: Receiver
) -> None:
    engine, settings = _with_hook(tmp_path, database_url, clock, receiver)
    report = deliver(engine, settings, clock=clock)
    assert sorted((o.channel, o.status) for o in report.outcomes) == [
        ("email", "sent"),
        ("hook", "sent"),
    ]
    [request] = receiver.requests
    assert request.headers["Idempotency-Key"]
    sent = _ledger(engine, "hook")
    assert sent and sent == _ledger(engine, "email")
    assert len(_posted_papers(receiver)[0]) == len(sent)
    nothing_more_later(engine, settings, clock, receiver)


def test_a_channel_that_keeps_failing_gets_its_papers_at_the_next_run_and_only_it(
    tmp_path: Path, database_url: str, clock: ManualClock, receiver: Receiver
) -> None:
    engine, settings = _with_hook(tmp_path, database_url, clock, receiver)
    receiver.answer(Reply(500, b"down"), Reply(503, b"still down"))  # the try and one retry
    first = deliver(engine, settings, clock=clock)
    outcomes = {o.channel: o for o in first.outcomes}
    assert outcomes["email"].status == "sent"
    assert outcomes["hook"].status == "failed" and "503" in outcomes["hook"].reason
    assert _ledger(engine, "hook") == set()
    keys = {r.headers["Idempotency-Key"] for r in receiver.requests}
    assert len(receiver.requests) == 2 and len(keys) == 1  # a retry is the same message
    clock.now += timedelta(minutes=5)
    second = deliver(engine, settings, clock=clock)
    assert [(o.channel, o.status) for o in second.outcomes] == [("hook", "sent")]
    assert receiver.requests[-1].headers["Idempotency-Key"] in keys
    assert _ledger(engine, "hook") == _ledger(engine, "email")
    with Session(engine) as session:
        emails = session.scalars(select(Delivery).where(col(Delivery.channel) == "email")).all()
    assert len(emails) == 1


def test_a_429_is_waited_out_for_the_time_the_service_asks(
    tmp_path: Path, database_url: str, clock: ManualClock, receiver: Receiver
) -> None:
    engine, settings = _with_hook(tmp_path, database_url, clock, receiver)
    receiver.answer(Reply(429, b"slow down", {"Retry-After": "1"}))
    report = deliver(engine, settings, clock=clock)
    assert ("hook", "sent") in {(o.channel, o.status) for o in report.outcomes}
    assert len(receiver.requests) == 2


def test_a_dropped_connection_and_a_slow_reply_are_tried_again_as_the_same_message(
    tmp_path: Path, database_url: str, clock: ManualClock, receiver: Receiver
) -> None:
    # A timeout long enough that a busy machine's answered request never reaches it.
    env = {"PAPERBOT_DELIVERY_RETRIES": "2", "PAPERBOT_DELIVERY_CHANNEL_TIMEOUT": "3"}
    engine, settings = _setup(tmp_path, clock, env, database_url=database_url)
    _subscribe(engine, clock, "ana@lab.org", "graph neural network", channels=["markdown"])
    with write_session(engine) as session:
        add_channel(
            session, "hook", "webhook", {"url": receiver.url("/in"), "secret": SECRET},
            owner="ana@lab.org", now=clock(),
        )  # fmt: skip
    # The first request is taken and its connection dropped; the second is held past the
    # timeout (a slow reply); the third is answered.
    receiver.answer("drop", "hang")
    try:
        report = deliver(engine, settings, clock=clock)
    finally:
        receiver.release.set()
    [hook] = [o for o in report.outcomes if o.channel == "hook"]
    assert hook.status == "sent", hook.reason
    assert len(receiver.requests) == 3
    assert len({r.headers["Idempotency-Key"] for r in receiver.requests}) == 1
    # The same document each time, but for when each request was made.
    documents = [json.loads(r.body) for r in receiver.requests]
    assert all({**d, "sent_at": ""} == {**documents[0], "sent_at": ""} for d in documents)
    with Session(engine) as session:
        [delivery] = session.scalars(select(Delivery).where(col(Delivery.channel) == "hook"))
    assert delivery.attempts == 3
    assert _ledger(engine, "hook") == _ledger(engine, "markdown")


def test_a_digest_cut_short_keeps_the_papers_that_went_and_sends_only_the_rest(
    tmp_path: Path, database_url: str, clock: ManualClock, receiver: Receiver
) -> None:
    engine, settings = _with_hook(tmp_path, database_url, clock, receiver, max_papers=1)
    receiver.answer(Reply(200), Reply(400, b"bad payload"))  # the second message is refused
    first = deliver(engine, settings, clock=clock)
    [hook] = [o for o in first.outcomes if o.channel == "hook"]
    assert hook.status == "failed" and hook.reason.startswith("part 2 of ")
    posted = _posted_papers(receiver)
    assert len(posted[0]) == 1 and len(_ledger(engine, "hook")) == 1
    clock.now += timedelta(minutes=5)
    deliver(engine, settings, clock=clock)
    titles = [t for request in _posted_papers(receiver)[2:] for t in request]
    assert posted[0][0] not in titles  # the paper that went is not sent again
    assert _ledger(engine, "hook") == _ledger(engine, "email")


def test_two_workers_at_once_post_each_readers_digest_once(
    tmp_path: Path, database_url: str, clock: ManualClock, receiver: Receiver
) -> None:
    engine, settings = _setup(tmp_path, clock, database_url=database_url)
    readers = 40
    for number in range(readers):
        email = f"reader{number}@lab.org"
        _subscribe(engine, clock, email, "graph neural network", channels=["markdown"])
        with write_session(engine) as session:
            add_channel(
                session, f"hook-{number}", "webhook",
                {"url": receiver.url(f"/in/{number}"), "secret": SECRET},
                owner=email, now=clock(),
            )  # fmt: skip
    receiver.on_request = lambda request: time.sleep(0.01)  # so the two workers overlap
    reports = two_workers(engine, settings, clock)
    posts = sorted(r.path for r in receiver.requests)
    assert posts == sorted(f"/in/{n}" for n in range(readers))  # each channel exactly once
    posted_by = [sum(o.status == "sent" and o.channel != "markdown" for o in r.outcomes)
                 for r in reports]  # fmt: skip
    assert sum(posted_by) == readers and min(posted_by) > 0  # both took part
    with Session(engine) as session:
        query = select(func.count(func.distinct(SentPaper.subscriber_id))).where(
            col(SentPaper.channel).like("hook-%")
        )
        assert session.scalar(query) == readers


def nothing_more_later(
    engine: Engine, settings: Settings, clock: ManualClock, receiver: Receiver
) -> None:
    """Check that another run the same day, and one the next day with nothing new, post nothing."""
    posted = len(receiver.requests)
    clock.now += timedelta(minutes=5)
    deliver(engine, settings, clock=clock)
    clock.now += timedelta(days=1)
    again = deliver(engine, settings, clock=clock)
    assert {o.status for o in again.outcomes} == {"skipped"}
    assert len(receiver.requests) == posted


def two_workers(engine: Engine, settings: Settings, clock: ManualClock) -> list[DeliveryReport]:
    """The reports of two runs in threads sharing one round, as two `serve` workers would."""
    started = claims.start_round(engine, holder="test:0", now=clock())
    reports = []

    def run() -> None:
        # A short wait for the other worker's claims: no need for the full pause here.
        reports.append(
            deliver(engine, settings, clock=clock, join=Round(started, None), sleep=_short)
        )

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return reports


def _short(seconds: float) -> None:
    time.sleep(0.05)
