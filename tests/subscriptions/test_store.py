from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.clock import Clock
from bot.db import open_engine, upgrade_schema, write_session
from bot.errors import InputError
from bot.subscriptions import store as subscription_store
from bot.subscriptions.spec import SubscriptionSpec, make_spec
from bot.subscriptions.store import (
    active_subscribers,
    as_specs,
    find_subscriber,
    list_subscribers,
    opt_in,
    subscribe,
    subscribe_many,
    subscriber_pages,
    subscriber_time_zones,
    unsubscribe,
)


def test_subscribe_creates_then_updates_one_topic(engine: Engine, clock: Clock) -> None:
    with write_session(engine) as session:
        first = subscribe(session, make_spec("a@lab.org", ["GAN"]), now=clock())
        second = subscribe(
            session, make_spec("A@LAB.org", ["LoRA", "MoE"], cadence="weekly"), now=clock()
        )
    assert (first.new_subscriber, first.new_topic) == (True, True)
    assert (second.new_subscriber, second.new_topic) == (False, False)
    with Session(engine) as session:
        [subscriber] = list_subscribers(session)
    assert subscriber.cadence == "weekly"
    assert [t.keywords for t in subscriber.topics] == [("LoRA", "MoE")]


def test_subscribers_are_listed_page_by_page_with_nothing_kept_in_the_session(
    engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(subscription_store, "LIST_PAGE", 2)  # 5 subscribers: pages of 2, 2 and 1
    emails = ["e@lab.org", "B@lab.org", "a@lab.org", "d@lab.org", "c@lab.org"]
    with write_session(engine) as session:
        for number, email in enumerate(emails):
            subscribe(session, make_spec(email, [f"keyword {number}"]), now=clock())
            subscribe(session, make_spec(email, ["MoE"], name="second"), now=clock())
        assert unsubscribe(session, "d@lab.org", now=clock()) == 2  # both topics
    with Session(engine) as session:
        active = list_subscribers(session)
        assert len(session.identity_map) == 0
        everyone = list_subscribers(session, include_unsubscribed=True)
    assert [s.email for s in active] == ["a@lab.org", "B@lab.org", "c@lab.org", "e@lab.org"]
    assert [s.email.lower() for s in everyone] == sorted(e.lower() for e in emails)
    # Each keeps its own topics, whichever page it was read in.
    for view in active:
        number = emails.index(view.email)
        assert [t.keywords for t in view.topics] == [(f"keyword {number}",), ("MoE",)]
    with Session(engine) as session:
        pages = [[s.email for s in page] for page in subscriber_pages(session)]
    assert pages == [["a@lab.org", "B@lab.org"], ["c@lab.org", "e@lab.org"], []]


def test_active_subscribers_are_read_by_id_in_the_order_asked(engine: Engine, clock: Clock) -> None:
    with write_session(engine) as session:
        for email in ("a@lab.org", "b@lab.org", "c@lab.org"):
            subscribe(session, make_spec(email, ["GAN"]), now=clock())
        unsubscribe(session, "b@lab.org", now=clock())
    with Session(engine) as session:
        ids = {s.email: s.id for s in list_subscribers(session, include_unsubscribed=True)}
        found = active_subscribers(
            session, [ids["c@lab.org"], ids["b@lab.org"], 999, ids["a@lab.org"]]
        )
        assert len(session.identity_map) == 0
    # The one who left, and an id that is no one's, are left out.
    assert [(s.email, [t.keywords for t in s.topics]) for s in found] == [
        ("c@lab.org", [("GAN",)]),
        ("a@lab.org", [("GAN",)]),
    ]


def test_a_subscriber_may_hold_several_topics(engine: Engine, clock: Clock) -> None:
    with write_session(engine) as session:
        subscribe(session, make_spec("a@lab.org", ["GAN"], name="gans"), now=clock())
        subscribe(
            session,
            make_spec("a@lab.org", ["graph neural network"], ["link prediction"], name="graphs"),
            now=clock(),
        )
    with Session(engine) as session:
        found = find_subscriber(session, "a@lab.org")
    assert found is not None
    assert [(t.name, t.exclusions) for t in found.topics] == [
        ("gans", ()),
        ("graphs", ("link prediction",)),
    ]


def test_unsubscribe_keeps_the_subscriber_row_for_its_history(engine: Engine, clock: Clock) -> None:
    with write_session(engine) as session:
        subscribe(session, make_spec("a@lab.org", ["GAN"], name="gans"), now=clock())
        subscribe(session, make_spec("a@lab.org", ["MoE"], name="moe"), now=clock())
        assert unsubscribe(session, "a@lab.org", topic="gans", now=clock()) == 1
    with Session(engine) as session:
        found = find_subscriber(session, "a@lab.org")
        assert found is not None and found.status == "active"
        subscriber_id = found.id
    with write_session(engine) as session:
        assert unsubscribe(session, "a@lab.org", now=clock()) == 1
    with Session(engine) as session:
        assert list_subscribers(session) == []
        gone = find_subscriber(session, "a@lab.org")
        assert gone is not None and gone.status == "unsubscribed" and gone.topics == ()
    with write_session(engine) as session:
        again = subscribe(session, make_spec("a@lab.org", ["GAN"]), now=clock())
    assert again.resubscribed
    with Session(engine) as session:
        back = find_subscriber(session, "a@lab.org")
    assert back is not None and back.id == subscriber_id and back.status == "active"


def test_unsubscribing_an_unknown_address_or_topic_says_so(engine: Engine, clock: Clock) -> None:
    with pytest.raises(InputError, match="no subscriber"), write_session(engine) as session:
        unsubscribe(session, "ghost@lab.org", now=clock())
    with write_session(engine) as session:
        subscribe(session, make_spec("a@lab.org", ["GAN"]), now=clock())
    with pytest.raises(InputError, match="no topic named 'x'"), write_session(engine) as session:
        unsubscribe(session, "a@lab.org", topic="x", now=clock())


def test_the_time_zone_is_kept_when_not_given(engine: Engine, clock: Clock) -> None:
    with write_session(engine) as session:
        subscribe(session, make_spec("a@lab.org", ["GAN"]), now=clock())
    with Session(engine) as session:
        assert [s.timezone for s in list_subscribers(session)] == [None]  # the configured one
    with write_session(engine) as session:
        subscribe(session, make_spec("a@lab.org", ["GAN"], timezone="Asia/Tokyo"), now=clock())
        subscribe(session, make_spec("a@lab.org", ["MoE"], name="moe"), now=clock())
    with Session(engine) as session:
        found = find_subscriber(session, "a@lab.org")
        assert found is not None and found.timezone == "Asia/Tokyo"
        assert {spec.timezone for spec in as_specs([found])} == {"Asia/Tokyo"}


def test_time_zones_in_use_are_those_of_active_subscribers(engine: Engine, clock: Clock) -> None:
    with write_session(engine) as session:
        subscribe(session, make_spec("a@lab.org", ["x"], timezone="Asia/Tokyo"), now=clock())
        subscribe(session, make_spec("b@lab.org", ["x"], timezone="Europe/Berlin"), now=clock())
        subscribe(session, make_spec("c@lab.org", ["x"]), now=clock())  # follows the setting
        unsubscribe(session, "b@lab.org", now=clock())
    with Session(engine) as session:
        assert subscriber_time_zones(session) == {"Asia/Tokyo"}


def test_opt_in_adds_a_topic_under_a_free_name_and_keeps_the_settings(
    engine: Engine, clock: Clock
) -> None:
    long_name = "t" * 100  # the longest topic name: the number still fits
    with write_session(engine) as session:
        subscribe(
            session, make_spec("a@lab.org", ["GAN"], name=long_name, cadence="weekly"), now=clock()
        )
        subscribe(session, make_spec("a@lab.org", ["MoE"], name="t" * 98 + " 2"), now=clock())
        added = opt_in(
            session, make_spec("a@lab.org", ["LoRA"], name=long_name, cadence="daily"), now=clock()
        )
        kept = opt_in(session, make_spec("A@lab.org", ["moe"], name="other"), now=clock())
    assert (added.action, added.topic) == ("added", "t" * 98 + " 3")
    assert (kept.action, kept.topic) == ("kept", "t" * 98 + " 2")
    with Session(engine) as session:
        found = find_subscriber(session, "a@lab.org")
    assert found is not None and found.cadence == "weekly"
    assert sorted(t.keywords for t in found.topics) == [("GAN",), ("LoRA",), ("MoE",)]


def test_opt_in_for_an_address_that_left_starts_afresh(engine: Engine, clock: Clock) -> None:
    with write_session(engine) as session:
        subscribe(
            session,
            make_spec(
                "a@lab.org",
                ["GAN"],
                cadence="paused",
                channels=["markdown", "email"],
                timezone="Asia/Tokyo",
            ),
            now=clock(),
        )
        unsubscribe(session, "a@lab.org", now=clock())
        done = opt_in(session, make_spec("a@lab.org", ["LoRA"]), now=clock())
    assert done.action == "returned"
    with Session(engine) as session:
        found = find_subscriber(session, "a@lab.org")
    assert found is not None
    assert (found.status, found.cadence, found.channels, found.timezone) == (
        "active", "daily", ("email",), None,
    )  # fmt: skip
    assert [t.keywords for t in found.topics] == [("LoRA",)]


def test_a_topic_keeps_what_it_follows_and_becomes_its_rule(engine: Engine, clock: Clock) -> None:
    spec = make_spec(
        "a@lab.org", ["world models"], name="people", authors=["Y. LeCun"],
        organisations=["stabilityai"], categories=["cs.*"], exclude_authors=["Y. Li"],
        exclude_organisations=["google"], exclude_categories=["cs.CR"], min_upvotes=5, top=3,
    )  # fmt: skip
    with write_session(engine) as session:
        subscribe(session, spec, now=clock())
    with Session(engine) as session:
        [subscriber] = list_subscribers(session)
        assert as_specs([subscriber]) == [
            replace(spec, cadence="daily", channels=("email",), level=0)
        ]
    [topic] = subscriber.topics
    rule = topic.rule()
    assert (rule.id, rule.keywords, rule.authors, rule.exclude_categories, rule.top) == (
        topic.id, ("world models",), ("Y. LeCun",), ("cs.CR",), 3,
    )  # fmt: skip
    with write_session(engine) as session:  # updating replaces the follows too
        subscribe(session, make_spec("a@lab.org", [], name="people", top=1), now=clock())
    with Session(engine) as session:
        [subscriber] = list_subscribers(session)
    assert subscriber.topics[0].follows["authors"] == ()
    assert (subscriber.topics[0].top, subscriber.topics[0].min_upvotes) == (1, None)


def test_opt_in_tells_topics_apart_by_what_they_follow(engine: Engine, clock: Clock) -> None:
    with write_session(engine) as session:
        subscribe(session, make_spec("a@lab.org", [], authors=["Y. LeCun"]), now=clock())
        same = opt_in(session, make_spec("a@lab.org", [], authors=["y. lecun"]), now=clock())
        other = opt_in(
            session, make_spec("a@lab.org", [], authors=["Y. LeCun"], top=3), now=clock()
        )
    assert (same.action, other.action, other.topic) == ("kept", "added", "default 2")
    with Session(engine) as session:
        found = find_subscriber(session, "a@lab.org")
    assert found is not None
    assert [(t.authors, t.top) for t in found.topics] == [
        (("Y. LeCun",), None), (("Y. LeCun",), 3),
    ]  # fmt: skip


def test_a_topic_keeps_its_level_when_a_spec_gives_none(engine: Engine, clock: Clock) -> None:
    with write_session(engine) as session:
        subscribe(session, make_spec("a@lab.org", ["GAN"]), now=clock())
        subscribe(session, make_spec("a@lab.org", ["GAN"], name="more", level=2), now=clock())
        subscribe(session, make_spec("a@lab.org", ["LoRA"], name="more"), now=clock())
    with Session(engine) as session:
        found = find_subscriber(session, "a@lab.org")
    assert found is not None
    assert [(t.name, t.keywords, t.level) for t in found.topics] == [
        ("default", ("GAN",), 0), ("more", ("LoRA",), 2),
    ]  # fmt: skip
    with write_session(engine) as session:  # a level given replaces it, 0 included
        subscribe(session, make_spec("a@lab.org", ["LoRA"], name="more", level=0), now=clock())
    with Session(engine) as session:
        found = find_subscriber(session, "a@lab.org")
    assert found is not None and found.topics[1].level == 0


def _batch() -> list[SubscriptionSpec]:
    """Rows an import may hold: an address twice, a returning one, a changed topic."""
    return [
        make_spec("new@lab.org", ["GAN"], name="gans"),
        make_spec("New@Lab.org", ["MoE"], name="moe", cadence="weekly"),
        make_spec("left@lab.org", ["LoRA"], channels=["markdown"]),
        make_spec("kept@lab.org", ["diffusion"], ["audio"], timezone="Asia/Tokyo"),
        make_spec("new@lab.org", ["GANs", "StyleGAN"], name="gans"),
    ]


def _stored_before(engine: Engine, clock: Clock) -> None:
    with write_session(engine) as session:
        subscribe(session, make_spec("left@lab.org", ["old"]), now=clock())
        unsubscribe(session, "left@lab.org", now=clock())
        subscribe(session, make_spec("kept@lab.org", ["old"], cadence="weekly"), now=clock())


def test_subscribing_many_at_once_is_subscribing_them_in_turn(
    engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    other = open_engine(f"sqlite:///{tmp_path / 'in-turn.db'}")
    upgrade_schema(other)
    for store in (engine, other):
        _stored_before(store, clock)
    with write_session(engine) as session:
        together = subscribe_many(session, _batch(), now=clock())
    with write_session(other) as session:
        in_turn = [subscribe(session, spec, now=clock()) for spec in _batch()]
    assert together == in_turn
    assert [(o.new_subscriber, o.new_topic, o.resubscribed) for o in together] == [
        (True, True, False),
        (False, True, False),
        (False, True, True),  # leaving dropped their topics: this one is new again
        (False, False, False),
        (False, False, False),
    ]
    views = []
    for store in (engine, other):
        with Session(store) as session:
            views.append(
                [(s.email, s.cadence, s.channels, s.status, s.timezone, s.topics)
                 for s in list_subscribers(session, include_unsubscribed=True)]
            )  # fmt: skip
    strip = [[(*row[:5], [(t.name, t.keywords, t.exclusions) for t in row[5]]) for row in v]
             for v in views]  # fmt: skip
    assert strip[0] == strip[1]
    assert strip[0][2] == (
        "new@lab.org", "weekly", ("email",), "active", None,
        [("gans", ("GANs", "StyleGAN"), ()), ("moe", ("MoE",), ())],
    )  # fmt: skip
    other.dispose()


def test_a_bad_row_among_many_is_named_and_nothing_is_stored(engine: Engine, clock: Clock) -> None:
    rows = [make_spec("a@lab.org", ["GAN"]), make_spec("b@lab.org", ["GAN"], channels=["nope"])]
    with pytest.raises(InputError) as refused, write_session(engine) as session:
        subscribe_many(session, rows, now=clock(), label=lambda i: f"row {i + 2}")
    assert str(refused.value).startswith("row 3: b@lab.org has no channel named 'nope'")
    with Session(engine) as session:
        assert list_subscribers(session, include_unsubscribed=True) == []
