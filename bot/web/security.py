"""Protections every form shares: CSRF tokens and rate limits (pure, apart from the clock).

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

from starlette.requests import Request
from starlette.responses import Response

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


def too_large(request: Request, limit: int, *, length_required: bool = True) -> bool:
    """True when the body is over `limit` bytes by its Content-Length, or has none (if required).

    Starlette reads a urlencoded form whole, with no limit of its own, so the
    length is checked before the form is read.
    """
    length = request.headers.get("content-length", "")
    if not length.isdigit():
        return length_required
    return int(length) > limit


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
