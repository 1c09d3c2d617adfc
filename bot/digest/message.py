"""A digest as an email message, ready to hand to SMTP (pure: no network, no clock).

The message is multipart/alternative, plain text first and HTML second (clients show
the last part they can), both UTF-8 and 7-bit on the wire so any relay accepts them:
the HTML spells other characters as character references, and a part that still
holds any (or an overlong line) is quoted-printable.
Headers are set through the standard library's email policy, which refuses a header
value holding a line break, so nothing from a paper can add a header.

A run builds thousands of these, so the two fixed-layout parts are encoded directly
(the standard library's content manager and generator cost about 1 ms a message) and
the message's SMTP bytes are kept on it as `DigestMessage.wire`, byte for byte what
`bytes(message)` gives for the same message.
"""

import binascii
import random
import re
import sys
from datetime import datetime
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime, make_msgid
from functools import lru_cache
from typing import Any

from bot.digest.model import Digest
from bot.digest.render import DigestRenderer

_ITEM_BREAK = re.compile(r"(?<=>)\s*,\s*(?=<)")
# `<...>` items of printable ASCII, no spaces inside: the parser changes nothing in them.
_ANGLE_LIST = re.compile(r"<[\x21-\x7e]+>(?:\s*,\s*<[\x21-\x7e]+>)*")


class _AngleListHeader(UnstructuredHeader, BaseHeader):
    """A header made of `<...>` items, such as List-Unsubscribe, folded between items.

    The default folding turns an item longer than a line (a signed unsubscribe URL
    usually is) into RFC 2047 encoded words, which mail clients do not decode back into
    a URL. Long lines are allowed up to 998 characters, so each item is kept whole.
    """

    max_count = 1

    def fold(self, *, policy: Policy) -> str:
        """Return the header as `Name: <a>,CRLF <b>CRLF`, each item on its own line."""
        value = str(self)
        if not value.isascii():
            return super().fold(policy=policy)
        # Split only between items: a URL may hold commas of its own.
        items = _ITEM_BREAK.split(value.strip())
        return f"{self.name}: " + f",{policy.linesep} ".join(items) + policy.linesep


_HEADERS = HeaderRegistry()
_HEADERS.map_to_type("list-unsubscribe", _AngleListHeader)

POLICY = policy.SMTP.clone(header_factory=_HEADERS)
"""CRLF line ends and RFC-compliant folding: `bytes(message)` is what SMTP sends."""
_MAX_LINE = POLICY.max_line_length or 78


class DigestMessage(EmailMessage):
    """An `EmailMessage` that also carries its serialised SMTP form.

    `wire` is exactly `bytes(message)` (CRLF line ends, 7-bit ASCII) while the
    message is as built, and `data` is `wire` as the DATA command sends it
    (dot-stuffed, ending with the lone dot); `envelope_sender` is the address
    MAIL FROM gives, as aiosmtplib reads it from the headers; `subject` is the
    rendered subject, which `str(message["Subject"])` gives too (parsing the
    header anew each time) unless it holds what looks like an encoded word.
    Changing a top-level header or the payload drops all four (None), and senders
    then serialise the message and read its headers themselves as usual.
    """

    wire: bytes | None = None
    data: bytes | None = None
    envelope_sender: str | None = None
    subject: str | None = None

    def _changed(self) -> None:
        self.wire = self.data = self.envelope_sender = self.subject = None

    def __setitem__(self, name: str, val: Any) -> None:
        self._changed()
        super().__setitem__(name, val)

    def __delitem__(self, name: str) -> None:
        self._changed()
        super().__delitem__(name)

    def replace_header(self, _name: str, _value: Any) -> None:
        self._changed()
        super().replace_header(_name, _value)

    def set_raw(self, name: str, value: Any) -> None:
        self._changed()
        super().set_raw(name, value)

    def set_payload(self, payload: Any, charset: Any = None) -> None:
        self._changed()
        super().set_payload(payload, charset)

    def attach(self, payload: Any) -> None:
        self._changed()
        super().attach(payload)


_SIMPLE_VALUE = re.compile(r"[\x21-\x7e]+(?: [\x21-\x7e]+)*")
# An address the policy writes back exactly as given: a dot-atom local part and domain.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)
_STRUCTURED_PLAIN = {"to": _PLAIN_ADDRESS, "from": _PLAIN_ADDRESS}


