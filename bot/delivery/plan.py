"""What a delivery run should send, decided from plain data (pure: no clock, no I/O).

    subscribers + their last delivery ─> who is due now (cadence, time zone,
      send time, paused, topics) ─> each one's window ─> the papers first seen in
      it that their topics matched, minus those the ledger says that channel had
      ─> ranked, capped ─> a planned digest per channel: its Message-ID, and
      whether recording it settles the subscriber's claim

`bot.delivery.run` reads the subscribers, the ledger and the papers, matches
them, passes them here with `now`, and sends what comes back. The ledger is kept
per channel, so each channel of a subscriber (their email, a Markdown file, a
Slack room...) gets each paper once, whatever happened to the others: a channel
that failed today gets its papers at its next run, one that worked does not get
them again.
"""

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from email.utils import parseaddr
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config import Settings
from bot.delivery.cadence import Slots, due_reason
from bot.delivery.ledger import ChannelKey
from bot.delivery.outcomes import Outcome
from bot.digest.model import Digest, DigestPaper
from bot.digest.select import select_digest
from bot.errors import InputError
from bot.matching.engine import Match
from bot.subscriptions.spec import email_key, normalise_email
from bot.subscriptions.store import SubscriberView, Topic

NO_SUBSCRIBER = "no active subscriber with the address {!r}"

_WEEK = timedelta(days=7)

# Email goes last: it is sent over SMTP connections after the other channels of a
# batch are done, and the last channel of a subscriber settles their claim.
_EMAIL = "email"


@dataclass(frozen=True)
class Policy:
    """What the settings say about planning digests."""

    timezone: str  # the zone of subscribers who have none of their own
    send_at: time
    weekly_on: str
    backlog_days: int
    max_papers: int
    domain: str  # of the Message-IDs: the sender's

    @classmethod
    def from_settings(cls, settings: Settings) -> "Policy":
        """The policy of `settings`' schedule and delivery sections."""
        schedule, delivery = settings.schedule, settings.delivery
        return cls(
            timezone=schedule.timezone,
            send_at=schedule.send_at,
            weekly_on=schedule.weekly_on,
            backlog_days=delivery.backlog_days,
            max_papers=delivery.max_papers,
            domain=parseaddr(delivery.sender)[1].rpartition("@")[2] or "localhost",
        )


@dataclass(frozen=True)
class Ledger:
    """What the ledger says of some subscribers, by subscriber id and channel name.

    `last_sent`: when a digest last reached that channel (absent: never).
    `sent`: the ids of the papers already delivered to it (absent: none).
    """

    last_sent: Mapping[ChannelKey, datetime]
    sent: Mapping[ChannelKey, Collection[int]]


@dataclass(frozen=True)
class Candidates:
    """The papers a run may put in digests: each one's digest view and when it was first seen."""

    papers: Mapping[int, DigestPaper]
    first_seen: Mapping[int, datetime]


@dataclass(frozen=True)
class Due:
    """The subscribers due now, and an outcome saying why for each of the others."""

    subscribers: tuple[SubscriberView, ...]
    skipped: tuple[Outcome, ...]


@dataclass(frozen=True)
class PlannedDigest:
    """One subscriber's digest for one of their channels, and its Message-ID.

    `settles`: this is the last of the subscriber's digests in the run, so the
    transaction recording it settles their claim.
    """

    subscriber: SubscriberView
    digest: Digest
    channel: str
    message_id: str
    settles: bool = True

    @property
    def delivery_key(self) -> str:
        """The key a chat service or webhook receiver knows a resend of this digest by.

        The same for every attempt, run and worker (made from the Message-ID), and
        different for each channel.
        """
        return f"{self.message_id.strip('<>')}/{self.channel}"


@dataclass(frozen=True)
class Plan:
    """The digests to send, and an outcome for each subscriber who gets none."""

    digests: tuple[PlannedDigest, ...]
    skipped: tuple[Outcome, ...]


def sending_order(channels: Sequence[str]) -> tuple[str, ...]:
    """`channels` in the order a run reaches them: as listed, the email last."""
    return tuple(c for c in channels if c != _EMAIL) + tuple(c for c in channels if c == _EMAIL)


