"""Digests to chat channels and webhooks on the delivery run's ledger, claims and retries.

A receiver on 127.0.0.1 stands in for each kind of service (Slack, Discord, Matrix,
a JSON webhook), answering as it does; each test runs on SQLite and on PostgreSQL.
"""

import json
import threading
import time
from collections import Counter
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
from tests.channels.conftest import Answer, Received, Receiver, Reply
from tests.delivery.conftest import ChatKind, ManualClock, channel_of
from tests.delivery.test_run import _setup, _subscribe

SECRET = "a-webhook-signing-secret"


def _with_channel(
    tmp_path: Path, database_url: str, clock: ManualClock, kind: ChatKind, receiver: Receiver,
    env: dict[str, str] | None = None, email: bool = True,
) -> tuple[Engine, Settings]:  # fmt: skip
    """Ana subscribed to graph papers by email (or Markdown) and through her channel "hook"."""
    engine, settings = _setup(
        tmp_path, clock, {"PAPERBOT_DELIVERY_RETRIES": "1", **(env or {})},
        database_url=database_url,
    )  # fmt: skip
    channels = None if email else ["markdown"]
    _subscribe(engine, clock, "ana@lab.org", "graph neural network", channels=channels)
    with write_session(engine) as session:
        kind.add(session, "hook", receiver, owner="ana@lab.org", now=clock())
    return engine, settings


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


def _keys(kind: ChatKind, receiver: Receiver) -> set[str]:
    """The keys the requests carried that make a resend the same message (none for some)."""
    return {kind.key(r) for r in receiver.requests} if kind.key is not None else set()


def _accepted(receiver: Receiver) -> Counter[str]:
    """How many requests each channel had accepted (answered 2xx)."""
    return Counter(
        channel_of(request)
        for request, answer in zip(receiver.requests, receiver.answered, strict=True)
        if isinstance(answer, Reply) and 200 <= answer.status < 300
    )


def test_a_chat_channel_gets_each_digest_once_beside_the_email(
    tmp_path: Path, database_url: str, clock: ManualClock, chat_kind: ChatKind,
    receiver: Receiver,
) -> None:  # fmt: skip
    engine, settings = _with_channel(tmp_path, database_url, clock, chat_kind, receiver)
    report = deliver(engine, settings, clock=clock)
    assert sorted((o.channel, o.status) for o in report.outcomes) == [
        ("email", "sent"),
        ("hook", "sent"),
    ]
    assert len(receiver.requests) >= 1 and all(key for key in _keys(chat_kind, receiver))
    sent = _ledger(engine, "hook")
    assert sent and sent == _ledger(engine, "email")
    nothing_more_later(engine, settings, clock, receiver)


def test_a_channel_that_keeps_failing_gets_its_papers_at_the_next_run_and_only_it(
    tmp_path: Path, database_url: str, clock: ManualClock, chat_kind: ChatKind,
    receiver: Receiver,
) -> None:  # fmt: skip
    engine, settings = _with_channel(tmp_path, database_url, clock, chat_kind, receiver)
    receiver.answer(Reply(500, b"down"), Reply(503, b"still down"))  # the try and one retry
    first = deliver(engine, settings, clock=clock)
    outcomes = {o.channel: o for o in first.outcomes}
    assert outcomes["email"].status == "sent"
    assert outcomes["hook"].status == "failed" and "503" in outcomes["hook"].reason
    assert _ledger(engine, "hook") == set()
    assert len(receiver.requests) == 2
    first_bodies = [r.body for r in receiver.requests]
    keys = _keys(chat_kind, receiver)
    assert len(keys) == (1 if chat_kind.key else 0)  # a retry is the same message
    clock.now += timedelta(minutes=5)
    second = deliver(engine, settings, clock=clock)
    assert [(o.channel, o.status) for o in second.outcomes] == [("hook", "sent")]
    assert _keys(chat_kind, receiver) == keys  # the same message again, a run later
    assert _same_messages([*first_bodies, receiver.requests[-1].body])
    assert _ledger(engine, "hook") == _ledger(engine, "email")
    with Session(engine) as session:
        emails = session.scalars(select(Delivery).where(col(Delivery.channel) == "email")).all()
    assert len(emails) == 1


