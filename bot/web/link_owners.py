"""Whom a signed link in a digest is for, and the pages' common answers to one.

The manage, unsubscribe and feedback pages are reached by links carrying a signed
token (`bot.tokens`); each honours one only when its signature holds for its purpose
and the subscriber it names still exists with the same address.
"""

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from bot.errors import InputError
from bot.models import Subscriber
from bot.tokens import LinkSubject, Purpose, read_token, signed_link
from bot.web.context import WebContext
from bot.web.pages import error_page

PRIVATE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
"""Headers of pages holding a signed link: not handed to the sites they link to (arXiv),
not kept by shared caches."""


def link_subject(context: WebContext, purpose: Purpose, token: str) -> LinkSubject | None:
    """Whom a link is for, or None when it was tampered with or made for another purpose."""
    try:
        return read_token(context.secret, purpose, token)  # no max_age: old digests' links work
    except InputError:
        return None


def link_owner(session: Session, subject: LinkSubject) -> Subscriber | None:
    """The subscriber a token names, only if it still has the address the token was made for."""
    row = session.get(Subscriber, subject.subscriber_id)
    return row if row is not None and subject.is_for(row.email_key) else None


def bad_link_page(request: Request) -> Response:
    """The page for a link whose token does not hold (cut short, altered, or its owner gone)."""
    return error_page(
        request,
        "This link is not valid",
        "It may have been cut short when it was copied. Use the link in your latest digest.",
    )


def page_link(context: WebContext, purpose: Purpose, subject: LinkSubject) -> str:
    """The signed link for `purpose`, on the same base URL digests use."""
    return signed_link(context.base_url(), context.secret, purpose, subject)