def last_of(
    subscriber: SubscriberView, last_sent: Mapping[ChannelKey, datetime]
) -> dict[str, datetime | None]:
    """When a digest last reached each of the subscriber's channels (None: never)."""
    return {c: last_sent.get((subscriber.id, c)) for c in subscriber.channels}


def named(subscribers: Iterable[SubscriberView], only: str) -> list[SubscriberView]:
    """The subscribers with the address `only`; raises `InputError` when there are none."""
    wanted = email_key(normalise_email(only))
    found = [s for s in subscribers if email_key(s.email) == wanted]
    if not found:
        raise InputError(NO_SUBSCRIBER.format(only.strip()))
    return found


def slots_of(subscriber: SubscriberView, policy: Policy) -> Slots:
    """The subscriber's slots: the schedule's times, on their own zone's clock."""
    try:
        zone = ZoneInfo(subscriber.timezone or policy.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        # Names are checked when stored; one the time zone database stopped knowing
        # falls back to the configured zone rather than stopping every digest.
        zone = ZoneInfo(policy.timezone)
    return Slots(zone, policy.send_at, policy.weekly_on)


def not_due(
    subscriber: SubscriberView,
    last: datetime | None,
    now: datetime,
    policy: Policy,
    *,
    ignore_cadence: bool = False,
    topics_read: bool = True,
) -> str | None:
    """None when `subscriber`, last delivered at `last` (None: never), is due at `now`; else why not.

    With `ignore_cadence` (a preview), only their topics count. Without
    `topics_read` (views read without topics), only the schedule does.
    """
    if not ignore_cadence:
        why = due_reason(subscriber.cadence, last, now, slots_of(subscriber, policy))
        if why is not None:
            return why
    return None if subscriber.topics or not topics_read else "no topics"


def due_now(
    subscribers: Iterable[SubscriberView],
    last_sent: Mapping[ChannelKey, datetime],
    now: datetime,
    policy: Policy,
    *,
    ignore_cadence: bool = False,
    topics_read: bool = True,
) -> Due:
    """Which of `subscribers` are due at `now`: those with a channel due (see `not_due`).

    `last_sent` says when a digest last reached each subscriber's channel.
    """
    due: list[SubscriberView] = []
    skipped: list[Outcome] = []
    for subscriber in subscribers:
        why = _not_due(subscriber, last_sent, now, policy, ignore_cadence, topics_read)
        if why is None:
            due.append(subscriber)
        else:
            skipped.append(Outcome(subscriber.email, "", "skipped", why, routine=True))
    return Due(tuple(due), tuple(skipped))


def _not_due(
    subscriber: SubscriberView,
    last_sent: Mapping[ChannelKey, datetime],
    now: datetime,
    policy: Policy,
    ignore_cadence: bool,
    topics_read: bool,
) -> str | None:
    """None when one of the subscriber's channels is due; else why none is (the first one's)."""
    if not subscriber.channels:
        return "no channels"
    reasons = [
        not_due(
            subscriber, last, now, policy, ignore_cadence=ignore_cadence, topics_read=topics_read
        )
        for last in last_of(subscriber, last_sent).values()
    ]
    return None if None in reasons else reasons[0]


def window_start(
    subscriber: SubscriberView, last: datetime | None, now: datetime, policy: Policy
) -> datetime:
    """How far back the subscriber's digest looks: papers first seen since then count.

    A new subscriber gets `backlog_days` of papers from before they subscribed. A
    weekly digest holds at least the whole week (or everything since the last
    one), however short that backlog is.
    """
    start = subscriber.created_at - timedelta(days=policy.backlog_days)
    if subscriber.cadence == "weekly":
        week_ago = now - _WEEK
        start = min(start, week_ago if last is None else min(last, week_ago))
    return start


def earliest_window(
    subscribers: Iterable[SubscriberView],
    last_sent: Mapping[ChannelKey, datetime],
    now: datetime,
    policy: Policy,
) -> datetime:
    """The start of the longest window among `subscribers`' channels: older papers are in no digest."""
    return min(
        window_start(s, last, now, policy)
        for s in subscribers
        for last in (last_of(s, last_sent).values() or (None,))
    )


def topics_of(subscribers: Iterable[SubscriberView]) -> list[Topic]:
    """Every topic of `subscribers`, in order, each once: the rules to match.

    A topic routed to a lab channel is its owner's too: matched once for both.
    """
    topics: dict[int, Topic] = {}
    for subscriber in subscribers:
        for topic in subscriber.topics:
            topics.setdefault(topic.id, topic)
    return list(topics.values())


def message_id(digest: Digest, domain: str) -> str:
    """The digest's Message-ID, made from its day, its subscriber and its papers.

    The same for every attempt, every run and every worker sending this digest: a
    message the server took but did not confirm (the connection dropped, the
    worker died) and that is sent again is then one message to mail clients.
    """
    papers = ",".join(str(e.paper.paper_id) for e in digest.entries)
    tag = hashlib.sha256(papers.encode()).hexdigest()[:16]
    return f"<{digest.day:%Y%m%d}.{digest.subscriber_id}.{tag}@{domain}>"


def plan_digests(
    due: Iterable[SubscriberView],
    ledger: Ledger,
    candidates: Candidates,
    matches: Iterable[Match],
    now: datetime,
    policy: Policy,
    *,
    ignore_cadence: bool = False,
) -> Plan:
    """The digests of `due` (subscribers found due by `due_now`), one per channel due.

    `matches` are the candidates' matches of (at least) their topics, the topic's
    id as `Match.rule_id`. A subscriber with no new matching paper on any channel
    gets an outcome saying so instead.
    """
    by_rule: dict[int, list[Match]] = {}
    for match in matches:
        by_rule.setdefault(match.rule_id, []).append(match)
    digests: list[PlannedDigest] = []
    skipped: list[Outcome] = []
    for subscriber in due:
        theirs: list[PlannedDigest] = []
        for channel in sending_order(subscriber.channels):
            last = ledger.last_sent.get((subscriber.id, channel))
            if not_due(subscriber, last, now, policy, ignore_cadence=ignore_cadence) is not None:
                continue  # this channel had today's digest; another is due
            digest = _digest(subscriber, channel, ledger, candidates, by_rule, now, policy)
            if digest is not None:
                theirs.append(
                    PlannedDigest(
                        subscriber, digest, channel, message_id(digest, policy.domain), False
                    )
                )
        if not theirs:
            skipped.append(
                Outcome(subscriber.email, "", "skipped", "no new matching papers", routine=True)
            )
            continue
        theirs[-1] = replace(theirs[-1], settles=True)
        digests.extend(theirs)
    return Plan(tuple(digests), tuple(skipped))


def _digest(
    subscriber: SubscriberView,
    channel: str,
    ledger: Ledger,
    candidates: Candidates,
    by_rule: Mapping[int, list[Match]],
    now: datetime,
    policy: Policy,
) -> Digest | None:
    """The channel's unsent matches in its window, ranked and capped; None when none."""
    last = ledger.last_sent.get((subscriber.id, channel))
    window = window_start(subscriber, last, now, policy)
    first_seen = candidates.first_seen
    matches = [
        m
        for t in subscriber.topics
        for m in by_rule.get(t.id, ())
        if first_seen[m.paper_id] >= window
    ]
    return select_digest(
        subscriber_id=subscriber.id,
        email=subscriber.email,
        day=local_day(subscriber, now, policy),
        topics={t.id: t.name for t in subscriber.topics},
        matches=matches,
        papers=candidates.papers,
        already_sent=ledger.sent.get((subscriber.id, channel), ()),
        cap=policy.max_papers,
    )


def local_day(subscriber: SubscriberView, now: datetime, policy: Policy) -> date:
    """The day of `now` on the subscriber's own calendar (Tokyo's 08:00 is the previous day in UTC)."""
    return now.astimezone(slots_of(subscriber, policy).zone).date()
