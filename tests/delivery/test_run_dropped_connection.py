"""Whole delivery runs against a real SMTP server that drops connections in the middle of DATA.

The server (aiosmtpd on 127.0.0.1) aborts the TCP connection after reading a message and
before answering it, as a crashing or overloaded server does: the message was not accepted,
the client hears no reply. What paperbot promises then: a temporary failure, retried in the
same run; the other subscribers unaffected; every message accepted once; and a run record,
delivery rows and a ledger that say exactly that.
"""

from collections import Counter
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.config import Settings
from bot.delivery.outcomes import DeliveryReport
from bot.delivery.run import deliver
from bot.models import Delivery, Paper, SentPaper, Subscriber
from bot.runs import RunView, recent_runs
from tests.delivery.conftest import ManualClock, Received, SmtpServer
from tests.delivery.test_run import _setup, _smtp_env, _subscribe

# One keyword each, so that every subscriber's digest holds different papers of the sample
# dump and a message that reached the wrong person, or twice, shows.
SUBSCRIBERS = {
    "ana@lab.org": "graph neural network",
    "bo@lab.org": "video diffusion",
    "cy@lab.org": "feedforward",
    "di@lab.org": "Kolmogorov-Arnold",
    "ed@lab.org": "avatar",
}


@pytest.fixture
def subscribed(
    tmp_path: Path, database_url: str, clock: ManualClock, smtp_server: SmtpServer
) -> tuple[Engine, Settings, list[str]]:
    """The sample dump ingested, the subscribers above, delivery by SMTP to `smtp_server`.

    The third item collects every RCPT address the server hears, in order.
    """
    engine, settings = _setup(tmp_path, clock, _smtp_env(smtp_server), database_url=database_url)
    for email, keyword in SUBSCRIBERS.items():
        _subscribe(engine, clock, email, keyword)
    rcpts: list[str] = []
    smtp_server.handler.on_rcpt = rcpts.append
    return engine, settings, rcpts


def _by_recipient(received: list[Received]) -> dict[str, list[EmailMessage]]:
    """The accepted messages per envelope recipient, each checked to be addressed to them."""
    messages: dict[str, list[EmailMessage]] = {}
    for item in received:
        [recipient] = item.recipients
        assert item.message["To"] == recipient
        messages.setdefault(recipient, []).append(item.message)
    return messages


def _deliveries(engine: Engine, email: str) -> list[Delivery]:
    with Session(engine) as session:
        query = (
            select(Delivery)
            .join(Subscriber, col(Subscriber.id) == col(Delivery.subscriber_id))
            .where(col(Subscriber.email) == email)
            .order_by(col(Delivery.id))
        )
        return list(session.scalars(query))


def _ledger(engine: Engine, email: str) -> list[tuple[SentPaper, str]]:
    """The subscriber's ledger rows, each with the title of its paper."""
    with Session(engine) as session:
        query = (
            select(SentPaper, col(Paper.title))
            .join(Subscriber, col(Subscriber.id) == col(SentPaper.subscriber_id))
            .join(Paper, col(Paper.id) == col(SentPaper.paper_id))
            .where(col(Subscriber.email) == email)
        )
        return [(row, title) for row, title in session.execute(query)]


def _assert_delivered_once(engine: Engine, email: str, message: EmailMessage) -> Delivery:
    """One sent delivery for `email`, carrying `message`, with its papers in the ledger.

    The ledger rows point at that delivery, and each of their papers is in the message
    the server accepted: the ledger records what was sent, no more and no less.
    """
    [sent] = [d for d in _deliveries(engine, email) if d.status == "sent"]
    assert sent.channel == "email" and sent.message_id == message["Message-ID"]
    ledger = _ledger(engine, email)
    assert len(ledger) == sent.papers > 0
    assert {row.delivery_id for row, _ in ledger} == {sent.id}
    body = message.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    text = " ".join(body.get_content().split())  # titles may be wrapped over lines
    for _, title in ledger:
        assert " ".join(title.split()) in text
    return sent


def _run(engine: Engine, report: DeliveryReport) -> RunView:
    [run] = recent_runs(engine, limit=1)
    assert run.id == report.run_id
    return run


