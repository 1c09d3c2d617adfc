"""Body limits, CSRF tokens and error pages: against `paperbot web` as a real process, or the app.

The body limits are tested over raw sockets, so a body can be sent chunked,
without a Content-Length, and without an end: the server must answer before it
has read it all.
"""

import os
import select
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.subscriptions.spec import email_key
from bot.tokens import Purpose, TokenSubject, make_token
from bot.web.manage_pages import MAX_FORM_BYTES, MAX_ONE_CLICK_BYTES
from tests.conftest import RunCli
from tests.delivery.conftest import free_port

SECRET = "test-web-secret"
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
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PAPERBOT_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "web"],
        cwd=tmp_path,
        env={**clean, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_until_up(f"http://127.0.0.1:{port}/subscribe", process)
        yield Web(port, process)
    finally:
        process.terminate()
        process.wait(timeout=30)


def _wait_until_up(url: str, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"paperbot web exited: {process.stderr.read() if process.stderr else ''}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.1)
    pytest.fail("paperbot web did not answer")


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
