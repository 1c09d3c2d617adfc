"""Subscribers and subscriptions in the database.

Subscribing creates or updates; unsubscribing removes topics but keeps the
subscriber's row, so the record of what was already sent survives a later
re-subscription. Callers own the transaction (`bot.db.write_session`).
"""

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, TypeVar, cast

from sqlalchemy import Select, Table
from sqlalchemy import select as select_columns  # SQLModel's `select` takes up to 4 columns
from sqlmodel import Session, col, select

from bot.db import bulk_insert, in_chunks
from bot.errors import InputError
from bot.ingest.identity import title_key
from bot.matching.engine import Rule, SimilarPaper
from bot.matching.facets import FOLLOW_FIELDS, TRENDING_FIELDS
from bot.models import Channel, Subscriber, Subscription
from bot.subscriptions.examples import (
    ExamplePaper,
    examples_of,
    find_papers,
    replace_examples,
)
from bot.subscriptions.paper_reference import PaperReference
from bot.subscriptions.spec import (
    BUILT_IN_CHANNELS,
    MAX_TOPIC_NAME,
    SubscriptionSpec,
    email_key,
    follows_of,
    normalise_email,
)

_T = TypeVar("_T")
_K = TypeVar("_K")

_SUBSCRIBER: Table = Subscriber.__table__  # type: ignore[attr-defined]
_SUBSCRIPTION: Table = Subscription.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class SubscribeOutcome:
    """What `subscribe` did."""

    new_subscriber: bool
    new_topic: bool
    resubscribed: bool


@dataclass(frozen=True)
class Topic:
    """One stored subscription, as plain data."""

    id: int
    name: str
    keywords: tuple[str, ...]
    exclusions: tuple[str, ...]
    authors: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    exclude_authors: tuple[str, ...] = ()
    exclude_organisations: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    min_upvotes: int | None = None
    top: int | None = None
    liked: tuple[ExamplePaper, ...] = ()
    unliked: tuple[ExamplePaper, ...] = ()
    level: int = 0

    @property
    def follows(self) -> dict[str, Any]:
        """What the topic follows beside keywords, by field name (see `FOLLOW_FIELDS`)."""
        return follows_of(self)

    def rule(self, similar: tuple[SimilarPaper, ...] = ()) -> Rule:
        """The matcher's rule for this topic, under the topic's id.

        `similar` are the papers found similar to the topic's liked examples
        (`bot.similar_papers`); without them, the examples select nothing.
        """
        return Rule(
            self.id, self.keywords, self.exclusions, **self.follows,
            liked=tuple(p.id for p in self.liked), unliked=tuple(p.id for p in self.unliked),
            similar=similar,
        )  # fmt: skip


@dataclass(frozen=True)
class SubscriberView:
    """A stored subscriber with its topics, as plain data.

    `timezone` is None for a subscriber who follows the configured one.
    """

    id: int
    email: str
    cadence: str
    channels: tuple[str, ...]
    status: str
    topics: tuple[Topic, ...]
    created_at: datetime
    timezone: str | None = None


def subscribe(
    session: Session, spec: SubscriptionSpec, *, now: datetime, source: str = "subscribe"
) -> SubscribeOutcome:
    """Create or update the subscriber and its topic named `spec.name`.

    The topic's keywords, exclusions and follows are replaced by the spec's; so
    are its level when the spec gives one, and its example papers when the spec
    names any (`source` says where they came from), while a spec naming none
    keeps those the topic has (feedback from digests is not lost to a change of
    keywords). A subscriber who
    had unsubscribed becomes active again, with their history intact. Raises
    `InputError` when an example paper is not in the store.
    """
    return subscribe_many(session, [spec], now=now, source=source)[0]


