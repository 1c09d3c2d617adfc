"""The chat outlet: a run's digests to chat channels and webhooks, whatever their kind.

The sending itself (an HTTP client on an event loop of its own, retries, rate
limits) is `bot.channels.chat_sender`'s, loaded only when a run has a chat
digest to send or describe: httpx and the channel kinds stay out of the start-up
of the many runs that have none.
"""

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from bot.channels.outlet import STOPPING, OutletRun
from bot.config import DeliverySettings
from bot.delivery.plan import PlannedDigest
from bot.subscriptions.channels import ChannelSettings

if TYPE_CHECKING:
    from bot.channels.base import PaperViewer
    from bot.channels.chat_sender import ChatDelivery, ChatSender


class ChatOutlet:
    """A run's digests to chat channels: one `ChatSender`, made when first needed.

    `channels` are the chat channels of the subscribers the run read, by name
    (set by the run once it has read them).
    """

    twice: str | None = ""  # Slack and Discord take no key: a resend may show twice

    def __init__(self, delivery: DeliverySettings, paper_view: "PaperViewer") -> None:
        """Send with `delivery`'s retries, timeout and connections."""
        self.delivery = delivery
        self.paper_view = paper_view
        self.channels: Mapping[str, ChannelSettings] = {}
        self._sender: ChatSender | None = None

    def describe(self, item: PlannedDigest) -> str:
        """The channel, secrets masked."""
        return self._chat_sender().describe(item.channel)

    def send(self, items: Iterable[PlannedDigest], run: OutletRun) -> None:
        """Send `items` (a batch's), several subscribers at once; record each as its answer comes."""
        batch = list(items)
        if not batch:
            return

        def delivered(item: PlannedDigest, result: "ChatDelivery") -> None:
            if result.status == "skipped":
                run.skipped(item, STOPPING)
                return
            run.record(
                item, result.status, result.reason, message_id=item.delivery_key,
                attempts=result.attempts, delivered=result.delivered,
            )  # fmt: skip

        self._chat_sender().send(batch, delivered, run.still_held, run.stop.is_set)

    def close(self) -> None:
        """Close the connections, if any were made."""
        if self._sender is not None:
            self._sender.close()

    def _chat_sender(self) -> "ChatSender":
        if self._sender is None:
            from bot.channels.chat_sender import ChatSender

            self._sender = ChatSender(
                self.channels, paper_view=self.paper_view, retries=self.delivery.retries,
                timeout=self.delivery.channel_timeout,
                connections=self.delivery.channel_connections,
            )  # fmt: skip
        return self._sender
