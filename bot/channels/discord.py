"""Discord: a digest as embeds posted to a channel's webhook.

One embed per paper (its linked title, then who wrote it, why it matched, its summary
and links), up to ten in a message under a headline. A digest beyond Discord's limits
(10 embeds and 6,000 embed characters per message; 256 per title, 4,096 per
description) goes as several messages, each numbered. Mentions are switched off, so a
title saying "@everyone" pings nobody.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import httpx

from bot.channels.base import (
    ChannelResult,
    EntryText,
    HttpChannel,
    PaperViewer,
    Payload,
    Rate,
    RateLimiter,
    describe_url,
    entry_texts,
    exchange,
    fit_escaped,
    headline,
    pack,
    to_json,
    url_option,
    url_secrets,
    with_body_retry_after,
)
from bot.digest.model import Digest
from bot.digest.render import count_label, make_paper_view, shorten
from bot.urls import web_url

EMBEDS_MAX = 10
"""Discord's limit on the embeds of one message."""

EMBED_CHARACTERS_MAX = 6000
"""Discord's limit on the characters of all embeds of one message together."""

TITLE_MAX = 256
"""Discord's limit on an embed's title."""

DESCRIPTION_MAX = 4096
"""Discord's limit on an embed's description."""

CONTENT_MAX = 2000
"""Discord's limit on a message's own text."""

DESCRIPTION_BUDGET = 2000
"""What this channel lets a paper's description take, so a message holds two at least."""

RATE = Rate(5, 2.0)
"""Discord's limit for a webhook: five requests in two seconds."""

# Each stage bounds a description harder (meta and reason, summary?, links?).
_STAGES = ((300, True, True), (300, False, False), (100, False, False))

_SPECIAL = re.compile(r"([\\`*_~|<>\[\]@])")
_LINE_START = re.compile(r"^([#>\-+]|\d+\.)", re.MULTILINE)


@dataclass(frozen=True)
class DiscordConfig:
    """A webhook's address (its token is in the path, so it is never shown) and the name to post as."""

    webhook_url: str = field(repr=False)
    username: str | None = None

    def describe(self) -> str:
        """ "Discord webhook https://discord.com/***": the host only."""
        return f"Discord webhook {describe_url(self.webhook_url)}"


def escape(text: str) -> str:
    """`text` with Discord's Markdown characters backslash-escaped, and line-start markers."""
    return _LINE_START.sub(r"\\\1", _SPECIAL.sub(r"\\\1", text))


def link(url: str, label: str) -> str:
    """A Markdown link `[label](<url>)`; the angle brackets keep Discord from previewing it."""
    address = url.replace("(", "%28").replace(")", "%29").replace("<", "%3C").replace(">", "%3E")
    return f"[{escape(label)}](<{address}>)"


def entry_embed(entry: EntryText) -> dict[str, Any]:
    """One paper as an embed, within Discord's limits and `DESCRIPTION_BUDGET`."""
    embed: dict[str, Any] = {"title": fit_escaped(entry.title, TITLE_MAX, escape)}
    if entry.link:
        embed["url"] = entry.link
    for detail_max, with_summary, with_links in _STAGES:
        description = _description(entry, detail_max, with_summary, with_links)
        if len(description) <= DESCRIPTION_BUDGET:
            break
    embed["description"] = description[:DESCRIPTION_BUDGET]
    return embed


def _description(entry: EntryText, detail_max: int, with_summary: bool, with_links: bool) -> str:
    lines = []
    if entry.meta:
        lines.append(escape(shorten(entry.meta, detail_max)))
    lines.append(f"*{escape(shorten(entry.reason, detail_max))}*")
    if with_summary and entry.summary:
        lines.append(escape(entry.summary))
    if with_links and entry.links:
        lines.append(" · ".join(link(url, label) for label, url in entry.links))
    return "\n".join(lines)


def embed_size(embed: Mapping[str, Any]) -> int:
    """The characters of `embed` that count towards Discord's 6,000 per message."""
    return len(embed.get("title", "")) + len(embed.get("description", ""))


