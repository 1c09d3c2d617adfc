"""Body limits and CSRF tokens.

The body limits are tested against `paperbot web` as a real process over raw
sockets, so a body can be sent chunked, without a Content-Length, and without an
end: the server must answer before it has read it all. CSRF tokens through the
app on a real database, with a controlled clock.
"""

import select
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from itsdangerous import TimestampSigner

from bot.subscriptions.spec import email_key
from bot.tokens import Purpose, TokenSubject, make_token
from bot.web.manage_pages import MAX_FORM_BYTES, MAX_ONE_CLICK_BYTES
from bot.web.security import CSRF_COOKIE, CSRF_MAX_AGE, RateLimiter
from tests.conftest import RunCli
from tests.delivery.conftest import free_port
from tests.web.conftest import T0, Site, csrf_of, running_web

SECRET = "test-web-secret-of-32-characters-x"
ANA = "ana@lab.org"


@dataclass(frozen=True)
class Web:
    """A running `paperbot web` on 127.0.0.1 and its one subscriber's links."""

    port: int
    process: subprocess.Popen[str]

    def path(self, purpose: Purpose) -> str:
        """The path of Ana's `purpose` link (she is the first subscriber: id 1)."""
        return f"/{purpose}/{make_token(SECRET, purpose, TokenSubject(1, email_key(ANA)))}"


@pytest.fixture
def web(tmp_path: Path, run_cli: RunCli) -> Iterator[Web]:
    """`paperbot web` on a free port, with one subscriber."""
    port = free_port()
    env = {"PAPERBOT_WEB_PORT": str(port), "PAPERBOT_WEB_SECRET": SECRET}
    subscribed = run_cli("subscribe", ANA, "diffusion", env=env)
    assert subscribed.returncode == 0, subscribed.stderr
    with running_web(tmp_path, env, f"http://127.0.0.1:{port}/subscribe") as process:
        yield Web(port, process)


def _request(port: int, head: str, body: bytes = b"") -> bytes:
    """Send one request over a raw socket; return everything the server answered."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        return _read_all(sock)


def _read_all(sock: socket.socket) -> bytes:
    """Read until the server closes (or resets after answering)."""
    answer = b""
    try:
        while data := sock.recv(65536):
            answer += data
            if b"\r\n\r\n" in answer and b"connection: close" not in answer.lower():
                break  # a kept-alive answer: the headers are all the tests need
    except ConnectionResetError:
        pass
    return answer


def _post_endless_chunked(port: int, path: str, *, stop_after: int) -> bytes:
    """POST a chunked form that never ends; stop sending at the answer or after `stop_after` bytes.

    Returns the answer. The last chunk is never sent: a server that waits for the
    whole body never answers, and the socket's timeout ends the wait.
    """
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    piece = b"List-Unsubscribe=One-Click&padding=" + b"a" * 4000
    frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head.encode())
        try:
            while sent < stop_after:
                answered, _, _ = select.select([sock], [], [], 0)
                if answered:
                    break
                sock.sendall(frame)
                sent += len(piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection: its answer is read below
        try:
            return _read_all(sock)
        except TimeoutError:
            return b""


def _status(answer: bytes) -> int:
    assert answer.startswith(b"HTTP/1.1 "), answer[:200]
    return int(answer.split(b" ", 2)[1])


@pytest.mark.parametrize(
    ("purpose", "limit"), [("unsubscribe", MAX_ONE_CLICK_BYTES), ("manage", MAX_FORM_BYTES)]
)
def test_a_chunked_body_over_the_limit_is_refused_before_it_ends(
    web: Web, purpose: Purpose, limit: int
) -> None:
    answer = _post_endless_chunked(web.port, web.path(purpose), stop_after=8 * limit)
    assert _status(answer) == 413, answer[:300]
    # The server is still there, and the same link works with a normal request.
    body = b"List-Unsubscribe=One-Click"
    answer = _request(
        web.port,
        f"POST {web.path('unsubscribe')} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n",
        body,
    )
    assert _status(answer) == 200 and b"You are unsubscribed" in answer


def test_a_declared_length_over_the_limit_is_refused_unread(web: Web) -> None:
    # The headers alone: the answer comes without a byte of the announced body.
    answer = _request(
        web.port,
        f"POST {web.path('unsubscribe')} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {10**9}\r\n",
    )
    assert _status(answer) == 413
    assert b"x-frame-options: deny" in answer.lower()


# --- CSRF --------------------------------------------------------------------------------


def _submit(site: Site, csrf: str, cookie: str | None = None) -> int:
    """POST a valid subscribe form with `csrf` in the field (and `cookie`, if given)."""
    if cookie is not None:
        site.client.cookies.set(CSRF_COOKIE, cookie)
    data = {"email": ANA, "keywords": "diffusion", "cadence": "daily", "channels": "email"}
    return site.client.post("/subscribe", data={**data, "csrf": csrf}).status_code


def _signed(secret: str, value: str, at: datetime) -> str:
    """`value` signed as the site signs CSRF values, with `secret`, at `at`."""

    class Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(at.timestamp())

    return Signer(secret, salt="paperbot-csrf").sign(value).decode()


def test_the_issued_csrf_value_is_accepted_and_kept_for_other_tabs(site: Site) -> None:
    issued = csrf_of(site.client)
    # A second tab: the same value, the first form still works.
    assert csrf_of(site.client) == issued
    assert _submit(site, issued) == 200


@pytest.mark.parametrize(
    "made_up",
    [
        "x",  # one character
        "A" * 43,  # the length of a random value, not signed
        "A" * 43 + ".aGVsbG8.c2lnbmF0dXJl",  # the format of a signed one, a made-up signature
        "signed-elsewhere",  # a real signature, with another secret
    ],
)
def test_a_csrf_value_the_site_did_not_sign_is_refused_even_when_cookie_and_field_agree(
    site: Site, made_up: str
) -> None:
    if made_up == "signed-elsewhere":
        made_up = _signed("another-secret", "A" * 43, T0)
    assert _submit(site, made_up, cookie=made_up) == 400


def test_a_csrf_value_older_than_its_max_age_is_refused_and_a_new_one_issued(
    site: Site,
) -> None:
    issued = csrf_of(site.client)
    site.now[0] = T0 + timedelta(seconds=CSRF_MAX_AGE + 1)
    assert _submit(site, issued) == 400
    fresh = csrf_of(site.client)
    assert fresh != issued and _submit(site, fresh) == 200


# --- Rate limits -------------------------------------------------------------------------


def test_a_rate_limiter_forgets_clients_idle_for_its_window() -> None:
    now = [0.0]
    limiter = RateLimiter(2, 60.0, clock=lambda: now[0])
    for number in range(RateLimiter.MAX_KEYS):
        assert limiter.allow(f"10.0.{number // 256}.{number % 256}")
    now[0] = 61.0
    assert limiter.allow("192.0.2.1")
    assert len(limiter) == 1
    assert limiter.allow("192.0.2.1") and not limiter.allow("192.0.2.1")
