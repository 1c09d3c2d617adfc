"""Stand-ins for the services on 127.0.0.1, and time that passes only when asked to."""

import asyncio
import socket
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Literal

import httpx
import pytest

from bot.channels.base import Channel, ChannelResult, Payload, RateLimiter
from tests.conftest import serving

CLIENT_TIMEOUT = 0.5
"""The tests' HTTP client timeout: a slow reply is one the receiver holds past it."""


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Reply:
    """An answer the receiver gives: a status, headers and a body."""

    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)


Answer = Reply | Literal["drop", "hang"]
"""A reply; "drop": the connection closed without one; "hang": no reply until the test ends."""


class Receiver:
    """A service on 127.0.0.1 that answers with `answers` in turn (`usual` when none are left).

    `requests` holds every request received and `answered` the answer each got;
    `received` is set at each; `on_request`, when set, hears each request before it
    is answered.
    """

    def __init__(self) -> None:
        self.on_request: Callable[[Received], None] | None = None
        self.base = ""
        self.answers: deque[Answer] = deque()
        self.usual = Reply()
        self.requests: list[Received] = []
        self.answered: list[Answer] = []
        self.lock = threading.Lock()
        self.received = threading.Event()
        self.release = threading.Event()

    def url(self, path: str) -> str:
        """`path` on this receiver."""
        return self.base + path

    def answer(self, *answers: Answer) -> None:
        """Give these answers, in order, to the next requests."""
        self.answers.extend(answers)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A `Receiver` on a free local port."""
    service = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            request = Received(self.command, self.path, dict(self.headers.items()), body)
            with service.lock:  # requests come on threads of their own
                service.requests.append(request)
                answer = service.answers.popleft() if service.answers else service.usual
                service.answered.append(answer)
            if service.on_request is not None:
                service.on_request(request)
            service.received.set()
            if answer == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if answer == "hang":
                service.release.wait(30)
                self.close_connection = True
                return
            self.send_response(answer.status)
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def do_POST(self) -> None:
            self._handle()

        def do_PUT(self) -> None:
            self._handle()

        def log_message(self, format: str, *args: object) -> None:
            pass

    with serving(Handler) as service.base:
        try:
            yield service
        finally:
            service.release.set()


class FakeTime:
    """A monotonic clock that moves only when slept on; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        """The current fake time."""
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Move time on by `seconds` at once."""
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)

    def limiter(self) -> RateLimiter:
        """A rate limiter on this clock."""
        return RateLimiter(monotonic=self.monotonic, sleep=self.sleep)


@pytest.fixture
def fake_time() -> FakeTime:
    """Time that passes only when a rate limiter sleeps."""
    return FakeTime()


def send(channel: Channel, payload: Payload, key: str = "key-1") -> ChannelResult:
    """Send `payload` over a client with the tests' short timeout."""

    async def run() -> ChannelResult:
        async with httpx.AsyncClient(timeout=CLIENT_TIMEOUT) as client:
            return await channel.send(client, payload, idempotency_key=key)

    return asyncio.run(run())
