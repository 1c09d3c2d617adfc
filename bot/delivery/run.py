"""One delivery run: every due subscriber gets the matched papers they have not had yet.

    round (started, or joined) ─> run record ─> due subscribers (by schedule, a
      page at a time, kept as ids) ─> recent papers indexed once ─> a page of them
      read again ─> claim a few subscribers (nobody else is on them) ─> the
      ledger read again, their papers matched ─> plan (a digest per channel)
      ─> each digest to its channel's outlet (`bot.channels.outlet`: Markdown
      files and chat channels first, then the emails as .eml files or over
      SMTP), which renders, sends and retries temporary failures
      ─> per message: delivery + ledger rows (+ the settled claim, with the
      subscriber's last channel) in one transaction
      ─> next few ─> wait for subscribers other workers hold ─> round finished
      ─> run record completed

This module does the I/O: it reads the subscribers, the ledger and the papers,
claims, sends and records. What to send is decided by `bot.delivery.plan` from
what it reads and `now`: who is due, each channel's digest and Message-ID.
Several processes on one database share a round (see `bot.delivery.claims`). A
dry run renders everything and says what it would send, and changes nothing.
"""

import logging
import random
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from itertools import chain

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col

from bot import locks
from bot.channels.chat import ChatOutlet
from bot.channels.email import EmailOutlet
from bot.channels.markdown import MarkdownOutlet
from bot.channels.outlet import CHAT, STOPPING, Outlet, outlet_of
from bot.clock import Clock
from bot.config import Settings
from bot.db import append_connection, write_session
from bot.delivery import claims, plan
from bot.delivery.claims import Holding
from bot.delivery.ledger import ChannelKey, last_sent, record_delivery, sent_papers
from bot.delivery.outcome_log import OutcomeLog
from bot.delivery.outcomes import DeliveryReport, Outcome, as_detail, count_outcomes
from bot.delivery.plan import Candidates, Ledger, PlannedDigest, Policy
from bot.digest.model import Digest, DigestPaper, DigestSection, FeedbackLinks
from bot.digest.render import DigestRenderer
from bot.errors import InputError
from bot.matching.engine import Match, Matcher, PaperText
from bot.models import Paper
from bot.papers import as_digest_paper, paper_text
from bot.runs import finish_run, start_run
from bot.similar_papers import SimilarPapers, load_similar_papers
from bot.subscriptions.channels import channel_settings
from bot.subscriptions.examples import active_example_ids
from bot.subscriptions.lab_channels import is_lab, lab_recipients
from bot.subscriptions.spec import email_key
from bot.subscriptions.store import (
    LIST_PAGE,
    SubscriberView,
    Topic,
    active_subscribers,
    find_subscriber,
    list_subscribers,
    subscriber_pages,
)
from bot.tokens import (
    LinkSubject,
    TokenSubject,
    feedback_link,
    link_subject,
    make_feedback_token,
    signed_link,
    signing_secret,
)

log = logging.getLogger("paperbot.delivery")

Progress = Callable[[int, int], None]
"""Hears (subscribers settled, subscribers due) as a run goes."""

CLAIM_BATCH = 25
"""Subscribers claimed at a time: few, so workers share a round evenly and a dead one strands few."""
RENEW_AFTER = 0.1
"""The part of the lease after which a run renews its claims at its next look at one."""

_WAIT_FOR_OTHERS = 1.0
"""Seconds between looks at subscribers other workers hold, once nothing else is left."""

_TAKEN_OVER = (
    "not sent: another worker took it over while this run was stalled past its claim's lease"
)
_SENT_TWICE = (
    "this run stalled while sending it, past its claim's lease, and another worker took the"
    " reader over: they may have received this digest twice"
)


@dataclass(frozen=True)
class _Index:
    """The papers recent enough for any due subscriber's digest, indexed once per run."""

    since: datetime
    matcher: Matcher
    similar: SimilarPapers
    candidates: Candidates

    def match(self, topics: list[Topic]) -> list[Match]:
        """The candidates' matches of `topics` (by keywords, follows and examples)."""
        return self.matcher.match(self.similar.rules(topics))


