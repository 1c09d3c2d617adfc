"""Atom feeds: each subscriber's topics (private, by signed addresses) and the public archive.

    GET /feed/<feed token>.atom     one topic's matches among the recent papers (the token
                                    names it), or every topic's: newest first, at most
                                    `FEED_LIMIT`, each entry as the digests show the paper
                                    and why it matched
    GET /feeds/<manage token>.opml  every feed of the subscriber, for a feed reader to import
    GET /archive.atom               the archive's latest days, one entry per day

A feed holds what the manage page's preview finds (`bot.web.preview` over the shared
index of `bot.web.recent`), so a feed and the preview never disagree. Feed tokens
never expire; each names the subscriber's `feed_version`, which the manage page's
"New feed addresses" button raises (`new_feed_addresses`), so every address made
before answers 404 from then on. Answers carry an ETag and a Last-Modified, and a
reader asking with a matching If-None-Match or If-Modified-Since gets 304 and no body.
Database work and matching run in a worker thread, never on the event loop.
"""

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from sqlalchemy import select
from sqlmodel import Session, col
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from bot.digest.atom import AtomEntry, AtomFeed, OpmlFeed, render_atom, render_opml, tag_uri
from bot.digest.render import ReasonView, one_line, reason_line
from bot.digest.site import latest_days, papers_of
from bot.errors import InputError
from bot.models import Paper, Subscriber, Subscription
from bot.similar_papers import stored_example_topics
from bot.subscriptions.store import SubscriberView, Topic, find_subscriber
from bot.tokens import FeedSubject, LinkSubject, feed_link, make_feed_token, read_feed_token
from bot.web.context import WebContext, web_context
from bot.web.link_owners import PRIVATE_HEADERS, bad_link_page, link_owner, link_subject
from bot.web.pages import error_page
from bot.web.preview import FormTopic, PreviewEntry, RecentPaper
from bot.web.recent import recent_index

FEED_LIMIT = 50
"""A subscriber's feed holds at most this many entries, the newest matches."""

MAX_FEED_AUTHORS = 10
"""An entry names this many of its paper's authors at most; its content has the author line."""

ARCHIVE_FEED_DAYS = 14
"""The archive's feed holds this many days, the newest."""

ARCHIVE_DAY_PAPERS = 25
"""Papers listed in one day's entry of the archive's feed, most upvoted first."""

ATOM_TYPE = "application/atom+xml; charset=utf-8"
OPML_TYPE = "text/x-opml; charset=utf-8"

FEED_HEADERS = {"Cache-Control": "private", "Referrer-Policy": "no-referrer"}
"""A subscriber's feed: kept by the reader's own cache only, its address never handed on."""

ARCHIVE_HEADERS = {"Cache-Control": "public, max-age=300"}
"""The archive's feed: the same for everyone; a few minutes' caching spares the database."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the `updated` of a feed with nothing in it yet


# --- Feed addresses, for the manage page -----------------------------------------------


@dataclass(frozen=True)
class FeedLink:
    """One feed of a subscriber as the manage page and the OPML list name it."""

    title: str
    url: str


def feed_version(session: Session, subscriber_id: int) -> int:
    """The subscriber's current feed version (0 if it is gone: its feeds answer 404 anyway)."""
    version = session.scalar(
        select(col(Subscriber.feed_version)).where(col(Subscriber.id) == subscriber_id)
    )
    return int(version or 0)


def feed_links(context: WebContext, subject: LinkSubject, view: SubscriberView) -> list[FeedLink]:
    """Every feed of the subscriber, at their current version: all topics first, then each."""
    with Session(context.engine) as session:
        version = feed_version(session, view.id)
    base = context.base_url()

    def link(topic_id: int | None) -> str:
        return feed_link(base, make_feed_token(context.secret, subject, topic_id, version))

    every = [FeedLink(_feed_title(None), link(None))] if len(view.topics) > 1 else []
    return every + [FeedLink(_feed_title(topic.name), link(topic.id)) for topic in view.topics]


