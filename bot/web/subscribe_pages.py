"""Subscribing on the web: the form, the confirmation email, the confirm link.

GET /subscribe shows the form. POST /subscribe checks it (CSRF, then the
client's rate limit, then `make_spec`), stores a pending request and mails a
signed link to the address. GET /confirm/{token} shows what the request asks
for and what confirming it would do, with one button; changes nothing (link
scanners open links). POST /confirm/{token} (the button) applies it
(`bot.web.confirmation`): an active subscriber's topics, cadence, channels and
time zone are never replaced, the keywords are added as one more topic.

What a visitor can learn: after a valid form the page is the same, byte for
byte, whether the address is new, already waiting for a confirmation (then no
second email goes out within `RESEND_AFTER`), already subscribed, or at its cap
of confirmation emails for the day (`web.confirmations_per_day`: then none goes
out either), so the form cannot tell anyone who is subscribed. Only a failure to
hand the email to the transport (the mail server is down) shows something else:
a 503 asking to try again later, which says something about the server, nothing
about the address.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.channels.email import send_email
from bot.delivery.transports import Outgoing
from bot.errors import InputError
from bot.subscriptions.examples import ExamplePaper, find_papers
from bot.subscriptions.spec import (
    SubscriptionSpec,
    describe_follows,
    make_spec,
    split_keywords,
)
from bot.subscriptions.store import reference_of
from bot.tokens import TokenSubject, signed_link
from bot.web.confirmation import (
    CONFIRM_MAX_AGE,
    RESEND_AFTER,
    Confirmed,
    ExpiredLinkError,
    InvalidLinkError,
    PendingRequest,
    StaleRequestError,
    Unconfirmed,
    channels_label,
    confirm_link,
    confirm_request,
    confirmation_message,
    forget_request,
    read_confirm_token,
    read_request,
    record_request,
)
from bot.web.context import WebContext, web_context
from bot.web.follow_form import FollowFields
from bot.web.pages import error_page, page
from bot.web.preview import window_days
from bot.web.recent import recent_index
from bot.web.security import (
    CSRF_FIELD,
    BodyLimit,
    client_key,
    csrf_ok,
    csrf_token,
    set_csrf_cookie,
)

log = logging.getLogger("paperbot.web")

WEB_CADENCES = ("daily", "weekly")
"""The cadences the form offers: asking for a paused subscription makes no sense."""

MAX_FORM_BYTES = 64 * 1024
"""The largest form body read: 100 keywords of 200 characters fit, with room to spare."""

MAX_WEB_EXAMPLES = 20
"""The most papers each of the form's "more / fewer like" boxes takes (the manage page adds more)."""

# Known-good values for checking one field alone through make_spec.
_NEUTRAL: dict[str, Any] = {"email": "someone@example.org", "keywords": ["papers"]}
# The fields that select papers: a topic needs one of them.
_SELECTING = ("keywords", "authors", "organisations", "categories", "min_upvotes", "top")
# Where digests may go, as the form offers it: the built-in channels (a reader adds
# chat channels of their own later, from the manage page's list).
_CHANNEL_CHOICES = {
    "email": "Email",
    "markdown": "Markdown file on this server",
    "markdown email": "Both",
}

CONFIRM_FIELD = "confirm"
CONFIRM_VALUE = "yes"
"""What the confirm page's button posts: a POST without it (a stray request) confirms nothing."""

MAX_CONFIRM_BYTES = 4096
"""The largest confirm body read: it is 11 bytes."""

# Pages holding a signed link must not hand it on, nor be kept by shared caches.
_PRIVATE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class SubscribeForm:
    """The subscribe form's values as typed: shown back as they are when one is refused."""

    email: str = ""
    keywords: str = ""
    exclusions: str = ""
    cadence: str = "daily"
    channels: str = "email"
    timezone: str = ""
    liked: str = ""
    unliked: str = ""
    follow: FollowFields = field(default_factory=FollowFields)

    @classmethod
    def from_form(cls, data: FormData) -> "SubscribeForm":
        """The values of a submitted form; a missing field is empty."""
        texts = {name: _field(data, name) for name in cls.__dataclass_fields__ if name != "follow"}
        return cls(**texts, follow=FollowFields.from_fields(data))

    def spec_arguments(self) -> tuple[dict[str, Any], list[str]]:
        """The arguments of `make_spec` for these values (an empty choice: keep the default).

        And what could not be read at all (a number that is not one).
        """
        follows, problems = self.follow.arguments()
        liked, unliked = split_papers(self.liked), split_papers(self.unliked)
        for label, papers in (("more papers like", liked), ("fewer papers like", unliked)):
            if len(papers) > MAX_WEB_EXAMPLES:
                problems.append(f"{label}: {len(papers)} papers (at most {MAX_WEB_EXAMPLES} here)")
        return {
            "email": self.email,
            "keywords": split_keywords(self.keywords),
            "exclusions": split_keywords(self.exclusions),
            "cadence": self.cadence.strip() or None,
            "channels": self.channels.split() or None,
            "timezone": self.timezone.strip() or None,
            "liked": liked[: MAX_WEB_EXAMPLES + 1],
            "unliked": unliked[: MAX_WEB_EXAMPLES + 1],
            **follows,
        }, problems


