"""One delivery run: every due subscriber gets the matched papers they have not had yet.

    lock ─> run record ─> due subscribers ─> match recent papers (one Matcher for all)
      ─> per subscriber: unsent matches, ranked and capped ─> render
      ─> send (.eml files or SMTP); temporary failures retried with backoff
      ─> per message: delivery + ledger rows in one transaction
      ─> run record completed ─> unlock

A dry run renders everything and says what it would send, and changes nothing.
"""

import asyncio
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import parseaddr
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from bot import locks
from bot.clock import Clock
from bot.config import Settings
from bot.delivery.cadence import Slots, due_reason
from bot.delivery.ledger import last_sent, record_delivery, sent_papers
from bot.delivery.transports import (
    FileTransport,
    OnResult,
    Outgoing,
    SendResult,
    SmtpTransport,
    write_markdown,
)
from bot.digest.message import build_message
from bot.digest.model import Digest, DigestPaper
from bot.digest.render import DigestRenderer
from bot.digest.select import select_digest
from bot.errors import InputError, JobLockedError
from bot.matching.engine import Match, Matcher, PaperText, Rule
from bot.models import Paper
from bot.papers import as_digest_paper
from bot.runs import finish_run, start_run
from bot.subscriptions.spec import email_key, normalise_email
from bot.subscriptions.store import SubscriberView, list_subscribers
from bot.tokens import TokenSubject, signed_link, signing_secret

Progress = Callable[[int, int], None]
"""Hears (digests settled, digests planned) as a run goes."""

LOCK = "delivery"
LEASE = timedelta(minutes=30)
_BACKOFF_BASE = 2.0
_BACKOFF_CAP = 60.0
_WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Outcome:
    """What one run did for one subscriber on one channel, and why."""

    email: str
    channel: str  # "email", "markdown", or "" when nothing was made
    status: str  # "sent", "failed", "skipped" or, in a dry run, "would send"
    reason: str
    papers: int = 0


@dataclass(frozen=True)
class DeliveryReport:
    """Everything one run did; `run_id` is None for a dry run."""

    run_id: int | None
    outcomes: tuple[Outcome, ...]


@dataclass(frozen=True)
class _Planned:
    subscriber: SubscriberView
    digest: Digest


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
) -> DeliveryReport:
    """Run delivery once; raise `JobLockedError` when another run is delivering.

    `progress(done, total)`, when given, hears how many digests are settled.
    Once `stop` is set, no new digest is started: messages already handed to the
    server are finished and recorded, and the rest are skipped (they are still
    due at the next run).
    """
    holder = locks.holder_name()
    if not dry_run:
        locks.acquire(engine, LOCK, holder=holder, now=clock(), lease=LEASE)
    run_id = None if dry_run else start_run(engine, "delivery", now=clock())
    try:
        outcomes = _Run(
            engine, settings, clock, run_id, sleep, progress, None if dry_run else holder, stop
        ).deliver(only=only, dry_run=dry_run)
    except Exception as exc:
        if run_id is not None:
            failure = [{"target": "", "outcome": "failed", "reason": str(exc)}]
            finish_run(engine, run_id, status="failed", counts={}, details=failure, now=clock())
        raise
    finally:
        if not dry_run:
            locks.release(engine, LOCK, holder=holder)
    if run_id is not None:
        finish_run(
            engine, run_id, status=_status(outcomes), counts=_counts(outcomes),
            details=[{"target": o.email, "outcome": o.status, "reason": o.reason} for o in outcomes],
            now=clock(),
        )  # fmt: skip
    return DeliveryReport(run_id, tuple(outcomes))


def preview(engine: Engine, settings: Settings, email: str, *, clock: Clock) -> Digest | None:
    """Return the digest this subscriber would get now, whatever their cadence; None if empty.

    Nothing is sent or recorded.
    """
    planned = _Run(engine, settings, clock, None, time.sleep)._plan(email, ignore_cadence=True)
    return planned[0].digest if planned else None


