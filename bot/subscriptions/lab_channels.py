"""Lab channels: chat channels no single subscriber owns, fed by the topics routed to them.

A lab follows a topic in its chat room: the operator adds the room's channel
without an owner (`paperbot channel add NAME --slack URL`) and routes topics to
it (`paperbot channel route NAME TOPIC`), whoever's they are. The room then gets
those topics' matches on the same ledger, claims and retries as every digest.

It does so as a recipient of its own: a `Subscriber` row of status "channel"
(`LAB_STATUS`), addressed "#" and the channel's name, whose only channel is
that one and whose topics are the routed ones (`lab_recipients`). So a paper
two routed topics match reaches the room once, and removing the channel and
adding it again under the same name keeps what the room already had.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from bot.errors import InputError
from bot.models import Channel, ChannelRoute, Subscriber, Subscription
from bot.subscriptions.spec import CADENCES, normalise_email
from bot.subscriptions.store import SubscriberView, Topic, as_topics, subscriber_row

LAB_STATUS = "channel"
"""The status of a lab channel's recipient row: neither an active nor an unsubscribed person."""


@dataclass(frozen=True)
class Route:
    """A topic routed to a lab channel: the channel's name, the topic's owner and name."""

    channel: str
    owner: str
    topic: str


def lab_address(name: str) -> str:
    """The address a lab channel's recipient row goes by: never a valid email address."""
    return f"#{name}"


def is_lab(subscriber: Subscriber | SubscriberView) -> bool:
    """Whether `subscriber` (a row or a view) is a lab channel's recipient rather than a person."""
    return subscriber.status == LAB_STATUS


def lab_recipient(session: Session, name: str, *, cadence: str, now: datetime) -> Subscriber:
    """The recipient row of the lab channel `name`, made or brought back, delivering to it.

    A row left by a channel of that name removed earlier is reused: its ledger
    keeps the room from getting again what it already had.
    """
    if cadence not in CADENCES:
        raise InputError(f"cadence must be one of {', '.join(CADENCES)}, not {cadence!r}")
    address = lab_address(name)
    row = session.exec(select(Subscriber).where(Subscriber.email_key == address)).first()
    if row is None:
        row = Subscriber(email=address, email_key=address, created_at=now)
        session.add(row)
    row.status = LAB_STATUS
    row.cadence = cadence
    row.channels = [name]
    row.updated_at = now
    session.flush()
    return row


def route_topic(
    session: Session, channel: str, topic: str, *, owner: str | None, now: datetime
) -> tuple[Route, bool]:
    """Send the matches of `topic` (of `owner`, or of whoever has the only topic so named) to `channel`.

    Returns the route and whether it is new (routing twice changes nothing).
    Raises `InputError` for an unknown channel, one a subscriber owns, or a
    topic that is unknown or, without `owner`, ambiguous.
    """
    row = _lab_channel(session, channel)
    subscription, email = _topic(session, topic, owner)
    assert row.id is not None and subscription.id is not None  # rows read back have their key
    route = Route(row.name, email, subscription.name)
    if session.get(ChannelRoute, (row.id, subscription.id)) is not None:
        return route, False
    session.add(ChannelRoute(channel_id=row.id, subscription_id=subscription.id, created_at=now))
    session.flush()
    return route, True


def unroute_topic(session: Session, channel: str, topic: str, *, owner: str | None) -> Route:
    """Stop sending the matches of `topic` to `channel`; `InputError` if they were not sent there."""
    row = _lab_channel(session, channel)
    subscription, email = _topic(session, topic, owner, routed_to=row)
    assert row.id is not None and subscription.id is not None  # rows read back have their key
    route = session.get(ChannelRoute, (row.id, subscription.id))
    assert route is not None  # the topic was looked for among the channel's routes
    session.delete(route)
    session.flush()
    return Route(row.name, email, subscription.name)


def routes_of(session: Session, channel_ids: Iterable[int]) -> dict[int, list[Route]]:
    """The topics routed to each of the channels `channel_ids`, by owner and topic name."""
    query = (
        select(Channel.id, Channel.name, Subscriber.email, Subscription.name)
        .join(ChannelRoute, col(ChannelRoute.channel_id) == col(Channel.id))
        .join(Subscription, col(Subscription.id) == col(ChannelRoute.subscription_id))
        .join(Subscriber, col(Subscriber.id) == col(Subscription.subscriber_id))
        .where(col(Channel.id).in_(list(channel_ids)))
        .order_by(col(Subscriber.email_key), col(Subscription.name))
    )
    routes: dict[int, list[Route]] = {}
    for channel_id, name, email, topic in session.exec(query):
        assert channel_id is not None  # rows read back always have their key
        routes.setdefault(channel_id, []).append(Route(name, email, topic))
    return routes