def subscribe_many(
    session: Session,
    specs: Sequence[SubscriptionSpec],
    *,
    now: datetime,
    source: str = "subscribe",
    label: Callable[[int], str] | None = None,
) -> list[SubscribeOutcome]:
    """`subscribe` each of `specs` in turn, as one batch: a few statements, not a few per spec.

    The outcome is the same as subscribing them one after another (a later spec
    of the same address or topic sees the earlier ones), but the subscribers and
    topics are read once, the changes worked out as plain values, and the new
    rows inserted in bulk (ORM objects cost more to build than to store): an
    import of 10,000 subscribers is one pass. An `InputError` about one spec is
    prefixed with `label(its index)`.
    """
    examples = [_labelled(label, i, _example_papers, session, s) for i, s in enumerate(specs)]
    stored = _subscribers_by_key(session, {email_key(spec.email) for spec in specs})
    # What each address's row will hold: the stored row's values, or a new row's.
    wanted = {key: _subscriber_values(row) for key, row in stored.items()}
    states: list[tuple[str, bool, bool]] = []
    for index, spec in enumerate(specs):
        key = email_key(spec.email)
        # A second spec of one address finds the values the first left.
        values = wanted.get(key)
        states.append((key, values is None, values is not None and values["status"] != "active"))
        if values is None:
            values = wanted[key] = _new_subscriber_values(spec, key, now)
        values.update(
            email=spec.email, status="active", unsubscribed_at=None, updated_at=now,
            cadence=spec.cadence or values["cadence"],
            timezone=spec.timezone or values["timezone"],
        )  # fmt: skip
        if spec.channels is not None:
            owner = stored[key].id if key in stored else None
            values["channels"] = _labelled(
                label, index, _checked_channels, session, owner, spec.email, spec.channels
            )
    ids = _store_rows(session, _SUBSCRIBER, stored, wanted)
    topics = _topics_by_name(session, set(ids.values()))
    topic_values = {name: _topic_values(row) for name, row in topics.items()}
    outcomes: list[SubscribeOutcome] = []
    for spec, (key, new_subscriber, resubscribed) in zip(specs, states, strict=True):
        name = (ids[key], spec.name)
        values = topic_values.get(name)
        outcomes.append(SubscribeOutcome(new_subscriber, values is None, resubscribed))
        if values is None:
            values = topic_values[name] = {
                "subscriber_id": ids[key], "name": spec.name, "created_at": now,
                "similarity_level": 0,
            }  # fmt: skip
        values.update(
            keywords=list(spec.keywords), exclusions=list(spec.exclusions), updated_at=now,
            **{k: v if k in TRENDING_FIELDS else list(v) for k, v in spec.follows.items()},
        )  # fmt: skip
        if spec.level is not None:
            values["similarity_level"] = spec.level
    topic_ids = _store_rows(session, _SUBSCRIPTION, topics, topic_values)
    for spec, (key, _, _), (liked, unliked) in zip(specs, states, examples, strict=True):
        if spec.liked or spec.unliked:
            topic_id = topic_ids[(ids[key], spec.name)]
            replace_examples(session, topic_id, liked, unliked, source=source, now=now)
    return outcomes


def _store_rows(
    session: Session,
    table: Table,
    stored: Mapping[_K, Subscriber] | Mapping[_K, Subscription],
    wanted: Mapping[_K, dict[str, Any]],
) -> dict[_K, int]:
    """Write `wanted` values: onto the `stored` rows, and the others as new rows; every id by key."""
    new: dict[_K, dict[str, Any]] = {}
    for key, values in wanted.items():
        row = stored.get(key)
        if row is None:
            new[key] = values
            continue
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
    session.flush()
    bulk_insert(session, table, list(new.values()))  # sets each row's "id"
    ids = {key: row.id for key, row in stored.items() if row.id is not None}
    ids.update((key, values["id"]) for key, values in new.items())
    return ids


def _subscriber_values(row: Subscriber) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _SUBSCRIBER_SETTINGS}


def _new_subscriber_values(spec: SubscriptionSpec, key: str, now: datetime) -> dict[str, Any]:
    return {
        "email": spec.email, "email_key": key, "cadence": "daily", "status": "active",
        "channels": ["email"], "timezone": None, "unsubscribed_at": None, "feed_version": 0,
        "created_at": now, "updated_at": now,
    }  # fmt: skip


_SUBSCRIBER_SETTINGS = (
    "email", "cadence", "status", "channels", "timezone", "unsubscribed_at", "updated_at",
)  # fmt: skip
"""What `subscribe` may change of a stored subscriber."""


def _topic_values(row: Subscription) -> dict[str, Any]:
    names = ("keywords", "exclusions", "similarity_level", "updated_at", *FOLLOW_FIELDS)
    return {name: getattr(row, name) for name in names}


def _labelled(
    label: Callable[[int], str] | None, index: int, step: Callable[..., _T], *args: Any
) -> _T:
    """`step(*args)`, its `InputError` prefixed with `label(index)` when a label is given."""
    try:
        return step(*args)
    except InputError as exc:
        if label is None:
            raise
        raise InputError(f"{label(index)}: {exc}") from None


def _subscribers_by_key(session: Session, keys: Collection[str]) -> dict[str, Subscriber]:
    found: dict[str, Subscriber] = {}
    for chunk in in_chunks(sorted(keys)):
        query = select(Subscriber).where(col(Subscriber.email_key).in_(chunk))
        found.update((row.email_key, row) for row in session.exec(query))
    return found


