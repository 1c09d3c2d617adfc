"""The email outlet: digests as messages over SMTP, or as .eml files in the outbox.

`delivery.transport` chooses between the two, here and for every other message
paperbot sends (`send_email`: the confirmation of a subscription).

A run's emails come last in each subscriber's digests (the plan's order) and
stream to the transport across claim batches: it keeps its connections and
builds the next message while the server takes the last. Each message is
recorded as its answer comes; temporary failures are tried again with growing,
jittered pauses, the claims renewed first; each try is the same message (same
Message-ID).
"""

import asyncio
import random
from collections.abc import Callable, Iterable, Iterator

from bot.channels.outlet import STOPPING, OutletRun
from bot.clock import Clock
from bot.config import Settings
from bot.delivery.plan import PlannedDigest
from bot.delivery.transports import (
    BeforeSend,
    FileTransport,
    OnResult,
    Outgoing,
    SendResult,
    SmtpTransport,
)
from bot.digest.message import DigestMessage, build_message
from bot.digest.render import DigestRenderer

BACKOFF_BASE = 2.0
"""Seconds before the first retry of a temporary failure; doubled at each retry after."""
BACKOFF_CAP = 60.0
"""The longest pause between retries."""


async def send_email(settings: Settings, outgoing: Outgoing) -> SendResult:
    """Send one message through the configured transport; never raises for its failure."""
    if settings.delivery.transport == "smtp":
        # One message: one connection, awaited here (the caller's loop is asyncio's).
        transport = SmtpTransport(settings.smtp, connections=1, messages_per_connection=1)
        results = await transport.send_all([outgoing])
    else:
        results = await asyncio.to_thread(FileTransport(settings.outbox_dir).send, [outgoing])
    return results[0]


class EmailOutlet:
    """A run's digests by email, over the configured transport."""

    twice: str | None = " (with one Message-ID, which mail clients show once)"

    def __init__(
        self,
        settings: Settings,
        renderer: DigestRenderer,
        *,
        clock: Clock,
        domain: str,
        run_id: int | None,
        sleep: Callable[[float], object],
    ) -> None:
        """Send with `settings`' transport; messages dated by `clock`, their ids on `domain`."""
        self.settings = settings
        self.renderer = renderer
        self.clock = clock
        self.domain = domain
        self.run_id = run_id
        self.sleep = sleep
        self._file_transport = FileTransport(settings.outbox_dir)
        smtp = settings.smtp
        self._smtp_transport = SmtpTransport(
            smtp,
            connections=smtp.max_connections,
            messages_per_connection=smtp.messages_per_connection,
        )

    def describe(self, item: PlannedDigest) -> str:
        """The digest's subject, from its message built in full (which a dry run checks)."""
        return self._message(item).subject or ""

    def outgoing(self, item: PlannedDigest) -> Outgoing:
        """The digest as a message to its subscriber, with its Message-ID."""
        return Outgoing(
            key=f"{self.run_id}-{item.subscriber.id}",
            recipient=item.subscriber.email,
            message=self._message(item),
        )

    def _message(self, item: PlannedDigest) -> DigestMessage:
        delivery = self.settings.delivery
        return build_message(
            item.digest, renderer=self.renderer, sender=delivery.sender, now=self.clock(),
            domain=self.domain, message_id=item.message_id,
            unsubscribe_mailto=delivery.unsubscribe_mailto or None,
        )  # fmt: skip

    def send(self, items: Iterable[PlannedDigest], run: OutletRun) -> None:
        """Send `items` (read lazily); retry temporary failures with backoff."""
        pending = self._attempt(items, 1, run)
        attempt = 1
        while pending:
            if run.stop.is_set():
                for item in pending:
                    run.skipped(item, STOPPING)
                return
            attempt += 1
            # Exponential backoff with jitter, so retries do not hit a struggling
            # server in step.
            pause = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 2))
            self.sleep(pause * random.uniform(0.5, 1.5))
            run.keep_claims()
            pending = self._attempt(pending, attempt, run)

    def close(self) -> None:
        """Nothing to let go: each batch's connections close when it is sent."""

    def _attempt(
        self, items: Iterable[PlannedDigest], attempt: int, run: OutletRun
    ) -> list[PlannedDigest]:
        """Send each of `items` once; record what was settled; return what to try again.

        Messages are built lazily: the transport takes each a little ahead of a
        free connection, so building overlaps the server's work on the others,
        and each is dropped once its result is recorded. Retries build theirs
        again (same Message-ID), so memory stays bounded whatever fails. The
        claim on each reader, and a stop request, are checked last when the
        transport is about to send (before MAIL FROM), not when the message was built.
        """
        retry: list[PlannedDigest] = []
        taken: dict[int, PlannedDigest] = {}

        def messages() -> Iterator[Outgoing]:
            remaining = iter(items)
            for index, item in enumerate(remaining):
                if run.stop.is_set():
                    # Not started: skipped by the caller. (Reading the rest lets a
                    # lazy source report what it holds as skipped too.)
                    retry.append(item)
                    retry.extend(remaining)
                    return
                taken[index] = item
                yield self.outgoing(item)

        def may_send(index: int) -> bool:
            # Built ahead of its connection, the message is not on its way yet: a
            # stop since leaves it due. And the run may have stalled since it was
            # built (while a connection was set up, say) and lost the reader to
            # another worker.
            if run.stop.is_set():
                retry.append(taken.pop(index))
                return False
            if run.still_held(taken[index]):
                return True
            del taken[index]
            return False

        def settle(index: int, result: SendResult) -> None:
            # Called as each message is answered: recorded before the next one
            # goes, so a run killed halfway leaves an exact ledger.
            item = taken.pop(index)
            if result.accepted or result.permanent or attempt > self.settings.delivery.retries:
                status = "sent" if result.accepted else "failed"
                run.record(item, status, result.reply, message_id=item.message_id, attempts=attempt)
            else:
                retry.append(item)

        self._transport(messages(), settle, may_send)
        return retry

    def _transport(
        self, batch: Iterable[Outgoing], on_result: OnResult, before_send: BeforeSend
    ) -> None:
        if self.settings.delivery.transport == "file":
            self._file_transport.send(batch, on_result, before_send)
        else:
            asyncio.run(self._smtp_transport.send_all(batch, on_result, before_send))
