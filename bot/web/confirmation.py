"""Double opt-in: pending requests, the confirmation email, and applying a confirmed request.

Nothing a visitor asks for on the web reaches the subscribers' tables until the
address's owner follows the link mailed to it and presses the button on the page
it opens. Until then the request waits as a `PendingSubscription`; the link names
that row and its address, signed, and works for `CONFIRM_MAX_AGE`.

Confirming never rewrites what an active subscriber set: the request's keywords
are added as one more topic (`bot.subscriptions.store.opt_in`).

Functions here take the engine, settings and time they need, and return plain
data: the page handlers (`bot.web.subscribe_pages`) do the HTTP.
"""

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any, Literal

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.db import write_session
from bot.digest.message import POLICY
from bot.errors import InputError
from bot.matching.facets import TRENDING_FIELDS
from bot.models import ConfirmationCount, PendingSubscription, Subscriber
from bot.subscriptions.examples import find_paper
from bot.subscriptions.paper_reference import PaperReference
from bot.subscriptions.spec import (
    SubscriptionSpec,
    channels_of_format,
    describe_follows,
    email_key,
    make_spec,
)
from bot.subscriptions.store import (
    OptIn,
    OptInAction,
    SubscriberView,
    find_subscriber,
    opt_in,
    plan_opt_in,
)
from bot.tokens import LinkSubject, TokenSubject, read_token, signed_link
from bot.web.pages import environment

CONFIRM_MAX_AGE = timedelta(days=2)
"""How long a confirmation link works."""

RESEND_AFTER = timedelta(minutes=5)
"""A new request for an address is dropped (no email) this soon after the last pending one."""

SUBJECT = "Confirm your paper digest subscription"

CHANNEL_LABELS = {"email": "by email", "markdown": "as a Markdown file on this server"}
"""How each built-in channel is said in the confirmation email and pages."""


def channels_label(channels: Iterable[str]) -> str:
    """Where digests go, as words: "by email and as a Markdown file on this server"."""
    said = [CHANNEL_LABELS.get(name, f"to the channel {name}") for name in channels]
    return " and ".join(said) or "nowhere (no channel)"


class InvalidLinkError(InputError):
    """A confirmation link that was tampered with, or names no request for its address."""


class ExpiredLinkError(InputError):
    """A confirmation link older than `CONFIRM_MAX_AGE`."""


class StaleRequestError(InputError):
    """A stored request that today's input rules refuse (it was made under older ones)."""


@dataclass(frozen=True)
class PendingRequest:
    """A stored request waiting for its confirmation: what the email needs."""

    id: int
    spec: SubscriptionSpec
    liked_titles: tuple[str, ...] = ()  # the titles of the example papers, for the email
    unliked_titles: tuple[str, ...] = ()

    @property
    def subject(self) -> TokenSubject:
        """Whom its confirmation token is for: this row and this address."""
        return TokenSubject(self.id, email_key(self.spec.email))


@dataclass(frozen=True)
class Unconfirmed:
    """What a confirmation link asks for, and what pressing its button would do.

    `current` is the subscriber at the address now (None: nobody yet);
    `plan` what confirming would do to them.
    """

    spec: SubscriptionSpec
    current: SubscriberView | None
    plan: OptIn
    liked_titles: tuple[str, ...] = ()
    unliked_titles: tuple[str, ...] = ()


ConfirmAction = OptInAction | Literal["already"]
"""What confirming did: an `OptIn` action, or "already" for a link used before."""


@dataclass(frozen=True)
class Confirmed:
    """A confirmed request: what it asked for and the subscriber it now belongs to.

    `cadence`, `channels` and `timezone` are the subscriber's own after confirming
    (None time zone: the site's). `action` says what confirming did (see
    `bot.subscriptions.store.OptIn`), or "already" when the link had been used
    before and nothing was applied this time; `topic` names the topic holding
    the keywords.
    """

    subscriber_id: int
    email: str
    email_key: str
    keywords: tuple[str, ...]
    exclusions: tuple[str, ...]
    cadence: str
    channels: tuple[str, ...]
    timezone: str | None
    action: ConfirmAction
    topic: str
    follows: tuple[str, ...] = ()  # what else the topic follows, one line each

    @property
    def already(self) -> bool:
        """True when the link had been used before: nothing was applied this time."""
        return self.action == "already"


# --- Requests -------------------------------------------------------------------------


def request_fields(spec: SubscriptionSpec) -> dict[str, Any]:
    """The spec as the JSON stored in `PendingSubscription.request` (`make_spec`'s arguments)."""
    return {
        "email": spec.email,
        "keywords": list(spec.keywords),
        "exclusions": list(spec.exclusions),
        **{
            name: value if name in TRENDING_FIELDS else list(value)
            for name, value in spec.follows.items()
        },
        "liked": [reference.text for reference in spec.liked],
        "unliked": [reference.text for reference in spec.unliked],
        "level": spec.level,
        "name": spec.name,
        "cadence": spec.cadence,
        "channels": None if spec.channels is None else list(spec.channels),
        "timezone": spec.timezone,
    }


