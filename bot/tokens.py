"""Signed, per-subscriber link tokens: unsubscribe, manage, confirm.

A token names the subscriber and the purpose it was made for, and is signed
with the site's secret, so it cannot be forged, cannot be turned into a token
for another address, and cannot be used for another purpose. Tokens for
confirming an address expire; unsubscribe links must keep working in old
emails, so they do not.
"""

import secrets
from dataclasses import dataclass
from typing import Literal

from itsdangerous import BadData, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.engine import Engine

from bot.db import write_session
from bot.errors import InputError
from bot.models import AppSecret

Purpose = Literal["unsubscribe", "manage", "confirm"]
_SECRET_NAME = "link-signing"


@dataclass(frozen=True)
class TokenSubject:
    """Whom a valid token is for."""

    subscriber_id: int
    email_key: str


def make_token(secret: str, purpose: Purpose, subject: TokenSubject) -> str:
    """Return a URL-safe token for `subject`, valid only for `purpose`."""
    return _serializer(secret, purpose).dumps([subject.subscriber_id, subject.email_key])


def read_token(
    secret: str, purpose: Purpose, token: str, *, max_age: int | None = None
) -> TokenSubject:
    """Return whom the token is for; raise `InputError` if it was tampered with, or expired."""
    try:
        subscriber_id, email_key = _serializer(secret, purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise InputError("this link has expired") from None
    except (BadData, ValueError, TypeError):
        raise InputError("this link is not valid") from None
    return TokenSubject(int(subscriber_id), str(email_key))


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


def _serializer(secret: str, purpose: Purpose) -> URLSafeTimedSerializer:
    # The salt binds a token to its purpose: an unsubscribe token is no manage token.
    return URLSafeTimedSerializer(secret, salt=f"paperbot-{purpose}")
