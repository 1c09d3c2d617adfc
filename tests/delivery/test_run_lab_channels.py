"""Lab channels on the delivery run: routed topics' matches reach the room once, on both databases.

A webhook receiver on 127.0.0.1 stands in for the room; the readers themselves
get Markdown files.
"""

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot.config import Settings
from bot.db import write_session
from bot.delivery.run import deliver
from bot.models import SentPaper, Subscriber
from bot.subscriptions.channels import add_channel
from bot.subscriptions.lab_channels import route_topic
from bot.subscriptions.spec import DEFAULT_TOPIC
from tests.channels.conftest import Receiver
from tests.delivery.conftest import ManualClock
from tests.delivery.test_run import _setup, _subscribe
from tests.delivery.test_run_channels import hold_until_both_send, nothing_more_later, two_workers

SECRET = "a-webhook-signing-secret"


def _lab_channel(engine: Engine, clock: ManualClock, name: str, url: str, *owners: str) -> None:
    """The lab channel `name`, posting to `url`, fed by the topic of each of `owners`."""
    with write_session(engine) as session:
        add_channel(
            session, name, "webhook", {"url": url, "secret": SECRET}, owner=None, now=clock()
        )
        for owner in owners:
            route_topic(session, name, DEFAULT_TOPIC, owner=owner, now=clock())


def _ledger(engine: Engine, channel: str, email: str | None = None) -> list[int]:
    """The papers the ledger says reached `channel` (of `email`, when given)."""
    query = select(col(SentPaper.paper_id)).where(col(SentPaper.channel) == channel)
    if email is not None:
        query = query.join(Subscriber, col(Subscriber.id) == col(SentPaper.subscriber_id)).where(
            col(Subscriber.email) == email
        )
    with Session(engine) as session:
        return sorted(session.scalars(query))


def _room(
    tmp_path: Path, database_url: str, clock: ManualClock, hook: Receiver
) -> tuple[Engine, Settings]:
    """Ana (graph neural networks) and Bob (graphs) by Markdown file; their topics feed "lab"."""
    env = {
        "PAPERBOT_WEB_BASE_URL": "https://papers.example.org",
        "PAPERBOT_DELIVERY_MAX_PAPERS": "200",
    }
    engine, settings = _setup(tmp_path, clock, env, database_url=database_url)
    _subscribe(engine, clock, "ana@lab.org", "graph neural network", channels=["markdown"])
    _subscribe(engine, clock, "bob@lab.org", "graph", channels=["markdown"])
    _lab_channel(engine, clock, "lab", hook.url("/lab"), "ana@lab.org", "bob@lab.org")
    return engine, settings


def test_a_lab_channel_gets_each_paper_its_topics_match_once_and_no_readers_links(
    tmp_path: Path, database_url: str, clock: ManualClock, receiver: Receiver
) -> None:
    engine, settings = _room(tmp_path, database_url, clock, receiver)
    report = deliver(engine, settings, clock=clock)
    assert sorted((o.email, o.channel, o.status) for o in report.outcomes) == [
        ("#lab", "lab", "sent"),
        ("ana@lab.org", "markdown", "sent"),
        ("bob@lab.org", "markdown", "sent"),
    ]
    [request] = receiver.requests
    document = json.loads(request.body)
    papers = [paper for topic in document["topics"] for paper in topic["papers"]]
    ids = [paper["id"] for paper in papers]
    ana, bob = (
        _ledger(engine, "markdown", "ana@lab.org"),
        _ledger(engine, "markdown", "bob@lab.org"),
    )
    assert set(ana) & set(bob)  # papers both topics match...
    assert sorted(ids) == _ledger(engine, "lab") == sorted(set(ana) | set(bob))
    assert len(set(ids)) == len(ids)  # ...reach the room once
    # The room is no one reader: no links to one reader's settings or feedback.
    assert document["subscriber"]["email"] == "#lab"
    assert document["manage_url"] is None and document["unsubscribe_url"] is None
    assert {paper["feedback"] for paper in papers} == {None}
    nothing_more_later(engine, settings, clock, receiver)


def test_a_dry_run_names_the_lab_channel_and_a_lab_with_no_topics_is_skipped(
    tmp_path: Path, database_url: str, clock: ManualClock, receiver: Receiver
) -> None:
    engine, settings = _room(tmp_path, database_url, clock, receiver)
    _lab_channel(engine, clock, "empty", receiver.url("/empty"))
    planned = deliver(engine, settings, clock=clock, dry_run=True)
    outcomes = {(o.email, o.channel): (o.status, o.reason) for o in planned.outcomes}
    assert outcomes[("#lab", "lab")][0] == "would send"
    assert outcomes[("#empty", "")] == ("skipped", "no topics")
    assert receiver.requests == []


def test_two_workers_at_once_post_each_lab_channels_digest_once(
    tmp_path: Path, database_url: str, clock: ManualClock, receiver: Receiver
) -> None:
    engine, settings = _setup(tmp_path, clock, database_url=database_url)
    rooms = 30
    for number in range(rooms):
        email = f"reader{number}@lab.org"
        _subscribe(engine, clock, email, "graph neural network", channels=["markdown"])
        _lab_channel(engine, clock, f"room-{number}", receiver.url(f"/room/{number}"), email)
    hold_until_both_send(receiver, settings)
    reports = two_workers(engine, settings, clock)
    posts = sorted(r.path for r in receiver.requests)
    assert posts == sorted(f"/room/{n}" for n in range(rooms))  # each room exactly once
    posted_by = [sum(o.channel.startswith("room-") for o in r.outcomes) for r in reports]
    assert sum(posted_by) == rooms and min(posted_by) > 0  # both took part
