"""What every channel shares: the protocol, payloads, results, HTTP outcomes, rate limits.

A channel turns a `Digest` into the payloads its service takes (`render`, pure) and
sends one payload over an `httpx.AsyncClient` it is given (`send`), answering with a
`ChannelResult`. Like the mail transports, a channel never raises for one payload's
failure and never retries by itself: the caller records what was sent and tries
temporary failures again later, not before `retry_after` when the service named it.

Every HTTP answer and transport error is classified by `http_outcome`, one rule for
all channels; every reason passes `mask`, so no webhook address, token or secret
reaches a result, a log line or an exception.
"""

import asyncio
import contextlib
import hashlib
import json
import logging
import math
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Generic, Literal, Protocol, Self, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import msgspec

from bot.clock import Clock, utc_now
from bot.digest.model import Digest, DigestPaper
from bot.digest.render import (
    PaperView,
    make_paper_view,
    match_line,
    one_line,
    shorten,
)
from bot.errors import ConfigError
from bot.redaction import MASK, is_secret_param, redact_text, redact_url

log = logging.getLogger("paperbot.channels")

Status = Literal["sent", "temporary", "permanent"]

REASON_MAX = 300
"""A result's reason is one line of at most this many characters."""

REPLY_MAX = 200
"""At most this much of a refusing service's reply goes into a reason."""

RETRY_AFTER_MAX = 3600.0
"""A service asking for a longer pause than this (seconds) is taken to mean this."""

PaperViewer = Callable[[DigestPaper], PaperView]
"""Prepares a paper for display: `make_paper_view`, or a renderer's cached `paper_view`."""


@dataclass(frozen=True)
class ChannelResult:
    """What became of one payload.

    `status` is "sent" (the service accepted it), "temporary" (try again later,
    not before `retry_after` seconds when that is set) or "permanent" (retrying
    cannot help: a wrong address, a refused token, a payload the service rejects).
    `reason` is one line for people, with every secret masked; `code` is the HTTP
    status when there was an answer.
    """

    status: Status
    reason: str
    retry_after: float | None = None
    code: int | None = None

    @property
    def sent(self) -> bool:
        """True when the service accepted the payload."""
        return self.status == "sent"


@dataclass(frozen=True)
class Payload:
    """Part `part` of `parts` of one digest, as its channel's service takes it.

    `content` is the JSON document sent (the generic webhook adds what only the
    send knows: the idempotency key and the time); `paper_ids` are the papers it
    shows, in order, so a caller can tell which papers reached the reader.
    """

    part: int
    parts: int
    content: Mapping[str, Any] = field(hash=False)
    paper_ids: tuple[int, ...]

    @property
    def label(self) -> str:
        """ "" for a digest in one part, else " (part 2 of 3)"."""
        return f" (part {self.part} of {self.parts})" if self.parts > 1 else ""


def to_json(content: Mapping[str, Any]) -> bytes:
    """`content` as the compact UTF-8 JSON bytes that go on the wire.

    msgspec, not the standard library: a digest's document is 40 KB, and encoding
    it was a fifth of a webhook's cost per message (0.3 ms against 0.03 ms). The
    bytes differ only in how some floats are written (`1e16`, not `1e+16`), which
    any JSON reader takes the same.
    """
    return msgspec.json.encode(content)


class Channel(Protocol):
    """A way to send digests: a chat service's webhook, a Matrix room, a generic webhook.

    `kind` is the name the registry knows it by. `from_options` builds one from its
    settings (raising `ConfigError` naming the option, never its value);
    `describe` names it for people with its secrets masked.
    """

    kind: ClassVar[str]

    @classmethod
    def from_options(
        cls, options: Mapping[str, object], *, limiter: "RateLimiter | None" = None
    ) -> Self:
        """Build the channel from its settings."""
        ...

    def describe(self) -> str:
        """The channel for logs and messages, secrets masked."""
        ...

    def render(self, digest: Digest, *, paper_view: PaperViewer = make_paper_view) -> list[Payload]:
        """The payloads of `digest`, in order: one, or several when it exceeds the service's limits."""
        ...

    async def send(
        self, client: httpx.AsyncClient, payload: Payload, *, idempotency_key: str
    ) -> ChannelResult:
        """Send one payload; never raises for the service's or the network's failure."""
        ...


# --- Options --------------------------------------------------------------------------


