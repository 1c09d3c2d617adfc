"""What a delivery run plans, from plain data alone: no database, no clock, no server."""

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest

from bot.delivery.plan import (
    Candidates,
    Ledger,
    Plan,
    PlannedDigest,
    Policy,
    due_now,
    earliest_window,
    local_day,
    message_id,
    named,
    plan_digests,
    topics_of,
    window_start,
)
from bot.digest.model import DigestPaper
from bot.errors import InputError
from bot.matching.engine import Matcher, PaperText
from bot.subscriptions.store import SubscriberView, Topic

T = TypeVar("T")

POLICY = Policy(
    timezone="UTC",
    send_at=time(8, 0),
    weekly_on="monday",
    backlog_days=7,
    max_papers=25,
    domain="lab.example",
)
CREATED = datetime(2025, 11, 1, 12, 0, tzinfo=UTC)
SEEN = datetime(2025, 11, 21, 9, 0, tzinfo=UTC)
SLOT = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)
GRAPHS = Topic(10, "graphs", ("graph neural network",), ())
LORA = Topic(20, "lora", ("LoRA",), ())

TEXTS = [
    PaperText(1, "Graph neural networks for molecules", "We study LoRA adapters too."),
    PaperText(2, "A survey", "Graph neural networks are popular."),
    PaperText(3, "LoRA at scale", "Low-rank adapters."),
    PaperText(4, "Unrelated", "Nothing to see."),
    PaperText(5, "More graphs", "Yet more graph neural networks."),
]
PAPERS = {t.id: DigestPaper(t.id, t.title, t.abstract, upvotes=t.id) for t in TEXTS}


def at(day: int, hour: int, minute: int = 0, *, zone: str = "UTC") -> datetime:
    """An instant in November 2025 on the wall clock of `zone`."""
    return datetime(2025, 11, day, hour, minute, tzinfo=ZoneInfo(zone))


def reader(
    subscriber_id: int = 1,
    *,
    cadence: str = "daily",
    channels: tuple[str, ...] = ("email",),
    timezone: str | None = None,
    topics: tuple[Topic, ...] = (GRAPHS, LORA),
) -> SubscriberView:
    """A subscriber as `list_subscribers` would give them."""
    return SubscriberView(
        id=subscriber_id,
        email=f"reader{subscriber_id}@lab.example",
        cadence=cadence,
        channels=channels,
        status="active",
        topics=topics,
        created_at=CREATED,
        timezone=timezone,
    )


def due_ids(
    subscribers: list[SubscriberView], last: dict[int, datetime], now: datetime
) -> list[int]:
    return [s.id for s in due_now(subscribers, by_email(last), now, POLICY).subscribers]


def by_email(values: Mapping[int, T]) -> dict[tuple[int, str], T]:
    """`values` of subscribers as the ledger keeps them for their email channel."""
    return {(subscriber_id, "email"): value for subscriber_id, value in values.items()}


def plan(
    subscribers: list[SubscriberView],
    now: datetime = SLOT,
    *,
    last: dict[int, datetime] | None = None,
    sent: dict[int, set[int]] | None = None,
    first_seen: dict[int, datetime] | None = None,
    policy: Policy = POLICY,
) -> Plan:
    """Plan the digests of `subscribers`, every paper first seen at `SEEN` unless told."""
    seen = {pid: SEEN for pid in PAPERS} | (first_seen or {})
    matches = Matcher(TEXTS).match(t.rule() for t in topics_of(subscribers))
    return plan_digests(
        subscribers,
        Ledger(by_email(last or {}), by_email(sent or {})),
        Candidates(PAPERS, seen),
        matches,
        now,
        policy,
    )


def paper_ids(planned: Plan) -> list[list[int]]:
    return [[e.paper.paper_id for e in p.digest.entries] for p in planned.digests]


# --- Who is due --------------------------------------------------------------------


def test_a_reader_never_sent_anything_is_due_at_any_time() -> None:
    assert due_ids([reader()], {}, at(22, 3)) == [1]


def test_daily_readers_are_due_at_their_own_zones_send_time() -> None:
    london, tokyo = reader(1), reader(2, timezone="Asia/Tokyo")
    new_york = reader(3, timezone="America/New_York")
    everyone = [london, tokyo, new_york]
    last = {s.id: at(20, 23, 30) for s in everyone}  # all served two days before
    last[tokyo.id] = at(21, 8, 1, zone="Asia/Tokyo")
    last[new_york.id] = at(21, 8, 1, zone="America/New_York")
    # 08:00 in Tokyo on the 22nd is 23:00 UTC on the 21st; in New York, 13:00 UTC.
    assert due_ids(everyone, last, at(21, 22, 59)) == [1]
    assert due_ids(everyone, last, at(21, 23, 0)) == [1, 2]
    assert due_ids(everyone, last, at(22, 12, 59)) == [1, 2]
    assert due_ids(everyone, last, at(22, 13, 0)) == [1, 2, 3]


