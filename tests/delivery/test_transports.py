"""Transports: files in the outbox, Markdown digests, and a real SMTP server on 127.0.0.1."""

import asyncio
import os
import random
import re
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from aiosmtplib.email import quote_address
from pydantic import SecretStr

from bot.config import SmtpSettings
from bot.delivery.transports import (
    FileTransport,
    Outgoing,
    SendResult,
    SmtpTransport,
    data_section,
    quoted_address,
    safe_name,
    write_markdown,
)
from bot.digest.message import DigestMessage, build_message
from bot.digest.render import DigestRenderer
from tests.delivery.conftest import (
    ECHOED_AUTH,
    ECHOED_PASSWORD,
    ECHOED_USER,
    Handler,
    SmtpServer,
    StartServer,
    TlsFiles,
    free_port,
)
from tests.digest.test_render import SAMPLE

SAFE = re.compile(r"[a-z0-9@_-]+")


def make_message(recipient: str, subject: str = "Your digest") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "paperbot@example.org"
    message["To"] = recipient
    message["Subject"] = subject
    message["X-Paperbot-Key"] = subject
    message.set_content("Plain text: 3 papers matched «graph neural networks».\n")
    message.add_alternative("<p>HTML: 3 papers matched.</p>\n", subtype="html")
    return message


def outgoing(recipient: str, key: str | None = None) -> Outgoing:
    key = key or f"digest-{recipient}"
    return Outgoing(key, recipient, make_message(recipient, subject=key))


def settings_for(port: int, **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {"host": "127.0.0.1", "port": port, "security": "none", "timeout": 5.0}
    values.update(overrides)
    return SmtpSettings(**values)


def send(transport: SmtpTransport, batch: Iterable[Outgoing]) -> list[SendResult]:
    return asyncio.run(transport.send_all(batch))


# --- Safe names -------------------------------------------------------------------


@pytest.mark.parametrize(
    "address",
    [
        "../../etc/passwd@x.org",
        "a/b@c.org",
        "a\\b@c.org",
        "..",
        ".hidden@x.org",
        "x" * 5000 + "@example.org",
        "josé.ñúñez@exämple.org",
        "用户@例子.中国",
        "nul\0byte@x.org",
        "",
    ],
)
def test_safe_name_holds_nothing_dangerous(address: str) -> None:
    name = safe_name("key/../1", address)
    assert SAFE.fullmatch(name)
    assert ".." not in name and "/" not in name and "\\" not in name
    assert not name.startswith((".", "-"))
    assert len(name) < 100


def test_safe_name_is_stable_and_distinguishes_addresses() -> None:
    assert safe_name("k", "Ann@x.org") == safe_name("k", "Ann@x.org")
    # Same slug, different text: the hash keeps them apart.
    assert safe_name("k", "Ann@x.org") != safe_name("k", "ann@x.org")
    assert safe_name("k", "a/b@c.org") != safe_name("k", "a-b@c.org")
    long_one, long_two = "x" * 300 + "1@x.org", "x" * 300 + "2@x.org"
    assert safe_name("k", long_one) != safe_name("k", long_two)


def test_safe_name_keeps_a_readable_part() -> None:
    assert safe_name("daily-2024-11-22", "josé@exämple.org").startswith(
        "daily-2024-11-22--jose@example-org--"
    )


# --- FileTransport ----------------------------------------------------------------


def test_file_transport_writes_messages_that_parse_back(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path / "outbox")
    batch = [outgoing("ann@example.org"), outgoing("bob@example.org")]

    results = transport.send(batch)

    assert [r.key for r in results] == [item.key for item in batch]
    assert all(r.accepted and not r.permanent and r.code is None for r in results)
    for item in batch:
        path = transport.path_for(item)
        parsed = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        assert parsed["To"] == item.recipient
        assert parsed["Subject"] == item.key
        plain = parsed.get_body(("plain",))
        html = parsed.get_body(("html",))
        assert plain is not None and "«graph neural networks»" in plain.get_content()
        assert html is not None and "<p>HTML" in html.get_content()


@pytest.mark.parametrize(
    "address",
    ["../../etc/passwd@x.org", "a/b@c.org", "x" * 3000 + "@example.org", "用户@例子.中国"],
)
def test_file_transport_keeps_files_inside_the_outbox(tmp_path: Path, address: str) -> None:
    outbox = tmp_path / "deep" / "outbox"
    transport = FileTransport(outbox)

    [result] = transport.send([outgoing(address, key="../key/" + address)])

    assert result.accepted
    files = list(tmp_path.rglob("*"))
    written = [f for f in files if f.is_file()]
    assert len(written) == 1
    assert written[0].parent == outbox
    assert written[0].suffix == ".eml"
    assert len(written[0].name) < 110


def test_file_transport_leaves_no_temporary_files(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path)
    batch = [outgoing(f"user{i}@example.org") for i in range(5)]

    transport.send(batch)
    transport.send(batch)  # a retry replaces the same files

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        transport.path_for(item).name for item in batch
    )