def closing_line(digest: Digest) -> str:
    """Papers held over for next time and the reader's links, or ""."""
    parts = []
    if digest.more:
        parts.append(f"{count_label(digest.more, 'more paper')} next time")
    if manage := web_url(digest.manage_url):
        parts.append(link(manage, "Manage your topics"))
    if unsubscribe := web_url(digest.unsubscribe_url):
        parts.append(link(unsubscribe, "Unsubscribe"))
    return " · ".join(parts)


class DiscordChannel(HttpChannel[DiscordConfig]):
    """Sends digests to a Discord webhook."""

    kind: ClassVar[str] = "discord"

    @classmethod
    def from_options(
        cls, options: Mapping[str, object], *, limiter: RateLimiter | None = None
    ) -> Self:
        """A channel from its settings: `webhook_url`, and `username` (optional)."""
        username = options.get("username")
        config = DiscordConfig(
            url_option(options, "webhook_url", cls.kind),
            username=(username.strip() or None) if isinstance(username, str) else None,
        )
        return cls(config, limiter=limiter)

    def render(self, digest: Digest, *, paper_view: PaperViewer = make_paper_view) -> list[Payload]:
        """Messages of up to ten embeds, one per paper; numbered when there are several."""
        entries = entry_texts(digest, paper_view)
        embeds = [entry_embed(entry) for entry in entries]
        groups = pack(
            [embed_size(embed) for embed in embeds],
            max_items=EMBEDS_MAX,
            max_size=EMBED_CHARACTERS_MAX,
        )
        first_line = escape(headline(digest, len(entries)))
        closing = closing_line(digest)
        payloads = []
        for number, group in enumerate(groups, start=1):
            label = f" (part {number} of {len(groups)})" if len(groups) > 1 else ""
            content = f"**{first_line}**{label}"
            if closing and number == len(groups):
                content = f"{content}\n{closing}"
            message: dict[str, Any] = {
                "content": content[:CONTENT_MAX],
                "embeds": [embeds[index] for index in group],
                # A title or an abstract saying "@everyone" must not ping a server.
                "allowed_mentions": {"parse": []},
            }
            if self.config.username:
                message["username"] = self.config.username[:80]
            ids = tuple(entries[index].paper_id for index in group)
            payloads.append(Payload(number, len(groups), message, ids))
        return payloads

    async def send(
        self, client: httpx.AsyncClient, payload: Payload, *, idempotency_key: str
    ) -> ChannelResult:
        """POST the message (Discord keeps no idempotency keys, so the key is unused).

        `wait=true` has Discord answer once the message exists, so an error is
        reported here rather than lost. Discord's own rate-limit headers pause later
        sends to the same webhook when its bucket is empty.
        """
        request = client.build_request(
            "POST",
            self.config.webhook_url,
            params={"wait": "true"},
            content=to_json(payload.content),
            headers={"Content-Type": "application/json"},
        )
        key = self.config.webhook_url
        done = await exchange(
            client,
            request,
            limiter=self.limiter,
            rate=RATE,
            limit_key=key,
            clock=self.clock,
            secrets=url_secrets(key),
            describe=self.describe(),
        )
        result = done.result
        if done.response is not None:
            reset_after = bucket_reset(done.response)
            if reset_after is not None:
                self.limiter.hold(key, reset_after)
            if result.retry_after is None:
                # Discord names its pause in the body too, in seconds.
                result = with_body_retry_after(result, done.response, "retry_after")
                if result.retry_after is not None:
                    self.limiter.hold(key, result.retry_after)
        return result


def bucket_reset(response: httpx.Response) -> float | None:
    """Seconds until the webhook's bucket refills, when Discord says it is empty; else None."""
    if response.headers.get("X-RateLimit-Remaining", "").strip() != "0":
        return None
    try:
        seconds = float(response.headers.get("X-RateLimit-Reset-After", ""))
    except ValueError:
        return None
    return seconds if seconds > 0 else None