def text_option(options: Mapping[str, object], name: str, kind: str) -> str:
    """The non-empty text option `name` of a `kind` channel; `ConfigError` naming it otherwise.

    The message never repeats the value: it may be a secret.
    """
    value = options.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{kind} channel: `{name}` must be set to a non-empty text")
    return value.strip()


_FLAG_TEXTS = {"true": True, "false": False}


def flag_option(options: Mapping[str, object], name: str, kind: str) -> bool:
    """The true-or-false option `name` of a `kind` channel (false when unset); `ConfigError` otherwise.

    "true" and "false" are taken as text too: options typed on the command line are text.
    """
    value = options.get(name, False)
    if isinstance(value, str):
        value = _FLAG_TEXTS.get(value.strip().lower(), value)
    if not isinstance(value, bool):
        raise ConfigError(f"{kind} channel: `{name}` must be true or false")
    return value


def url_option(options: Mapping[str, object], name: str, kind: str) -> str:
    """The http(s) address option `name` of a `kind` channel; `ConfigError` otherwise."""
    value = text_option(options, name, kind)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{kind} channel: `{name}` must be an http or https address")
    return value


def number_option(options: Mapping[str, object], name: str, kind: str, default: float) -> float:
    """The positive number option `name` of a `kind` channel, or `default` when unset."""
    value = options.get(name, default)
    if isinstance(value, str):  # typed on the command line
        with contextlib.suppress(ValueError):
            value = float(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ConfigError(f"{kind} channel: `{name}` must be a positive number")
    return float(value)


# --- Secrets --------------------------------------------------------------------------


_PAIR = re.compile(r"([A-Za-z0-9_.-]+)=([^\s&\"'<>]+)")


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with each of `secrets` (raw or URL-encoded) and every URL's secrets masked.

    Secrets shorter than 4 characters are left alone: they would mask half the text.
    """
    pieces = {piece for secret in secrets if len(secret) >= 4 for piece in (secret, quote(secret))}
    for piece in sorted(pieces, key=len, reverse=True):
        text = text.replace(piece, MASK)
    text = redact_text(text)
    # A service may echo a query without its address (`?token=...`).
    return _PAIR.sub(lambda m: f"{m[1]}={MASK}" if is_secret_param(m[1]) else m[0], text)


def describe_url(url: str) -> str:
    """`url` with its user information and everything after the host masked.

    Webhook addresses carry their secret in the path (Slack's, Discord's) as
    often as in the query, so only the scheme and host are shown.
    """
    parts = urlsplit(redact_url(url))
    shown = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    return f"{shown}/{MASK}" if parts.path.strip("/") or parts.query else shown


def url_secrets(url: str) -> tuple[str, ...]:
    """The pieces of a webhook `url` that must never be shown: the whole of it, its path and query."""
    parts = urlsplit(url)
    return tuple(p for p in (url, parts.path.strip("/"), parts.query) if p)


def reason_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` as a result's reason: secrets masked, on one line, bounded."""
    return shorten(one_line(mask(text, secrets)), REASON_MAX)


# --- HTTP outcomes --------------------------------------------------------------------


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a `Retry-After` value (seconds or an HTTP date), capped.

    None when absent or unreadable; a date already past is 0.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # an HTTP date is GMT, whatever it forgets to say
            return None
        seconds = (when - now).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), RETRY_AFTER_MAX)


def http_outcome(
    outcome: httpx.Response | Exception, *, now: datetime, secrets: Iterable[str] = ()
) -> ChannelResult:
    """Classify a service's answer, or the error that stopped it, into a result.

    2xx is sent. 429 is temporary, with `Retry-After` (seconds or an HTTP date,
    capped at `RETRY_AFTER_MAX`); 408, 5xx, timeouts and connection errors are
    temporary. Every other answer (4xx, and redirects: a webhook does not move) is
    permanent, with the start of the reply's text. An address httpx cannot use is
    permanent too. Reasons are one line, with `secrets` and URLs' secrets masked.
    """
    secrets = tuple(secrets)
    if isinstance(outcome, httpx.Response):
        return _response_outcome(outcome, now, secrets)
    if isinstance(outcome, httpx.TimeoutException):
        return ChannelResult("temporary", "timed out waiting for the service")
    if isinstance(outcome, httpx.UnsupportedProtocol | httpx.InvalidURL | httpx.LocalProtocolError):
        # The address or the request itself is wrong: no retry changes that.
        return ChannelResult(
            "permanent", reason_text(f"cannot send: {_error_text(outcome)}", secrets)
        )
    # Refused, reset or dropped connections, proxies, anything else: worth another try.
    return ChannelResult(
        "temporary", reason_text(f"connection failed: {_error_text(outcome)}", secrets)
    )


