"""What a delivery run should send, decided from plain data (pure: no clock, no I/O).

    subscribers + their last delivery ─> who is due now (cadence, time zone,
      send time, paused, topics) ─> each one's window ─> the papers first seen in
      it that their topics matched, minus those the ledger says they had
      ─> ranked, capped ─> a planned digest: its channels and Message-ID

`bot.delivery.run` reads the subscribers, the ledger and the papers, matches
them, passes them here with `now`, and sends what comes back. A subscriber's
`format` is turned into the channels their digest goes to in one place,
`channels_of`, so no delivery code branches on the format.
"""

import hashlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from email.utils import parseaddr
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.config import Settings
from bot.delivery.cadence import Slots, due_reason
from bot.delivery.outcomes import Outcome
from bot.digest.model import Digest, DigestPaper
from bot.digest.select import select_digest
from bot.errors import InputError
from bot.matching.engine import Match
from bot.subscriptions.spec import email_key, normalise_email
from bot.subscriptions.store import SubscriberView, Topic

NO_SUBSCRIBER = "no active subscriber with the address {!r}"

_WEEK = timedelta(days=7)

# The channels each `format` goes to, in the order they are written or sent.
_CHANNELS: dict[str, tuple[str, ...]] = {
    "email": ("email",),
    "markdown": ("markdown",),
    "both": ("markdown", "email"),
}


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
    """What the ledger says of some subscribers, by subscriber id.

    `last_sent`: when their last digest was delivered (absent: never).
    `sent`: the ids of the papers already delivered to them (absent: none).
    """

    last_sent: Mapping[int, datetime]
    sent: Mapping[int, Collection[int]]


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
    """One subscriber's digest, the channels it goes to and its Message-ID."""

    subscriber: SubscriberView
    digest: Digest
    channels: tuple[str, ...]
    message_id: str

    @property
    def counted(self) -> str:
        """The channel whose delivery counts: it writes the ledger and settles the claim.

        With "both", the email: the Markdown file is a copy.
        """
        return counted_channel(self.channels)


@dataclass(frozen=True)
class Plan:
    """The digests to send, and an outcome for each subscriber who gets none."""

    digests: tuple[PlannedDigest, ...]
    skipped: tuple[Outcome, ...]


def channels_of(format: str) -> tuple[str, ...]:
    """The channels a digest in `format` goes to, in the order they are written or sent."""
    # A format this version does not know names itself, so reports still say it.
    return _CHANNELS.get(format, (format,))


def counted_channel(channels: Sequence[str]) -> str:
    """Of `channels`, the one whose delivery counts as the subscriber's digest."""
    return "email" if "email" in channels else channels[-1]


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
) -> str | None:
    """None when `subscriber`, last delivered at `last` (None: never), is due at `now`; else why not.

    With `ignore_cadence` (a preview), only their topics count.
    """
    if not ignore_cadence:
        why = due_reason(subscriber.cadence, last, now, slots_of(subscriber, policy))
        if why is not None:
            return why
    return None if subscriber.topics else "no topics"


def due_now(
    subscribers: Iterable[SubscriberView],
    last_sent: Mapping[int, datetime],
    now: datetime,
    policy: Policy,
    *,
    ignore_cadence: bool = False,
) -> Due:
    """Which of `subscribers` are due at `now`, given when each was last delivered (see `not_due`)."""
    due: list[SubscriberView] = []
    skipped: list[Outcome] = []
    for subscriber in subscribers:
        last = last_sent.get(subscriber.id)
        why = not_due(subscriber, last, now, policy, ignore_cadence=ignore_cadence)
        if why is None:
            due.append(subscriber)
        else:
            skipped.append(Outcome(subscriber.email, "", "skipped", why, routine=True))
    return Due(tuple(due), tuple(skipped))


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
    last_sent: Mapping[int, datetime],
    now: datetime,
    policy: Policy,
) -> datetime:
    """The start of the longest window among `subscribers`: older papers are in no digest."""
    return min(window_start(s, last_sent.get(s.id), now, policy) for s in subscribers)


def topics_of(subscribers: Iterable[SubscriberView]) -> list[Topic]:
    """Every topic of `subscribers`, in order: the rules to match."""
    return [t for s in subscribers for t in s.topics]


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
) -> Plan:
    """The digests of `due` (subscribers found due by `due_now`), from what the ledger says.

    `matches` are the candidates' matches of (at least) their topics, the topic's
    id as `Match.rule_id`. A subscriber with no new matching paper gets an
    outcome saying so instead.
    """
    by_rule: dict[int, list[Match]] = {}
    for match in matches:
        by_rule.setdefault(match.rule_id, []).append(match)
    digests: list[PlannedDigest] = []
    skipped: list[Outcome] = []
    for subscriber in due:
        digest = _digest(subscriber, ledger, candidates, by_rule, now, policy)
        if digest is None:
            skipped.append(
                Outcome(subscriber.email, "", "skipped", "no new matching papers", routine=True)
            )
        else:
            channels = channels_of(subscriber.format)
            digests.append(
                PlannedDigest(subscriber, digest, channels, message_id(digest, policy.domain))
            )
    return Plan(tuple(digests), tuple(skipped))


def _digest(
    subscriber: SubscriberView,
    ledger: Ledger,
    candidates: Candidates,
    by_rule: Mapping[int, list[Match]],
    now: datetime,
    policy: Policy,
) -> Digest | None:
    """The subscriber's unsent matches in their window, ranked and capped; None when none."""
    window = window_start(subscriber, ledger.last_sent.get(subscriber.id), now, policy)
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
        already_sent=ledger.sent.get(subscriber.id, ()),
        cap=policy.max_papers,
    )


def local_day(subscriber: SubscriberView, now: datetime, policy: Policy) -> date:
    """The day of `now` on the subscriber's own calendar (Tokyo's 08:00 is the previous day in UTC)."""
    return now.astimezone(slots_of(subscriber, policy).zone).date()
