"""Downloading one feed over HTTP(S), politely: conditional GETs, bounded redirects, a size cap.

This is the only part of ingesting that touches the network; parsing what it
returns is `bot.ingest.feeds`' job.
"""

import dataclasses
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from urllib.parse import urlsplit

import httpx

from bot.errors import FeedError
from bot.ingest.redirects import Resolver, redirect_refusal
from bot.ingest.sources import FEED_ACCEPT
from bot.redaction import redact_text, redact_url

MAX_FEED_BYTES = 50 * 1024 * 1024
MAX_REDIRECTS = 5


@dataclass(frozen=True)
class FetchedFeed:
    """What one request for a feed brought back.

    `not_modified` is true on a 304 answer, and `content` is then empty.
    `etag` and `last_modified` are the validators to send next time; `url` is
    the final address after redirects.
    """

    status_code: int
    not_modified: bool
    content: bytes
    etag: str | None
    last_modified: str | None
    url: str


def fetch_feed(
    url: str,
    *,
    etag: str | None,
    last_modified: str | None,
    timeout: float,
    deadline: float,
    user_agent: str,
    client: httpx.Client | None = None,
    max_bytes: int = MAX_FEED_BYTES,
    secret_params: Sequence[str] = (),
    resolve: Resolver | None = None,
    accept: str = FEED_ACCEPT,
) -> FetchedFeed:
    """GET the feed at `url`, conditionally when validators from a previous fetch are given.

    Redirects are followed (at most `MAX_REDIRECTS` with the default client),
    `timeout` bounds the connection and each wait for data, and the body may
    not exceed `max_bytes`. `deadline` (`ingest.feed_deadline`) bounds the
    whole fetch: a server that sends a byte now and then never waits out
    `timeout`, and is cut off once the deadline has passed, within one wait. Redirects go to http(s) URLs only, and
    never from a public address to an internal one (`bot.ingest.redirects`;
    `resolve` looks host names up, by default with the system's resolver).
    `accept` is the Accept header: the source kind's (`bot.ingest.sources`).
    Failures of every kind raise `FeedError` with a one-line reason; the URL in
    it, and any URL in the reason, is redacted (`bot.redaction`: credentials,
    and the values of `secret_params` and other secret-looking query parameters).
    """
    shown = redact_url(url, secret_params)
    _check_url(url, shown)
    headers = {"User-Agent": user_agent, "Accept": accept}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    # No single wait may outlast the whole fetch's deadline.
    timeout = min(timeout, deadline)
    limits = _Limits(timeout, max_bytes, deadline, time.monotonic() + deadline, shown)
    resolve = resolve or resolve_host
    try:
        if client is not None:
            fetched = _get(client, url, headers, limits, resolve)
        else:
            with httpx.Client(max_redirects=MAX_REDIRECTS) as own_client:
                fetched = _get(own_client, url, headers, limits, resolve)
    except httpx.InvalidURL as error:
        raise FeedError(shown, "not a valid URL") from error
    except httpx.TimeoutException as error:
        raise FeedError(shown, f"no answer within {timeout:g} s") from error
    except httpx.UnsupportedProtocol as error:
        raise FeedError(shown, "redirected to a URL that is not http(s)") from error
    except httpx.ConnectError as error:
        raise FeedError(shown, _connect_failure(error, url, secret_params)) from error
    except httpx.HTTPError as error:
        reason = _scrub(str(error), url, secret_params)
        raise FeedError(shown, f"request failed: {reason}") from error
    if fetched.not_modified:
        # A 304 need not repeat the validators; the ones sent still hold.
        fetched = dataclasses.replace(
            fetched,
            etag=fetched.etag or etag,
            last_modified=fetched.last_modified or last_modified,
        )
    return fetched


@dataclass(frozen=True)
class _Limits:
    """What bounds one fetch: each wait, the size, the whole fetch's time; and its name."""

    timeout: float
    max_bytes: int
    deadline: float
    ends: float  # time.monotonic() when the deadline passes
    shown: str

    def check_deadline(self) -> None:
        """Raise `FeedError` once the deadline has passed."""
        if time.monotonic() > self.ends:
            raise FeedError(
                self.shown,
                f"not fetched within the {self.deadline:g} s deadline (ingest.feed_deadline)",
            )


def _check_url(url: str, shown: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError as error:
        raise FeedError(shown, "not a valid URL") from error
    if parts.scheme.lower() not in ("http", "https"):
        raise FeedError(shown, "not an http(s) URL")
    if not parts.hostname:
        raise FeedError(shown, "URL has no host name")


def resolve_host(host: str) -> list[str]:
    """The addresses `host` resolves to, by the system's resolver; none when it does not."""
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return sorted({str(info[4][0]) for info in found})


def _get(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    limits: _Limits,
    resolve: Resolver,
) -> FetchedFeed:
    shown = limits.shown
    request = client.build_request("GET", url, headers=headers, timeout=limits.timeout)
    # Redirects are followed here, one at a time, so that each can be judged first.
    for _ in range(client.max_redirects + 1):
        reply = client.send(request, stream=True, follow_redirects=False)
        try:
            limits.check_deadline()
            following = reply.next_request
            if following is None:
                return _read_reply(reply, limits)
        finally:
            reply.close()
        if following.url.scheme not in ("http", "https"):
            raise FeedError(shown, "redirected to a URL that is not http(s)")
        refusal = redirect_refusal(str(request.url), str(following.url), resolve)
        if refusal is not None:
            raise FeedError(shown, refusal)
        request = following
    raise FeedError(shown, "too many redirects")


def _read_reply(reply: httpx.Response, limits: _Limits) -> FetchedFeed:
    not_modified = reply.status_code == HTTPStatus.NOT_MODIFIED
    if not (reply.is_success or not_modified):
        raise FeedError(limits.shown, f"HTTP {reply.status_code} {_reason(reply)}".rstrip())
    return FetchedFeed(
        status_code=reply.status_code,
        not_modified=not_modified,
        content=b"" if not_modified else _read_capped(reply, limits),
        etag=reply.headers.get("ETag"),
        last_modified=reply.headers.get("Last-Modified"),
        url=str(reply.url),
    )


def _read_capped(reply: httpx.Response, limits: _Limits) -> bytes:
    too_big = f"feed is larger than {_size(limits.max_bytes)}"
    declared = reply.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise FeedError(limits.shown, too_big)
    chunks: list[bytes] = []
    received = 0
    # Counted after decompression, so a small gzip bomb is caught too.
    for chunk in reply.iter_bytes():
        limits.check_deadline()
        received += len(chunk)
        if received > limits.max_bytes:
            raise FeedError(limits.shown, too_big)
        chunks.append(chunk)
    return b"".join(chunks)


def _reason(reply: httpx.Response) -> str:
    # The standard phrase where there is one: servers send all sorts.
    try:
        return HTTPStatus(reply.status_code).phrase
    except ValueError:
        return " ".join(reply.reason_phrase.split())


def _connect_failure(error: httpx.ConnectError, url: str, secret_params: Sequence[str]) -> str:
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return f"could not resolve host name {urlsplit(url).hostname!r}"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        cause = cause.__cause__ or cause.__context__
    return f"could not connect: {_scrub(str(error), url, secret_params)}"


def _scrub(message: str, url: str, secret_params: Sequence[str]) -> str:
    """Keep a library's message on one line and free of the URL's secrets."""
    message = redact_text(message, url, secret_params)
    return " ".join(message.split()) or "unknown error"


def _size(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / (1024 * 1024):g} MB"
    if count >= 1024:
        return f"{count / 1024:g} KB"
    return f"{count} bytes"