def _response_outcome(
    response: httpx.Response, now: datetime, secrets: Sequence[str]
) -> ChannelResult:
    code = response.status_code
    status_line = f"{code} {response.reason_phrase}".strip()
    if 200 <= code < 300:
        return ChannelResult("sent", status_line, code=code)
    reply = one_line(response.text[:2000])
    line = f"{status_line}: {shorten(reply, REPLY_MAX)}" if reply else status_line
    if code == 429:
        wait = retry_after(response.headers.get("Retry-After"), now)
        return ChannelResult("temporary", reason_text(line, secrets), wait, code)
    if code == 408 or 500 <= code < 600:
        return ChannelResult("temporary", reason_text(line, secrets), code=code)
    return ChannelResult("permanent", reason_text(line, secrets), code=code)


def _error_text(error: Exception) -> str:
    detail = str(error)
    name = type(error).__name__
    return f"{name}: {detail}" if detail else name


# --- Rate limits ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """At most `requests` requests in any `per` seconds."""

    requests: int
    per: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per <= 0:
            raise ValueError("a rate needs at least one request per positive period")


Sleep = Callable[[float], Awaitable[None]]


class RateLimiter:
    """Spaces requests per destination (one webhook, one room), shared by every send to it.

    `wait(key, rate)` returns once a request to `key` keeps within `rate` (a
    sliding window) and after any pause a service asked for (`hold`). Keys are
    kept hashed: they are webhook addresses, and those are secrets. The clock and
    the sleep are passed in, so tests run without waiting.
    """

    def __init__(
        self, *, monotonic: Callable[[], float] = time.monotonic, sleep: Sleep = asyncio.sleep
    ) -> None:
        """Measure time with `monotonic` (seconds) and pause with `sleep`."""
        self._monotonic = monotonic
        self._sleep = sleep
        self._sent: dict[str, deque[float]] = {}
        self._not_before: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"<RateLimiter of {len(self._sent)} destinations>"

    @staticmethod
    def _key(key: str) -> str:
        return hashlib.sha256(key.encode("utf-8")).hexdigest()

    async def wait(self, key: str, rate: Rate) -> None:
        """Return when one more request to `key` keeps within `rate`; count it as sent."""
        hashed = self._key(key)
        # Sends to one destination queue up here, so each sees the others' timestamps.
        async with self._locks.setdefault(hashed, asyncio.Lock()):
            sent = self._sent.setdefault(hashed, deque())
            while (delay := self._delay(hashed, sent, rate)) > 0:
                await self._sleep(delay)
            sent.append(self._monotonic())

    def _delay(self, hashed: str, sent: deque[float], rate: Rate) -> float:
        now = self._monotonic()
        while sent and sent[0] <= now - rate.per:
            sent.popleft()
        delay = self._not_before.get(hashed, now) - now
        if len(sent) >= rate.requests:
            delay = max(delay, sent[0] + rate.per - now)
        return delay

    def hold(self, key: str, seconds: float) -> None:
        """Send nothing more to `key` for `seconds` (a service said so)."""
        hashed = self._key(key)
        until = self._monotonic() + min(max(seconds, 0.0), RETRY_AFTER_MAX)
        self._not_before[hashed] = max(self._not_before.get(hashed, until), until)


# --- Sending --------------------------------------------------------------------------


class _Described(Protocol):
    def describe(self) -> str: ...


ConfigT = TypeVar("ConfigT", bound=_Described)


class HttpChannel(Generic[ConfigT]):
    """What every channel over HTTP holds: its settings, a rate limiter and a clock.

    A channel subclasses it with its own settings type, whose `describe` masks the
    secrets, and adds `kind`, `from_options`, `render` and `send`.
    """

    kind: ClassVar[str]

    def __init__(
        self, config: ConfigT, *, limiter: "RateLimiter | None" = None, clock: Clock = utc_now
    ) -> None:
        """Send as `config` says, spaced by `limiter` (one of its own when None)."""
        self.config = config
        self.limiter = limiter or RateLimiter()
        self.clock = clock

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.describe()}>"

    def describe(self) -> str:
        """The channel for logs and messages: its settings' description, secrets masked."""
        return self.config.describe()


@dataclass(frozen=True)
class Exchange:
    """One request's result, and the answer when there was one (for its headers)."""

    result: ChannelResult
    response: httpx.Response | None