def _topics_by_name(session: Session, ids: Collection[int]) -> dict[tuple[int, str], Subscription]:
    found: dict[tuple[int, str], Subscription] = {}
    for chunk in in_chunks(sorted(ids)):
        query = select(Subscription).where(col(Subscription.subscriber_id).in_(chunk))
        found.update(((row.subscriber_id, row.name), row) for row in session.exec(query))
    return found


def _example_papers(
    session: Session, spec: SubscriptionSpec
) -> tuple[list[ExamplePaper], list[ExamplePaper]]:
    """The stored papers a spec names as examples; `InputError` for one that is not stored."""
    if not spec.liked and not spec.unliked:
        return [], []
    liked = find_papers(session, spec.liked)
    unliked = find_papers(session, spec.unliked)
    both = {paper.id for paper in liked} & {paper.id for paper in unliked}
    if both:
        title = next(paper.title for paper in liked if paper.id in both)
        raise InputError(f"paper {title!r} is given as both liked and unliked")
    return liked, unliked


OptInAction = Literal["new", "returned", "added", "kept"]


@dataclass(frozen=True)
class OptIn:
    """What confirming a subscription does (or did) to its address.

    `action`: "new" (a new subscriber), "returned" (one who had unsubscribed is
    active again), "added" (an active subscriber gets the keywords as one more
    topic) or "kept" (an active subscriber already has a topic with exactly these
    keywords and exclusions: nothing changes). `topic` is the topic the keywords
    are under.
    """

    action: OptInAction
    topic: str


def plan_opt_in(current: SubscriberView | None, spec: SubscriptionSpec) -> OptIn:
    """What `opt_in` would do for `spec`, given the subscriber now at its address (pure).

    An active subscriber's topics are never replaced: whoever asked may not be
    the address's owner, and the owner confirming one more topic does not mean
    they want the ones they have rewritten. A topic name already taken gets the
    first free "<name> 2", "<name> 3"...
    """
    if current is None:
        return OptIn("new", spec.name)
    if current.status != "active":
        return OptIn("returned", spec.name)
    wanted = _compared(spec)
    for topic in current.topics:
        if _compared(topic) == wanted:
            return OptIn("kept", topic.name)
    taken = {topic.name for topic in current.topics}
    name, number = spec.name, 2
    while name in taken:
        suffix = f" {number}"
        name = spec.name[: MAX_TOPIC_NAME - len(suffix)] + suffix
        number += 1
    return OptIn("added", name)


def opt_in(session: Session, spec: SubscriptionSpec, *, now: datetime) -> OptIn:
    """Apply a subscription its address's owner confirmed; never undo what they set.

    New or returning (unsubscribed) subscribers get the spec's topic and settings,
    the defaults (daily, email, the site's time zone) for those it leaves out: a
    returning subscriber starts afresh, as the confirmation page said. An active
    subscriber keeps their topics, cadence, format and time zone; the spec's
    keywords are added as a topic of their own (see `plan_opt_in`).
    """
    plan = plan_opt_in(find_subscriber(session, spec.email), spec)
    if plan.action == "kept":
        return plan
    if plan.action == "added":
        liked, unliked = _example_papers(session, spec)
        subscriber = _find(session, spec.email)
        assert subscriber is not None and subscriber.id is not None  # planned from it
        topic = Subscription(
            subscriber_id=subscriber.id, name=plan.topic, keywords=list(spec.keywords),
            exclusions=list(spec.exclusions), created_at=now, updated_at=now,
        )  # fmt: skip
        _store_follows(topic, spec)
        topic.similarity_level = spec.level or 0
        session.add(topic)
        subscriber.updated_at = now
        session.flush()
        assert topic.id is not None  # flushed above
        replace_examples(session, topic.id, liked, unliked, source="web", now=now)
        return plan
    subscribe(session, spec, now=now, source="web")
    subscriber = _find(session, spec.email)
    assert subscriber is not None  # just stored
    subscriber.cadence = spec.cadence or "daily"
    subscriber.channels = _checked_channels(
        session, subscriber.id, subscriber.email, spec.channels or ("email",)
    )
    subscriber.timezone = spec.timezone
    session.flush()
    return plan