def test_a_reader_served_since_their_latest_slot_is_skipped_with_the_next_one() -> None:
    due = due_now([reader()], {(1, "email"): at(22, 8, 2)}, at(22, 9), POLICY)
    assert due.subscribers == ()
    (skipped,) = due.skipped
    assert (skipped.email, skipped.channel, skipped.status) == (
        "reader1@lab.example",
        "",
        "skipped",
    )
    assert skipped.reason.endswith("next on 2025-11-23 08:00 UTC")


def test_weekly_readers_are_due_once_a_week_on_the_weekly_day() -> None:
    weekly = reader(cadence="weekly")
    monday = at(17, 8, 1)  # 2025-11-17 is a Monday
    assert due_ids([weekly], {1: monday}, at(23, 23, 59)) == []
    assert due_ids([weekly], {1: monday}, at(24, 7, 59)) == []
    assert due_ids([weekly], {1: monday}, at(24, 8, 0)) == [1]


def test_paused_readers_and_readers_without_topics_are_skipped_and_say_why() -> None:
    paused, empty = reader(1, cadence="paused"), reader(2, topics=())
    due = due_now([paused, empty, reader(3)], {}, at(22, 8), POLICY)
    assert [s.id for s in due.subscribers] == [3]
    assert [(o.email, o.reason) for o in due.skipped] == [
        ("reader1@lab.example", "paused"),
        ("reader2@lab.example", "no topics"),
    ]
    assert all(o.routine for o in due.skipped), "the schedule's own skips need no look"


def test_a_preview_ignores_the_cadence_but_not_the_topics() -> None:
    paused, empty = reader(1, cadence="paused"), reader(2, topics=())
    due = due_now([paused, empty], by_email({1: at(22, 8)}), at(22, 8), POLICY, ignore_cadence=True)
    assert [s.id for s in due.subscribers] == [1]
    assert [o.reason for o in due.skipped] == ["no topics"]


def test_an_unknown_zone_falls_back_to_the_configured_one() -> None:
    lost = reader(timezone="Atlantis/Capital")
    assert due_ids([lost], {1: at(21, 8, 1)}, at(22, 7, 59)) == []
    assert due_ids([lost], {1: at(21, 8, 1)}, at(22, 8, 0)) == [1]


def test_readers_are_found_by_address_whatever_its_case() -> None:
    assert [s.id for s in named([reader(1), reader(2)], " Reader2@LAB.example ")] == [2]
    with pytest.raises(InputError, match=r"no active subscriber with the address 'x@lab\.example'"):
        named([reader(1)], "x@lab.example")


# --- Windows -------------------------------------------------------------------------


def test_a_first_digest_looks_back_the_backlog_from_the_subscription() -> None:
    assert window_start(reader(), None, at(22, 8), POLICY) == CREATED - timedelta(days=7)
    short = replace(POLICY, backlog_days=0)
    assert window_start(reader(), None, at(22, 8), short) == CREATED


def test_a_daily_window_does_not_move_with_deliveries_the_ledger_does() -> None:
    assert window_start(reader(), at(21, 8), at(22, 8), POLICY) == CREATED - timedelta(days=7)


def test_a_weekly_window_holds_the_whole_week_or_everything_since_the_last_digest() -> None:
    weekly, short = reader(cadence="weekly"), replace(POLICY, backlog_days=0)
    now = at(24, 8)
    newer = replace(weekly, created_at=at(23, 12))
    assert window_start(newer, None, now, short) == now - timedelta(days=7)
    assert window_start(newer, at(20, 8), now, short) == now - timedelta(days=7)
    assert window_start(newer, at(10, 8), now, short) == at(10, 8)


def test_the_earliest_window_is_the_oldest_of_the_readers() -> None:
    daily = replace(reader(1), created_at=at(20, 12))
    weekly = replace(reader(2, cadence="weekly"), created_at=at(23, 12))
    now = at(24, 8)
    assert earliest_window([daily, weekly], {}, now, POLICY) == at(13, 12)
    assert earliest_window([daily, weekly], by_email({2: at(3, 8)}), now, POLICY) == at(3, 8)


# --- What each digest holds ----------------------------------------------------------


