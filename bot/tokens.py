"""Signed, per-subscriber link tokens: unsubscribe, manage, confirm, feedback, feeds.

A token names the subscriber and the purpose it was made for, and is signed
with the site's secret, so it cannot be forged, cannot be turned into a token
for another address, and cannot be used for another purpose. Tokens for
confirming an address expire; unsubscribe links must keep working in old
emails, so they do not. A feedback token ("more like this", "fewer like this"
under a paper of a digest) also names the topic and the paper, and the day it
was made: it expires after `FEEDBACK_MAX_AGE`, counted by the app's clock. A feed
token (the address of a subscriber's Atom feed) names one topic or all of them, and
the subscriber's feed version: it never expires, and making a new version
(`Subscriber.feed_version`) is what retires every feed address made before.

A token holds the subscriber's id and a keyed fingerprint of their address, not
the address: links end up in logs and browser histories, and signing is not
encryption.
"""

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Any, Literal

import msgspec
from itsdangerous import (
    BadData,
    SignatureExpired,
    Signer,
    TimestampSigner,
    URLSafeSerializer,
    URLSafeTimedSerializer,
)
from itsdangerous.encoding import base64_encode
from sqlalchemy.engine import Engine

from bot.db import write_session
from bot.errors import InputError
from bot.models import AppSecret

Purpose = Literal["unsubscribe", "manage", "confirm"]
Direction = Literal["more", "fewer"]
"""What a feedback link asks for: more papers like this one, or fewer."""

FEEDBACK_MAX_AGE = timedelta(days=90)
"""How long the feedback links of a digest work: long enough to read old digests."""

_SECRET_NAME = "link-signing"
_FINGERPRINT_LENGTH = 24  # 96 bits: no address can be made to collide with another


@dataclass(frozen=True)
class TokenSubject:
    """Whom a token is made for: a subscriber (or a pending request) and its address key."""

    subscriber_id: int
    email_key: str


@dataclass(frozen=True)
class LinkSubject:
    """Whom a valid token is for: the id, and a fingerprint of the address it was made for."""

    subscriber_id: int
    fingerprint: str
    secret: str = field(repr=False, compare=False)

    def is_for(self, email_key: str) -> bool:
        """True when the token was made for this address key."""
        return hmac.compare_digest(self.fingerprint, _fingerprint(self.secret, email_key))


def make_token(secret: str, purpose: Purpose, subject: TokenSubject | LinkSubject) -> str:
    """Return a URL-safe token for `subject`, valid only for `purpose`.

    A `LinkSubject` read from another token gives a token for the same address.
    """
    fingerprint = _fingerprint_of(secret, subject)
    return _serializer(secret, purpose).dumps([subject.subscriber_id, fingerprint])


def signed_link(
    base_url: str, secret: str, purpose: Purpose, subject: TokenSubject | LinkSubject
) -> str:
    """The page link for `purpose`: `<base_url>/<purpose>/<token>` (the web app's routes)."""
    return f"{base_url.rstrip('/')}/{purpose}/{make_token(secret, purpose, subject)}"