def record_request(
    engine: Engine, spec: SubscriptionSpec, *, now: datetime, secret: str, per_day: int
) -> PendingRequest | None:
    """Store a pending request for `spec`; None when no email may go out for it.

    None when a request for the address is too recent (see `RESEND_AFTER`): the
    email already on its way confirms the earlier one; or when `per_day`
    confirmation emails already went to the address this UTC day, so the form
    cannot be used to flood someone's inbox. A dropped request stores nothing.
    The checks, the count and the insert share one write transaction (the
    writers' lock), so two submissions at once, to any worker, cannot both pass
    them.
    """
    key = email_key(spec.email)
    address, day = address_hash(secret, key), now.astimezone(UTC).date()
    with write_session(engine) as session:
        recent = session.exec(
            select(PendingSubscription.id).where(
                PendingSubscription.email_key == key,
                col(PendingSubscription.confirmed_at).is_(None),
                PendingSubscription.created_at > now - RESEND_AFTER,
            )
        ).first()
        if recent is not None:
            return None
        count = session.get(ConfirmationCount, (address, day))
        if count is not None and count.sent >= per_day:
            return None
        # Requests nobody confirmed in time can never be confirmed, and counts of
        # earlier days cap nothing: drop them here, without a job of their own.
        session.execute(
            delete(PendingSubscription).where(
                col(PendingSubscription.confirmed_at).is_(None),
                col(PendingSubscription.created_at) < now - CONFIRM_MAX_AGE,
            )
        )
        session.execute(delete(ConfirmationCount).where(col(ConfirmationCount.day) < day))
        if count is None:
            count = ConfirmationCount(address=address, day=day, sent=0)
        count.sent += 1
        session.add(count)
        row = PendingSubscription(
            email=spec.email, email_key=key, request=request_fields(spec), created_at=now
        )
        session.add(row)
        session.flush()
        assert row.id is not None  # flushed above
        return PendingRequest(row.id, spec)


def forget_request(engine: Engine, pending_id: int, *, secret: str) -> None:
    """Delete a pending request whose email could not be sent, so asking again sends one.

    Its email is taken off the address's count for the day: it never went out.
    """
    with write_session(engine) as session:
        row = session.get(PendingSubscription, pending_id)
        if row is None or row.confirmed_at is not None:
            return
        key = (address_hash(secret, row.email_key), row.created_at.astimezone(UTC).date())
        count = session.get(ConfirmationCount, key)
        if count is not None and count.sent > 0:
            count.sent -= 1
            session.add(count)
        session.delete(row)


def address_hash(secret: str, key: str) -> str:
    """The keyed hash an address's confirmations are counted under (see `ConfirmationCount`).

    Keyed with the site's secret: a plain hash of an address is undone by
    hashing guesses.
    """
    digest = hmac.new(secret.encode(), b"confirmations:" + key.encode(), hashlib.sha256)
    return digest.hexdigest()


# --- The email ------------------------------------------------------------------------


def confirm_link(base_url: str, secret: str, pending: PendingRequest) -> str:
    """The link that confirms `pending`: `<base>/confirm/<signed token>`."""
    return signed_link(base_url, secret, "confirm", pending.subject)


def confirmation_message(
    pending: PendingRequest, *, link: str, sender: str, site_timezone: str, now: datetime
) -> EmailMessage:
    """The confirmation email for `pending`: plain text and HTML, from `sender`.

    It names what would be confirmed, keywords and exclusions included, so the
    address's owner knows what the button does before opening the link; the
    HTML part escapes them. Its text is the same whatever the address's state
    (new, subscribed, left), like the page the form answers with. Raises
    ValueError for a sender holding a line break.
    """
    spec = pending.spec
    context = {
        "email": spec.email,
        "link": link,
        "keywords": spec.keywords,
        "exclusions": spec.exclusions,
        "follows": describe_follows(spec.follows),
        "liked": pending.liked_titles,
        "unliked": pending.unliked_titles,
        "cadence": spec.cadence or "daily",
        "channels": channels_label(spec.channels or ("email",)),
        "timezone": spec.timezone or f"{site_timezone} (the site's)",
        "days": CONFIRM_MAX_AGE.days,
    }
    message = EmailMessage(policy=POLICY)
    message["From"] = sender
    message["To"] = spec.email
    message["Date"] = format_datetime(now)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    message["Subject"] = SUBJECT
    templates = environment()
    message.set_content(templates.get_template("web/confirm_email.txt").render(context))
    message.add_alternative(
        templates.get_template("web/confirm_email.html").render(context), subtype="html"
    )
    return message


# --- Confirming -----------------------------------------------------------------------