def lab_recipients(session: Session) -> list[SubscriberView]:
    """Every lab channel as a recipient: its row, its one channel and the topics routed to it.

    Topics of subscribers who paused their own digests still feed the room: the
    route is the lab's choice. A topic deleted (its owner dropped it or left)
    leaves with its routes. A channel with no topic routed is listed with none
    (and reported as having no topics, as a subscriber would be).
    """
    query = (
        select(Subscriber, Channel.id)
        .join(Channel, col(Channel.subscriber_id) == col(Subscriber.id))
        .where(Subscriber.status == LAB_STATUS)
        .order_by(col(Subscriber.email_key))
    )
    labs = list(session.exec(query))
    route_rows = list(
        session.exec(
            select(ChannelRoute.channel_id, Subscription)
            .join(Subscription, col(Subscription.id) == col(ChannelRoute.subscription_id))
            .where(col(ChannelRoute.channel_id).in_([channel_id for _, channel_id in labs]))
            .order_by(col(Subscription.name), col(Subscription.id))
        )
    )
    # Every routed topic read in one go (examples included), then dealt to its rooms.
    topics = as_topics(session, [subscription for _, subscription in route_rows])
    routed: dict[int, list[Topic]] = {}
    for (routed_to, _), topic in zip(route_rows, topics, strict=True):
        routed.setdefault(routed_to, []).append(topic)
    views = []
    for row, lab_id in labs:
        assert row.id is not None and lab_id is not None  # rows read back have their key
        views.append(
            SubscriberView(
                row.id, row.email, row.cadence, tuple(row.channels), row.status,
                tuple(routed.get(lab_id, ())), row.created_at, timezone=row.timezone,
            )
        )  # fmt: skip
    return views


def _lab_channel(session: Session, name: str) -> Channel:
    """The lab channel `name`; `InputError` when there is none or a subscriber owns it."""
    wanted = name.strip().lower()
    found = session.exec(
        select(Channel, Subscriber)
        .join(Subscriber, col(Subscriber.id) == col(Channel.subscriber_id))
        .where(Channel.name == wanted)
    ).first()
    if found is None:
        raise InputError(f"there is no channel named {name.strip()!r}")
    row, owner = found
    if owner.status != LAB_STATUS:
        raise InputError(
            f"channel {row.name!r} is {owner.email}'s own: topics are routed to lab channels,"
            " those added without --for"
        )
    return row


def _topic(
    session: Session, name: str, owner: str | None, *, routed_to: Channel | None = None
) -> tuple[Subscription, str]:
    """The topic `name` of `owner` (or the only one of that name) and its owner's address.

    With `routed_to`, an unnamed owner is looked for among that channel's routes only.
    """
    query = (
        select(Subscription, Subscriber.email)
        .join(Subscriber, col(Subscriber.id) == col(Subscription.subscriber_id))
        .where(Subscription.name == name.strip())
    )
    if owner is not None:
        subscriber = subscriber_row(session, owner)
        if subscriber is None:
            raise InputError(f"no subscriber with the address {normalise_email(owner)!r}")
        query = query.where(Subscription.subscriber_id == subscriber.id)
    if routed_to is not None:
        query = query.join(
            ChannelRoute, col(ChannelRoute.subscription_id) == col(Subscription.id)
        ).where(ChannelRoute.channel_id == routed_to.id)
    found = list(session.exec(query.order_by(col(Subscriber.email_key)).limit(4)))
    whose = "" if owner is None else f" of {normalise_email(owner)}"
    if not found and routed_to is not None:
        raise InputError(f"no topic named {name.strip()!r}{whose} is routed to {routed_to.name!r}")
    if not found:
        raise InputError(f"there is no topic named {name.strip()!r}{whose}")
    if len(found) > 1:
        owners = ", ".join(email for _, email in found[:3]) + (", ..." if len(found) > 3 else "")
        raise InputError(
            f"more than one subscriber has a topic named {name.strip()!r} ({owners}):"
            " name its owner with --of"
        )
    return found[0]