def _plain_line(name: str, value: str) -> str | None:
    """`name: value` and CRLF when the policy would write exactly that, else None.

    That is a short line of printable ASCII with single spaces and no encoded-word
    marker ("=?"), which the policy neither folds nor encodes; address headers
    qualify only with a bare address. A longer unstructured value of plain words
    (a subject), and a long List-Unsubscribe, are folded here as the policy folds
    them. Parsing headers through the policy costs 0.02 to 0.07 ms each, and most
    of a digest's headers are plain.
    """
    if "=?" in value:
        return None
    too_long = len(name) + 2 + len(value) > _MAX_LINE
    if name.lower() == "list-unsubscribe":
        # Folded item by item as `_AngleListHeader` does, here when the line is too
        # long (a signed URL always is): then the policy, given the value as text,
        # folds it that way too (a short line it would write as it is).
        if not too_long or not _ANGLE_LIST.fullmatch(value):
            return None
        return f"{name}: " + ",\r\n ".join(_ITEM_BREAK.split(value)) + "\r\n"
    if too_long:
        return _folded_plain(name, value)
    pattern = _STRUCTURED_PLAIN.get(name.lower(), _SIMPLE_VALUE)
    return f"{name}: {value}\r\n" if pattern.fullmatch(value) else None


# Words of letters, digits and punctuation that the policy's parser of unstructured
# values treats as plain text (no quotes, parentheses, brackets or backslashes), short
# enough that a line always has room for one: the policy folds these at spaces,
# filling each line, and never encodes them.
_FOLDABLE_VALUE = re.compile(
    r"[A-Za-z0-9.,:;!?'/&+#%*-]{1,60}(?: [A-Za-z0-9.,:;!?'/&+#%*-]{1,60})*"
)


def _folded_plain(name: str, value: str) -> str | None:
    """The policy's folding of a long unstructured `value` of plain words, else None."""
    if name.lower() in _STRUCTURED_PLAIN or not _FOLDABLE_VALUE.fullmatch(value):
        return None
    if 1 + len(value) <= _MAX_LINE:
        return f"{name}:\r\n {value}\r\n"  # the whole value on the next line, as the policy does
    lines = []
    line = f"{name}:"
    for word in value.split(" "):
        if len(line) + 1 + len(word) > _MAX_LINE:
            lines.append(line)
            line = ""
        line += " " + word
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


@lru_cache(maxsize=256)  # the sender and the date repeat from message to message
def _header_line(name: str, value: str) -> tuple[str | BaseHeader, str]:
    """The value to store on the message and the folded line for `name: value`.

    Raises ValueError for a value holding a line break, like the policy does.
    """
    line = _plain_line(name, value)
    if line is not None:
        return value, line
    _, header = POLICY.header_store_parse(name, value)
    assert isinstance(header, BaseHeader)
    return header, header.fold(policy=POLICY)


_LONGEST_LINE = 998
"""RFC 5322 2.1.1: a line is at most 998 characters, its CRLF excluded."""
_LINE_END = re.compile(r"\r\n?")


def _encoded_body(text: str) -> tuple[str, str]:
    """`text` as a UTF-8 part's body (\n line ends), with its Content-Transfer-Encoding.

    ASCII text whose lines are short enough goes as it is (7bit): nothing to
    encode, and a server reads it in fewer, whole lines. Anything else is
    quoted-printable, as the content manager stores it: every line of the result
    is at most 76 characters, soft breaks included.
    """
    if "\r" in text:  # line ends normalised as `email.contentmanager` does
        text = _LINE_END.sub("\n", text)
    body = text if text.endswith("\n") else text + "\n"
    if body.isascii() and max(map(len, body.split("\n"))) <= _LONGEST_LINE:
        return "7bit", body
    return "quoted-printable", binascii.b2a_qp(body.encode("utf-8"), istext=True).decode("ascii")


def _ascii_html(html: str) -> str:
    """`html` with every non-ASCII character as a character reference (é as &#233;).

    Browsers and mail clients read it as the same text, and the part usually
    needs no encoding at all (see `_encoded_body`).
    """
    return html if html.isascii() else html.encode("ascii", "xmlcharrefreplace").decode("ascii")


