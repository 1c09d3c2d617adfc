"""How a delivery run sends the digests of each kind of channel: the outlets.

A subscriber's channels are names: "email", "markdown", or the name of one of
their chat channels (a `Channel` row of a kind in `bot.channels.registry`). The
run plans one digest per channel due (`bot.delivery.plan`) and hands each to the
outlet of its channel, one module each:

    email     `bot.channels.email`     over SMTP, or as .eml files
    markdown  `bot.channels.markdown`  a file in the digests folder
    (a chat channel's name)  `bot.channels.chat`  Slack, Discord, Matrix, a webhook

An outlet renders and sends; the run does the rest through the `OutletRun` it
passes in: it looks at its claim on the subscriber just before a digest goes,
records what became of each digest (the ledger, the settled claim), and says
when to stop. So every outlet has the same exactly-once delivery, and a new one
is one module.
"""

import threading
from collections.abc import Collection, Iterable
from typing import Protocol

from bot.delivery.plan import PlannedDigest

BUILT_IN = ("email", "markdown")
"""The channels every subscriber may have; any other name is one of their chat channels."""

CHAT = "chat"
"""The outlet of every chat channel, whatever its name."""

STOPPING = "not sent: paperbot was stopping; due again at the next run"
"""Why a digest was not sent when the run was asked to stop."""


def outlet_of(channel: str) -> str:
    """The outlet that sends a digest to `channel`: "email", "markdown" or "chat"."""
    return channel if channel in BUILT_IN else CHAT


class OutletRun(Protocol):
    """What a delivery run offers the outlets it sends through."""

    stop: threading.Event
    """Set once the run is asked to stop: start no new digest."""

    def still_held(self, item: PlannedDigest) -> bool:
        """Whether the run still holds its claim on `item`'s subscriber; reports it if not.

        Asked at the last moment before the digest goes.
        """
        ...

    def record(
        self,
        item: PlannedDigest,
        status: str,
        reason: str,
        *,
        message_id: str | None = None,
        attempts: int = 1,
        delivered: Collection[int] | None = None,
    ) -> None:
        """Record what became of `item` ("sent" or "failed", and why); see `record_delivery`."""
        ...

    def skipped(self, item: PlannedDigest, reason: str) -> None:
        """Report `item` as not sent, and why (it stays due)."""
        ...

    def keep_claims(self) -> None:
        """Renew the run's claims now (before trying digests again after a pause)."""
        ...


class Outlet(Protocol):
    """One kind of channel as a delivery run sends it."""

    twice: str | None
    """What a reader sees of a digest sent twice (a resend whose first answer was lost):
    appended to the record's reason; None when it cannot arrive twice (a file is
    written again)."""

    def describe(self, item: PlannedDigest) -> str:
        """What a dry run says it would send: a subject, a file, a channel."""
        ...

    def send(self, items: Iterable[PlannedDigest], run: OutletRun) -> None:
        """Send `items` (read lazily, in order) and record each through `run`.

        Never raises for one digest's failure: it is recorded, and the ledger
        sends its papers again at the next run.
        """
        ...

    def close(self) -> None:
        """Let go of what the outlet holds (connections, threads)."""
        ...