def test_a_connection_dropped_once_is_retried_and_the_digest_arrives_once(
    subscribed: tuple[Engine, Settings, list[str]], clock: ManualClock, smtp_server: SmtpServer
) -> None:
    """Two recipients' connections drop mid-DATA once; one run still delivers all five, once each.

    The two are retried after one pause (a temporary failure, not a permanent one) and
    their delivery rows say it took two attempts; the others went through on the first.
    The run is "ok", the ledger holds exactly the papers of the accepted messages, and a
    run the next day finds nothing new to send.
    """
    engine, settings, rcpts = subscribed
    dropped = {"bo@lab.org", "di@lab.org"}
    smtp_server.handler.drop |= dropped
    pauses: list[float] = []

    report = deliver(engine, settings, clock=clock, sleep=pauses.append)

    assert sorted((o.email, o.channel, o.status) for o in report.outcomes) == [
        (email, "email", "sent") for email in sorted(SUBSCRIBERS)
    ]
    # The server really closed two connections, and heard those two addresses again.
    assert sorted(smtp_server.handler.dropped) == sorted(dropped)
    assert Counter(rcpts) == {email: 2 if email in dropped else 1 for email in SUBSCRIBERS}
    assert len(pauses) == 1  # one retry round, for both, through the injected sleep
    messages = _by_recipient(smtp_server.handler.received)
    assert sorted(messages) == sorted(SUBSCRIBERS)
    for email, [message] in messages.items():  # exactly one message each
        sent = _assert_delivered_once(engine, email, message)
        assert sent.attempts == (2 if email in dropped else 1)
        # A failed attempt that was retried leaves no row of its own.
        assert len(_deliveries(engine, email)) == 1
    run = _run(engine, report)
    assert run.status == "ok" and run.finished_at is not None
    assert run.counts["emails"] == len(SUBSCRIBERS) and run.counts["failed"] == 0
    assert {d["target"]: d["outcome"] for d in run.details} == dict.fromkeys(SUBSCRIBERS, "sent")

    clock.now += timedelta(days=1)
    again = deliver(engine, settings, clock=clock, sleep=pauses.append)

    assert {(o.status, o.reason) for o in again.outcomes} == {("skipped", "no new matching papers")}
    assert len(smtp_server.handler.received) == len(SUBSCRIBERS)
    assert len(rcpts) == len(SUBSCRIBERS) + len(dropped)  # not even an RCPT
    assert sum(len(_deliveries(engine, email)) for email in SUBSCRIBERS) == len(SUBSCRIBERS)
    assert _run(engine, again).counts["emails"] == 0


def test_a_connection_dropped_every_time_fails_that_one_only(
    subscribed: tuple[Engine, Settings, list[str]], clock: ManualClock, smtp_server: SmtpServer
) -> None:
    """A recipient whose connection drops on every try is failed once retries run out.

    It is tried `delivery.retries` + 1 times, then recorded as failed with a reason that
    names the lost connection; the other four are sent once; the ledger holds nothing for
    it, and the run is "partial". A later run, with the server behaving, delivers it (and
    only it: the others were served today).
    """
    engine, settings, rcpts = subscribed
    unlucky = "cy@lab.org"
    smtp_server.handler.drop_always.add(unlucky)
    tries = settings.delivery.retries + 1
    pauses: list[float] = []

    report = deliver(engine, settings, clock=clock, sleep=pauses.append)

    status = {o.email: (o.status, o.reason) for o in report.outcomes}
    assert status[unlucky][0] == "failed"
    assert "connection lost" in status[unlucky][1].lower()
    assert {email: s for email, (s, _) in status.items() if email != unlucky} == dict.fromkeys(
        SUBSCRIBERS.keys() - {unlucky}, "sent"
    )
    assert smtp_server.handler.dropped == [unlucky] * tries
    assert len(pauses) == tries - 1
    [failed] = _deliveries(engine, unlucky)
    assert failed.status == "failed" and failed.attempts == tries
    assert failed.reason is not None and "connection lost" in failed.reason.lower()
    assert _ledger(engine, unlucky) == []
    messages = _by_recipient(smtp_server.handler.received)
    assert sorted(messages) == sorted(SUBSCRIBERS.keys() - {unlucky})
    for email, [message] in messages.items():
        assert _assert_delivered_once(engine, email, message).attempts == 1
    run = _run(engine, report)
    assert run.status == "partial"
    assert run.counts["emails"] == len(SUBSCRIBERS) - 1 and run.counts["failed"] == 1
    [detail] = [d for d in run.details if d["target"] == unlucky]
    assert detail["outcome"] == "failed" and "connection lost" in detail["reason"].lower()

    smtp_server.handler.drop_always.clear()
    clock.now += timedelta(hours=1)
    later = deliver(engine, settings, clock=clock, sleep=pauses.append)

    status = {o.email: (o.status, o.reason) for o in later.outcomes}
    assert status.pop(unlucky)[0] == "sent"
    assert {s for s, _ in status.values()} == {"skipped"}
    assert all("daily digest already sent" in reason for _, reason in status.values())
    messages = _by_recipient(smtp_server.handler.received)
    assert sorted(messages) == sorted(SUBSCRIBERS)
    assert all(len(sent) == 1 for sent in messages.values())
    assert _assert_delivered_once(engine, unlucky, messages[unlucky][0]).attempts == 1
    assert len(_deliveries(engine, unlucky)) == 2  # the failure stays on record
    assert Counter(rcpts)[unlucky] == tries + 1
    assert _run(engine, later).status == "ok"