@dataclass
class _DueList:
    """Who is due now, as a run keeps it: ids, read again as views a page at a time.

    Views of every subscriber held for the whole run grew its memory with the
    subscribers (about 1.3 KB each); the ids take a few bytes.
    """

    ids: list[int] = field(default_factory=list)
    labs: dict[int, SubscriberView] = field(default_factory=dict)
    """The lab channels' recipients among them (a few), kept as they are: no subscriber rows."""
    since: datetime | None = None
    """The start of the longest window among them: older papers are in no digest."""
    examples: set[int] = field(default_factory=set)
    """The example papers of every active subscriber's topics (theirs among them): the
    papers whose vectors the run reads."""


def deliver(
    engine: Engine,
    settings: Settings,
    *,
    clock: Clock,
    only: str | None = None,
    dry_run: bool = False,
    sleep: Callable[[float], object] = time.sleep,
    progress: Progress | None = None,
    stop: threading.Event | None = None,
    join: claims.Round | None = None,
) -> DeliveryReport:
    """Deliver the digest of every subscriber due now (or only `only`'s), once.

    Starts a delivery round, or takes part in `join`, a round another worker
    started: subscribers are claimed a few at a time, so several processes on
    one database share the work and nobody gets a digest twice. A run ends when
    every due subscriber is settled, by it or by others (it waits for those
    others hold, and takes them over if their holder dies).

    `progress(done, total)`, when given, hears how many subscribers are settled.
    Once `stop` is set, no new digest is started: messages already handed to the
    server are finished and recorded, and the rest are skipped (they are still
    due at the next run).
    """
    if dry_run:
        planned = _Run(engine, settings, clock, None, sleep)
        outcomes = planned.dry_run(only)
        return DeliveryReport(None, outcomes, count_outcomes(outcomes, dry_run=True))
    if only is not None and join is None:
        # A mistyped address is bad input, not a failed delivery: refused before a run
        # or a round (which other workers would join) is recorded.
        _check_active(engine, only)
    run_id = start_run(engine, "delivery", now=clock())
    # Named by process and run: two runs of one process may share a round too.
    holder = f"{locks.holder_name()}/{run_id}"
    if join is None:
        round_id = claims.start_round(engine, holder=holder, now=clock(), only=only)
    else:
        round_id, only = join.id, join.only
    holding = Holding(round_id, holder)
    run = _Run(engine, settings, clock, run_id, sleep, progress, holding, stop)
    try:
        # A worker joining a round starts at a random place in the list: workers that
        # all began at the top would try to claim the same subscribers all the way down.
        outcomes = run.deliver(only=only, spread=join is not None)
    except Exception as exc:
        failure = [{"target": "", "outcome": "failed", "reason": str(exc)}]
        finish_run(engine, run_id, status="failed", counts={}, details=failure, now=clock())
        raise
    finally:
        run.close()
        claims.release(engine, holding)
    stopped = run.stop.is_set()
    # The run's rendered entries and views (tens of MB) go before its record is
    # written: that record of every row is built in the memory they leave.
    del run
    if not stopped:
        claims.finish_round(engine, round_id, now=clock())
    counts = count_outcomes(outcomes)
    finish_run(
        engine, run_id, status=counts.status, counts=counts.as_record(),
        details=(as_detail(outcome) for outcome in outcomes),
        now=clock(),
    )  # fmt: skip
    return DeliveryReport(run_id, outcomes, counts, round_id)


def _with_feedback(
    section: DigestSection, base: str, secret: str, subject: LinkSubject, today: date
) -> DigestSection:
    """The section with each entry's feedback links for its topic; one token (~6 us) serves both."""
    if section.topic_id is None:
        return section
    entries = []
    for entry in section.entries:
        token = make_feedback_token(
            secret, subject, section.topic_id, entry.paper.paper_id, today=today
        )
        links = FeedbackLinks(
            feedback_link(base, "more", token), feedback_link(base, "fewer", token)
        )
        entries.append(replace(entry, feedback=links))
    return replace(section, entries=tuple(entries))