def test_each_due_reader_gets_their_matches_ranked_under_their_topics() -> None:
    planned = plan([reader(1), reader(2, topics=(LORA,))])
    # Paper 1 once, under its best topic; for a reader of LoRA alone, under that.
    assert paper_ids(planned) == [[1, 5, 2, 3], [3, 1]]
    assert planned.skipped == ()


def test_papers_already_sent_are_not_planned_again() -> None:
    planned = plan([reader(1), reader(2)], sent={1: {1, 5}, 2: {1, 2, 3, 5}})
    assert paper_ids(planned) == [[2, 3]]
    assert [(o.email, o.reason, o.routine) for o in planned.skipped] == [
        ("reader2@lab.example", "no new matching papers", True)
    ]


def test_papers_first_seen_before_the_window_are_left_out() -> None:
    old = CREATED - timedelta(days=8)
    assert paper_ids(plan([reader()], first_seen={2: old, 3: old})) == [[1, 5]]


def test_the_cap_keeps_the_best_papers_and_counts_the_rest() -> None:
    planned = plan([reader()], policy=replace(POLICY, max_papers=2))
    # The two title matches, shown by topic.
    assert paper_ids(planned) == [[1, 3]]
    assert planned.digests[0].digest.more == 2


def test_a_digest_is_dated_on_the_readers_calendar() -> None:
    tokyo = reader(timezone="Asia/Tokyo")
    assert local_day(tokyo, at(21, 23), POLICY) == date(2025, 11, 22)
    assert local_day(reader(), at(21, 23), POLICY) == date(2025, 11, 21)
    assert plan([tokyo], at(21, 23)).digests[0].digest.day == date(2025, 11, 22)


# --- Message-IDs and channels ------------------------------------------------------


def test_the_message_id_is_the_same_for_the_same_digest() -> None:
    first, again = plan([reader()]).digests[0], plan([reader()]).digests[0]
    assert first.message_id == again.message_id == message_id(first.digest, "lab.example")
    assert first.message_id.startswith("<20251122.1.")
    assert first.message_id.endswith("@lab.example>")


def test_the_message_id_differs_by_reader_day_and_papers() -> None:
    base = plan([reader()]).digests[0].message_id
    other_reader = plan([reader(2)]).digests[0].message_id
    next_day = plan([reader()], at(23, 8)).digests[0].message_id
    fewer_papers = plan([reader()], sent={1: {1}}).digests[0].message_id
    assert len({base, other_reader, next_day, fewer_papers}) == 4


def test_each_channel_gets_a_digest_in_sending_order_and_the_last_settles_the_claim() -> None:
    planned = plan([reader(1, channels=("email", "markdown", "lab-slack"))])
    assert [(p.channel, p.settles) for p in planned.digests] == [
        ("markdown", False),
        ("lab-slack", False),
        ("email", True),
    ]
    keys = {p.delivery_key for p in planned.digests}
    assert len(keys) == 3  # one per channel, each made from the digest's Message-ID


def _plan_with(
    subscriber: SubscriberView, ledger: Ledger, now: datetime = SLOT
) -> dict[str, PlannedDigest]:
    due = due_now([subscriber], ledger.last_sent, now, POLICY)
    matches = Matcher(TEXTS).match(t.rule() for t in subscriber.topics)
    seen = Candidates(PAPERS, {pid: SEEN for pid in PAPERS})
    planned = plan_digests(due.subscribers, ledger, seen, matches, now, POLICY)
    return {p.channel: p for p in planned.digests}


def test_a_channel_gets_only_the_papers_its_own_ledger_lacks() -> None:
    both = reader(1, channels=("markdown", "email"))
    planned = _plan_with(both, Ledger({}, {(1, "email"): {1, 5}}))
    ids = {name: {e.paper.paper_id for e in p.digest.entries} for name, p in planned.items()}
    assert {1, 5} <= ids["markdown"]
    assert not {1, 5} & ids["email"]


def test_a_channel_served_since_its_slot_waits_while_another_channel_is_due() -> None:
    both = reader(1, channels=("markdown", "email"))
    # The email went today, after the slot; the file never did.
    planned = _plan_with(both, Ledger({(1, "email"): at(22, 8, 2)}, {}), at(22, 9))
    assert [(name, p.settles) for name, p in planned.items()] == [("markdown", True)]


def test_a_reader_with_no_channel_is_skipped_saying_so() -> None:
    due = due_now([reader(channels=())], {}, SLOT, POLICY)
    assert due.subscribers == ()
    assert [o.reason for o in due.skipped] == ["no channels"]