def opml_link(context: WebContext, manage_token: str) -> str:
    """The address of the subscriber's OPML list, reached with their manage token."""
    return f"{context.base_url().rstrip('/')}/feeds/{manage_token}.opml"


def new_feed_addresses(session: Session, subject: LinkSubject) -> bool:
    """Retire every feed address of the link's subscriber; False when the owner is gone."""
    owner = link_owner(session, subject)
    if owner is None:
        return False
    owner.feed_version += 1
    return True


def _feed_title(topic: str | None) -> str:
    return "Papers matching your topics" if topic is None else f"Papers matching “{topic}”"


# --- A subscriber's feed ----------------------------------------------------------------


@dataclass(frozen=True)
class _Refusal:
    """Why a feed address no longer works: a page's title and message (always 404)."""

    title: str
    message: str


_REPLACED = _Refusal(
    "This feed address was replaced",
    "New feed addresses were made on the manage page: use one of those.",
)
_NO_TOPIC = _Refusal(
    "This topic no longer exists", "The topic this feed followed was removed or renamed."
)
_ENDED = _Refusal(
    "This feed has ended",
    "The subscription it belonged to was ended. Subscribe again to get a new one.",
)


@dataclass(frozen=True)
class _Owner:
    """The subscriber a valid feed address is for, and the topics its feed follows."""

    subscriber_id: int
    created_at: datetime
    topics: tuple[Topic, ...]
    every_topic: bool
    changed_at: datetime  # when the topics were last saved


async def subscriber_feed(request: Request) -> Response:
    """A feed token's Atom feed; 404 with a page saying why for any address that does not hold."""
    context = web_context(request)
    try:
        found = read_feed_token(context.secret, request.path_params["token"])
    except InputError:
        return _not_found(bad_link_page(request))
    return await run_in_threadpool(_subscriber_feed, request, found)


def _subscriber_feed(request: Request, found: FeedSubject) -> Response:
    context = web_context(request)
    with Session(context.engine) as session:
        owner = _feed_owner(session, found)
    if owner is None:
        return _not_found(bad_link_page(request))
    if isinstance(owner, _Refusal):
        return error_page(request, owner.title, owner.message, status=404)
    feed = _atom_feed(context, owner, request.path_params["token"])
    return conditional(request, render_atom(feed), feed.updated, ATOM_TYPE, FEED_HEADERS)


def _feed_owner(session: Session, found: FeedSubject) -> _Owner | _Refusal | None:
    """Whom a valid feed token is for and what their feed follows; None: no such owner."""
    owner = link_owner(session, found.link)
    if owner is None or owner.id is None:
        return None
    if owner.status != "active":
        return _ENDED
    if owner.feed_version != found.version:
        return _REPLACED
    view = find_subscriber(session, owner.email)
    assert view is not None  # just read
    topics = tuple(t for t in view.topics if found.topic_id in (None, t.id))
    if not topics:
        return _NO_TOPIC
    changed = session.scalars(
        select(col(Subscription.updated_at)).where(col(Subscription.id).in_([t.id for t in topics]))
    ).all()
    return _Owner(
        owner.id, view.created_at, topics, found.topic_id is None, max(changed, default=_EPOCH)
    )