def _check_active(engine: Engine, email: str) -> None:
    """Raise `InputError` unless `email` is an active subscriber's address."""
    with Session(engine) as session:
        subscriber = find_subscriber(session, email)
    if subscriber is None or subscriber.status != "active":
        raise InputError(plan.NO_SUBSCRIBER.format(email.strip()))


def preview(engine: Engine, settings: Settings, email: str, *, clock: Clock) -> Digest | None:
    """Return the digest this subscriber would get now, whatever their cadence; None if empty.

    Nothing is sent or recorded.
    """
    planned = _Run(engine, settings, clock, None, time.sleep)._plan(email, ignore_cadence=True)
    first = next(planned, None)
    return first.digest if first is not None else None


class _Run:
    """The I/O of one run: reading, claiming, sending and recording what `plan` decides.

    Its steps share the run's settings, clock and renderer. The outlets send each
    channel's digests (`bot.channels.outlet`); the run is the `OutletRun` they
    report to: it looks at its claims and records each digest.
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        clock: Clock,
        run_id: int | None,
        sleep: Callable[[float], object],
        progress: Progress | None = None,
        holding: Holding | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.policy = Policy.from_settings(settings)
        self.clock = clock
        self.run_id = run_id
        self.sleep = sleep
        self.progress = progress
        self.stop = stop or threading.Event()
        self.renderer = DigestRenderer(settings.delivery.templates)
        self.outcomes = OutcomeLog()
        self.total = self.done = 0
        # This run's part in its round (None in a dry run or a preview), and when
        # the lease of its claims was last renewed.
        self.holding = holding
        self.lease = timedelta(seconds=settings.delivery.claim_lease)
        self.renewed = clock()
        # The subscribers this run holds claims on, as of the last claim or renewal.
        self.held: set[int] = set()
        self._secret: str | None = None
        # The connection the run records its deliveries over, once it has one to record.
        self._ledger: Connection | None = None
        self.email = EmailOutlet(
            settings, self.renderer, clock=clock, domain=self.policy.domain, run_id=run_id,
            sleep=sleep,
        )  # fmt: skip
        self.chat = ChatOutlet(settings.delivery, self.renderer.paper_view)
        self.outlets: dict[str, Outlet] = {
            "email": self.email,
            "markdown": MarkdownOutlet(settings.digests_dir, self.renderer),
            CHAT: self.chat,
        }

    def dry_run(self, only: str | None) -> OutcomeLog:
        """Say what a run would send now, changing nothing."""
        for item in self._plan(only):
            what = self.outlets[outlet_of(item.channel)].describe(item)
            count = len(item.digest.entries)
            self.outcomes.append(
                Outcome(item.subscriber.email, item.channel, "would send", what, count)
            )
        return self.outcomes

    def close(self) -> None:
        """Let go of the outlets' connections and the ledger's, if any were made."""
        for outlet in self.outlets.values():
            outlet.close()
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def deliver(self, *, only: str | None, spread: bool = False) -> OutcomeLog:
        """Claim, plan and send until every due subscriber is settled (or the run is stopped).

        With `spread`, the run starts at a random batch of the due list.
        """
        due = self._due(only)
        if not due.ids:
            return self.outcomes
        self.total = len(due.ids)
        index = self._index(due)
        start = random.randrange(0, len(due.ids), CLAIM_BATCH) if spread else 0
        waiting = due.ids[start:] + due.ids[:start]
        while waiting:
            held_by_others: list[int] = []
            # Emails stream to the transport across batches (it keeps its connections).
            self.email.send(self._claimed(waiting, due.labs, index, held_by_others), self)
            if not held_by_others or self.stop.is_set():
                break
            if len(held_by_others) == len(waiting):
                # Other workers are still delivering to all of these: wait for them to
                # settle, or for their claims to run out (a worker that died). When some
                # moved meanwhile, the rest may have too: look again at once.
                self.sleep(min(_WAIT_FOR_OTHERS, self.lease.total_seconds() / 4))
            waiting = held_by_others
        return self.outcomes

    def _claimed(
        self,
        waiting: list[int],
        labs: dict[int, SubscriberView],
        index: _Index,
        held_by_others: list[int],
    ) -> Iterator[PlannedDigest]:
        """Claim `waiting` a few at a time; write Markdown digests, send chat ones; yield emails.

        A subscriber's digests are planned in sending order, email last (its claim
        settles with the last); Markdown files and chat messages go batch by batch.

        Subscribers another worker is on go to `held_by_others`.
        """
        assert self.holding is not None  # only real runs claim
        for batch in self._batches(waiting, labs):
            if self.stop.is_set():
                for subscriber in batch:
                    self._skipped(subscriber, STOPPING)
            else:
                yield from self._claim_batch(batch, index, held_by_others)

    def _claim_batch(
        self, batch: list[SubscriberView], index: _Index, held_by_others: list[int]
    ) -> Iterator[PlannedDigest]:
        """Claim `batch` and plan its digests; write the Markdown ones, send the chat ones; yield emails."""
        assert self.holding is not None  # only real runs claim
        claimed = claims.claim(
            self.engine, self.holding, [s.id for s in batch], now=self.clock(), lease=self.lease
        )
        self.held |= claimed.mine
        held_by_others.extend(s.id for s in batch if s.id in claimed.busy)
        mine = [s for s in batch if s.id in claimed.mine]
        # Settled in this round by another worker: theirs to report.
        self._settled(len(batch) - len(mine) - len(claimed.busy))
        planned = self._digests(mine, index)
        nothing_to_send = {s.id for s in mine} - {p.subscriber.id for p in planned}
        if nothing_to_send:
            with write_session(self.engine, exclusive=False) as session:
                claims.settle(session, self.holding, sorted(nothing_to_send))
            self._settled(len(nothing_to_send))
        by_outlet: dict[str, list[PlannedDigest]] = {}
        for item in planned:
            if self.stop.is_set():
                self.skipped(item, STOPPING)
            else:
                by_outlet.setdefault(outlet_of(item.channel), []).append(item)
        for name in ("markdown", CHAT):
            self.outlets[name].send(by_outlet.get(name, []), self)
        yield from by_outlet.get("email", [])

    def _batches(
        self, ids: list[int], labs: dict[int, SubscriberView]
    ) -> Iterator[list[SubscriberView]]:
        """The subscribers `ids` as views, `CLAIM_BATCH` at a time, in order.

        Read `LIST_PAGE` at a time; one who left since the run began is not among
        them, and counts as settled.
        """
        for start in range(0, len(ids), LIST_PAGE):
            wanted = ids[start : start + LIST_PAGE]
            with Session(self.engine) as session:
                found = active_subscribers(session, [i for i in wanted if i not in labs])
            views = {view.id: view for view in found}
            views.update((i, labs[i]) for i in wanted if i in labs)
            self._settled(len(wanted) - len(views))
            page = [views[i] for i in wanted if i in views]
            for first in range(0, len(page), CLAIM_BATCH):
                yield page[first : first + CLAIM_BATCH]

    def _plan(self, only: str | None, *, ignore_cadence: bool = False) -> Iterator[PlannedDigest]:
        """Every due subscriber's digest, without claiming anyone (a dry run, a preview).

        Planned a batch at a time, as a run does, so memory does not grow with the
        subscribers: the caller uses each digest and lets it go.
        """
        due = self._due(only, ignore_cadence=ignore_cadence)
        if not due.ids:
            return
        index = self._index(due)
        for batch in self._batches(due.ids, due.labs):
            yield from self._digests(batch, index, ignore_cadence=ignore_cadence)

    def _due(self, only: str | None, *, ignore_cadence: bool = False) -> _DueList:
        """The subscribers due now by their schedules, read a page at a time; the others are reported.

        Read without their topics (most of the cost of reading a subscriber): the
        run reads each page of those due again, topics and all, as it claims them,
        and reports then those with no topics.
        """
        now = self.clock()
        due = _DueList()
        names: set[str] = set()
        with Session(self.engine) as session:
            pages: Iterable[list[SubscriberView]]
            if only is not None:
                pages = [plan.named(list_subscribers(session), only)]
            else:
                pages = chain(
                    subscriber_pages(session, with_topics=False), [lab_recipients(session)]
                )
            for page in pages:
                names.update(name for subscriber in page for name in subscriber.channels)
                last = last_sent(session, [s.id for s in page])
                self._add_due(due, page, last, now, ignore_cadence)
            due.examples = active_example_ids(session)
            self.chat.channels = channel_settings(session, names)
        return due

    def _add_due(
        self,
        due: _DueList,
        page: list[SubscriberView],
        last: dict[ChannelKey, datetime],
        now: datetime,
        ignore_cadence: bool,
    ) -> None:
        """Add those of `page` due now by their schedules to `due`; report the others."""
        found = plan.due_now(
            page, last, now, self.policy, ignore_cadence=ignore_cadence, topics_read=False
        )
        self.outcomes.extend(found.skipped)
        if not found.subscribers:
            return
        since = plan.earliest_window(found.subscribers, last, now, self.policy)
        due.since = since if due.since is None else min(due.since, since)
        for subscriber in found.subscribers:
            due.ids.append(subscriber.id)
            if is_lab(subscriber):
                due.labs[subscriber.id] = subscriber

    def _index(self, due: _DueList) -> _Index:
        """Index the papers first seen early enough to be in any of `due`'s digests."""
        assert due.since is not None  # set with the first subscriber due
        texts: list[PaperText] = []
        papers: dict[int, DigestPaper] = {}
        first_seen: dict[int, datetime] = {}
        with Session(self.engine) as session:
            for paper in session.scalars(
                select(Paper).where(col(Paper.first_seen_at) >= due.since)
            ):
                assert paper.id is not None  # rows read back always have their key
                texts.append(paper_text(paper))
                papers[paper.id] = as_digest_paper(paper)
                first_seen[paper.id] = paper.first_seen_at
        similar = load_similar_papers(
            self.engine,
            papers,
            due.examples,
            keep=self.holding is not None,  # a dry run writes nothing, not even vectors
        )
        return _Index(due.since, Matcher(texts), similar, Candidates(papers, first_seen))

    def _digests(
        self, subscribers: list[SubscriberView], index: _Index, *, ignore_cadence: bool = False
    ) -> list[PlannedDigest]:
        """The digests of `subscribers`, from the ledger as it is now; the others are reported.

        Read afresh, not from the start of the run: another worker may have
        delivered to one of them since.
        """
        now = self.clock()
        ids = [s.id for s in subscribers]
        with Session(self.engine) as session:
            last = last_sent(session, ids)
            sent = sent_papers(session, ids, since=index.since)
        due = plan.due_now(subscribers, last, now, self.policy, ignore_cadence=ignore_cadence)
        self.outcomes.extend(due.skipped)
        matches = index.match(plan.topics_of(due.subscribers))
        planned = plan.plan_digests(
            due.subscribers, Ledger(last, sent), index.candidates, matches, now, self.policy,
            ignore_cadence=ignore_cadence,
        )  # fmt: skip
        self.outcomes.extend(planned.skipped)
        return [
            p if is_lab(p.subscriber) else replace(p, digest=self._with_links(p.digest))
            for p in planned.digests
        ]

    def _with_links(self, digest: Digest) -> Digest:
        """The digest with its reader's signed links: feedback on each entry, unsubscribe, manage.

        A lab channel's digest has none: its room is no one reader, and its topics
        are their owners' to change.
        """
        base = self.settings.web.base_url.rstrip("/")
        if not base:
            return digest
        if self._secret is None:  # read (or made) once per run, not once per digest
            self._secret = signing_secret(self.engine, self.settings.web.secret.get_secret_value())
        secret = self._secret
        # The address's fingerprint once for all of the digest's tokens.
        subject = link_subject(secret, TokenSubject(digest.subscriber_id, email_key(digest.email)))
        today = self.clock().date()
        sections = tuple(_with_feedback(s, base, secret, subject, today) for s in digest.sections)
        return replace(
            digest,
            sections=sections,
            unsubscribe_url=signed_link(base, secret, "unsubscribe", subject),
            manage_url=signed_link(base, secret, "manage", subject),
        )

    def _skipped(
        self, subscriber: SubscriberView, reason: str, channels: Iterable[str] | None = None
    ) -> None:
        """Report the channels of `subscriber` this run did not reach (all by default), and why."""
        for channel in subscriber.channels if channels is None else channels:
            self.outcomes.append(Outcome(subscriber.email, channel, "skipped", reason))

    def skipped(self, item: PlannedDigest, reason: str) -> None:
        """Report `item` as not sent, and why (it stays due)."""
        self._skipped(item.subscriber, reason, (item.channel,))

    def still_held(self, item: PlannedDigest) -> bool:
        """Whether this run still holds its claim on `item`'s subscriber, checked just before sending.

        A run that stalled (a paused machine, a hung disk) past its lease may have
        lost claims to another worker, which then serves those subscribers: they are
        reported and left to it. A message already on its way when the run stalled
        cannot be called back (see `record`).

        Cheap enough for every message: the claims are renewed (a write) only when a
        tenth of the lease has passed since the last renewal (`RENEW_AFTER`); until
        then the lease of every claim in `held` has at least nine tenths left, which
        is how long a stall after this look may last before another worker could
        take the reader over.
        """
        self._keep_claims()
        if item.subscriber.id in self.held:
            return True
        self._skipped(item.subscriber, _TAKEN_OVER, (item.channel,))
        if item.settles:
            self._settled(1)
        return False

    def keep_claims(self) -> None:
        """Renew the claims now (before trying digests again after a pause)."""
        self._keep_claims(force=True)

    def _keep_claims(self, *, force: bool = False) -> None:
        """Renew the lease of this run's claims well before it runs out; learn which it still holds."""
        now = self.clock()
        if self.holding is None or (not force and now - self.renewed < self.lease * RENEW_AFTER):
            return
        self.held = set(claims.renew(self.engine, self.holding, now=now, lease=self.lease))
        self.renewed = now

    def record(
        self, item: PlannedDigest, status: str, reason: str, *,
        message_id: str | None = None, attempts: int = 1,
        delivered: Collection[int] | None = None,
    ) -> None:  # fmt: skip
        """Record what became of `item` on its channel; `delivered`: see `record_delivery`.

        With the subscriber's last digest (`item.settles`) the claim is settled in the
        same transaction.
        """
        channel, settles = item.channel, item.settles
        ids = [entry.paper.paper_id for entry in item.digest.entries]
        recorded = record_delivery(
            self._ledger_connection(), run_id=self.run_id, subscriber_id=item.subscriber.id,
            channel=channel, status=status, reason=reason, paper_ids=ids, now=self.clock(),
            attempts=attempts, message_id=message_id, settles=self.holding if settles else None,
            delivered=delivered,
        )  # fmt: skip
        if not recorded:
            # The run stalled after its last look at the claim (a message on its way)
            # and another worker took the reader over: the delivery is recorded as
            # what it was, and the ledger and the claim are left to that worker.
            twice = self.outlets[outlet_of(channel)].twice
            if status == "sent" and twice is not None:
                reason = f"{reason}; {_SENT_TWICE}{twice}"
                log.warning(
                    "digest sent after another worker took the reader over",
                    extra={"run": self.run_id, "subscriber": item.subscriber.id},
                )
            record_delivery(
                self._ledger_connection(), run_id=self.run_id, subscriber_id=item.subscriber.id,
                channel=channel, status=status, reason=reason, paper_ids=ids, now=self.clock(),
                attempts=attempts, message_id=message_id, ledger=False,
            )  # fmt: skip
        self.outcomes.append(Outcome(item.subscriber.email, channel, status, reason, len(ids)))
        if settles:
            self._settled(1)

    def _ledger_connection(self) -> Connection:
        """The connection deliveries are recorded over, kept for the run (one per message)."""
        if self._ledger is None:
            self._ledger = append_connection(self.engine)
        return self._ledger

    def _settled(self, count: int) -> None:
        """Count `count` more subscribers as settled, and say so."""
        if count <= 0:
            return
        self.done += count
        if self.progress is not None:
            self.progress(self.done, self.total)