def test_file_transport_failed_write_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = FileTransport(tmp_path)

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    [result] = transport.send([outgoing("ann@example.org")])

    assert not result.accepted and not result.permanent
    assert "No space left on device" in result.reply
    assert list(tmp_path.iterdir()) == []


def test_file_transport_failed_rewrite_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    transport = FileTransport(tmp_path)
    item = outgoing("ann@example.org")
    transport.send([item])
    before = transport.path_for(item).read_bytes()

    def broken_replace(self: Path, target: Path) -> Path:
        raise OSError(13, "Permission denied")

    monkeypatch.setattr(Path, "replace", broken_replace)
    [result] = transport.send([Outgoing(item.key, item.recipient, make_message("other"))])

    assert not result.accepted
    assert transport.path_for(item).read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [transport.path_for(item).name]


def test_file_transport_writes_nothing_for_a_message_refused_before_sending(
    tmp_path: Path,
) -> None:
    transport = FileTransport(tmp_path)
    batch = [outgoing("ann@example.org"), outgoing("bob@example.org")]
    heard: list[tuple[int, str]] = []

    results = transport.send(
        batch, lambda i, result: heard.append((i, result.key)), lambda i: i == 1
    )

    assert heard == [(1, batch[1].key)]
    assert results == []  # heard, not also kept
    assert [p.name for p in tmp_path.iterdir()] == [transport.path_for(batch[1]).name]


# --- Markdown -----------------------------------------------------------------------


def test_markdown_one_file_per_subscriber_per_day(tmp_path: Path) -> None:
    day = date(2024, 11, 22)
    ann = write_markdown(tmp_path, email="ann@example.org", day=day, text="# Ann, first\n")
    bob = write_markdown(tmp_path, email="bob@example.org", day=day, text="# Bob\n")
    ann_again = write_markdown(tmp_path, email="ann@example.org", day=day, text="# Ann, second\n")
    next_day = write_markdown(
        tmp_path, email="ann@example.org", day=date(2024, 11, 23), text="# Ann, next day\n"
    )

    assert ann == ann_again
    assert len({ann, bob, next_day}) == 3
    assert ann.read_text(encoding="utf-8") == "# Ann, second\n"
    assert next_day.read_text(encoding="utf-8") == "# Ann, next day\n"
    assert ann.name.startswith("2024-11-22-ann@example-org--")
    assert ann.suffix == ".md"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        p.name for p in (ann, bob, next_day)
    )


def test_markdown_safe_name_for_hostile_address(tmp_path: Path) -> None:
    folder = tmp_path / "digests"
    path = write_markdown(
        folder, email="../../etc/passwd@x.org", day=date(2024, 1, 2), text="é ✓\n"
    )

    assert path.parent == folder
    assert path.name.startswith("2024-01-02-etc-passwd@x-org--")
    assert path.read_text(encoding="utf-8") == "é ✓\n"
    assert not (tmp_path / "etc").exists()


# --- SMTP ---------------------------------------------------------------------------


