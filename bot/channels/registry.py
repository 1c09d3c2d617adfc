"""The table of channel kinds: a new channel is one module and one line here."""

from collections.abc import Mapping

from bot.channels.base import Channel, RateLimiter
from bot.channels.discord import DiscordChannel
from bot.channels.matrix import MatrixChannel
from bot.channels.slack import SlackChannel
from bot.channels.webhook import WebhookChannel
from bot.errors import ConfigError

CHANNELS: dict[str, type[Channel]] = {
    SlackChannel.kind: SlackChannel,
    DiscordChannel.kind: DiscordChannel,
    MatrixChannel.kind: MatrixChannel,
    WebhookChannel.kind: WebhookChannel,
}
"""Every channel class by its kind."""


def make_channel(
    kind: str, options: Mapping[str, object], *, limiter: RateLimiter | None = None
) -> Channel:
    """The channel of `kind` built from `options`; `ConfigError` for an unknown kind or option."""
    try:
        channel_type = CHANNELS[kind]
    except KeyError:
        known = ", ".join(sorted(CHANNELS))
        raise ConfigError(f"unknown channel kind {kind!r}; known: {known}") from None
    return channel_type.from_options(options, limiter=limiter)