def read_token(
    secret: str, purpose: Purpose, token: str, *, max_age: int | None = None
) -> LinkSubject:
    """Return whom the token is for; raise `InputError` if it was tampered with, or expired."""
    try:
        subscriber_id, fingerprint = _serializer(secret, purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise InputError("this link has expired") from None
    except (BadData, ValueError, TypeError):
        raise InputError("this link is not valid") from None
    return LinkSubject(int(subscriber_id), str(fingerprint), secret)


class ExpiredTokenError(InputError):
    """A token whose signature holds, made longer ago than its purpose allows."""


@dataclass(frozen=True)
class FeedbackSubject:
    """Whom a valid feedback token is for, about which topic and paper, made on which day."""

    link: LinkSubject
    topic_id: int
    paper_id: int
    issued: date


def make_feedback_token(
    secret: str,
    subject: TokenSubject | LinkSubject,
    topic_id: int,
    paper_id: int,
    *,
    today: date,
) -> str:
    """Return a URL-safe token for feedback on `paper_id` in the subscriber's topic `topic_id`.

    One token serves both links of an entry ("more" and "fewer"): the page it
    opens asks which, and the reader may change their mind.
    """
    fingerprint = _fingerprint_of(secret, subject)
    payload = [subject.subscriber_id, fingerprint, topic_id, paper_id, today.toordinal()]
    return _feedback_serializer(secret).dumps(payload)


def feedback_link(base_url: str, direction: Direction, token: str) -> str:
    """The page link of a feedback token: `<base_url>/feedback/<direction>/<token>`."""
    return f"{base_url.rstrip('/')}/feedback/{direction}/{token}"


def read_feedback_token(secret: str, token: str, *, today: date) -> FeedbackSubject:
    """Return what a feedback token is for; raise `InputError` if it was tampered with.

    Raises `ExpiredTokenError` (an `InputError`) once it is older than `FEEDBACK_MAX_AGE`.
    """
    try:
        subscriber_id, fingerprint, topic_id, paper_id, issued = _feedback_serializer(secret).loads(
            token
        )
        made = date.fromordinal(int(issued))
        found = FeedbackSubject(
            LinkSubject(int(subscriber_id), str(fingerprint), secret),
            int(topic_id),
            int(paper_id),
            made,
        )
    except (BadData, ValueError, TypeError, OverflowError):
        raise InputError("this link is not valid") from None
    if today - made > FEEDBACK_MAX_AGE:
        raise ExpiredTokenError("this link has expired")
    return found


@dataclass(frozen=True)
class FeedSubject:
    """Whom a valid feed token is for, which topic (None: all of them), and at which version."""

    link: LinkSubject
    topic_id: int | None
    version: int


def make_feed_token(
    secret: str, subject: TokenSubject | LinkSubject, topic_id: int | None, version: int
) -> str:
    """Return a URL-safe token for the feed of `topic_id` (None: every topic) at `version`.

    The same arguments always give the same token: a feed's address must not
    change each time the manage page shows it.
    """
    fingerprint = _fingerprint_of(secret, subject)
    payload = [subject.subscriber_id, fingerprint, topic_id, version]
    return _feed_serializer(secret).dumps(payload)


def feed_link(base_url: str, token: str) -> str:
    """The address of a feed token's Atom feed: `<base_url>/feed/<token>.atom`."""
    return f"{base_url.rstrip('/')}/feed/{token}.atom"


def read_feed_token(secret: str, token: str) -> FeedSubject:
    """Return what a feed token is for; raise `InputError` if it was tampered with."""
    try:
        subscriber_id, fingerprint, topic_id, version = _feed_serializer(secret).loads(token)
        return FeedSubject(
            LinkSubject(int(subscriber_id), str(fingerprint), secret),
            None if topic_id is None else int(topic_id),
            int(version),
        )
    except (BadData, ValueError, TypeError, OverflowError):
        raise InputError("this link is not valid") from None


def link_subject(secret: str, subject: TokenSubject) -> LinkSubject:
    """`subject` with its address's fingerprint worked out once, for making many tokens."""
    return LinkSubject(subject.subscriber_id, _fingerprint(secret, subject.email_key), secret)


def _fingerprint_of(secret: str, subject: TokenSubject | LinkSubject) -> str:
    if isinstance(subject, LinkSubject):
        return subject.fingerprint
    return _fingerprint(secret, subject.email_key)


def _fingerprint(secret: str, email_key: str) -> str:
    digest = hmac.new(secret.encode(), b"address:" + email_key.encode(), hashlib.sha256)
    return digest.hexdigest()[:_FINGERPRINT_LENGTH]


def signing_secret(engine: Engine, configured: str) -> str:
    """Return the configured secret, or the one generated for this database on first use."""
    if configured:
        return configured
    with write_session(engine) as session:
        stored = session.get(AppSecret, _SECRET_NAME)
        if stored is None:
            stored = AppSecret(name=_SECRET_NAME, value=secrets.token_urlsafe(32))
            session.add(stored)
        return stored.value


# --- Making tokens fast ----------------------------------------------------------
# A delivery run makes several tokens for each of thousands of readers. These
# classes make the tokens itsdangerous's own would (the tests compare them),
# without the work it repeats for every token: a new signer, its key derived
# again, an HMAC computed in Python, the payload encoded by the standard
# library's JSON and then compressed with zlib, which shortens a token's few
# dozen bytes by a byte or two at best, and rarely. Such a payload is left
# uncompressed here: the token differs from itsdangerous's, and each reads the
# other's. Feed addresses, which must not change once given out, keep
# itsdangerous's own serializer.

_SHORT_PAYLOAD = 200
"""JSON this short is sent as it is: zlib's header and checksum leave almost nothing to save."""


class _CompactJSON:
    """itsdangerous's compact JSON (no spaces, UTF-8 as it is), encoded by msgspec."""

    @staticmethod
    def dumps(obj: Any, **_kwargs: Any) -> str:
        """`obj` as compact JSON text."""
        return msgspec.json.encode(obj).decode("utf-8")

    @staticmethod
    def loads(payload: str | bytes) -> Any:
        """The object a JSON text holds."""
        return json.loads(payload)


class _KeptKeySigner(Signer):
    """itsdangerous's signer, deriving its key from the secret once instead of at every token."""

    # The same SHA-1, named so that `hmac` knows it and uses OpenSSL's HMAC: the
    # default wraps it in a function of its own, which `hmac` computes in Python.
    default_digest_method = staticmethod(hashlib.sha1)

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        """The key for `secret_key` (by default the newest secret), derived once per signer."""
        if secret_key is not None:
            return super().derive_key(secret_key)
        key: bytes | None = self.__dict__.get("_kept_key")
        if key is None:
            key = self.__dict__["_kept_key"] = super().derive_key()
        return key


class _KeptKeyTimestampSigner(_KeptKeySigner, TimestampSigner):
    """The timestamped signer (tokens that can expire), its key derived once."""


class _TokenSerializer(URLSafeSerializer):
    """itsdangerous's URL-safe serializer with one signer kept, and no zlib for short payloads."""

    default_signer = _KeptKeySigner
    default_serializer = _CompactJSON

    def make_signer(self, salt: str | bytes | None = None) -> Signer:
        """The signer for `salt`; for the serializer's own salt, always the same one."""
        if salt is not None and salt != self.salt:
            return super().make_signer(salt)
        signer: Signer | None = self.__dict__.get("_signer")
        if signer is None:
            signer = self.__dict__["_signer"] = super().make_signer()
        return signer

    def dump_payload(self, obj: Any) -> bytes:
        """The payload as itsdangerous writes it: base64 of the JSON, zlib only when worth it."""
        data = self.serializer.dumps(obj).encode("utf-8")
        if len(data) >= _SHORT_PAYLOAD:
            return super().dump_payload(obj)
        return base64_encode(data)


class _TimedTokenSerializer(_TokenSerializer, URLSafeTimedSerializer):
    """The same for tokens that can expire (they carry itsdangerous's timestamp)."""

    default_signer = _KeptKeyTimestampSigner


@lru_cache(maxsize=16)
def _serializer(secret: str, purpose: Purpose) -> URLSafeTimedSerializer:
    # The salt binds a token to its purpose: an unsubscribe token is no manage token.
    return _TimedTokenSerializer(secret, salt=f"paperbot-{purpose}")


@lru_cache(maxsize=4)
def _feedback_serializer(secret: str) -> URLSafeSerializer:
    # A salt of its own, as for every purpose; no timestamp of itsdangerous's: the token
    # carries its day, dated by the app's clock like everything else it stores.
    return _TokenSerializer(secret, salt="paperbot-feedback")


@lru_cache(maxsize=4)
def _feed_serializer(secret: str) -> URLSafeSerializer:
    # A salt of its own; no timestamp, so a feed's address stays the same until its
    # version changes, and feed readers keep polling one address for years: made as
    # itsdangerous makes it, as the addresses already given out were.
    return URLSafeSerializer(secret, salt="paperbot-feed")