def _checked_channels(
    session: Session, subscriber_id: int | None, email: str, names: Iterable[str]
) -> list[str]:
    """`names` (checked by `check_channels`), once each chat channel is known to be the subscriber's.

    `subscriber_id` is None for a subscriber not stored yet, who has none. Raises
    `InputError` naming a channel that is not one of theirs.
    """
    names = list(names)
    chat = [n for n in names if n not in BUILT_IN_CHANNELS]
    if chat:
        owned = set(
            session.exec(
                select(Channel.name).where(
                    col(Channel.name).in_(chat), Channel.subscriber_id == subscriber_id
                )
            )
        )
        for name in chat:
            if name not in owned:
                raise InputError(
                    f"{email} has no channel named {name!r}:"
                    " add it first with `paperbot channel add`"
                )
    return names


def _folded(keywords: Iterable[str]) -> frozenset[str]:
    return frozenset(keyword.casefold() for keyword in keywords)


def _compared(topic: SubscriptionSpec | Topic) -> tuple[object, ...]:
    """What makes two topics the same: each list whatever its order and case, the switches."""
    follows = topic.follows
    return (
        _folded(topic.keywords),
        _folded(topic.exclusions),
        _example_keys(topic.liked),
        _example_keys(topic.unliked),
        topic.level or 0,  # a spec's None is a new topic's 0
        *(
            follows[name] if name in TRENDING_FIELDS else _folded(follows[name])
            for name in FOLLOW_FIELDS
        ),
    )


def _example_keys(papers: Iterable[PaperReference | ExamplePaper]) -> frozenset[str]:
    """Example papers as comparable keys: the arXiv id, else the title's key."""
    return frozenset(paper.arxiv_id or title_key(paper.title or "") for paper in papers)


def _stored_follows(row: Subscription) -> dict[str, Any]:
    return {
        name: getattr(row, name) if name in TRENDING_FIELDS else tuple(getattr(row, name))
        for name in FOLLOW_FIELDS
    }


def _store_follows(row: Subscription, spec: SubscriptionSpec) -> None:
    for name, value in spec.follows.items():
        setattr(row, name, value if name in TRENDING_FIELDS else list(value))


def unsubscribe(session: Session, email: str, *, now: datetime, topic: str | None = None) -> int:
    """Remove one topic, or all of them and the subscription; return how many topics went.

    Raises `InputError` when there is no such subscriber or topic.
    """
    subscriber = _find(session, normalise_email(email))
    if subscriber is None:
        raise InputError(f"no subscriber with the address {email.strip()!r}")
    query = select(Subscription).where(Subscription.subscriber_id == subscriber.id)
    if topic is not None:
        query = query.where(Subscription.name == topic)
    topics = list(session.exec(query))
    if topic is not None and not topics:
        raise InputError(f"{subscriber.email} has no topic named {topic!r}")
    for row in topics:
        session.delete(row)
    session.flush()
    remaining = session.exec(
        select(Subscription.id).where(Subscription.subscriber_id == subscriber.id)
    ).first()
    if remaining is None:
        subscriber.status = "unsubscribed"
        subscriber.unsubscribed_at = now
    subscriber.updated_at = now
    return len(topics)


LIST_PAGE = 1000
"""Subscribers `list_subscribers` reads at a time."""


def list_subscribers(
    session: Session, *, include_unsubscribed: bool = False
) -> list[SubscriberView]:
    """Return subscribers (active ones unless asked) with their topics, by address.

    Lab channels' recipient rows are no subscribers: never listed here.
    """
    pages = subscriber_pages(session, include_unsubscribed=include_unsubscribed)
    return [view for page in pages for view in page]


def subscriber_pages(
    session: Session, *, include_unsubscribed: bool = False, with_topics: bool = True
) -> Iterator[list[SubscriberView]]:
    """Yield the subscribers `list_subscribers` returns, `LIST_PAGE` at a time.

    Read as plain rows (`_rows`), so the session keeps none of them: a delivery
    run reads every subscriber. Without `with_topics` the views' topics are not
    read (left empty): most of the cost of a view, and not needed to see whom a
    schedule makes due.
    """
    statuses = ("active", "unsubscribed") if include_unsubscribed else ("active",)
    after: str | None = None
    while True:
        query = select_columns(_SUBSCRIBER).where(_SUBSCRIBER.c.status.in_(statuses))
        if after is not None:
            query = query.where(_SUBSCRIBER.c.email_key > after)
        query = query.order_by(_SUBSCRIBER.c.email_key).limit(LIST_PAGE)
        page = _rows(session, query, Subscriber)
        yield _views(session, page) if with_topics else [_view(s, ()) for s in page]
        if len(page) < LIST_PAGE:  # the last page: no need to ask for another
            return
        after = page[-1].email_key