def split_papers(text: str) -> tuple[str, ...]:
    """The papers of a box: one per line (titles may hold commas), blanks dropped."""
    return tuple(line.strip() for line in text.splitlines() if line.strip())


def validate(form: SubscribeForm) -> SubscriptionSpec | list[str]:
    """The spec `form` asks for, or one message per field that is wrong."""
    arguments, problems = form.spec_arguments()
    cadence = arguments["cadence"]
    if cadence is not None and cadence.lower() not in WEB_CADENCES:
        problems.append(f"cadence {cadence!r} is not one of {', '.join(WEB_CADENCES)}")
        arguments["cadence"] = None  # reported once, here, not again by make_spec
    try:
        spec = make_spec(**arguments)
    except InputError as first:
        problems += _field_problems(arguments) or [str(first)]
    return [_sentence(problem) for problem in problems] if problems else spec


def _field_problems(arguments: dict[str, Any]) -> list[str]:
    # make_spec stops at the first bad value. To show every problem at once, each
    # field goes through make_spec alone, the others set to known-good values: the
    # rules stay in make_spec, the one place they live. Keywords may be left empty
    # when something else selects papers: that is judged with everything that may.
    problems = []
    for name, value in arguments.items():
        if name == "keywords" and not value:
            continue
        try:
            make_spec(**{**_NEUTRAL, name: value})
        except InputError as exc:
            problems.append(str(exc))
    selecting = {name: arguments[name] for name in _SELECTING}
    if not any(selecting.values()):
        try:
            make_spec(
                _NEUTRAL["email"], [], **{k: v for k, v in selecting.items() if k != "keywords"}
            )
        except InputError as exc:
            problems.append(str(exc))
    return problems


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:]


def _field(data: FormData, name: str) -> str:
    value = data.get(name)
    return value if isinstance(value, str) else ""


# --- The form ---------------------------------------------------------------------------


async def subscribe_form(request: Request) -> Response:
    """GET /subscribe: the empty form."""
    return _form_page(request, SubscribeForm(), [])


async def subscribe_submit(request: Request) -> Response:
    """POST /subscribe: check the form, store the request, mail the confirmation link."""
    context = web_context(request)
    async with request.form(max_files=0, max_fields=20) as data:
        form = SubscribeForm.from_form(data)
        csrf = _field(data, CSRF_FIELD)
    if not csrf_ok(request, csrf):
        return error_page(
            request,
            "This form has expired",
            "Open the subscribe page again, fill in the form and send it from there.",
        )
    if not context.subscribe_limit.allow(client_key(request)):
        response = error_page(
            request,
            "Too many requests",
            "Too many subscription requests came from your network. "
            "Wait ten minutes, then try again.",
            status=429,
        )
        response.headers["Retry-After"] = str(int(context.subscribe_limit.window))
        return response
    checked = validate(form)
    if isinstance(checked, list):
        return _form_page(request, form, checked, status=400)
    found = await run_in_threadpool(_stored_examples, context.engine, checked)
    if isinstance(found, str):  # a paper not stored, or not named clearly: nothing stored or sent
        return _form_page(request, form, [found], status=400)
    spec, liked, unliked = found
    return await _request_confirmation(request, spec, liked, unliked)


def _stored_examples(
    engine: Engine, spec: SubscriptionSpec
) -> tuple[SubscriptionSpec, list[ExamplePaper], list[ExamplePaper]] | str:
    """The spec naming its example papers as stored (arXiv id, else exact title), and the papers.

    Or the one message saying which paper is not stored, or not named clearly.
    """
    try:
        with Session(engine) as session:
            liked = find_papers(session, spec.liked)
            unliked = find_papers(session, spec.unliked)
    except InputError as exc:
        return _sentence(str(exc))
    both = {paper.id for paper in liked} & {paper.id for paper in unliked}
    if both:
        title = next(paper.title for paper in liked if paper.id in both)
        return _sentence(f"paper {title!r} is given as both liked and unliked")
    named = replace(
        spec,
        liked=tuple(reference_of(paper) for paper in liked),
        unliked=tuple(reference_of(paper) for paper in unliked),
    )
    return named, liked, unliked


