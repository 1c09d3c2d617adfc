"""Lab channels in the store: added for no one, fed by routed topics, never listed as subscribers."""

from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.db import write_session
from bot.errors import InputError
from bot.models import ChannelRoute, Subscriber
from bot.subscriptions.channels import add_channel, list_channels, remove_channel
from bot.subscriptions.lab_channels import (
    lab_recipients,
    route_topic,
    unroute_topic,
)
from bot.subscriptions.spec import make_spec
from bot.subscriptions.store import list_subscribers, subscribe, unsubscribe

NOW = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
HOOK = {"webhook_url": "https://hooks.slack.com/services/T0/B0/s3cret"}


@pytest.fixture
def lab(engine: Engine) -> Engine:
    """Ana and Bob, each with a topic named "graphs" and one more; the lab channel "lab-room"."""
    with write_session(engine) as session:
        for email, keyword in (("ana@lab.org", "graph network"), ("bob@lab.org", "graph")):
            subscribe(session, make_spec(email, [keyword], name="graphs"), now=NOW)
        subscribe(session, make_spec("ana@lab.org", ["diffusion"], name="video"), now=NOW)
        add_channel(session, "lab-room", "slack", HOOK, owner=None, now=NOW)
    return engine


def _recipient(engine: Engine) -> tuple[int, tuple[str, ...], list[str]]:
    """The lab room's recipient id, channels and routed topics' names."""
    with Session(engine) as session:
        [room] = lab_recipients(session)
    return room.id, room.channels, [t.name for t in room.topics]


def test_topics_of_several_subscribers_feed_a_lab_channel_which_is_no_subscriber(
    lab: Engine,
) -> None:
    with write_session(lab) as session:
        route_topic(session, "lab-room", "video", owner=None, now=NOW)
        route, new = route_topic(session, "Lab-Room", "graphs", owner="BOB@lab.org", now=NOW)
    assert (route.channel, route.owner, route.topic, new) == (
        "lab-room",
        "bob@lab.org",
        "graphs",
        True,
    )
    _, channels, topics = _recipient(lab)
    assert channels == ("lab-room",)
    assert topics == ["graphs", "video"]
    with Session(lab) as session:
        everyone = list_subscribers(session, include_unsubscribed=True)
        [info] = list_channels(session)
    assert [s.email for s in everyone] == ["ana@lab.org", "bob@lab.org"]
    assert info.owner is None and info.active
    assert [(r.owner, r.topic) for r in info.routes] == [
        ("ana@lab.org", "video"),
        ("bob@lab.org", "graphs"),
    ]
    assert "s3cret" not in info.description


def test_routing_twice_changes_nothing_and_unrouting_stops_the_topic(lab: Engine) -> None:
    with write_session(lab) as session:
        route_topic(session, "lab-room", "video", owner=None, now=NOW)
        _, again = route_topic(session, "lab-room", "video", owner="ana@lab.org", now=NOW)
    assert again is False
    with write_session(lab) as session:
        gone = unroute_topic(session, "lab-room", "video", owner=None)
    assert (gone.owner, gone.topic) == ("ana@lab.org", "video")
    assert _recipient(lab)[2] == []
    with (
        write_session(lab) as session,
        pytest.raises(InputError, match=r"no topic named .video. is routed to .lab-room."),
    ):
        unroute_topic(session, "lab-room", "video", owner=None)


def test_a_topic_name_two_subscribers_share_needs_its_owner(lab: Engine) -> None:
    with write_session(lab) as session, pytest.raises(InputError) as refused:
        route_topic(session, "lab-room", "graphs", owner=None, now=NOW)
    assert str(refused.value) == (
        "more than one subscriber has a topic named 'graphs' (ana@lab.org, bob@lab.org):"
        " name its owner with --of"
    )
    # Unrouting looks among the channel's routes: there, the name is Bob's alone.
    with write_session(lab) as session:
        route_topic(session, "lab-room", "graphs", owner="bob@lab.org", now=NOW)
    with write_session(lab) as session:
        assert unroute_topic(session, "lab-room", "graphs", owner=None).owner == "bob@lab.org"


@pytest.mark.parametrize(
    ("channel", "topic", "owner", "said"),
    [
        ("nope", "video", None, "there is no channel named 'nope'"),
        ("ana-hook", "video", None, "channel 'ana-hook' is ana@lab.org's own"),
        ("lab-room", "nothing", None, "there is no topic named 'nothing'"),
        ("lab-room", "video", "bob@lab.org", "there is no topic named 'video' of bob@lab.org"),
        ("lab-room", "video", "eve@lab.org", "no subscriber with the address 'eve@lab.org'"),
    ],
)
def test_bad_routes_are_refused_naming_what_is_wrong(
    lab: Engine, channel: str, topic: str, owner: str | None, said: str
) -> None:
    with write_session(lab) as session:
        add_channel(session, "ana-hook", "slack", HOOK, owner="ana@lab.org", now=NOW)
    with write_session(lab) as session, pytest.raises(InputError) as refused:
        route_topic(session, channel, topic, owner=owner, now=NOW)
    assert said in str(refused.value)
    with Session(lab) as session:
        assert session.exec(select(ChannelRoute)).all() == []


def test_a_deleted_topic_leaves_the_lab_channel_with_its_route(lab: Engine) -> None:
    with write_session(lab) as session:
        route_topic(session, "lab-room", "video", owner=None, now=NOW)
    with write_session(lab) as session:
        unsubscribe(session, "ana@lab.org", topic="video", now=NOW)
    assert _recipient(lab)[2] == []
    with Session(lab) as session:
        assert session.exec(select(ChannelRoute)).all() == []


def test_a_lab_channel_removed_and_added_again_keeps_its_recipient_and_so_its_ledger(
    lab: Engine,
) -> None:
    before, _, _ = _recipient(lab)
    with write_session(lab) as session:
        route_topic(session, "lab-room", "video", owner=None, now=NOW)
    with write_session(lab) as session:
        removed = remove_channel(session, "lab-room", now=NOW)
    assert removed.owner is None and [r.topic for r in removed.routes] == ["video"]
    with Session(lab) as session:
        assert lab_recipients(session) == []
        assert session.exec(select(ChannelRoute)).all() == []
    with write_session(lab) as session:
        add_channel(
            session,
            "lab-room",
            "discord",
            {"webhook_url": "https://discord.com/api/webhooks/1/x"},
            owner=None,
            now=NOW,
            cadence="weekly",
        )
    after, channels, topics = _recipient(lab)
    assert (after, channels, topics) == (before, ("lab-room",), [])
    with Session(lab) as session:
        row = session.get(Subscriber, after)
        assert row is not None and (row.email, row.status, row.cadence) == (
            "#lab-room",
            "channel",
            "weekly",
        )


def test_a_lab_channel_with_an_unknown_cadence_is_refused(engine: Engine) -> None:
    with (
        write_session(engine) as session,
        pytest.raises(InputError, match="cadence must be one of"),
    ):
        add_channel(session, "lab-room", "slack", HOOK, owner=None, now=NOW, cadence="hourly")
    with Session(engine) as session:
        assert session.exec(select(Subscriber)).all() == []
