"""Matrix: a digest as a message in a room, through the client-server API.

Each message is `PUT /_matrix/client/v3/rooms/{room}/send/m.room.message/{txnId}`,
`m.text` with a plain `body` and an HTML `formatted_body`. The transaction id is made
from the delivery's idempotency key and the part's number: a message sent again after
its answer was lost carries the same id, and the homeserver keeps it once. A digest
too large for one event goes as several messages, each numbered.
"""

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from typing import Any, ClassVar, Self
from urllib.parse import quote

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
    headline,
    pack,
    text_option,
    to_json,
    url_option,
    with_body_retry_after,
)
from bot.digest.model import Digest
from bot.digest.render import count_label, make_paper_view, shorten
from bot.errors import ConfigError
from bot.urls import web_url

EVENT_BUDGET = 48_000
"""Bytes of `body` and `formatted_body` together per message; Matrix caps a whole event
(with its envelope) at 65,536 bytes."""

RATE = Rate(3, 1.0)
"""Homeservers limit clients by their own settings: three messages a second is polite."""

DETAIL_MAX = 300
"""An entry's meta and reason lines are cut to this many characters; titles to 500."""


@dataclass(frozen=True)
class MatrixConfig:
    """A room on a homeserver, and the access token of the account that posts to it."""

    homeserver: str
    room_id: str
    access_token: str = field(repr=False)

    def describe(self) -> str:
        """ "Matrix room !abc:example.org on https://matrix.example.org": no token."""
        return f"Matrix room {self.room_id} on {describe_url(self.homeserver)}"


@dataclass(frozen=True)
class _Entry:
    plain: str
    html: str

    @property
    def size(self) -> int:
        """Its bytes in the event, as JSON strings."""
        return len(json.dumps(self.plain)) + len(json.dumps(self.html))


def transaction_id(idempotency_key: str, part: int) -> str:
    """The transaction id of part `part` of the delivery named `idempotency_key`: stable."""
    digest = hashlib.sha256(f"{idempotency_key}\0{part}".encode()).hexdigest()[:32]
    return f"paperbot.{digest}.{part}"


def _entry(number: int, entry: EntryText) -> _Entry:
    """One paper as a numbered plain-text item and an HTML list item."""
    title = shorten(entry.title, 500)
    meta = shorten(entry.meta, DETAIL_MAX)
    reason = shorten(entry.reason, DETAIL_MAX)
    plain = [f"{number}. {title}"]
    html = [f"<strong>{escape(title)}</strong>"]
    if entry.link:
        plain.append(entry.link)
        html[0] = f'<a href="{escape(entry.link)}">{html[0]}</a>'
    if meta:
        plain.append(meta)
        html.append(escape(meta))
    plain.append(reason)
    html.append(f"<em>{escape(reason)}</em>")
    if entry.summary:
        plain.append(entry.summary)
        html.append(escape(entry.summary))
    if entry.links:
        plain.append(" · ".join(f"{label}: {url}" for label, url in entry.links))
        html.append(" · ".join(_link(url, label) for label, url in entry.links))
    return _Entry("\n   ".join(plain), f"<li>{'<br>'.join(html)}</li>")


def _link(url: str, label: str) -> str:
    return f'<a href="{escape(url)}">{escape(label)}</a>'


def _closing(digest: Digest) -> tuple[str, str] | None:
    """Papers held over for next time and the reader's links, plain and HTML; None if none."""
    plain, html = [], []
    if digest.more:
        more = f"{count_label(digest.more, 'more paper')} next time"
        plain.append(more)
        html.append(escape(more))
    for url, label in (
        (web_url(digest.manage_url), "Manage your topics"),
        (web_url(digest.unsubscribe_url), "Unsubscribe"),
    ):
        if url:
            plain.append(f"{label}: {url}")
            html.append(_link(url, label))
    return (" · ".join(plain), " · ".join(html)) if plain else None


class MatrixChannel(HttpChannel[MatrixConfig]):
    """Posts digests to a Matrix room as the account whose token it holds."""

    kind: ClassVar[str] = "matrix"

    @classmethod
    def from_options(
        cls, options: Mapping[str, object], *, limiter: RateLimiter | None = None
    ) -> Self:
        """A channel from its settings: `homeserver`, `room_id` and `access_token`."""
        room_id = text_option(options, "room_id", cls.kind)
        if not room_id.startswith(("!", "#")) or ":" not in room_id:
            raise ConfigError(f"{cls.kind} channel: `room_id` must look like !room:server")
        config = MatrixConfig(
            url_option(options, "homeserver", cls.kind),
            room_id,
            text_option(options, "access_token", cls.kind),
        )
        return cls(config, limiter=limiter)

    def render(self, digest: Digest, *, paper_view: PaperViewer = make_paper_view) -> list[Payload]:
        """`m.text` messages with an HTML list of the papers; numbered when there are several."""
        texts = entry_texts(digest, paper_view)
        entries = [_entry(number, text) for number, text in enumerate(texts, start=1)]
        closing = _closing(digest)
        reserve = 2_000 + (len(json.dumps(closing)) if closing else 0)
        groups = pack(
            [entry.size for entry in entries],
            max_items=len(entries) or 1,
            max_size=EVENT_BUDGET - reserve,
        )
        first_line = headline(digest, len(texts))
        payloads = []
        for number, group in enumerate(groups, start=1):
            label = f" (part {number} of {len(groups)})" if len(groups) > 1 else ""
            plain = [f"{first_line}{label}", *(entries[i].plain for i in group)]
            start = group[0] + 1 if group else 1
            items = "".join(entries[i].html for i in group)
            html = [f"<p><strong>{escape(first_line)}</strong>{escape(label)}</p>"]
            if items:
                html.append(f'<ol start="{start}">{items}</ol>')
            if closing and number == len(groups):
                plain.append(closing[0])
                html.append(f"<p>{closing[1]}</p>")
            content: dict[str, Any] = {
                "msgtype": "m.text",
                "body": "\n\n".join(plain),
                "format": "org.matrix.custom.html",
                "formatted_body": "".join(html),
            }
            ids = tuple(texts[i].paper_id for i in group)
            payloads.append(Payload(number, len(groups), content, ids))
        return payloads

    def message_url(self, payload: Payload, idempotency_key: str) -> str:
        """Where the message is PUT: the room (URL-encoded) and the payload's transaction id."""
        room = quote(self.config.room_id, safe="")
        txn = quote(transaction_id(idempotency_key, payload.part), safe="")
        base = self.config.homeserver.rstrip("/")
        return f"{base}/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}"

    async def send(
        self, client: httpx.AsyncClient, payload: Payload, *, idempotency_key: str
    ) -> ChannelResult:
        """PUT the message under its transaction id; a resend is kept once by the homeserver."""
        token = self.config.access_token
        request = client.build_request(
            "PUT",
            self.message_url(payload, idempotency_key),
            content=to_json(payload.content),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        key = f"{self.config.homeserver}\0{self.config.room_id}"
        done = await exchange(
            client,
            request,
            limiter=self.limiter,
            rate=RATE,
            limit_key=key,
            clock=self.clock,
            secrets=(token,),
            describe=self.describe(),
        )
        result = done.result
        if done.response is not None and result.retry_after is None:
            # Matrix says how long to wait in its error body, in milliseconds.
            result = with_body_retry_after(result, done.response, "retry_after_ms", scale=0.001)
            if result.retry_after is not None:
                self.limiter.hold(key, result.retry_after)
        return result
