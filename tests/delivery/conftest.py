"""Fixtures of the delivery tests: a real SMTP server on 127.0.0.1 (aiosmtpd) that can be told
to misbehave, and a clock the test moves by hand."""

import asyncio
import base64
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from bot.subscriptions.channels import add_channel
from tests.channels import conftest as chat
from tests.channels.conftest import Receiver, Reply


class ManualClock:
    """A clock the test moves by hand (`clock.now += timedelta(...)`)."""

    def __init__(self) -> None:
        self.now = datetime(2025, 11, 22, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    """A `ManualClock` for the delivery runs of this folder's tests."""
    return ManualClock()


@dataclass
class Received:
    """One message the server accepted."""

    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class Handler:
    """Stores accepted messages; fails on demand; counts sessions.

    `tempfail[address] = n` answers 451 to the next n RCPTs for that address;
    `reject` gets 550; `drop` closes the connection during DATA, once per address;
    `drop_always` closes it every time. `dropped` lists the recipients of every
    connection closed that way, in order. `data_delay` makes DATA slow, so that
    sessions overlap. `on_rcpt`, when set, hears every RCPT address before it is
    answered; `on_ehlo`, every EHLO (once `sessions` counts its session).
    `hold_data`, when given, holds every DATA reply until it is set.
    """

    received: list[Received] = field(default_factory=list)
    tempfail: dict[str, int] = field(default_factory=dict)
    reject: set[str] = field(default_factory=set)
    drop: set[str] = field(default_factory=set)
    drop_always: set[str] = field(default_factory=set)
    dropped: list[str] = field(default_factory=list)
    data_delay: float = 0.0
    on_rcpt: Callable[[str], None] | None = None
    on_ehlo: Callable[[], None] | None = None
    hold_data: threading.Event | None = None
    sessions: int = 0
    max_active: int = 0
    _active: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_EHLO(  # noqa: N802 (aiosmtpd's hook name)
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        # Counted at EHLO, not at connection: the controller's own start-up
        # probe connects without saying EHLO.
        session.host_name = hostname
        with self._lock:
            if id(session) not in self._active:
                self.sessions += 1
                self._active.add(id(session))
                self.max_active = max(self.max_active, len(self._active))
        if self.on_ehlo is not None:
            self.on_ehlo()
        return responses

    @property
    def active(self) -> int:
        """How many sessions are open now."""
        with self._lock:
            return len(self._active)

    def session_closed(self, session: Session) -> None:
        with self._lock:
            self._active.discard(id(session))

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.on_rcpt is not None:
            self.on_rcpt(address)
        if self.tempfail.get(address, 0) > 0:
            self.tempfail[address] -= 1
            return "451 4.3.0 Mailbox busy, try later"
        if address in self.reject:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.hold_data is not None:
            # Waited for off the server's loop, which keeps serving the other sessions;
            # bounded, so a test that never sets it fails rather than hangs.
            await asyncio.to_thread(self.hold_data.wait, 30)
        dropped = [
            address
            for address in envelope.rcpt_tos
            if address in self.drop or address in self.drop_always
        ]
        if dropped:
            self.drop.difference_update(dropped)
            self.dropped += dropped
            assert isinstance(server.transport, asyncio.Transport)
            # abort(): no reply reaches the client, as when a server crashes.
            server.transport.abort()
            return "250 never seen"
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), parsed))
        return "250 2.0.0 Queued as 42"


class EchoingAuthHandler(Handler):
    """A `Handler` that refuses every login with a 535 repeating what the client sent.

    Some servers do: the reply then holds the `AUTH PLAIN` string (the password,
    base64-encoded) and, here, the password decoded too.
    """

    async def handle_AUTH(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, args: list[str]
    ) -> str:
        sent = " ".join(args)
        decoded = base64.b64decode(args[-1]).replace(b"\0", b" ").decode() if len(args) > 1 else ""
        return f"535 5.7.8 Authentication failed for AUTH {sent} ({decoded.strip()})"


ECHOED_USER = "bot"
ECHOED_PASSWORD = "hunter2-Echoed-pw"
"""The login the echoing server's tests try."""

ECHOED_AUTH = base64.b64encode(f"\0{ECHOED_USER}\0{ECHOED_PASSWORD}".encode()).decode()
"""What AUTH PLAIN sends for that login: the password, base64-encoded."""


class _CountingSMTP(SMTP):
    """aiosmtpd's server, telling the handler when a session ends."""

    def connection_lost(self, error: Exception | None) -> None:
        if self.session is not None:
            self.event_handler.session_closed(self.session)
        super().connection_lost(error)


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)