class _Run:
    """The steps of one run, sharing its settings, clock and renderer."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        clock: Clock,
        run_id: int | None,
        sleep: Callable[[float], object],
        progress: Progress | None = None,
        holder: str | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.run_id = run_id
        self.sleep = sleep
        self.progress = progress
        self.stop = stop or threading.Event()
        self.renderer = DigestRenderer(settings.delivery.templates)
        self.outcomes: list[Outcome] = []
        self.total = self.done = 0
        # The lock holder (None in a dry run or a preview) and when its lease was last renewed.
        self.holder = holder
        self.renewed = clock()
        self._secret: str | None = None
        self._nonce = secrets.token_hex(6)
        self._domain = parseaddr(settings.delivery.sender)[1].rpartition("@")[2] or "localhost"
        self._file_transport = FileTransport(settings.outbox_dir)
        smtp = settings.smtp
        self._smtp_transport = SmtpTransport(
            smtp,
            connections=smtp.max_connections,
            messages_per_connection=smtp.messages_per_connection,
        )

    def deliver(self, *, only: str | None, dry_run: bool) -> list[Outcome]:
        planned = self._plan(only)
        self.total = sum(2 if p.subscriber.format == "both" else 1 for p in planned)
        for item in planned:
            if item.subscriber.format in ("markdown", "both"):
                if self.stop.is_set():
                    self._stopped(item, "markdown")
                else:
                    self._markdown(item, dry_run=dry_run)
        by_email = [item for item in planned if item.subscriber.format in ("email", "both")]
        if dry_run:
            for item in by_email:
                subject = self._outgoing(item).message["Subject"]
                count = len(item.digest.entries)
                self.outcomes.append(
                    Outcome(item.subscriber.email, "email", "would send", subject, count)
                )
            return self.outcomes
        self._send(by_email)
        return self.outcomes

    def _plan(self, only: str | None, *, ignore_cadence: bool = False) -> list[_Planned]:
        now = self.clock()
        with Session(self.engine) as session:
            subscribers = list_subscribers(session)
            if only is not None:
                wanted = email_key(normalise_email(only))
                subscribers = [s for s in subscribers if email_key(s.email) == wanted]
                if not subscribers:
                    raise InputError(f"no active subscriber with the address {only.strip()!r}")
            last = last_sent(session, [s.id for s in subscribers])
        due = []
        for subscriber in subscribers:
            why = (
                None
                if ignore_cadence
                else due_reason(
                    subscriber.cadence, last.get(subscriber.id), now, self._slots(subscriber)
                )
            )
            if why is None and not subscriber.topics:
                why = "no topics"
            if why is not None:
                self.outcomes.append(Outcome(subscriber.email, "", "skipped", why))
            else:
                due.append(subscriber)
        if not due:
            return []
        window = {s.id: self._window_start(s, last.get(s.id), now) for s in due}
        oldest = min(window.values())
        texts, papers, first_seen = self._recent_papers(oldest)
        with Session(self.engine) as session:
            sent = sent_papers(session, [s.id for s in due], since=oldest)
        by_rule: dict[int, list[Match]] = {}
        rules = [Rule(t.id, t.keywords, t.exclusions) for s in due for t in s.topics]
        for match in Matcher(texts).match(rules):
            by_rule.setdefault(match.rule_id, []).append(match)
        planned = []
        for subscriber in due:
            matches = [
                m
                for t in subscriber.topics
                for m in by_rule.get(t.id, ())
                if first_seen[m.paper_id] >= window[subscriber.id]
            ]
            # Dated on the subscriber's own calendar: Tokyo's 08:00 is the previous day in UTC.
            day = now.astimezone(self._slots(subscriber).zone).date()
            digest = select_digest(
                subscriber_id=subscriber.id, email=subscriber.email, day=day,
                topics={t.id: t.name for t in subscriber.topics}, matches=matches, papers=papers,
                already_sent=sent[subscriber.id], cap=self.settings.delivery.max_papers,
            )  # fmt: skip
            if digest is None:
                self.outcomes.append(
                    Outcome(subscriber.email, "", "skipped", "no new matching papers")
                )
            else:
                planned.append(_Planned(subscriber, self._with_links(digest)))
        return planned

    def _slots(self, subscriber: SubscriberView) -> Slots:
        """The subscriber's slots: the schedule's times, on their own zone's clock."""
        schedule = self.settings.schedule
        try:
            zone = ZoneInfo(subscriber.timezone or schedule.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            # Names are checked when stored; one the time zone database stopped knowing
            # falls back to the configured zone rather than stopping every digest.
            zone = ZoneInfo(schedule.timezone)
        return Slots(zone, schedule.send_at, schedule.weekly_on)

    def _window_start(
        self, subscriber: SubscriberView, last: datetime | None, now: datetime
    ) -> datetime:
        """How far back the subscriber's digest looks: papers first seen since then count.

        A new subscriber gets `delivery.backlog_days` of papers from before they
        subscribed. A weekly digest holds at least the whole week (or everything since
        the last one), however short that backlog is.
        """
        start = subscriber.created_at - timedelta(days=self.settings.delivery.backlog_days)
        if subscriber.cadence == "weekly":
            week_ago = now - _WEEK
            start = min(start, week_ago if last is None else min(last, week_ago))
        return start

    def _recent_papers(
        self, since: datetime
    ) -> tuple[list[PaperText], dict[int, DigestPaper], dict[int, datetime]]:
        texts: list[PaperText] = []
        papers: dict[int, DigestPaper] = {}
        first_seen: dict[int, datetime] = {}
        with Session(self.engine) as session:
            for paper in session.scalars(select(Paper).where(col(Paper.first_seen_at) >= since)):
                assert paper.id is not None  # rows read back always have their key
                texts.append(PaperText(paper.id, paper.title, paper.abstract))
                papers[paper.id] = as_digest_paper(paper)
                first_seen[paper.id] = paper.first_seen_at
        return texts, papers, first_seen

    def _with_links(self, digest: Digest) -> Digest:
        base = self.settings.web.base_url.rstrip("/")
        if not base:
            return digest
        if self._secret is None:  # read (or made) once per run, not once per digest
            self._secret = signing_secret(self.engine, self.settings.web.secret.get_secret_value())
        secret = self._secret
        subject = TokenSubject(digest.subscriber_id, email_key(digest.email))
        return replace(
            digest,
            unsubscribe_url=signed_link(base, secret, "unsubscribe", subject),
            manage_url=signed_link(base, secret, "manage", subject),
        )

    def _markdown(self, item: _Planned, *, dry_run: bool) -> None:
        text = self.renderer.markdown(item.digest)
        count = len(item.digest.entries)
        if dry_run:
            self.outcomes.append(
                Outcome(item.subscriber.email, "markdown", "would send", "Markdown digest", count)
            )
            return
        path = write_markdown(
            self.settings.digests_dir, email=item.subscriber.email, day=item.digest.day, text=text
        )
        # With "both", the email is what counts as delivered; the file is a copy.
        self._record(
            item, "markdown", "sent", str(path), ledger=item.subscriber.format == "markdown"
        )

    def _outgoing(self, item: _Planned) -> Outgoing:
        message = build_message(
            item.digest, renderer=self.renderer, sender=self.settings.delivery.sender,
            now=self.clock(), domain=self._domain, message_id=self._message_id(item),
            unsubscribe_mailto=self.settings.delivery.unsubscribe_mailto or None,
        )  # fmt: skip
        return Outgoing(
            key=f"{self.run_id}-{item.subscriber.id}",
            recipient=item.subscriber.email,
            message=message,
        )

    def _message_id(self, item: _Planned) -> str:
        # The same for every attempt of a run: a message the server took but did not
        # confirm (the connection dropped) and that is sent again is then one
        # message to mail clients.
        return f"<{self.run_id or 'preview'}.{item.subscriber.id}.{self._nonce}@{self._domain}>"

    def _send(self, items: list[_Planned]) -> None:
        pending = items
        attempt = 0
        while pending:
            if self.stop.is_set():
                for item in pending:
                    self._stopped(item, "email")
                return
            attempt += 1
            if attempt > 1:
                # Exponential backoff with jitter, so retries do not hit a struggling
                # server in step.
                pause = min(_BACKOFF_CAP, _BACKOFF_BASE * 2 ** (attempt - 2))
                self.sleep(pause * random.uniform(0.5, 1.5))
            pending = self._attempt(pending, attempt)

    def _attempt(self, items: list[_Planned], attempt: int) -> list[_Planned]:
        """Send each of `items` once; record what was settled; return what to try again.

        Messages are built lazily: the transport takes the next one when a
        connection is free, so building one overlaps the server's work on the
        others, and each is dropped once its result is recorded. Retries build
        theirs again (same Message-ID), so memory stays bounded whatever fails.
        """
        retry: list[_Planned] = []
        taken: dict[int, _Planned] = {}

        def messages() -> Iterator[Outgoing]:
            for index, item in enumerate(items):
                if self.stop.is_set():
                    retry.extend(items[index:])  # not started: skipped by the caller
                    return
                taken[index] = item
                yield self._outgoing(item)

        def settle(index: int, result: SendResult) -> None:
            # Called as each message is answered: recorded before the next one
            # goes, so a run killed halfway leaves an exact ledger.
            item = taken.pop(index)
            if result.accepted or result.permanent or attempt > self.settings.delivery.retries:
                status = "sent" if result.accepted else "failed"
                self._record(
                    item, "email", status, result.reply,
                    message_id=self._message_id(item), attempts=attempt,
                )  # fmt: skip
            else:
                retry.append(item)

        self._transport(messages(), settle)
        return retry

    def _transport(self, batch: Iterable[Outgoing], on_result: OnResult) -> None:
        if self.settings.delivery.transport == "file":
            self._file_transport.send(batch, on_result)
        else:
            asyncio.run(self._smtp_transport.send_all(batch, on_result))

    def _stopped(self, item: _Planned, channel: str) -> None:
        reason = "not sent: paperbot was stopping; due again at the next run"
        self.outcomes.append(Outcome(item.subscriber.email, channel, "skipped", reason))

    def _keep_lock(self) -> None:
        """Renew the lease well before it runs out; stop if another run took the lock."""
        now = self.clock()
        if self.holder is None or now - self.renewed < LEASE / 3:
            return
        if not locks.renew(self.engine, LOCK, holder=self.holder, now=now, lease=LEASE):
            raise JobLockedError("this delivery run lost its lock to another run and stopped")
        self.renewed = now

    def _record(
        self, item: _Planned, channel: str, status: str, reason: str, *,
        ledger: bool = True, message_id: str | None = None, attempts: int = 1,
    ) -> None:  # fmt: skip
        ids = [entry.paper.paper_id for entry in item.digest.entries]
        record_delivery(
            self.engine, run_id=self.run_id, subscriber_id=item.subscriber.id, channel=channel,
            status=status, reason=reason, paper_ids=ids, now=self.clock(), attempts=attempts,
            message_id=message_id, ledger=ledger,
        )  # fmt: skip
        self.outcomes.append(Outcome(item.subscriber.email, channel, status, reason, len(ids)))
        self._keep_lock()
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


def _counts(outcomes: list[Outcome]) -> dict[str, int]:
    return {
        "subscribers": len({o.email for o in outcomes}),
        "sent": sum(o.status == "sent" and o.channel == "email" for o in outcomes),
        "markdown": sum(o.status == "sent" and o.channel == "markdown" for o in outcomes),
        "failed": sum(o.status == "failed" for o in outcomes),
        "skipped": sum(o.status == "skipped" for o in outcomes),
    }


def _status(outcomes: list[Outcome]) -> str:
    failed = sum(o.status == "failed" for o in outcomes)
    sent = sum(o.status == "sent" for o in outcomes)
    if failed and not sent:
        return "failed"
    return "partial" if failed else "ok"