def _form_page(
    request: Request, form: SubscribeForm, problems: list[str], *, status: int = 200
) -> Response:
    token = csrf_token(request)
    settings = web_context(request).settings
    response = page(
        request,
        "subscribe.html",
        {
            "form": form,
            "problems": problems,
            "csrf_field": CSRF_FIELD,
            "csrf": token,
            "cadences": WEB_CADENCES,
            "channel_choices": list(_CHANNEL_CHOICES.items()),
            "site_timezone": settings.schedule.timezone,
            "max_examples": MAX_WEB_EXAMPLES,
        },
        status=status,
    )
    set_csrf_cookie(response, token, secure=request.url.scheme == "https")
    return response


async def _request_confirmation(
    request: Request,
    spec: SubscriptionSpec,
    liked: Sequence[ExamplePaper] = (),
    unliked: Sequence[ExamplePaper] = (),
) -> Response:
    """Store the request and mail its link, unless one went out too recently; the same page.

    The email names the example papers `liked` and `unliked` by title.
    """
    context = web_context(request)
    now = context.clock()
    pending = await run_in_threadpool(
        record_request,
        context.engine,
        spec,
        now=now,
        secret=context.secret,
        per_day=context.settings.web.confirmations_per_day,
    )
    if pending is not None:
        titles = tuple(p.title for p in liked), tuple(p.title for p in unliked)
        pending = replace(pending, liked_titles=titles[0], unliked_titles=titles[1])
    if pending is not None and not await _send_confirmation(request, pending):
        # Forgotten, so that trying again sends an email instead of being taken for a resend.
        await run_in_threadpool(forget_request, context.engine, pending.id, secret=context.secret)
        return error_page(
            request,
            "The confirmation email could not be sent",
            "We could not send the confirmation email just now. Try again later.",
            status=503,
        )
    # The hints depend on the keywords alone: the page still tells nothing about the address.
    hints = await run_in_threadpool(_keyword_hints, context, spec.keywords)
    return page(
        request,
        "subscribe_sent.html",
        {
            "email": spec.email,
            "days": CONFIRM_MAX_AGE.days,
            "resend_minutes": int(RESEND_AFTER.total_seconds() // 60),
            **hints,
        },
    )


def _keyword_hints(context: WebContext, keywords: Sequence[str]) -> dict[str, Any]:
    """What `web/_hints.html` shows: which of `keywords` match no recent paper, and why."""
    return {
        "hints": recent_index(context).hints(keywords),
        "window_days": window_days(context.settings.delivery.backlog_days),
    }


async def _send_confirmation(request: Request, pending: PendingRequest) -> bool:
    """Mail `pending`'s confirmation link; False (logged) when the transport refused it."""
    context = web_context(request)
    settings = context.settings
    link = confirm_link(context.base_url(), context.secret, pending)
    try:
        message = confirmation_message(
            pending,
            link=link,
            sender=settings.delivery.sender,
            site_timezone=settings.schedule.timezone,
            now=context.clock(),
        )
    except ValueError as exc:  # a sender the email policy refuses: a settings problem
        log.error("confirmation email not built", extra={"pending": pending.id, "error": str(exc)})
        return False
    result = await send_email(
        settings, Outgoing(f"confirm-{pending.id}", pending.spec.email, message)
    )
    if not result.accepted:
        # The reply is the server's or the error's text, with the SMTP password masked;
        # neither the address nor the link is logged.
        log.warning(
            "confirmation email not sent", extra={"pending": pending.id, "reply": result.reply}
        )
    return result.accepted


# --- The link ---------------------------------------------------------------------------


async def confirm(request: Request) -> Response:
    """GET /confirm/{token}: what confirming does, and a button. POST (the button): confirm.

    A GET changes nothing: mail providers' scanners open every link, and a link
    opened by a machine is no opt-in. The POST needs no CSRF cookie: the signed,
    single-purpose token in its URL, only ever mailed to the address it
    confirms, is the authorisation (as for one-click unsubscribe), and another
    site cannot post to a URL it does not know. The person pressing the button
    may have opened the link in a browser that never saw this site before.
    """
    context = web_context(request)
    try:
        subject = read_confirm_token(context.secret, request.path_params["token"])
        if request.method != "POST":
            unconfirmed = await run_in_threadpool(
                read_request, context.engine, subject, now=context.clock()
            )
            hints: dict[str, Any] = {}
            if isinstance(unconfirmed, Unconfirmed):
                keywords = unconfirmed.spec.keywords
                hints = await run_in_threadpool(_keyword_hints, context, keywords)
            return _private(_confirm_page(request, unconfirmed, hints))
        async with request.form(max_files=0, max_fields=20) as form:
            pressed = form.get(CONFIRM_FIELD) == CONFIRM_VALUE
        if not pressed:
            return error_page(
                request,
                "Nothing was changed",
                "To confirm, open the link from the confirmation email and press the button.",
            )
        confirmed = await run_in_threadpool(
            confirm_request, context.engine, subject, now=context.clock()
        )
    except ExpiredLinkError:
        return error_page(
            request,
            "This link has expired",
            f"Confirmation links work for {CONFIRM_MAX_AGE.days} days: subscribe again"
            " to get a new one.",
        )
    except StaleRequestError as error:
        return error_page(
            request,
            "This request cannot be confirmed",
            f"What it asks for is refused today: {error}. Nothing was changed: subscribe"
            " again with the form.",
        )
    except InvalidLinkError:
        return error_page(
            request,
            "This link is not valid",
            "Copy the whole link from the confirmation email, or subscribe again.",
        )
    # The page holds the manage link: keep it out of caches and of any Referer header.
    return _private(page(request, "confirmed.html", _confirmed_view(request, confirmed)))


def _private(response: Response) -> Response:
    response.headers.update(_PRIVATE_HEADERS)
    return response


def _confirm_page(
    request: Request, unconfirmed: Unconfirmed | Confirmed, hints: dict[str, Any]
) -> Response:
    """The page a confirmation link opens: what confirming would do, and its button.

    `hints`: the keywords that match no recent paper (see `_keyword_hints`).
    """
    if isinstance(unconfirmed, Confirmed):
        # Used before: the same page as after pressing the button again.
        return page(request, "confirmed.html", _confirmed_view(request, unconfirmed))
    spec = unconfirmed.spec
    current = unconfirmed.current
    active = current is not None and current.status == "active"
    if active:
        assert current is not None  # for the type checker
        settings = (current.cadence, current.channels, current.timezone)
    else:  # a new or returning subscriber gets what the request says, defaults for the rest
        settings = (spec.cadence or "daily", spec.channels or ("email",), spec.timezone)
    cadence, channels, timezone = settings
    return page(
        request,
        "confirm.html",
        {
            "email": spec.email,
            "keywords": spec.keywords,
            "exclusions": spec.exclusions,
            "follows": describe_follows(spec.follows),
            "liked": unconfirmed.liked_titles,
            "unliked": unconfirmed.unliked_titles,
            "plan": unconfirmed.plan,
            "topics": len(current.topics) if active and current is not None else 0,
            "when": _when(request, cadence),
            "channels": channels_label(channels),
            "timezone": _zone(request, timezone),
            "field": CONFIRM_FIELD,
            "value": CONFIRM_VALUE,
            **hints,
        },
    )


def _when(request: Request, cadence: str) -> str:
    schedule = web_context(request).settings.schedule
    at = schedule.send_at.strftime("%H:%M")
    return {
        "daily": f"Daily, at {at}",
        "weekly": f"Weekly, on {schedule.weekly_on.capitalize()}s at {at}",
    }.get(cadence, "Paused: no digests until you resume them")


def _zone(request: Request, timezone: str | None) -> str:
    return timezone or f"{web_context(request).settings.schedule.timezone} (the site's)"


def _confirmed_view(request: Request, confirmed: Confirmed) -> dict[str, Any]:
    context = web_context(request)
    subject = TokenSubject(confirmed.subscriber_id, confirmed.email_key)
    return {
        "confirmed": confirmed,
        "when": _when(request, confirmed.cadence),
        "timezone": _zone(request, confirmed.timezone),
        "channels": channels_label(confirmed.channels),
        "manage_url": signed_link(context.base_url(), context.secret, "manage", subject),
    }


routes: list[BaseRoute] = [
    Route("/subscribe", subscribe_form, methods=["GET"]),
    Route(
        "/subscribe",
        subscribe_submit,
        methods=["POST"],
        middleware=[Middleware(BodyLimit, limit=MAX_FORM_BYTES)],
    ),
    Route(
        "/confirm/{token}",
        confirm,
        methods=["GET", "POST"],
        middleware=[Middleware(BodyLimit, limit=MAX_CONFIRM_BYTES)],
    ),
]
