"""Slack: a digest as Block Kit messages to an incoming webhook.

One message per digest (or, with the `per_topic` option, one per topic): a
headline section, one `mrkdwn` section per paper, and a closing section with the
reader's links in the last message. A digest beyond Slack's limits (50 blocks per
message, 3,000 characters per section's text) goes as several messages, each
numbered. `text` is the fallback Slack shows in notifications.
"""

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
    flag_option,
    headline,
    pack,
    to_json,
    url_option,
    url_secrets,
)
from bot.digest.model import Digest
from bot.digest.render import count_label, make_paper_view, shorten
from bot.urls import web_url

SECTION_MAX = 3000
"""Slack's limit on the text of a section block."""

BLOCKS_MAX = 50
"""Slack's limit on the blocks of one message."""

MESSAGE_TEXT_MAX = 40_000
"""Slack cuts a message's text beyond this; a message's sections stay within it."""

RATE = Rate(1, 1.0)
"""Slack's documented limit for an incoming webhook: about one message a second."""

# Each stage bounds an entry harder (title, meta and reason, summary?, extra links?);
# the last always fits a section, however many characters escaping adds.
_STAGES = ((300, 300, True, True), (300, 300, False, False), (100, 100, False, False))


@dataclass(frozen=True)
class SlackConfig:
    """An incoming webhook's address (the secret, so never shown); one message per topic or not."""

    webhook_url: str = field(repr=False)
    per_topic: bool = False

    def describe(self) -> str:
        """ "Slack webhook https://hooks.slack.com/***": the host only."""
        each = ", a message per topic" if self.per_topic else ""
        return f"Slack webhook {describe_url(self.webhook_url)}{each}"


def escape(text: str) -> str:
    """`text` with Slack's control characters `&`, `<` and `>` as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """A Slack link `<url|label>`; a `|` in either cannot end the address or the label early."""
    # Slack reads up to the first `|` as the address and has no escape for it.
    return f"<{escape(url.replace('|', '%7C'))}|{escape(label).replace('|', '¦')}>"


def entry_mrkdwn(entry: EntryText) -> str:
    """One paper as a section's `mrkdwn` text, within `SECTION_MAX` characters."""
    for title_max, detail_max, with_summary, with_links in _STAGES:
        text = _entry_text(entry, title_max, detail_max, with_summary, with_links)
        if len(text) <= SECTION_MAX:
            return text
    # Not reached: the last stage is at most about 2,600 characters.
    return text[:SECTION_MAX]


def _entry_text(
    entry: EntryText, title_max: int, detail_max: int, with_summary: bool, with_links: bool
) -> str:
    title = shorten(entry.title, title_max)
    lines = [f"*{link(entry.link, title) if entry.link else escape(title)}*"]
    if entry.meta:
        lines.append(escape(shorten(entry.meta, detail_max)))
    lines.append(f"_{escape(shorten(entry.reason, detail_max))}_")
    if with_summary and entry.summary:
        lines.append(escape(entry.summary))
    if with_links and entry.links:
        lines.append(" · ".join(link(url, label) for label, url in entry.links))
    return "\n".join(lines)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def closing_mrkdwn(digest: Digest) -> str | None:
    """The digest's last lines: papers held over for next time and the reader's links."""
    parts = []
    if digest.more:
        parts.append(f"{count_label(digest.more, 'more paper')} next time")
    if manage := web_url(digest.manage_url):
        parts.append(link(manage, "Manage your topics"))
    if unsubscribe := web_url(digest.unsubscribe_url):
        parts.append(link(unsubscribe, "Unsubscribe"))
    return " · ".join(parts) or None


class SlackChannel(HttpChannel[SlackConfig]):
    """Sends digests to a Slack incoming webhook."""

    kind: ClassVar[str] = "slack"

    @classmethod
    def from_options(
        cls, options: Mapping[str, object], *, limiter: RateLimiter | None = None
    ) -> Self:
        """A channel from its settings: `webhook_url`, and `per_topic` (false by default)."""
        config = SlackConfig(
            url_option(options, "webhook_url", cls.kind),
            flag_option(options, "per_topic", cls.kind),
        )
        return cls(config, limiter=limiter)

    def render(self, digest: Digest, *, paper_view: PaperViewer = make_paper_view) -> list[Payload]:
        """Messages of Block Kit sections: one per digest (or topic), several (numbered) when long."""
        entries = entry_texts(digest, paper_view)
        sections = [entry_mrkdwn(entry) for entry in entries]
        closing = closing_mrkdwn(digest)
        groups: list[tuple[str | None, list[int]]] = []
        for topic, indices in self._runs(digest):
            # Room for the headline and the closing section in every message.
            packed = pack(
                [len(sections[index]) for index in indices],
                max_items=BLOCKS_MAX - 2,
                max_size=MESSAGE_TEXT_MAX - 2 * SECTION_MAX,
            )
            groups.extend((topic, [indices[i] for i in group]) for group in packed)
        payloads = []
        for number, (topic, group) in enumerate(groups, start=1):
            label = f" (part {number} of {len(groups)})" if len(groups) > 1 else ""
            count = len(entries) if topic is None else len(group)
            first_line = headline(digest, count, topic)
            blocks = [_section(f"*{escape(first_line)}*{label}")]
            blocks.extend(_section(sections[index]) for index in group)
            if closing and number == len(groups):
                blocks.append(_section(closing))
            content = {
                "text": f"{escape(first_line)}{label}",
                "blocks": blocks,
                # A digest links a dozen pages: previews of each would bury it.
                "unfurl_links": False,
                "unfurl_media": False,
            }
            ids = tuple(entries[index].paper_id for index in group)
            payloads.append(Payload(number, len(groups), content, ids))
        return payloads

    def _runs(self, digest: Digest) -> list[tuple[str | None, list[int]]]:
        """The entries' indices each message run holds: all together, or (per topic) each topic's."""
        if not self.config.per_topic:
            return [(None, list(range(len(digest.entries))))]
        runs: list[tuple[str | None, list[int]]] = []
        start = 0
        for section in digest.sections:
            if section.entries:
                runs.append((section.topic, list(range(start, start + len(section.entries)))))
            start += len(section.entries)
        return runs or [(None, [])]

    async def send(
        self, client: httpx.AsyncClient, payload: Payload, *, idempotency_key: str
    ) -> ChannelResult:
        """POST the message to the webhook; Slack has no idempotency, so the key is unused."""
        request = client.build_request(
            "POST",
            self.config.webhook_url,
            content=to_json(payload.content),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        done = await exchange(
            client,
            request,
            limiter=self.limiter,
            rate=RATE,
            limit_key=self.config.webhook_url,
            clock=self.clock,
            secrets=url_secrets(self.config.webhook_url),
            describe=self.describe(),
        )
        return done.result
