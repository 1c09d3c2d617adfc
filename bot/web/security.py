"""Protections every form shares: body limits, CSRF tokens and rate limits.

Body limits: `BodyLimit` counts the bytes of a request body as the app reads
them, chunked or not, and answers 413 as soon as they pass the limit.

CSRF: a form page sets a random value, signed with the site's secret, in a cookie
(SameSite=Strict, HttpOnly) and repeats it in a hidden field; a POST is accepted
only when both are present, equal, and the value is one this site signed within
`CSRF_MAX_AGE`. Another site can make a browser send the cookie, but cannot read
it to fill in the field, nor make up a value of its own that the server takes.
The one-click unsubscribe POST (RFC 8058) is exempt: mail providers send it
without cookies, and its signed URL is the authorisation.
"""

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

from itsdangerous import TimestampSigner
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.clock import Clock
from bot.errors import PaperbotError
from bot.web.pages import error_page

CSRF_COOKIE = "paperbot_csrf"
CSRF_FIELD = "csrf"
CSRF_MAX_AGE = 86_400
"""Seconds a CSRF value is accepted after it was signed: the cookie's life too."""


class _CsrfSigner(TimestampSigner):
    """Signs CSRF values with the site's secret, dated by the app's clock, not the system's."""

    def __init__(self, secret: str, clock: Clock) -> None:
        # The salt keeps these signatures apart from the links' (`bot.tokens`).
        super().__init__(secret, salt="paperbot-csrf")
        self.clock = clock

    def get_timestamp(self) -> int:
        """Now, by the app's clock, in whole seconds."""
        return int(self.clock().timestamp())


def _signer(request: Request) -> _CsrfSigner:
    # The app's WebContext (bot.web.context imports this module, so it is not named here).
    web = request.app.state.web
    return _CsrfSigner(web.secret, web.clock)


def csrf_token(request: Request) -> str:
    """The CSRF value for a form on this page: the visitor's cookie if recent, or a new one.

    A cookie signed less than half `CSRF_MAX_AGE` ago is kept, so forms open in
    other tabs stay valid, and a form shown now has at least half a day to be sent.
    """
    signer = _signer(request)
    existing = request.cookies.get(CSRF_COOKIE, "")
    if signer.validate(existing, max_age=CSRF_MAX_AGE // 2):
        return existing
    return signer.sign(secrets.token_urlsafe(32)).decode()


def set_csrf_cookie(response: Response, token: str, *, secure: bool) -> None:
    """Remember `token` in the visitor's browser for the form's POST."""
    response.set_cookie(
        CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure, max_age=CSRF_MAX_AGE
    )


def csrf_ok(request: Request, submitted: str | None) -> bool:
    """True when the form's CSRF field matches the visitor's cookie, and this site signed it."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not (cookie and submitted):
        return False
    # As bytes: compare_digest refuses str with characters beyond ASCII, which a form may hold.
    if not hmac.compare_digest(cookie.encode(), submitted.encode()):
        return False
    return _signer(request).validate(cookie, max_age=CSRF_MAX_AGE)


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
    """At most `limit` events per key within `window` seconds (in memory, per process).

    Safe to share between threads: the manage page counts previews in worker threads.
    """

    MAX_KEYS = 10_000
    """Keys remembered before those with no event within the window are forgotten."""

    def __init__(
        self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """How many keys are remembered."""
        return len(self._events)

    def allow(self, key: str) -> bool:
        """Count one event for `key`; False when it is over the limit (then not counted)."""
        with self._lock:
            now = self.clock()
            events = self._events.setdefault(key, deque())
            while events and now - events[0] >= self.window:
                events.popleft()
            if len(events) >= self.limit:
                return False
            events.append(now)
            if len(self._events) > self.MAX_KEYS:
                # A key's old events are dropped only when it comes back: forget the keys
                # whose last event is out of the window, so memory stays bounded.
                self._events = {k: v for k, v in self._events.items() if now - v[-1] < self.window}
            return True