async def exchange(
    client: httpx.AsyncClient,
    request: httpx.Request,
    *,
    limiter: RateLimiter,
    rate: Rate,
    limit_key: str,
    clock: Clock,
    secrets: Sequence[str],
    describe: str,
) -> Exchange:
    """Send `request` once its destination's rate allows; classify what happened.

    A 429 holds every later request to the same destination for its `Retry-After`.
    One log line per request, naming the channel by `describe` (secrets masked).
    """
    await limiter.wait(limit_key, rate)
    response: httpx.Response | None = None
    try:
        response = await client.send(request)
    except Exception as error:
        result = http_outcome(error, now=clock(), secrets=secrets)
    else:
        result = http_outcome(response, now=clock(), secrets=secrets)
        if result.retry_after is not None:
            limiter.hold(limit_key, result.retry_after)
    log.info("%s: %s: %s", describe, result.status, result.reason)
    return Exchange(result, response)


def with_body_retry_after(
    result: ChannelResult, response: httpx.Response, name: str, *, scale: float = 1.0
) -> ChannelResult:
    """`result` of a 429 with the pause its JSON body names in `name` (times `scale`: seconds).

    For services that say it in the body rather than in `Retry-After`; `result`
    unchanged when it already has a pause or the body names none.
    """
    if result.code != 429 or result.retry_after is not None:
        return result
    try:
        value = json.loads(response.text).get(name)
    except (ValueError, AttributeError):
        return result
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        return result
    seconds = min(float(value) * scale, RETRY_AFTER_MAX)
    return ChannelResult(result.status, result.reason, seconds, result.code)


# --- What the channels show of an entry -----------------------------------------------


@dataclass(frozen=True)
class EntryText:
    """One entry's plain text pieces, shared by the chat layouts (escaped by each)."""

    paper_id: int
    title: str
    link: str | None
    meta: str
    reason: str
    summary: str
    links: tuple[tuple[str, str], ...]


LINK_MAX = 1000
"""Addresses longer than this are left out of chat messages (they would crowd the limits)."""


def entry_texts(digest: Digest, paper_view: PaperViewer = make_paper_view) -> list[EntryText]:
    """Every entry of `digest`, in order, as plain text pieces; topics named when several."""
    show_topic = sum(1 for section in digest.sections if section.entries) > 1
    texts = []
    for entry in digest.entries:
        view = paper_view(entry.paper)
        reason = match_line(entry.reason, show_topic=show_topic)
        link = view.link if view.link and len(view.link) <= LINK_MAX else None
        texts.append(
            EntryText(
                paper_id=view.paper_id,
                title=view.title or "(untitled)",
                link=link,
                meta=" · ".join(view.meta),
                reason=reason,
                summary=("AI summary: " if view.summary_is_ai else "") + view.summary,
                links=tuple((label, url) for label, url in view.links if len(url) <= LINK_MAX),
            )
        )
    return texts


def headline(digest: Digest, count: int, topic: str | None = None) -> str:
    """The first line of a chat message: the day, the topic if one, and how many papers it holds."""
    papers = f"{count} paper{'' if count == 1 else 's'}"
    about = "" if topic is None else f" in “{topic}”"
    return f"Papers for {digest.day.isoformat()}{about}: {papers}"


def pack(sizes: Sequence[int], *, max_items: int, max_size: int) -> list[list[int]]:
    """Split items of `sizes` into runs, in order, each of at most `max_items` and `max_size`.

    Each item must fit alone (the channels bound their items so that it does).
    """
    groups: list[list[int]] = []
    current: list[int] = []
    total = 0
    for index, size in enumerate(sizes):
        if size > max_size:
            raise ValueError(f"item {index} ({size}) exceeds the limit ({max_size})")
        if current and (len(current) >= max_items or total + size > max_size):
            groups.append(current)
            current, total = [], 0
        current.append(index)
        total += size
    if current or not groups:
        groups.append(current)
    return groups


def fit_escaped(text: str, limit: int, escape: Callable[[str], str]) -> str:
    """`escape(text)`, with `text` first shortened on a word so that the result fits `limit`."""
    length = limit
    while True:
        escaped = escape(shorten(text, length))
        if len(escaped) <= limit:
            return escaped
        if length <= 1:
            return ""
        # Escaping lengthened it: shorten the text by at least what it is over.
        length = max(1, length - (len(escaped) - limit))