def read_confirm_token(secret: str, token: str) -> LinkSubject:
    """Whom a confirmation token is for; raise `InvalidLinkError` or `ExpiredLinkError`.

    The signature is checked first without an age, so an expired link is told
    apart from a forged one without reading error messages.
    """
    try:
        read_token(secret, "confirm", token)
    except InputError:
        raise InvalidLinkError("this link is not valid") from None
    try:
        return read_token(secret, "confirm", token, max_age=int(CONFIRM_MAX_AGE.total_seconds()))
    except InputError:
        raise ExpiredLinkError("this link has expired") from None


def _pending(session: Session, subject: LinkSubject, now: datetime) -> PendingSubscription:
    """The request `subject` names, still confirmable or confirmed; raise the link's error."""
    pending = session.get(PendingSubscription, subject.subscriber_id)
    # The email key must match too: a token is for one request *and* one address.
    if pending is None or not subject.is_for(pending.email_key):
        raise InvalidLinkError("this link is not valid")
    # The token's own age is measured by the real clock (itsdangerous); the row's
    # by the app's, so both a stale token and a stale request are refused.
    if pending.confirmed_at is None and pending.created_at + CONFIRM_MAX_AGE <= now:
        raise ExpiredLinkError("this link has expired")
    return pending


def _stored_spec(pending: PendingSubscription) -> SubscriptionSpec:
    """The request as a spec, through `make_spec` again: stored JSON obeys today's rules."""
    request = dict(pending.request)
    try:
        if "format" in request:  # stored before channels replaced formats
            request["channels"] = channels_of_format(request.pop("format"))
        return make_spec(**request)
    except InputError as error:
        raise StaleRequestError(str(error)) from error


def read_request(engine: Engine, subject: LinkSubject, *, now: datetime) -> Unconfirmed | Confirmed:
    """What the request `subject` names asks for and would do; changes nothing.

    A request confirmed before gives what it did, as "already". Raises
    `InvalidLinkError` or `ExpiredLinkError`. This is all a GET of the link
    does: mail providers' link scanners open links, and an opened link must not
    subscribe anyone or change anything.
    """
    with Session(engine) as session:
        pending = _pending(session, subject, now)
        spec = _stored_spec(pending)
        if pending.confirmed_at is not None:
            return _confirmed(session, pending, spec, "already", spec.name)
        current = find_subscriber(session, pending.email)
        liked, unliked = example_titles(session, spec)
        return Unconfirmed(spec, current, plan_opt_in(current, spec), liked, unliked)


def confirm_request(engine: Engine, subject: LinkSubject, *, now: datetime) -> Confirmed:
    """Apply the pending request `subject` names, once; raise `InvalidLinkError` or `ExpiredLinkError`.

    The subscriber is created, made active again, or given one more topic
    (`opt_in`: an active subscriber's topics and settings are never replaced),
    and the request marked confirmed, in one transaction. A request confirmed
    before is not applied again: what it asked for is returned as "already".
    """
    with write_session(engine) as session:
        pending = _pending(session, subject, now)
        spec = _stored_spec(pending)
        if pending.confirmed_at is not None:
            return _confirmed(session, pending, spec, "already", spec.name)
        try:
            done = opt_in(session, spec, now=now)
        except InputError as error:  # an example paper no longer named clearly: nothing applied
            raise StaleRequestError(str(error)) from error
        pending.confirmed_at = now
        session.add(pending)
        session.flush()
        return _confirmed(session, pending, spec, done.action, done.topic)


def example_titles(
    session: Session, spec: SubscriptionSpec
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The titles of a request's liked and unliked papers (a paper not found: as it was named)."""

    def titles(references: tuple[PaperReference, ...]) -> tuple[str, ...]:
        found = []
        for reference in references:
            try:
                found.append(find_paper(session, reference).title)
            except InputError:
                found.append(reference.text)
        return tuple(found)

    return titles(spec.liked), titles(spec.unliked)


def _confirmed(
    session: Session,
    pending: PendingSubscription,
    spec: SubscriptionSpec,
    action: ConfirmAction,
    topic: str,
) -> Confirmed:
    """The confirmed request with its subscriber's settings as they now are."""
    subscriber = session.exec(
        select(Subscriber).where(Subscriber.email_key == pending.email_key)
    ).first()
    if subscriber is None:  # confirmed once, and the subscriber deleted since
        raise InvalidLinkError("this link is not valid")
    assert subscriber.id is not None  # rows read back always have their key
    return Confirmed(
        subscriber_id=subscriber.id,
        email=subscriber.email,
        email_key=subscriber.email_key,
        keywords=spec.keywords,
        exclusions=spec.exclusions,
        follows=tuple(describe_follows(spec.follows)),
        cadence=subscriber.cadence,
        channels=tuple(subscriber.channels),
        timezone=subscriber.timezone,
        action=action,
        topic=topic,
    )
