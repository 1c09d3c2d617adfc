"""Sending planned digests to chat channels and webhooks (`bot.channels`), with retries.

The delivery run is synchronous, and its email transport pulls digests from
inside its own event loop; chat requests go over one `httpx.AsyncClient` that
lives on an event loop of its own, in a thread, for the whole run, so its
connections and every destination's rate limit are shared by all the digests of
the run. `ChatSender.send` blocks until a batch is done; the callbacks it is given
run on that thread, one at a time, while the caller waits.

Each digest's payloads go in order. A temporary failure is tried again after the
pause the service asked for (or an exponential backoff), up to the run's retries;
a pause longer than `MAX_WAIT` is not waited out: the digest is reported failed,
and the ledger sends its papers at the next run. A digest whose later payloads
failed still delivered the papers of the earlier ones: they are reported, so the
ledger holds exactly what reached the channel.
"""

import asyncio
import random
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import httpx

from bot.channels.base import Channel, ChannelResult, PaperViewer, Payload, RateLimiter
from bot.channels.registry import make_channel
from bot.delivery.plan import PlannedDigest
from bot.errors import ConfigError
from bot.subscriptions.channels import ChannelSettings

MAX_WAIT = 60.0
"""The longest pause (seconds) a run waits before trying a chat message again."""

_BACKOFF_BASE = 1.0

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class ChatDelivery:
    """What became of one digest on one chat channel.

    `status`: "sent" (every payload accepted), "failed" (`reason` says why; some
    payloads may have gone: `delivered`) or "skipped" (not tried: the run is
    stopping). `delivered`: the papers that reached the channel.
    """

    status: Literal["sent", "failed", "skipped"]
    reason: str
    delivered: tuple[int, ...]
    attempts: int


OnDelivered = Callable[[PlannedDigest, ChatDelivery], None]
"""Hears each digest's fate as soon as it is known (records it)."""

MaySend = Callable[[PlannedDigest], bool]
"""Asked just before a digest's first request: False skips it (the caller says why)."""


class ChatSender:
    """One run's chat deliveries: a client, a rate limiter and the channels, on a loop of their own."""

    def __init__(
        self,
        settings: Mapping[str, ChannelSettings],
        *,
        paper_view: PaperViewer,
        retries: int,
        timeout: float,
        connections: int,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Send to the chat channels of `settings` (by name), with the run's `retries`."""
        self._settings = dict(settings)
        self._paper_view = paper_view
        self._retries = retries
        self._timeout = timeout
        self._connections = connections
        self._sleep = sleep
        self._limiter = RateLimiter(sleep=sleep)
        self._channels: dict[str, Channel] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: httpx.AsyncClient | None = None

    def describe(self, name: str) -> str:
        """The channel `name` for people, secrets masked; says so when it cannot be used."""
        try:
            return self._channel(name).describe()
        except ConfigError as error:
            return str(error)

    def send(
        self,
        digests: Sequence[PlannedDigest],
        on_delivered: OnDelivered,
        may_send: MaySend,
        stopping: Callable[[], bool],
    ) -> None:
        """Send `digests` (a subscriber's in the order given); return when each is reported.

        Several subscribers' digests go at once, up to the run's connections; once
        `stopping()` is true, digests not yet started are skipped.
        """
        if not digests:
            return
        loop = self._start()
        future = asyncio.run_coroutine_threadsafe(
            self._send_all(digests, on_delivered, may_send, stopping), loop
        )
        future.result()

    def close(self) -> None:
        """Close the connections and stop the thread (nothing is being sent)."""
        if self._loop is None or self._thread is None:
            return
        if self._client is not None:
            asyncio.run_coroutine_threadsafe(self._client.aclose(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()
        self._loop = self._thread = self._client = None

    def _start(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="chat-sender", daemon=True)
            thread.start()
            self._loop, self._thread = loop, thread
        return self._loop

    def _channel(self, name: str) -> Channel:
        channel = self._channels.get(name)
        if channel is None:
            found = self._settings.get(name)
            if found is None:
                raise ConfigError(f"there is no channel named {name!r} (it was removed)")
            channel = make_channel(found.kind, found.options, limiter=self._limiter)
            self._channels[name] = channel
        return channel

    async def _send_all(
        self,
        digests: Sequence[PlannedDigest],
        on_delivered: OnDelivered,
        may_send: MaySend,
        stopping: Callable[[], bool],
    ) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._timeout,
                limits=httpx.Limits(max_connections=self._connections),
                follow_redirects=False,  # a webhook does not move: a redirect is refused
            )
        by_subscriber: dict[int, list[PlannedDigest]] = {}
        for digest in digests:
            by_subscriber.setdefault(digest.subscriber.id, []).append(digest)
        gate = asyncio.Semaphore(self._connections)

        async def one_subscriber(theirs: list[PlannedDigest]) -> None:
            # A subscriber's digests go one after the other: the last settles their claim.
            async with gate:
                for digest in theirs:
                    if stopping():
                        on_delivered(digest, ChatDelivery("skipped", "", (), 0))
                    elif may_send(digest):  # else the caller has said why not
                        on_delivered(digest, await self._deliver(digest))

        await asyncio.gather(*(one_subscriber(theirs) for theirs in by_subscriber.values()))

    async def _deliver(self, planned: PlannedDigest) -> ChatDelivery:
        """Send every payload of one digest in order; stop at the first that fails."""
        try:
            channel = self._channel(planned.channel)
            payloads = channel.render(planned.digest, paper_view=self._paper_view)
        except ConfigError as error:
            return ChatDelivery("failed", str(error), (), 0)
        delivered: list[int] = []
        attempts = 0
        reason = ""
        for payload in payloads:
            result, tries = await self._send_payload(channel, payload, planned.delivery_key)
            attempts = max(attempts, tries)
            if not result.sent:
                where = payload.label.strip(" ()")
                reason = f"{where}: {result.reason}" if where else result.reason
                return ChatDelivery("failed", reason, tuple(delivered), attempts)
            delivered.extend(payload.paper_ids)
            reason = result.reason
        return ChatDelivery("sent", reason, tuple(delivered), attempts)

    async def _send_payload(
        self, channel: Channel, payload: Payload, key: str
    ) -> tuple[ChannelResult, int]:
        """One payload, tried again while it fails temporarily (see the module's docstring)."""
        assert self._client is not None  # made by _send_all
        attempt = 0
        while True:
            attempt += 1
            result = await channel.send(self._client, payload, idempotency_key=key)
            if result.status != "temporary" or attempt > self._retries:
                return result, attempt
            if result.retry_after is not None:
                if result.retry_after > MAX_WAIT:
                    return result, attempt
                # The limiter holds the destination for that long already.
                continue
            pause = min(MAX_WAIT, _BACKOFF_BASE * 2 ** (attempt - 1))
            await self._sleep(pause * random.uniform(0.5, 1.5))
