"""Transports: how finished messages leave paperbot.

`FileTransport` (the default) writes each message as an `.eml` file in the
outbox folder; `SmtpTransport` hands messages to a mail server. Both report one
`SendResult` per message and never raise for a single message's failure: the
caller records what was accepted and retries temporary failures later, with
backoff. Nothing here retries by itself.

`write_markdown` writes a subscriber's Markdown digest for one day.
"""

import asyncio
import contextlib
import hashlib
import re
import ssl
import unicodedata
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sized
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from typing import Literal

import aiosmtplib
from aiosmtplib.email import extract_sender

from bot.config import SmtpSettings
from bot.files import write_atomic

DEFAULT_CONNECTIONS = 4
"""How many SMTP connections `SmtpTransport` opens at most, by default."""

DEFAULT_MESSAGES_PER_CONNECTION = 100
"""How many messages `SmtpTransport` sends over one connection before reconnecting."""

_SLUG_LENGTH = 40
_HASH_LENGTH = 12
_REPLY_LENGTH = 500
_UNSAFE = re.compile(r"[^a-z0-9@_-]+")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Outgoing:
    """One message to deliver.

    `key` identifies this delivery (stable across retries; file names come from
    it), `recipient` is the envelope recipient, whatever the headers say.
    """

    key: str
    recipient: str
    message: EmailMessage


@dataclass(frozen=True)
class SendResult:
    """What became of one `Outgoing`.

    `permanent` is meaningful only when `accepted` is false: true when retrying
    cannot help (the server answered 5xx, the address cannot be sent at all).
    `reply` is one line: the server's reply or the error, never the password;
    of a refused login, only the code (a reply to AUTH may repeat the password).
    `code` is the SMTP reply code, when there was one.
    """

    key: str
    accepted: bool
    permanent: bool
    reply: str
    code: int | None


# --- Safe names and atomic files --------------------------------------------------


def _slug(text: str) -> str:
    """`text` reduced to lower-case ASCII letters, digits, `@`, `_` and `-`, bounded."""
    # NFKD first, so accented letters keep their base letter instead of vanishing.
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    # Dots go too: no `..`, no hidden files, no extension games.
    return _UNSAFE.sub("-", ascii_text.lower()).strip("-_")[:_SLUG_LENGTH].strip("-_")


def _digest(*parts: str) -> str:
    # The hash of the exact strings keeps names distinct when slugs collide
    # (case, unicode, long addresses cut at the same place).
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[
        :_HASH_LENGTH
    ]


def safe_name(*parts: str) -> str:
    """A file name stem for `parts`: readable slugs plus a short hash of the exact text.

    The result holds only `[a-z0-9@_-]`, never a path separator or `..`, never
    starts with a dot, and stays under 100 characters whatever the input.
    """
    slugs = [slug for slug in (_slug(part) for part in parts) if slug]
    return "--".join([*slugs, _digest(*parts)])


def _one_line(text: str, *, secret: str = "") -> str:
    """`text` on one bounded line, with `secret` (when set) masked."""
    if secret:
        text = text.replace(secret, "***")
    return _SPACE.sub(" ", text).strip()[:_REPLY_LENGTH]


def _carried(message: EmailMessage, form: Literal["wire", "data"]) -> bytes | None:
    """A serialised form the message carries (a digest does), else None.

    "wire": its SMTP bytes; "data": those as DATA sends them (see `data_section`).
    """
    value = getattr(message, form, None)
    return value if isinstance(value, bytes) else None


def _envelope_sender(message: EmailMessage) -> str | None:
    """The MAIL FROM address: the one a digest carries, else aiosmtplib's reading of the headers."""
    carried = getattr(message, "envelope_sender", None)
    return carried if isinstance(carried, str) else extract_sender(message)


OnResult = Callable[[int, SendResult], None]
"""Hears the result for the message at this index of the batch, as soon as it is known."""

BeforeSend = Callable[[int], bool]
"""Asked about the message at this index of the batch at the last moment before it goes
(over SMTP: with the session set up, before MAIL FROM). False: it is not sent, and has no
result."""


def _kept(answered: list[tuple[int, SendResult]], on_result: OnResult | None) -> OnResult:
    """`on_result`; or, when none is given, one keeping each result in `answered` to return."""
    if on_result is not None:
        return on_result
    return lambda index, result: answered.append((index, result))


_DATA_END = b".\r\n"


