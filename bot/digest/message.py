"""A digest as an email message, ready to hand to SMTP (pure: no network, no clock).

The message is multipart/alternative, plain text first and HTML second (clients show
the last part they can), both UTF-8 in quoted-printable so any relay accepts them.
Headers are set through the standard library's email policy, which refuses a header
value holding a line break, so nothing from a paper can add a header.
"""

import re
from datetime import datetime
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime, make_msgid

from bot.digest.model import Digest
from bot.digest.render import DigestRenderer

_ITEM_BREAK = re.compile(r"(?<=>)\s*,\s*(?=<)")


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
    unsubscribe_mailto: str | None = None,
) -> EmailMessage:
    """Return `digest` as an email from `sender` to the digest's subscriber.

    `now` dates the message and `domain` names the right-hand side of its
    Message-ID. List-Unsubscribe carries the digest's unsubscribe URL and, when
    given, `unsubscribe_mailto` (an address, or a `mailto:` URL); one-click
    unsubscribe (RFC 8058) is announced only for an https URL. A header value with
    a line break (a malformed sender, say) raises ValueError rather than being sent.
    """
    message = EmailMessage(policy=POLICY)
    message["From"] = sender
    message["To"] = digest.email
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=domain)
    message["Subject"] = renderer.subject(digest)
    targets = []
    if digest.unsubscribe_url:
        targets.append(f"<{digest.unsubscribe_url.strip()}>")
    if unsubscribe_mailto:
        targets.append(f"<{_mailto(unsubscribe_mailto)}>")
    if targets:
        message["List-Unsubscribe"] = ", ".join(targets)
    if digest.unsubscribe_url and digest.unsubscribe_url.strip().lower().startswith("https://"):
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(
        renderer.text(digest), subtype="plain", charset="utf-8", cte="quoted-printable"
    )
    message.add_alternative(
        renderer.html(digest), subtype="html", charset="utf-8", cte="quoted-printable"
    )
    return message
