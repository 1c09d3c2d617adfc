"""Protections every form shares: body limits, CSRF tokens and rate limits.

Body limits: `BodyLimit` counts the bytes of a request body as the app reads
them, chunked or not, and answers 413 as soon as they pass the limit.

CSRF: a form page sets a random value in a cookie (SameSite=Strict, HttpOnly) and
repeats it in a hidden field; a POST is accepted only when both are present and
equal. Another site can make a browser send the cookie, but cannot read it to
fill in the field. The one-click unsubscribe POST (RFC 8058) is exempt: mail
providers send it without cookies, and its signed URL is the authorisation.
"""

import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.errors import PaperbotError
from bot.web.pages import error_page

CSRF_COOKIE = "paperbot_csrf"
CSRF_FIELD = "csrf"


def csrf_token(request: Request) -> str:
    """The CSRF value for a form on this page: the visitor's cookie, or a new one."""
    existing = request.cookies.get(CSRF_COOKIE, "")
    return existing if len(existing) >= 32 else secrets.token_urlsafe(32)


def set_csrf_cookie(response: Response, token: str, *, secure: bool) -> None:
    """Remember `token` in the visitor's browser for the form's POST."""
    response.set_cookie(
        CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure, max_age=86_400
    )


def csrf_ok(request: Request, submitted: str | None) -> bool:
    """True when the form's CSRF field matches the visitor's cookie."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie and submitted) and hmac.compare_digest(cookie, submitted or "")


class _BodyTooLargeError(PaperbotError):
    """Raised into the app by `BodyLimit` when a body passes its limit, to stop the reading."""


class BodyLimit:
    """ASGI middleware: a request body of more than `limit` bytes gets a 413 page.

    A declared Content-Length over the limit is refused before anything is read.
    Otherwise the body's bytes are counted as the app reads them, so a body sent
    without a length (chunked) is cut off as soon as it passes the limit: Starlette
    reads a urlencoded form whole, with no limit of its own. Nested, the lowest
    limit wins: the app has one for every route, and routes reading less set their own.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with a counting `receive`; answer 413 when it passes the limit."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length", "")
        if length.isdigit() and int(length) > self.limit:
            await _too_large(scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise _BodyTooLargeError
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except _BodyTooLargeError:
            if started:  # no page reads its body after answering; if one did, it is a bug
                raise
            await _too_large(scope, receive, send)


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    response = error_page(
        Request(scope),
        "The request is too large",
        "Nothing was changed. Send fewer or shorter keywords.",
        status=413,
    )
    # The rest of the body is not wanted: closing the connection stops a client that
    # would go on sending it.
    response.headers["Connection"] = "close"
    await response(scope, receive, send)


def client_key(request: Request) -> str:
    """Who is asking, for rate limits: the client's address."""
    return request.client.host if request.client else "unknown"


class RateLimiter:
    """At most `limit` events per key within `window` seconds (in memory, per process)."""

    def __init__(
        self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        """Count one event for `key`; False when it is over the limit (then not counted)."""
        now = self.clock()
        events = self._events.setdefault(key, deque())
        while events and now - events[0] >= self.window:
            events.popleft()
        if len(events) >= self.limit:
            return False
        events.append(now)
        if len(self._events) > 10_000:  # forget idle keys, so memory stays bounded
            self._events = {k: v for k, v in self._events.items() if v}
        return True