def data_section(wire: bytes) -> bytes | None:
    """`wire` as the DATA command sends it (dot-stuffed, ending with CRLF.CRLF); None unless CRLF-only.

    aiosmtplib's own DATA rewrites every line ending of every message (twice per
    message, with the SIZE option), about a millisecond for a digest; a digest's
    bytes are CRLF throughout already. Counting is cheap: a message with a bare
    CR or LF (None) goes the general way.
    """
    crlf = wire.count(b"\r\n")
    if wire.count(b"\n") != crlf or wire.count(b"\r") != crlf:
        return None
    # Every line but the first starts after a CRLF: a plain replace, no regex.
    stuffed = wire.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed + (_DATA_END if stuffed.endswith(b"\r\n") else b"\r\n" + _DATA_END)


async def send_wire(
    client: aiosmtplib.SMTP, sender: str, recipient: str, wire: bytes, data: bytes | None = None
) -> str:
    """Send the serialised message `wire` to one recipient over `client`, as `sendmail` would.

    MAIL (with SIZE and 8BITMIME when the server knows them), RCPT, then DATA
    with `data` over aiosmtplib's connection: `wire`'s DATA section, as
    `data_section` makes it (done here when not given). A refusal resets the
    envelope, so the connection carries on. Returns the DATA reply's text;
    raises aiosmtplib's exceptions as `sendmail` does.
    """
    if data is None:
        data = data_section(wire)
    if data is None:
        options = ["BODY=8BITMIME"] if client.supports_extension("8BITMIME") else []
        _, reply = await client.sendmail(sender, [recipient], wire, mail_options=options)
        return reply
    options = []
    if client.supports_extension("size"):
        # RFC 1870: the octets as transmitted, CRLF pairs included (not the stuffing).
        ending = b"\r\n"
        size = len(wire) if wire.endswith(ending) else len(wire) + len(ending)
        options.append(f"SIZE={size}")
    if client.supports_extension("8BITMIME"):
        options.append("BODY=8BITMIME")
    try:
        await _envelope(client, sender, recipient, options)
        return (await _data(client, data)).message
    except aiosmtplib.SMTPResponseException:
        with contextlib.suppress(ConnectionError, aiosmtplib.SMTPResponseException):
            await client.rset()
        raise


# A dot-atom on each side of the @: an address with nothing for email.utils to parse away.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)


def quoted_address(address: str) -> bytes | None:
    """`<address>` as MAIL FROM and RCPT TO carry it, when the address is a plain one; else None.

    For a plain address (a dot-atom on both sides, as every validated subscriber's
    is), aiosmtplib's `quote_address` gives the same; its parse (email.utils) cost
    more than the rest of the two commands.
    """
    return b"<" + address.encode("ascii") + b">" if _PLAIN_ADDRESS.fullmatch(address) else None


async def _envelope(
    client: aiosmtplib.SMTP, sender: str, recipient: str, options: list[str]
) -> None:
    """MAIL FROM `sender` with `options`, then RCPT TO `recipient`: what `mail` and `rcpt` send.

    Plain addresses are quoted here (`quoted_address`); any other, or a session not
    yet greeted, goes through aiosmtplib's own commands.
    """
    mail_from, rcpt_to = quoted_address(sender), quoted_address(recipient)
    if mail_from is None or rcpt_to is None or client.is_ehlo_or_helo_needed:
        await client.mail(sender, options=options)
        await client.rcpt(recipient)
        return
    arguments = [option.encode("ascii") for option in options]
    reply = await client.execute_command(b"MAIL", b"FROM:" + mail_from, *arguments)
    if reply.code != aiosmtplib.SMTPStatus.completed:
        raise aiosmtplib.SMTPSenderRefused(reply.code, reply.message, sender)
    reply = await client.execute_command(b"RCPT", b"TO:" + rcpt_to)
    if reply.code not in (aiosmtplib.SMTPStatus.completed, aiosmtplib.SMTPStatus.will_forward):
        raise aiosmtplib.SMTPRecipientRefused(reply.code, reply.message, recipient)


