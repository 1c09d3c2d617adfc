"""The "more like this" and "fewer like this" pages behind the links under each paper of a digest.

Each entry of an emailed or Markdown digest carries `<base>/feedback/more/<token>` and
`<base>/feedback/fewer/<token>`, whose token names the subscriber, the topic the paper
was sent under and the paper, and expires (`bot.tokens`).

    GET  /feedback/<more|fewer>/<token>  the paper and the topic, one button; changes nothing
                                         (link scanners open links)
    POST /feedback/<more|fewer>/<token>  the button: the paper becomes a liked ("more") or
                                         unliked ("fewer") example of the topic

The button's form is protected by the CSRF cookie and field of `bot.web.security`.
Database work runs in a worker thread, never on the event loop.
"""

from dataclasses import dataclass

from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.db import write_session
from bot.digest.render import one_line, readable_latex
from bot.errors import InputError
from bot.models import Paper, Subscription, TopicExample
from bot.subscriptions.examples import mark_example
from bot.tokens import FEEDBACK_MAX_AGE, ExpiredTokenError, FeedbackSubject, read_feedback_token
from bot.web.context import WebContext, web_context
from bot.web.link_owners import PRIVATE_HEADERS, bad_link_page, link_owner, page_link
from bot.web.pages import error_page, page
from bot.web.security import CSRF_FIELD, BodyLimit, csrf_ok, csrf_token, set_csrf_cookie

FEEDBACK_LIKED = {"more": True, "fewer": False}
"""The directions of the feedback links, and whether each marks a paper liked."""

MAX_FEEDBACK_BYTES = 4096
"""The largest feedback form read: it holds the CSRF value alone."""

# Browsers and link scanners send these; anything else on a feedback link is refused
# with a page of its own (a plain "Method Not Allowed" would say nothing to a reader).
_FEEDBACK_METHODS = ("GET", "HEAD", "POST")


@dataclass(frozen=True)
class _Refusal:
    """Why a feedback link cannot be used: a page's title, its message and status."""

    title: str
    message: str
    status: int


_NO_TOPIC = _Refusal(
    "This topic no longer exists",
    "Nothing was changed: the topic this paper was sent under was removed.",
    404,
)
_NO_PAPER = _Refusal(
    "This paper is no longer stored", "Nothing was changed: the paper was removed.", 404
)
_EXPIRED = _Refusal(
    "This link has expired",
    f"Nothing was changed. Feedback links work for {FEEDBACK_MAX_AGE.days} days:"
    " use one from a recent digest.",
    400,
)


@dataclass(frozen=True)
class _FeedbackTarget:
    """What a feedback link is about, as its pages name it, and the paper's mark now."""

    topic: str
    paper: str
    liked: bool | None  # None: not an example of the topic yet


async def feedback_page(request: Request) -> Response:
    """GET: the paper, the topic and one button. POST (the button): mark the paper, say so."""
    context = web_context(request)
    liked = FEEDBACK_LIKED.get(request.path_params["direction"])
    if liked is None:
        return error_page(
            request, "There is no such page", "Use the link in your digest.", status=404
        )
    if request.method not in _FEEDBACK_METHODS:
        response = error_page(
            request,
            "Nothing was changed",
            "Open the link from your digest and press the button.",
            status=405,
        )
        response.headers["Allow"] = ", ".join(_FEEDBACK_METHODS)
        return response
    found = _feedback_subject(context, request.path_params["token"])
    if found is None:
        return bad_link_page(request)
    if isinstance(found, _Refusal):
        return error_page(request, found.title, found.message, status=found.status)
    if request.method != "POST":
        return await run_in_threadpool(_show_feedback, request, found, liked)
    async with request.form(max_files=0, max_fields=20) as form:
        submitted = form.get(CSRF_FIELD)
    csrf = submitted if isinstance(submitted, str) else None
    return await run_in_threadpool(_give_feedback, request, found, liked, csrf)


def _feedback_subject(context: WebContext, token: str) -> FeedbackSubject | _Refusal | None:
    """What a feedback link is for; `_EXPIRED` when too old; None when not valid."""
    try:
        return read_feedback_token(context.secret, token, today=context.clock().date())
    except ExpiredTokenError:
        return _EXPIRED
    except InputError:
        return None


def _feedback_target(session: Session, found: FeedbackSubject) -> _FeedbackTarget | _Refusal | None:
    """The topic and paper a valid link names, if both are still there; None: not the owner's."""
    owner = link_owner(session, found.link)
    if owner is None:
        return None
    topic = session.get(Subscription, found.topic_id)
    if topic is None or topic.subscriber_id != owner.id:
        return _NO_TOPIC
    title = session.scalar(select(Paper.title).where(col(Paper.id) == found.paper_id))
    if title is None:
        return _NO_PAPER
    mark = session.get(TopicExample, (found.topic_id, found.paper_id))
    return _FeedbackTarget(
        topic.name, one_line(readable_latex(title)), None if mark is None else mark.liked
    )


def _show_feedback(request: Request, found: FeedbackSubject, liked: bool) -> Response:
    context = web_context(request)
    with Session(context.engine) as session:
        target = _feedback_target(session, found)
    if target is None:
        return bad_link_page(request)
    if isinstance(target, _Refusal):
        return error_page(request, target.title, target.message, status=target.status)
    csrf = csrf_token(request)
    response = page(
        request,
        "feedback.html",
        {
            "more": liked,
            "topic": target.topic,
            "paper": target.paper,
            "marked": target.liked,
            "csrf": csrf,
            "csrf_field": CSRF_FIELD,
            "manage_url": page_link(context, "manage", found.link),
        },
    )
    response.headers.update(PRIVATE_HEADERS)
    set_csrf_cookie(response, csrf, secure=context.base_url().startswith("https://"))
    return response


def _give_feedback(
    request: Request, found: FeedbackSubject, liked: bool, csrf: str | None
) -> Response:
    context = web_context(request)
    if not csrf_ok(request, csrf):
        return error_page(
            request,
            "This form has expired",
            "Nothing was changed. Open the link from your digest again and press the button.",
        )
    try:
        with write_session(context.engine) as session:
            target = _feedback_target(session, found)
            if isinstance(target, _FeedbackTarget):
                mark_example(
                    session, found.topic_id, found.paper_id, liked=liked, source="feedback",
                    now=context.clock(),
                )  # fmt: skip
    except InputError as exc:  # the topic holds as many examples as it may
        message = str(exc)
        return error_page(request, "Nothing was changed", f"{message[:1].upper()}{message[1:]}.")
    if target is None:
        return bad_link_page(request)
    if isinstance(target, _Refusal):
        return error_page(request, target.title, target.message, status=target.status)
    other = "fewer" if liked else "more"
    response = page(
        request,
        "feedback_done.html",
        {
            "more": liked,
            "topic": target.topic,
            "paper": target.paper,
            "other_url": f"../{other}/{request.path_params['token']}",
            "manage_url": page_link(context, "manage", found.link),
        },
    )
    response.headers.update(PRIVATE_HEADERS)
    return response


routes: list[BaseRoute] = [
    Route(
        "/feedback/{direction}/{token}",
        feedback_page,
        # Every method reaches the page, which refuses the others with a page saying so.
        methods=[*_FEEDBACK_METHODS, "PUT", "PATCH", "DELETE", "OPTIONS"],
        name="feedback",
        middleware=[Middleware(BodyLimit, limit=MAX_FEEDBACK_BYTES)],
    ),
]