def test_smtp_delivers_messages_intact(smtp_server: SmtpServer) -> None:
    transport = SmtpTransport(settings_for(smtp_server.port))
    batch = [outgoing(f"user{i}@example.org") for i in range(6)]

    results = send(transport, batch)

    assert [r.key for r in results] == [item.key for item in batch]
    assert all(r.accepted for r in results), results
    assert all(r.code == 250 and r.reply == "250 2.0.0 Queued as 42" for r in results)
    received = {r.recipients[0]: r for r in smtp_server.handler.received}
    assert sorted(received) == sorted(item.recipient for item in batch)
    for item in batch:
        got = received[item.recipient]
        assert got.sender == "paperbot@example.org"
        assert got.recipients == [item.recipient]
        assert got.message["Subject"] == item.key
        assert got.message["X-Paperbot-Key"] == item.key
        assert got.message.get_content_type() == "multipart/alternative"
        plain = got.message.get_body(("plain",))
        html = got.message.get_body(("html",))
        assert plain is not None and "«graph neural networks»" in plain.get_content()
        assert html is not None and "<p>HTML" in html.get_content()


def test_smtp_envelope_recipient_is_the_outgoing_one(smtp_server: SmtpServer) -> None:
    # The To header names someone else: the envelope must still go to `recipient`.
    item = Outgoing("k1", "real@example.org", make_message("header@example.org"))

    [result] = send(SmtpTransport(settings_for(smtp_server.port)), [item])

    assert result.accepted
    assert [r.recipients for r in smtp_server.handler.received] == [["real@example.org"]]


def test_smtp_451_is_temporary(smtp_server: SmtpServer) -> None:
    smtp_server.handler.tempfail["busy@example.org"] = 2
    transport = SmtpTransport(settings_for(smtp_server.port))
    batch = [outgoing("busy@example.org"), outgoing("ok@example.org")]

    first = send(transport, batch)
    second = send(transport, batch[:1])
    third = send(transport, batch[:1])

    assert not first[0].accepted and not first[0].permanent
    assert first[0].code == 451 and first[0].reply == "451 4.3.0 Mailbox busy, try later"
    assert first[1].accepted
    assert not second[0].accepted and second[0].code == 451
    # The server stops answering 451 after twice: the caller's retry succeeds.
    assert third[0].accepted


def test_smtp_550_is_permanent_and_others_still_delivered(smtp_server: SmtpServer) -> None:
    smtp_server.handler.reject.add("gone@example.org")
    transport = SmtpTransport(settings_for(smtp_server.port), connections=1)
    batch = [outgoing("a@example.org"), outgoing("gone@example.org"), outgoing("b@example.org")]

    results = send(transport, batch)

    assert [r.accepted for r in results] == [True, False, True]
    assert results[1].permanent and results[1].code == 550
    assert results[1].reply == "550 5.1.1 No such user here"
    assert sorted(r.recipients[0] for r in smtp_server.handler.received) == [
        "a@example.org",
        "b@example.org",
    ]
    # All three went over one connection: the refusal did not break it.
    assert smtp_server.handler.sessions == 1


def test_smtp_dropped_connection_fails_one_and_reconnects(smtp_server: SmtpServer) -> None:
    smtp_server.handler.drop.add("c@example.org")
    transport = SmtpTransport(settings_for(smtp_server.port), connections=1)
    batch = [outgoing(f"{name}@example.org") for name in "abcdef"]

    results = send(transport, batch)

    assert [r.accepted for r in results] == [True, True, False, True, True, True]
    dropped = results[2]
    assert not dropped.permanent and dropped.code is None
    assert dropped.reply.startswith("connection lost: ")
    assert sorted(r.recipients[0] for r in smtp_server.handler.received) == [
        f"{name}@example.org" for name in "abdef"
    ]
    assert smtp_server.handler.sessions == 2


def test_smtp_concurrency_is_bounded(smtp_server: SmtpServer) -> None:
    smtp_server.handler.data_delay = 0.05
    transport = SmtpTransport(settings_for(smtp_server.port), connections=3)
    batch = [outgoing(f"user{i}@example.org") for i in range(15)]

    results = send(transport, batch)

    assert all(r.accepted for r in results)
    assert len(smtp_server.handler.received) == 15
    assert smtp_server.handler.max_active == 3
    assert smtp_server.handler.sessions == 3