def test_a_429_is_waited_out_for_the_time_the_service_asks(
    tmp_path: Path, database_url: str, clock: ManualClock, chat_kind: ChatKind,
    receiver: Receiver,
) -> None:  # fmt: skip
    engine, settings = _with_channel(tmp_path, database_url, clock, chat_kind, receiver)
    receiver.answer(chat_kind.slow_down)
    started = time.monotonic()
    report = deliver(engine, settings, clock=clock)
    assert ("hook", "sent") in {(o.channel, o.status) for o in report.outcomes}
    assert len(receiver.requests) == 2 and len(_accepted(receiver)) == 1
    assert time.monotonic() - started >= 1  # the second it asked for, at least


def test_a_dropped_connection_and_a_slow_reply_are_tried_again_as_the_same_message(
    tmp_path: Path, database_url: str, clock: ManualClock, chat_kind: ChatKind,
    receiver: Receiver,
) -> None:  # fmt: skip
    # A timeout long enough that a busy machine's answered request never reaches it.
    env = {"PAPERBOT_DELIVERY_RETRIES": "2", "PAPERBOT_DELIVERY_CHANNEL_TIMEOUT": "3"}
    engine, settings = _with_channel(
        tmp_path, database_url, clock, chat_kind, receiver, env, email=False
    )
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
    assert len(_keys(chat_kind, receiver)) == (1 if chat_kind.key else 0)
    assert _same_messages([r.body for r in receiver.requests])
    with Session(engine) as session:
        [delivery] = session.scalars(select(Delivery).where(col(Delivery.channel) == "hook"))
    assert delivery.attempts == 3
    assert _ledger(engine, "hook") == _ledger(engine, "markdown")


def _same_messages(bodies: list[bytes]) -> bool:
    """Whether `bodies` are one message, but for when each request was made (`sent_at`)."""
    documents = [{**json.loads(body), "sent_at": ""} for body in bodies]
    return all(document == documents[0] for document in documents)


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


def test_two_workers_at_once_post_each_readers_digest_once_through_faults(
    tmp_path: Path, database_url: str, clock: ManualClock, chat_kind: ChatKind,
    receiver: Receiver,
) -> None:  # fmt: skip
    engine, settings = _setup(tmp_path, clock, database_url=database_url)
    readers = 40
    for number in range(readers):
        email = f"reader{number}@lab.org"
        _subscribe(engine, clock, email, "graph neural network", channels=["markdown"])
        with write_session(engine) as session:
            chat_kind.add(session, f"hook-{number}", receiver, owner=email, now=clock())
    # The service fails a third of the first requests (refused, overloaded, dropped),
    # then takes the rest.
    faults: list[Answer] = [chat_kind.slow_down, Reply(500, b"down"), "drop", chat_kind.done]
    receiver.answer(*faults * 4)
    hold_until_both_send(receiver, settings)
    reports = two_workers(engine, settings, clock)
    names = {f"hook-{n}" for n in range(readers)}
    assert _accepted(receiver) == Counter(names)  # each channel took its digest once
    if chat_kind.key is not None:  # and every try of one channel was the same message
        tries: dict[str, set[str]] = {}
        for request in receiver.requests:
            tries.setdefault(channel_of(request), set()).add(chat_kind.key(request))
        assert all(len(keys) == 1 for keys in tries.values())
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


def hold_until_both_send(receiver: Receiver, settings: Settings) -> None:
    """Make `receiver` hold every request until two workers are sending at once.

    One worker has at most `channel_connections` requests on their way: once more
    are held together, both are, and every request goes on. Waiting for that, not
    for a pause long enough, keeps one worker from taking every digest on a busy
    machine where the other starts late. Bounded: if they never overlap, the first
    wait to run out lets every request go, and the test's own checks fail it
    instead of each request waiting out the bound in turn.
    """
    one_worker = settings.delivery.channel_connections
    lock = threading.Lock()
    both = threading.Event()
    held = 0

    def hold(_request: Received) -> None:
        nonlocal held
        with lock:
            held += 1  # none is answered before `both`: all those counted are held
            if held > one_worker:
                both.set()
        if not both.wait(timeout=30):
            both.set()

    receiver.on_request = hold


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