async def _data(client: aiosmtplib.SMTP, data: bytes) -> aiosmtplib.SMTPResponse:
    """DATA, then `data` as it is: what `SMTP.data` does, without rewriting the bytes."""
    start = await client.execute_command(b"DATA")
    if start.code != aiosmtplib.SMTPStatus.start_input:
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    protocol = client.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    try:
        # Written and then awaited with nothing in between: the reply cannot come
        # before the protocol is waiting for it.
        protocol.write(data)
        response = await protocol.read_response(timeout=client.timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        client.close()
        raise
    if response.code != aiosmtplib.SMTPStatus.completed:
        raise aiosmtplib.SMTPDataError(response.code, response.message)
    return response


# --- Files ----------------------------------------------------------------------


class FileTransport:
    """Writes each message as `<outbox>/<safe name>.eml`; needs no server."""

    def __init__(self, outbox: Path) -> None:
        """Write into `outbox`, which is created when first needed."""
        self.outbox = outbox

    def path_for(self, item: Outgoing) -> Path:
        """Where `item` is written: the same path for the same key and recipient."""
        return self.outbox / f"{safe_name(item.key, item.recipient)}.eml"

    def send(
        self,
        batch: Iterable[Outgoing],
        on_result: OnResult | None = None,
        before_send: BeforeSend | None = None,
    ) -> list[SendResult]:
        """Write every message atomically; one result per message written, in order.

        A message written again (a retry) replaces its earlier file. A write
        that fails (disk full, permissions) is a temporary failure. `on_result`,
        when given, hears each result as soon as it is known, and the results are
        not also kept and returned (see `SmtpTransport.send_all`); `before_send`,
        when given, is asked just before each write, and a message it refuses is skipped.
        """
        answered: list[tuple[int, SendResult]] = []
        settle = _kept(answered, on_result)
        for index, item in enumerate(batch):
            if before_send is not None and not before_send(index):
                continue
            path = self.path_for(item)
            try:
                write_atomic(path, _carried(item.message, "wire") or item.message.as_bytes())
            except OSError as exc:
                reply = _one_line(f"cannot write {path.name}: {exc.strerror or exc}")
                settle(index, SendResult(item.key, False, False, reply, None))
            else:
                settle(index, SendResult(item.key, True, False, f"written to {path.name}", None))
        return [result for _, result in answered]


def write_markdown(folder: Path, *, email: str, day: date, text: str) -> Path:
    """Write one subscriber's Markdown digest for `day`; return its path.

    The file is `<folder>/<YYYY-MM-DD>-<safe name of email>.md`, written
    atomically; writing the same subscriber and day again replaces it.
    """
    path = folder / f"{day.isoformat()}-{safe_name(email)}.md"
    write_atomic(path, text.encode("utf-8"))
    return path


# --- SMTP -----------------------------------------------------------------------


class _Source:
    """Messages numbered as they are taken from a batch, with room to put one back.

    `build_ahead` takes up to `ahead` messages before any connection asks for
    them, while every connection waits on the server: building a message is most
    of a run's work, and a connection whose reply comes in then sends its next
    one at once instead of waiting for it to be built.
    """

    def __init__(self, batch: Iterable[Outgoing], ahead: int) -> None:
        self._items = enumerate(batch)
        self._returned: deque[tuple[int, Outgoing]] = deque()
        self._ready: deque[tuple[int, Outgoing]] = deque()
        self._ahead = ahead
        self._taken = asyncio.Event()
        self._exhausted = False
        self.failure: Exception | None = None
        """What the batch raised when its next message was asked for, if it did."""

    def take(self) -> tuple[int, Outgoing] | None:
        """The next message and its index, or None when there are no more."""
        if self._returned:
            return self._returned.popleft()
        if self._ready:
            self._taken.set()
            return self._ready.popleft()
        return self._next()

    def put_back(self, index: int, item: Outgoing) -> None:
        """Return a message that could not be sent; it is the next one taken."""
        self._returned.appendleft((index, item))

    def rest(self) -> Iterator[tuple[int, Outgoing]]:
        """Every message not taken yet."""
        while (taken := self.take()) is not None:
            yield taken

    async def build_ahead(self) -> None:
        """Take messages ahead of the connections, until the batch is read; cancel to stop."""
        while not self._exhausted:
            await _answer_ready_replies()
            if len(self._ready) >= self._ahead:
                self._taken.clear()
                await self._taken.wait()
            elif (taken := self._next()) is not None:
                self._ready.append(taken)

    def _next(self) -> tuple[int, Outgoing] | None:
        if self._exhausted:
            return None
        try:
            taken = next(self._items, None)
        except Exception as exc:
            # Whoever asked (a connection or `build_ahead`), the batch ends here;
            # `send_all` raises it once what is on its way is settled.
            self.failure = exc
            taken = None
        self._exhausted = taken is None
        return taken


class _LoginRefusedError(Exception):
    """The server refused the login; only its reply code is kept."""

    def __init__(self, code: int) -> None:
        super().__init__(f"login refused: {code}")
        self.code = code


async def _answer_ready_replies() -> None:
    """Let the event loop answer the replies already in before a long step of this sender.

    Taking the next message builds it (and now and then plans a batch of readers),
    which holds the loop for a millisecond or more. Replies that reached the other
    connections meanwhile get their next command first, so the server works on
    those messages while this one is built, instead of waiting for it. Three turns
    of the loop: one to read the sockets, one for their protocols to pass the
    replies on, one for the senders waiting on them to send.
    """
    for _ in range(3):
        await asyncio.sleep(0)


class SmtpTransport:
    """Sends messages through an SMTP server, over a few concurrent connections.

    Each connection carries up to `messages_per_connection` messages, then is
    closed and a new one opened. A connection that breaks fails only the message
    it was carrying; the rest go over a new connection.
    """

    def __init__(
        self,
        settings: SmtpSettings,
        *,
        connections: int = DEFAULT_CONNECTIONS,
        messages_per_connection: int = DEFAULT_MESSAGES_PER_CONNECTION,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        """Use `settings`; `tls_context` replaces the system's trusted CAs (a private CA)."""
        if connections < 1 or messages_per_connection < 1:
            raise ValueError("connections and messages_per_connection must be at least 1")
        self.settings = settings
        self.connections = connections
        self.messages_per_connection = messages_per_connection
        self.tls_context = tls_context

    async def send_all(
        self,
        batch: Iterable[Outgoing],
        on_result: OnResult | None = None,
        before_send: BeforeSend | None = None,
    ) -> list[SendResult]:
        """Send every message; one result per message, in the batch's order.

        `batch` is read lazily, at most one message per connection ahead of
        them: a generator that builds each message builds the next ones while
        the server takes the last. Never raises for a message's failure: 4xx replies,
        refused, reset or dropped connections and timeouts are temporary results;
        5xx replies and unsendable addresses are permanent ones. `on_result`, when
        given, hears each result as soon as the server has answered, before the
        next message goes over that connection, so a caller can record it at once;
        the results are then not also kept and returned (a run of 100,000 messages
        held every reply to the end for nothing).
        `before_send`, when given, is asked about each message once its connection
        is set up (greeted, secured, logged in), just before MAIL FROM: a message it
        refuses is not sent and has no result.
        If reading `batch` raises, nothing more is taken from it; the messages
        already taken are sent and settled, and then the error is raised.
        """
        source = _Source(batch, ahead=self.connections)
        answered: list[tuple[int, SendResult]] = []
        settle = _kept(answered, on_result)
        # The last failure to connect, for whatever no connection could carry.
        connect_failures: list[SendResult] = []
        workers = self.connections
        if isinstance(batch, Sized):
            workers = min(workers, len(batch))
        senders = (
            self._worker(source, settle, before_send, connect_failures) for _ in range(workers)
        )
        builder = asyncio.create_task(source.build_ahead())
        try:
            await asyncio.gather(*senders)
        finally:
            builder.cancel()
        # Every worker gave up connecting (the server is unreachable now): what is
        # left fails with the last connection error.
        for index, item in source.rest():
            failure = connect_failures[-1]
            settle(index, SendResult(item.key, False, False, failure.reply, failure.code))
        if source.failure is not None:
            # A message that could not be built (a broken template, say): raised
            # once every message already taken is settled, so that none the
            # server accepted goes unrecorded, to be sent again.
            raise source.failure
        return [result for _, result in sorted(answered, key=lambda answer: answer[0])]

    async def _worker(
        self,
        source: "_Source",
        settle: OnResult,
        before_send: BeforeSend | None,
        connect_failures: list[SendResult],
    ) -> None:
        """Send messages from `source` over one connection at a time until it is empty.

        If connecting fails, the message goes back to the source and this worker
        stops: the other workers may still have working connections (a server
        limiting connections per client), and whatever is left when all have
        stopped fails with the connection error.
        """
        client: aiosmtplib.SMTP | None = None
        sent = 0
        try:
            while True:
                await _answer_ready_replies()
                if (taken := source.take()) is None:
                    break
                index, item = taken
                if client is not None and (
                    sent >= self.messages_per_connection or not client.is_connected
                ):
                    await self._close(client)
                    client = None
                if client is None:
                    try:
                        client = await self._connect()
                    except Exception as exc:
                        source.put_back(index, item)
                        connect_failures.append(self._failure(item.key, exc, connecting=True))
                        return
                    sent = 0
                if before_send is not None and not before_send(index):
                    continue
                settle(index, await self._send_one(client, item))
                sent += 1
        finally:
            if client is not None:
                await self._close(client)

    async def _connect(self) -> aiosmtplib.SMTP:
        """A connected client: greeting read, TLS set up and logged in, per settings."""
        settings = self.settings
        client = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            timeout=settings.timeout,
            use_tls=settings.security == "tls",
            # False, not None: None would mean "upgrade if offered", silently
            # sending in clear text when a server (or an attacker) hides STARTTLS.
            start_tls=settings.security == "starttls",
            tls_context=self.tls_context,
        )
        await client.connect()
        try:
            if settings.username:
                await self._login(client)
            if client.is_ehlo_or_helo_needed:
                # Greeted here rather than by the first sendmail: the session is wholly
                # set up before `before_send` has its last look at the message (and the
                # first message knows the server's extensions too).
                await self._greet(client)
        except BaseException:
            client.close()
            raise
        return client

    @staticmethod
    async def _greet(client: aiosmtplib.SMTP) -> None:
        """Say EHLO, or HELO to a server that does not know EHLO (as sendmail would)."""
        try:
            await client.ehlo()
        except aiosmtplib.SMTPHeloError:
            if not client.is_connected:
                raise
            await client.helo()

    async def _login(self, client: aiosmtplib.SMTP) -> None:
        """Log in; a refusal keeps only the reply's code."""
        settings = self.settings
        try:
            await client.login(settings.username, settings.password.get_secret_value())
        except aiosmtplib.SMTPResponseException as exc:
            # Some servers echo the AUTH command in their refusal, and with it the
            # password (base64 is no disguise): the text is dropped, here and in the
            # exception's context.
            raise _LoginRefusedError(exc.code) from None

    async def _send_one(self, client: aiosmtplib.SMTP, item: Outgoing) -> SendResult:
        """Send `item` over `client`; any failure becomes a result."""
        try:
            wire = _carried(item.message, "wire")
            sender = _envelope_sender(item.message) if wire is not None else None
            if wire is not None and sender is not None and (sender + item.recipient).isascii():
                # Already serialised (7-bit, CRLF, no Bcc): sent as send_message would.
                errors: dict[str, aiosmtplib.SMTPResponse] = {}
                reply = await send_wire(
                    client, sender, item.recipient, wire, _carried(item.message, "data")
                )
            else:
                errors, reply = await client.send_message(item.message, recipients=[item.recipient])
        except Exception as exc:
            result = self._failure(item.key, exc)
            if result.code == 421:
                # 421: the server is closing this connection; don't send more on it.
                client.close()
            return result
        if errors:
            # Not reached with one recipient (aiosmtplib raises when all are
            # refused), but a partial acceptance must not pass for success.
            response = next(iter(errors.values()))
            return self._reply_result(item.key, response.code, response.message)
        # aiosmtplib raises unless DATA was answered 250, and returns only the text.
        return SendResult(item.key, True, False, self._line(f"250 {reply}"), 250)

    def _failure(self, key: str, exc: Exception, *, connecting: bool = False) -> SendResult:
        """Classify an exception from aiosmtplib into a result."""
        prefix = "cannot connect: " if connecting else ""
        if isinstance(exc, _LoginRefusedError):
            text = f"{prefix}{exc.code} login refused (the server's reply is not kept)"
            return SendResult(key, False, False, text, exc.code)
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
            refused = exc.recipients[0]
            return self._reply_result(key, refused.code, refused.message)
        if isinstance(exc, aiosmtplib.SMTPResponseException):
            if connecting:
                # A server-wide refusal (greeting, EHLO, STARTTLS, login) says
                # nothing about this recipient: always worth another try later.
                text = self._line(f"{prefix}{exc.code} {exc.message}")
                return SendResult(key, False, False, text, exc.code)
            return self._reply_result(key, exc.code, exc.message)
        if isinstance(exc, aiosmtplib.SMTPNotSupported | ValueError) and not connecting:
            # The address cannot be sent (not ASCII and no SMTPUTF8, malformed):
            # no retry will change that.
            return SendResult(key, False, True, self._line(str(exc)), None)
        if isinstance(exc, TimeoutError):
            text = f"{prefix}timed out after {self.settings.timeout:g}s"
            return SendResult(key, False, False, self._line(text), None)
        # Refused, reset or dropped connections, TLS problems, anything else.
        detail = str(exc) or type(exc).__name__
        if not connecting and isinstance(exc, ConnectionError):
            prefix = "connection lost: "
        return SendResult(key, False, False, self._line(prefix + detail), None)

    def _reply_result(self, key: str, code: int, message: str) -> SendResult:
        return SendResult(key, False, 500 <= code < 600, self._line(f"{code} {message}"), code)

    def _line(self, text: str) -> str:
        return _one_line(text, secret=self.settings.password.get_secret_value())

    @staticmethod
    async def _close(client: aiosmtplib.SMTP) -> None:
        """Say QUIT politely; a connection that is already broken is just closed."""
        if client.is_connected:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit()
        client.close()