def _atom_feed(context: WebContext, owner: _Owner, token: str) -> AtomFeed:
    """The feed of `owner`'s topics: their newest matches among the recent papers."""
    base = context.base_url()
    matched = _newest_matches(context, owner.topics)
    first_seen = _first_seen(context, [entry.paper_id for entry, _ in matched])
    show_topics = len(owner.topics) > 1
    template = context.renderer.env.get_template("feed_entry.html")
    entries = tuple(
        _atom_entry(base, entry, paper, first_seen[entry.paper_id], template.render, show_topics)
        for entry, paper in matched
        if entry.paper_id in first_seen
    )
    specific = f"feed/{owner.subscriber_id}/{'all' if owner.every_topic else owner.topics[0].id}"
    newest = max((entry.updated for entry in entries), default=_EPOCH)
    return AtomFeed(
        id=tag_uri(base, owner.created_at.date(), specific),
        title=_feed_title(None if owner.every_topic else owner.topics[0].name),
        subtitle="Recent papers that match, newest first, with why each matched.",
        updated=max(newest, owner.changed_at),
        self_link=feed_link(base, token),
        alternate_link=f"{base.rstrip('/')}/archive",
        author="paperbot",
        entries=entries,
    )


def _newest_matches(
    context: WebContext, topics: Sequence[Topic]
) -> list[tuple[PreviewEntry, RecentPaper]]:
    """The topics' matches among the recent papers, as the preview finds them; newest first."""
    index = recent_index(context)
    wanted = [FormTopic(t.name, t.keywords, t.exclusions, t.follows) for t in topics]
    examples = stored_example_topics(context.engine, topics)
    found = index.preview(wanted, limit=len(index.papers), examples=examples).entries
    # The index holds the papers newest first: their place in it is the feed's order.
    place = {paper.id: number for number, paper in enumerate(index.papers)}
    newest = sorted(found, key=lambda entry: place[entry.paper_id])[:FEED_LIMIT]
    return [(entry, index.papers[place[entry.paper_id]]) for entry in newest]


def _first_seen(context: WebContext, paper_ids: list[int]) -> dict[int, datetime]:
    """When each paper was first seen, to the second (the index keeps only the day)."""
    query = select(col(Paper.id), col(Paper.first_seen_at)).where(col(Paper.id).in_(paper_ids))
    with Session(context.engine) as session:
        return {paper_id: seen for paper_id, seen in session.execute(query)}


def _atom_entry(
    base: str,
    entry: PreviewEntry,
    recent: RecentPaper,
    first_seen: datetime,
    render: Callable[..., str],
    show_topics: bool,
) -> AtomEntry:
    reason = ReasonView(
        topic=entry.topic, keyword=entry.keyword, field=entry.field, before=entry.before,
        matched=entry.matched, after=entry.after, similarity=entry.similarity,
        kind=entry.kind, label=entry.label, trending=entry.trending,
    )  # fmt: skip
    paper = entry.paper
    return AtomEntry(
        id=tag_uri(base, first_seen.date(), f"paper/{entry.paper_id}"),
        title=paper.title or "(untitled)",
        link=paper.link or f"{base.rstrip('/')}/archive",
        updated=first_seen,
        authors=tuple(one_line(name) for name in recent.authors[:MAX_FEED_AUTHORS]),
        summary=reason_line(reason, show_topic=show_topics),
        content_html=render(p=paper, r=reason, show_topics=show_topics),
        categories=entry.topics if show_topics else (),
    )


# --- Answers ------------------------------------------------------------------------------


def conditional(
    request: Request,
    body: bytes,
    updated: datetime,
    media_type: str,
    headers: Mapping[str, str],
) -> Response:
    """`body` with an ETag and a Last-Modified, or 304 when the reader has it already.

    If-None-Match is judged first and, when sent, alone (RFC 9110): the ETag is the
    body's hash, so it also tells apart two bodies of the same second.
    """
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    last_modified = updated if updated.tzinfo is not None else updated.replace(tzinfo=UTC)
    validators = {
        **headers,
        "ETag": etag,
        "Last-Modified": format_datetime(last_modified.astimezone(UTC), usegmt=True),
    }
    if _not_modified(request, etag, last_modified):
        return Response(status_code=304, headers=validators)
    return Response(body, media_type=media_type, headers=validators)