@dataclass
class SmtpServer:
    """The running server: where it listens and its handler."""

    host: str
    port: int
    handler: Handler


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (just bound and closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


StartServer = Callable[..., SmtpServer]


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Start real aiosmtpd servers on 127.0.0.1 (free ports, own threads); stop them after.

    `handler` replaces the default `Handler`; other keyword arguments go to aiosmtpd's
    `Controller` (TLS, authentication...).
    """
    controllers: list[Any] = []

    def start(handler: Handler | None = None, **controller_kwargs: Any) -> SmtpServer:
        handler = handler or Handler()
        # The free port may be taken between probing and binding: try a few.
        for _ in range(5):
            controller = _Controller(
                handler, hostname="127.0.0.1", port=free_port(), **controller_kwargs
            )
            try:
                controller.start()
            except OSError:
                continue
            controllers.append(controller)
            return SmtpServer("127.0.0.1", controller.port, handler)
        pytest.fail("could not start the SMTP server")

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def echoing_auth_server(start_server: StartServer) -> SmtpServer:
    """A server refusing every login with a reply that repeats it (`EchoingAuthHandler`).

    PLAIN only: the one mechanism whose single command holds the password.
    """
    return start_server(
        EchoingAuthHandler(), auth_require_tls=False, auth_exclude_mechanism=["LOGIN"]
    )


@pytest.fixture
def smtp_server(start_server: StartServer) -> SmtpServer:
    """A plain SMTP server on 127.0.0.1: no TLS, no login."""
    return start_server()


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed certificate for 127.0.0.1 and its key."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting only this certificate, checking the host name."""
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A throw-away certificate made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    files = TlsFiles(folder / "cert.pem", folder / "key.pem")
    subprocess.run(
        [
            openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(files.key), "-out", str(files.cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return files


from tests.channels.conftest import receiver  # noqa: E402,F401  (the webhook receiver, for delivery to channels)


@dataclass(frozen=True)
class ChatKind:
    """How a `Receiver` stands in for one kind of chat service in the delivery tests.

    `options` makes a channel's settings from the base address of its own path on
    the receiver; `done` is the service's answer to a message it took, `slow_down`
    its 429 asking for a second's wait; `key` reads the key that makes a resend the
    same message (None: the service has none, so a resend may show twice).
    """

    kind: str
    options: Callable[[str], dict[str, object]]
    done: Reply
    slow_down: Reply
    key: Callable[[chat.Received], str] | None

    def add(self, session: Any, name: str, service: Receiver, **kwargs: Any) -> None:
        """Add the channel `name` of this kind, posting under `/<name>/` on `service`."""
        add_channel(session, name, self.kind, self.options(service.url(f"/{name}")), **kwargs)


def channel_of(request: chat.Received) -> str:
    """The name of the channel a request was posted for (see `ChatKind.add`)."""
    return request.path.split("/")[1]


_JSON = {"Content-Type": "application/json"}

CHAT_KINDS = (
    ChatKind(
        "webhook", lambda base: {"url": f"{base}/in", "secret": "a-webhook-signing-secret"},
        Reply(200), Reply(429, b"slow down", {"Retry-After": "1"}),
        lambda request: request.headers["Idempotency-Key"],
    ),
    ChatKind(
        "slack", lambda base: {"webhook_url": f"{base}/services/T0/B0/a-slack-secret"},
        Reply(200, b"ok"), Reply(429, b"rate_limited", {"Retry-After": "1"}), None,
    ),
    ChatKind(
        "discord", lambda base: {"webhook_url": f"{base}/api/webhooks/1/a-discord-token"},
        Reply(204, b""),
        Reply(429, b'{"message": "You are being rate limited.", "retry_after": 1.0,'
              b' "global": false}', {"Retry-After": "1", **_JSON}),
        None,
    ),
    ChatKind(
        "matrix",
        lambda base: {"homeserver": base, "room_id": "!lab:example.org",
                      "access_token": "syt_a-matrix-token"},
        Reply(200, b'{"event_id": "$sent"}', _JSON),
        Reply(429, b'{"errcode": "M_LIMIT_EXCEEDED", "retry_after_ms": 1000}', _JSON),
        lambda request: request.path.rsplit("/", 1)[1],  # the transaction id
    ),
)  # fmt: skip


@pytest.fixture(params=CHAT_KINDS, ids=lambda kind: kind.kind)
def chat_kind(request: pytest.FixtureRequest) -> ChatKind:
    """Each kind of chat service in turn, the `receiver` answering as that service does."""
    kind: ChatKind = request.param
    service: Receiver = request.getfixturevalue("receiver")
    service.usual = kind.done
    return kind