def active_subscribers(session: Session, ids: Sequence[int]) -> list[SubscriberView]:
    """The active subscribers among `ids`, in that order, with their topics; the others left out."""
    rows: list[Subscriber] = []
    for chunk in in_chunks(ids):
        query = select_columns(_SUBSCRIBER).where(
            _SUBSCRIBER.c.id.in_(chunk), _SUBSCRIBER.c.status == "active"
        )
        rows.extend(_rows(session, query, Subscriber))
    by_id = {view.id: view for view in _views(session, rows)}
    return [by_id[i] for i in ids if i in by_id]


_Row = TypeVar("_Row", Subscriber, Subscription)


def _rows(session: Session, query: Select[Any], model: type[_Row]) -> list[_Row]:
    """A table's rows as plain tuples, not ORM objects, typed as its model (same fields).

    A delivery run reads every subscriber and topic: building and tracking an ORM
    object per row took most of the time.
    """
    return cast(list[_Row], session.execute(query).all())


def find_subscriber(session: Session, email: str) -> SubscriberView | None:
    """Return the subscriber with this address (any case), with topics, or None."""
    subscriber = subscriber_row(session, email)
    return None if subscriber is None else _views(session, [subscriber])[0]


def subscriber_row(session: Session, email: str) -> Subscriber | None:
    """The stored row of the subscriber with this address (any case), to change it; or None.

    Raises `InputError` when `email` is not an address.
    """
    return _find(session, normalise_email(email))


def subscriber_time_zones(session: Session) -> set[str]:
    """The time zones active subscribers set for themselves (those following the setting: none)."""
    query = (
        select(Subscriber.timezone)
        .where(Subscriber.status == "active", col(Subscriber.timezone).is_not(None))
        .distinct()
    )
    return {zone for zone in session.exec(query) if zone}


def as_specs(subscribers: Iterable[SubscriberView]) -> list[SubscriptionSpec]:
    """Return one spec per topic, for export."""
    return [
        SubscriptionSpec(
            s.email,
            t.keywords,
            t.exclusions,
            t.name,
            s.cadence,
            s.channels,
            s.timezone,
            **t.follows,
            liked=tuple(reference_of(paper) for paper in t.liked),
            unliked=tuple(reference_of(paper) for paper in t.unliked),
            level=t.level,
        )
        for s in subscribers
        for t in s.topics
    ]


def reference_of(paper: ExamplePaper) -> PaperReference:
    """How an export or a request names a stored paper: by arXiv id when it has one, else by title."""
    if paper.arxiv_id:
        return PaperReference(paper.arxiv_id, arxiv_id=paper.arxiv_id)
    return PaperReference(paper.title, title=paper.title)


def _find(session: Session, email: str) -> Subscriber | None:
    return session.exec(select(Subscriber).where(Subscriber.email_key == email_key(email))).first()


def _views(session: Session, subscribers: list[Subscriber]) -> list[SubscriberView]:
    ids = [s.id for s in subscribers if s.id is not None]
    rows: list[Subscription] = []
    for chunk in in_chunks(ids):
        query = (
            select_columns(_SUBSCRIPTION)
            .where(_SUBSCRIPTION.c.subscriber_id.in_(chunk))
            .order_by(_SUBSCRIPTION.c.name)
        )
        rows.extend(_rows(session, query, Subscription))
    topics: dict[int, list[Topic]] = {}
    for row, topic in zip(rows, as_topics(session, rows), strict=True):
        topics.setdefault(row.subscriber_id, []).append(topic)
    return [_view(s, tuple(topics.get(s.id, ()))) for s in subscribers if s.id is not None]


def _view(subscriber: Subscriber, topics: tuple[Topic, ...]) -> SubscriberView:
    assert subscriber.id is not None  # rows read back always have their key
    return SubscriberView(
        subscriber.id,
        subscriber.email,
        subscriber.cadence,
        tuple(subscriber.channels),
        subscriber.status,
        topics,
        subscriber.created_at,
        timezone=subscriber.timezone,
    )


def as_topics(session: Session, rows: list[Subscription]) -> list[Topic]:
    """The stored topics `rows` as plain data, with their example papers, in the same order."""
    examples = examples_of(session, (row.id for row in rows if row.id is not None))
    topics = []
    for row in rows:
        assert row.id is not None  # rows read back always have their key
        marked = examples.get(row.id, [])
        topics.append(
            Topic(
                row.id,
                row.name,
                tuple(row.keywords),
                tuple(row.exclusions),
                **_stored_follows(row),
                liked=tuple(e.paper for e in marked if e.liked),
                unliked=tuple(e.paper for e in marked if not e.liked),
                level=row.similarity_level,
            )
        )
    return topics