def test_smtp_reconnects_after_messages_per_connection(smtp_server: SmtpServer) -> None:
    transport = SmtpTransport(
        settings_for(smtp_server.port), connections=1, messages_per_connection=2
    )
    batch = [outgoing(f"user{i}@example.org") for i in range(5)]

    results = send(transport, batch)

    assert all(r.accepted for r in results)
    assert smtp_server.handler.sessions == 3
    assert smtp_server.handler.max_active == 1


def test_smtp_refused_port_fails_all_temporarily_and_quickly() -> None:
    transport = SmtpTransport(settings_for(free_port(), timeout=30.0))
    batch = [outgoing(f"user{i}@example.org") for i in range(20)]

    started = time.monotonic()
    results = send(transport, batch)

    assert time.monotonic() - started < 5
    assert [r.key for r in results] == [item.key for item in batch]
    assert all(not r.accepted and not r.permanent for r in results)
    assert all(r.reply.startswith("cannot connect: ") for r in results)


def test_smtp_silent_server_times_out_temporarily() -> None:
    # A listening socket that never accepts: the TCP connection opens but no
    # greeting ever comes.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        transport = SmtpTransport(settings_for(port, timeout=0.3))

        started = time.monotonic()
        results = send(transport, [outgoing("a@example.org"), outgoing("b@example.org")])

    assert time.monotonic() - started < 5
    assert all(not r.accepted and not r.permanent for r in results)
    assert all("timed out" in r.reply for r in results)


def test_smtp_unsendable_address_is_permanent(smtp_server: SmtpServer) -> None:
    transport = SmtpTransport(settings_for(smtp_server.port), connections=1)
    bad = Outgoing("k-bad", "no address here <", make_message("x@example.org"))

    results = send(transport, [bad, outgoing("ok@example.org")])

    assert not results[0].accepted and results[0].permanent
    assert results[1].accepted


def test_smtp_reply_never_shows_the_password(smtp_server: SmtpServer) -> None:
    # aiosmtpd offers no AUTH over a clear connection, so logging in fails; the
    # failure must be temporary (it says nothing about the recipients) and clean.
    settings = settings_for(smtp_server.port, username="bot", password=SecretStr("hunter2-secret"))
    results = send(SmtpTransport(settings), [outgoing("a@example.org")])

    assert not results[0].accepted and not results[0].permanent
    assert "hunter2-secret" not in repr(results)
    assert smtp_server.handler.received == []


def test_smtp_empty_batch() -> None:
    assert send(SmtpTransport(settings_for(free_port())), []) == []


# --- SMTP over TLS, with login ---------------------------------------------------------