def _not_modified(request: Request, etag: str, last_modified: datetime) -> bool:
    asked = request.headers.get("if-none-match")
    if asked is not None:
        # Weak comparison, as for a GET: W/"x" matches "x"; "*" matches any.
        tags = [tag.strip().removeprefix("W/") for tag in asked[:4096].split(",")]
        return "*" in tags or etag in tags
    since = request.headers.get("if-modified-since")
    if since is None:
        return False
    try:
        moment = parsedate_to_datetime(since[:100])
    except (TypeError, ValueError, IndexError):
        return False  # not a date: answer in full
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return last_modified.replace(microsecond=0) <= moment


def _not_found(response: Response) -> Response:
    """A bad link's page as a 404: a feed reader drops an address that answers 404."""
    response.status_code = 404
    return response


# --- The OPML list ------------------------------------------------------------------------


async def subscriber_opml(request: Request) -> Response:
    """Every feed of the manage token's subscriber as an OPML file to import; 404 if none."""
    context = web_context(request)
    token = request.path_params["token"]
    subject = link_subject(context, "manage", token)
    if subject is None:
        return _not_found(bad_link_page(request))
    return await run_in_threadpool(_subscriber_opml, request, subject)


def _subscriber_opml(request: Request, subject: LinkSubject) -> Response:
    context = web_context(request)
    with Session(context.engine) as session:
        owner = link_owner(session, subject)
        view = None if owner is None else find_subscriber(session, owner.email)
    if view is None:
        return _not_found(bad_link_page(request))
    if view.status != "active":
        return error_page(request, _ENDED.title, _ENDED.message, status=404)
    archive = f"{context.base_url().rstrip('/')}/archive"
    feeds = [OpmlFeed(f.title, f.url, archive) for f in feed_links(context, subject, view)]
    body = render_opml("paperbot feeds", feeds)
    headers = {**PRIVATE_HEADERS, "Content-Disposition": 'attachment; filename="paperbot.opml"'}
    return Response(body, media_type=OPML_TYPE, headers=headers)


# --- The archive's feed -----------------------------------------------------------------


async def archive_feed(request: Request) -> Response:
    """The newest days of the archive, one entry per day listing its most upvoted papers."""
    return await run_in_threadpool(_archive_feed, request)


def _archive_feed(request: Request) -> Response:
    context = web_context(request)
    base = context.base_url().rstrip("/")
    template = context.renderer.env.get_template("feed_day.html")
    entries = []
    for day, listed, last_seen in latest_days(context.engine, ARCHIVE_FEED_DAYS):
        url = f"{base}/archive/{day.isoformat()}"
        papers = papers_of(context.engine, day)[:ARCHIVE_DAY_PAPERS]
        views = [context.renderer.paper_view(paper) for paper in papers]
        entries.append(
            AtomEntry(
                id=tag_uri(base, day, f"archive/{day.isoformat()}"),
                title=f"Papers of {day.isoformat()}",
                link=url,
                updated=last_seen,
                summary=f"{listed} paper{'s' if listed != 1 else ''}",
                content_html=template.render(papers=views, listed=listed, url=url),
            )
        )
    feed = AtomFeed(
        id=f"{base}/archive.atom",
        title="paperbot: papers by day",
        subtitle="Every day's papers, one entry per day, the most upvoted listed.",
        updated=max((entry.updated for entry in entries), default=_EPOCH),
        self_link=f"{base}/archive.atom",
        alternate_link=f"{base}/archive",
        author="paperbot",
        entries=tuple(entries),
    )
    return conditional(request, render_atom(feed), feed.updated, ATOM_TYPE, ARCHIVE_HEADERS)


routes: list[BaseRoute] = [
    Route("/feed/{token}.atom", subscriber_feed, methods=["GET"], name="feed"),
    Route("/feeds/{token}.opml", subscriber_opml, methods=["GET"], name="feeds-opml"),
    Route("/archive.atom", archive_feed, methods=["GET"], name="archive-feed"),
]