def _boundary(bodies: tuple[str, ...]) -> str:
    # "=_" never occurs in quoted-printable text (a "=" there is followed by two hex
    # digits or a line end), and 64 random bits in plain text hardly ever; checked
    # anyway. Short enough that Content-Type stays one line.
    while True:
        boundary = f"=_{random.randrange(sys.maxsize):016x}"
        if not any(boundary in body for body in bodies):
            return boundary


def _part(subtype: str, encoding: str, body: str) -> tuple[EmailMessage, str]:
    part = EmailMessage(policy=POLICY)
    lines = []
    headers = (
        ("Content-Type", f'text/{subtype}; charset="utf-8"'),
        ("Content-Transfer-Encoding", encoding),
    )
    for name, value in headers:
        part.set_raw(name, value)
        lines.append(f"{name}: {value}\r\n")
    part.set_payload(body)
    return part, "".join(lines) + "\r\n" + body.replace("\n", "\r\n")


def _mailto(address: str) -> str:
    address = address.strip()
    return address if address.lower().startswith("mailto:") else f"mailto:{address}"


def build_message(
    digest: Digest,
    *,
    renderer: DigestRenderer,
    sender: str,
    now: datetime,
    domain: str,
    message_id: str | None = None,
    unsubscribe_mailto: str | None = None,
) -> DigestMessage:
    """Return `digest` as an email from `sender` to the digest's subscriber.

    `now` dates the message; its Message-ID is `message_id` when given, else a new
    one on `domain`. List-Unsubscribe carries the digest's unsubscribe URL and, when
    given, `unsubscribe_mailto` (an address, or a `mailto:` URL); one-click
    unsubscribe (RFC 8058) is announced only for an https URL. A header value with
    a line break (a malformed sender, say) raises ValueError rather than being sent.
    """
    context = renderer.context(digest)  # shared by the subject and both parts
    subject = renderer.subject(digest, context)
    fields = [
        ("From", sender),
        ("To", digest.email),
        ("Date", format_datetime(now)),
        ("Message-ID", message_id or make_msgid(domain=domain)),
        ("Subject", subject),
    ]
    targets = []
    if digest.unsubscribe_url:
        targets.append(f"<{digest.unsubscribe_url.strip()}>")
    if unsubscribe_mailto:
        targets.append(f"<{_mailto(unsubscribe_mailto)}>")
    if targets:
        fields.append(("List-Unsubscribe", ", ".join(targets)))
    if digest.unsubscribe_url and digest.unsubscribe_url.strip().lower().startswith("https://"):
        fields.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    text_encoding, text = _encoded_body(renderer.text(digest, context))
    html_encoding, html = _encoded_body(_ascii_html(renderer.html(digest, context)))
    boundary = _boundary((text, html))
    fields.append(("MIME-Version", "1.0"))
    fields.append(("Content-Type", f'multipart/alternative; boundary="{boundary}"'))
    message = DigestMessage(policy=POLICY)
    head = []
    for name, value in fields:
        stored, line = _header_line(name, value)
        message.set_raw(name, stored)
        head.append(line)
    text_part, text_wire = _part("plain", text_encoding, text)
    html_part, html_wire = _part("html", html_encoding, html)
    message.set_payload([text_part, html_part])
    delimiter = f"--{boundary}"
    wire = f"{''.join(head)}\r\n{delimiter}\r\n{text_wire}\r\n{delimiter}\r\n{html_wire}\r\n{delimiter}--\r\n"
    message.wire = wire.encode("ascii")
    # Built here, where the text is known to be CRLF throughout and to start with a
    # header: the DATA form needs only its dots doubled at line starts (RFC 5321
    # 4.5.2), with no check of the line ends (three passes over the bytes).
    message.data = (wire.replace("\r\n.", "\r\n..") + ".\r\n").encode("ascii")
    message.envelope_sender = _mail_from(sender)
    message.subject = subject
    return message


@lru_cache(maxsize=16)  # one sender for a whole run: its header parsed once, not per message
def _mail_from(sender: str) -> str | None:
    """The MAIL FROM address of a message from `sender`: its first address, as clients read it."""
    header = POLICY.header_factory("From", sender)
    addresses = getattr(header, "addresses", ())
    return addresses[0].addr_spec if addresses else None