class Logins:
    """An aiosmtpd authenticator accepting bot/right-password; records every attempt."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, bool]] = []

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: object
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        ok = data.login == b"bot" and data.password == b"right-password"
        self.attempts.append((data.login.decode(), session.ssl is not None))
        # handled=False: aiosmtpd then answers 535 itself (its default is to stay silent).
        return AuthResult(success=ok, handled=False)


def test_smtp_starttls_with_login(start_server: StartServer, tls_files: TlsFiles) -> None:
    logins = Logins()
    server = start_server(
        tls_context=tls_files.server_context(),
        require_starttls=True,
        auth_required=True,
        authenticator=logins,
    )
    settings = settings_for(
        server.port, security="starttls", username="bot", password=SecretStr("right-password")
    )
    transport = SmtpTransport(settings, tls_context=tls_files.client_context())

    results = send(transport, [outgoing("a@example.org"), outgoing("b@example.org")])

    assert all(r.accepted for r in results), results
    assert len(server.handler.received) == 2
    assert logins.attempts and all(name == "bot" and secure for name, secure in logins.attempts)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_smtp_implicit_tls_with_login(start_server: StartServer, tls_files: TlsFiles) -> None:
    logins = Logins()
    # aiosmtpd does not notice implicit TLS when deciding whether to offer AUTH
    # (its check looks for STARTTLS only), hence auth_require_tls=False.
    server = start_server(
        ssl_context=tls_files.server_context(),
        auth_required=True,
        auth_require_tls=False,
        authenticator=logins,
    )
    settings = settings_for(
        server.port, security="tls", username="bot", password=SecretStr("right-password")
    )
    transport = SmtpTransport(settings, tls_context=tls_files.client_context())

    results = send(transport, [outgoing("a@example.org")])

    assert results[0].accepted, results
    assert [r.recipients for r in server.handler.received] == [["a@example.org"]]
    assert [name for name, _ in logins.attempts] == ["bot"]


def test_smtp_wrong_password_is_temporary_and_not_shown(
    start_server: StartServer, tls_files: TlsFiles
) -> None:
    server = start_server(
        tls_context=tls_files.server_context(),
        require_starttls=True,
        auth_required=True,
        authenticator=Logins(),
    )
    settings = settings_for(
        server.port, security="starttls", username="bot", password=SecretStr("wrong-password")
    )
    transport = SmtpTransport(settings, tls_context=tls_files.client_context())

    results = send(transport, [outgoing("a@example.org"), outgoing("b@example.org")])

    # A refused login says nothing about the recipients: temporary, even if 535.
    assert all(not r.accepted and not r.permanent for r in results)
    assert all(r.code == 535 and r.reply.startswith("cannot connect: 535") for r in results), (
        results
    )
    assert "wrong-password" not in repr(results)
    assert server.handler.received == []


def test_a_reply_to_auth_is_never_kept_even_when_it_echoes_the_login(
    echoing_auth_server: SmtpServer,
) -> None:
    settings = settings_for(
        echoing_auth_server.port, username=ECHOED_USER, password=SecretStr(ECHOED_PASSWORD)
    )

    results = send(SmtpTransport(settings), [outgoing("a@example.org")])

    [result] = results
    assert (result.accepted, result.permanent, result.code) == (False, False, 535)
    assert result.reply == "cannot connect: 535 login refused (the server's reply is not kept)"
    secrets = (ECHOED_PASSWORD, ECHOED_AUTH, "AUTH PLAIN")
    assert [shown for shown in secrets if shown in repr(results)] == []


def test_smtp_starttls_required_but_not_offered(smtp_server: SmtpServer) -> None:
    settings = settings_for(smtp_server.port, security="starttls")

    results = send(SmtpTransport(settings), [outgoing("a@example.org")])

    # Never falls back to clear text.
    assert not results[0].accepted and not results[0].permanent
    assert "STARTTLS" in results[0].reply
    assert smtp_server.handler.received == []


def test_smtp_untrusted_certificate_is_refused(
    start_server: StartServer, tls_files: TlsFiles
) -> None:
    server = start_server(ssl_context=tls_files.server_context())
    # No tls_context: the system's CAs, which do not know the self-signed certificate.
    transport = SmtpTransport(settings_for(server.port, security="tls"))

    results = send(transport, [outgoing("a@example.org")])

    assert not results[0].accepted and not results[0].permanent
    assert "CERTIFICATE_VERIFY_FAILED" in results[0].reply
    assert server.handler.received == []


def test_smtp_asks_before_each_message_once_its_session_is_set_up(
    smtp_server: SmtpServer,
) -> None:
    transport = SmtpTransport(settings_for(smtp_server.port), connections=1)
    batch = [outgoing(f"user{i}@example.org") for i in range(3)]
    asked: list[tuple[int, int]] = []

    def before_send(index: int) -> bool:
        # (index, sessions the server has heard EHLO on): greeted before the first ask.
        asked.append((index, smtp_server.handler.sessions))
        return index != 1

    heard: list[tuple[int, str]] = []
    results = asyncio.run(
        transport.send_all(batch, lambda i, result: heard.append((i, result.key)), before_send)
    )

    assert asked == [(0, 1), (1, 1), (2, 1)]
    assert heard == [(0, batch[0].key), (2, batch[2].key)]
    assert results == []  # heard, not also kept
    assert [r.recipients for r in smtp_server.handler.received] == [
        ["user0@example.org"],
        ["user2@example.org"],
    ]


def test_smtp_builds_the_next_messages_while_its_connections_wait_on_the_server(
    smtp_server: SmtpServer,
) -> None:
    held = smtp_server.handler.hold_data = threading.Event()
    received_when_built: list[int] = []

    def batch() -> Iterator[Outgoing]:
        for n in range(6):
            received_when_built.append(len(smtp_server.handler.received))
            if n == 3:
                # Two in flight, two built ahead: the server may answer now.
                held.set()
            yield outgoing(f"user{n}@example.org")

    results = send(SmtpTransport(settings_for(smtp_server.port), connections=2), batch())

    assert all(r.accepted for r in results) and len(results) == 6
    # The third and fourth were built before the server answered any DATA.
    assert received_when_built[:4] == [0, 0, 0, 0]


def test_smtp_settles_what_it_took_before_a_message_fails_to_build_then_raises(
    smtp_server: SmtpServer,
) -> None:
    def batch() -> Iterator[Outgoing]:
        yield from (outgoing(f"user{n}@example.org") for n in range(3))
        raise RuntimeError("the template is broken")

    heard: list[str] = []
    transport = SmtpTransport(settings_for(smtp_server.port), connections=2)
    with pytest.raises(RuntimeError, match="the template is broken"):
        asyncio.run(transport.send_all(batch(), lambda _, result: heard.append(result.key)))

    keys = [f"digest-user{n}@example.org" for n in range(3)]
    assert sorted(heard) == keys
    assert sorted(r.recipients[0] for r in smtp_server.handler.received) == [
        f"user{n}@example.org" for n in range(3)
    ]


# --- Serialised messages: DATA without aiosmtplib's rewriting ----------------------------


def _wired(recipient: str, body: str) -> tuple[Outgoing, bytes]:
    """A message carrying its own SMTP bytes (as digests do), with `body` as its text; the bytes."""
    message = DigestMessage()
    message["From"] = "paperbot@example.org"
    message["To"] = recipient
    message["Subject"] = "Dots"
    message.set_content(body, cte="7bit")
    wire = message.wire = bytes(message.as_bytes(policy=policy.SMTP))
    return Outgoing("k-" + recipient, recipient, message), wire


def test_data_section_stuffs_leading_periods_and_ends_the_data() -> None:
    assert data_section(b"a\r\n.b\r\n..c\r\n") == b"a\r\n..b\r\n...c\r\n.\r\n"
    assert data_section(b".a\r\nb") == b"..a\r\nb\r\n.\r\n"
    # A bare LF or CR: aiosmtplib's general way, which rewrites line ends.
    assert data_section(b"a\nb\r\n") is None
    assert data_section(b"a\rb\r\n") is None


def test_serialised_messages_arrive_byte_for_byte_with_their_leading_periods(
    smtp_server: SmtpServer,
) -> None:
    body = ".starts with a period\r\n..two of them\r\n.\r\nthe line above was a lone period\r\n"
    item, wire = _wired("dots@example.org", body.replace("\r\n", "\n"))
    assert b"\r\n.\r\n" in wire

    [result] = send(SmtpTransport(settings_for(smtp_server.port)), [item])

    assert result.accepted, result
    [got] = smtp_server.handler.received
    assert got.message.get_content().replace("\r\n", "\n") == body.replace("\r\n", "\n")
    assert bytes(got.message.as_bytes(policy=policy.SMTP)) == wire


def test_a_digest_goes_as_its_own_data_section_and_arrives_byte_for_byte(
    smtp_server: SmtpServer, tmp_path: Path
) -> None:
    # An operator's template whose lines start with periods: the digest's own DATA
    # section (built with the message) must double them as the server undoes it.
    (tmp_path / "email.txt").write_text(".signature\n..two dots\n.\n", encoding="utf-8")
    message = build_message(
        SAMPLE, renderer=DigestRenderer(tmp_path), sender="paperbot@example.org",
        now=datetime(2024, 11, 22, 9, 30, tzinfo=UTC), domain="example.org",
    )  # fmt: skip
    assert message.wire is not None and message.data is not None

    [result] = send(
        SmtpTransport(settings_for(smtp_server.port)), [Outgoing("k", SAMPLE.email, message)]
    )

    assert result.accepted, result
    [got] = smtp_server.handler.received
    assert bytes(got.message.as_bytes(policy=policy.SMTP)) == message.wire


@pytest.mark.parametrize(("spare", "accepted"), [(0, True), (-1, False)])
def test_a_server_size_limit_applies_to_the_message_as_sent_and_the_next_still_goes(
    start_server: StartServer, spare: int, accepted: bool
) -> None:
    item, wire = _wired("size@example.org", "A body.\n" * 50)
    server = start_server(data_size_limit=len(wire) + spare)
    transport = SmtpTransport(settings_for(server.port), connections=1)

    result, after = send(transport, [item, _wired("next@example.org", "B")[0]])

    assert result.accepted is accepted, result
    if not accepted:
        assert result.code == 552 and result.permanent
    assert after.accepted  # the refused envelope was reset: the connection carries on


# --- The envelope of a serialised message -----------------------------------------

_ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-"


def _dot_atom(rng: random.Random, alphabet: str) -> str:
    return ".".join(
        "".join(rng.choices(alphabet, k=rng.randint(1, 8))) for _ in range(rng.randint(1, 3))
    )


@pytest.mark.parametrize(
    "address",
    [
        '"quoted local"@example.org',
        "two words@example.org",
        "Reader <reader@example.org>",
        "reader@example.org\r\nRCPT TO:<evil@example.org>",
        "reader@example.org> SIZE=1",
        "a..b@example.org",
        ".a@example.org",
        "a.@example.org",
        "a@[127.0.0.1]",
        "josé@example.org",
        "no-at-sign",
        "",
    ],
)
def test_an_address_that_is_not_plain_is_left_to_aiosmtplib(address: str) -> None:
    assert quoted_address(address) is None


def test_a_plain_address_is_quoted_as_aiosmtplib_quotes_it() -> None:
    rng = random.Random(7)
    domain_alphabet = "abcdefghijklmnopqrstuvwxyz0123456789-"
    addresses = [f"{_dot_atom(rng, _ATEXT)}@{_dot_atom(rng, domain_alphabet)}" for _ in range(3000)]
    addresses += [
        "o'brien+digest@lab.example.org",
        "x{y}|z~@a-b.example",
        "UPPER@Example.ORG",
        "a@-",
    ]
    for address in addresses:
        assert quoted_address(address) == quote_address(address).encode("ascii"), address


class _MailRefusingHandler(Handler):
    async def handle_MAIL(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        return "553 5.7.1 Sender not allowed"


def test_serialised_messages_go_to_their_envelope_and_refusals_keep_their_codes(
    smtp_server: SmtpServer,
) -> None:
    smtp_server.handler.reject.add("gone@example.org")
    smtp_server.handler.tempfail["busy@example.org"] = 1
    names = ("o'brien+digest@example.org", "gone@example.org", "busy@example.org", "b@example.org")
    transport = SmtpTransport(settings_for(smtp_server.port), connections=1)

    results = send(transport, [_wired(name, "Body.\n")[0] for name in names])

    assert [r.accepted for r in results] == [True, False, False, True]
    assert results[1].permanent and results[1].reply == "550 5.1.1 No such user here"
    assert not results[2].permanent and results[2].code == 451
    received = smtp_server.handler.received
    assert [(r.sender, r.recipients) for r in received] == [
        ("paperbot@example.org", ["o'brien+digest@example.org"]),
        ("paperbot@example.org", ["b@example.org"]),
    ]
    assert smtp_server.handler.sessions == 1  # each refusal reset the envelope, not the session


def test_a_refused_sender_fails_a_serialised_message_permanently(start_server: StartServer) -> None:
    server = start_server(_MailRefusingHandler())

    [result] = send(SmtpTransport(settings_for(server.port)), [_wired("a@example.org", "B")[0]])

    assert not result.accepted and result.permanent
    assert result.reply == "553 5.7.1 Sender not allowed"
    assert server.handler.received == []
