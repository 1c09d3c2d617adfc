"""Subscribers' chat channels in the database: added, listed, removed, read for delivery.

A chat channel (`bot.models.Channel`) is a Slack, Discord or Matrix room or a
webhook, named, owned by one subscriber, who lists its name among their
channels, or by no one: a lab channel, fed by the topics routed to it
(`bot.subscriptions.lab_channels`). Its options hold secrets (webhook
addresses, tokens): they are checked by the channel's own `from_options` when
added and shown only through its `describe`, never as stored.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.errors import ConfigError, InputError
from bot.models import Channel, Subscriber
from bot.subscriptions.lab_channels import Route, is_lab, lab_recipient, routes_of
from bot.subscriptions.spec import (
    BUILT_IN_CHANNELS,
    CHANNEL_NAME,
    MAX_CHANNELS,
)
from bot.subscriptions.store import subscriber_row


@dataclass(frozen=True)
class ChannelInfo:
    """A stored chat channel as people see it: its owner and a description with secrets masked.

    A lab channel has no owner (`owner` is None) but the topics routed to it.
    """

    name: str
    kind: str
    owner: str | None
    description: str
    active: bool  # listed among the owner's channels: digests go to it
    routes: tuple[Route, ...] = ()


@dataclass(frozen=True)
class ChannelSettings:
    """What delivery needs of a chat channel: its kind and options (secrets included)."""

    name: str
    kind: str
    options: Mapping[str, Any]


def check_channel_name(name: str) -> str:
    """A new chat channel's name, lowercased; `InputError` unless it can name one."""
    word = name.strip().lower()
    if word in BUILT_IN_CHANNELS:
        raise InputError(f"{word!r} is a built-in channel: choose another name")
    if not CHANNEL_NAME.fullmatch(word):
        raise InputError(
            f"channel name {name.strip()!r} must be 1 to 40 lowercase letters, digits, - and _"
        )
    return word


def add_channel(
    session: Session,
    name: str,
    kind: str,
    options: Mapping[str, Any],
    *,
    owner: str | None,
    now: datetime,
    use: bool = True,
    cadence: str = "daily",
) -> ChannelInfo:
    """Store a chat channel of `owner` (an active subscriber); with `use`, add it to their channels.

    Without an owner, the channel is a lab channel: it gets the matches of the
    topics routed to it, at `cadence` (`bot.subscriptions.lab_channels`). The
    options are checked by the channel's kind first (`ConfigError` naming a
    missing or wrong one). Raises `InputError` for a taken name or an unknown owner.
    """
    from bot.channels.registry import make_channel  # httpx and the channels: only here

    checked = check_channel_name(name)
    channel = make_channel(kind, options)
    if session.exec(select(Channel.id).where(Channel.name == checked)).first() is not None:
        raise InputError(f"there is already a channel named {checked!r}")
    if owner is None:
        subscriber = lab_recipient(session, checked, cadence=cadence, now=now)
        use = True
    else:
        subscriber = _active(session, owner)
    if use and len(subscriber.channels) >= MAX_CHANNELS:
        raise InputError(f"{subscriber.email} already has {MAX_CHANNELS} channels")
    assert subscriber.id is not None  # rows read back always have their key
    session.add(
        Channel(
            name=checked, kind=kind, subscriber_id=subscriber.id, options=dict(options),
            created_at=now,
        )
    )  # fmt: skip
    if use and checked not in subscriber.channels:
        subscriber.channels = [*subscriber.channels, checked]
        subscriber.updated_at = now
    session.flush()
    shown_owner = None if owner is None else subscriber.email
    return ChannelInfo(checked, kind, shown_owner, channel.describe(), use)


def remove_channel(session: Session, name: str, *, now: datetime) -> ChannelInfo:
    """Delete the chat channel `name` and take it off its owner's channels.

    Its ledger rows stay with the deliveries that wrote them. Raises `InputError`
    when there is no such channel, or when it is its owner's only channel. A lab
    channel goes with its routes.
    """
    row = session.exec(select(Channel).where(Channel.name == name.strip().lower())).first()
    if row is None:
        raise InputError(f"there is no channel named {name.strip()!r}")
    owner = session.get(Subscriber, row.subscriber_id)
    assert owner is not None  # a channel is deleted with its owner
    assert row.id is not None  # rows read back always have their key
    info = _info(row, owner, routes_of(session, [row.id]).get(row.id, []))
    remaining = [n for n in owner.channels if n != row.name]
    if not remaining and owner.status == "active":
        raise InputError(
            f"{row.name!r} is the only channel of {owner.email}: give them another"
            " first (paperbot subscribe --channel), or unsubscribe them"
        )
    owner.channels = remaining
    owner.updated_at = now
    session.delete(row)
    session.flush()
    return info


def list_channels(session: Session, owner: str | None = None) -> list[ChannelInfo]:
    """Every chat channel (or `owner`'s), by name, secrets masked; lab channels with their routes."""
    query = select(Channel, Subscriber).join(
        Subscriber, col(Subscriber.id) == Channel.subscriber_id
    )
    if owner is not None:
        subscriber = subscriber_row(session, owner)
        if subscriber is None:
            raise InputError(f"no subscriber with the address {owner.strip()!r}")
        query = query.where(Channel.subscriber_id == subscriber.id)
    rows = session.exec(query.order_by(col(Channel.name))).all()
    routes = routes_of(session, [c.id for c, s in rows if c.id is not None and is_lab(s)])
    return [_info(c, s, routes.get(c.id or 0, [])) for c, s in rows]


def channel_settings(session: Session, names: Iterable[str]) -> dict[str, ChannelSettings]:
    """The settings of the chat channels among `names`, by name (unknown names are left out)."""
    wanted = sorted({n for n in names if n not in BUILT_IN_CHANNELS})
    if not wanted:
        return {}
    rows = session.exec(select(Channel).where(col(Channel.name).in_(wanted)))
    return {row.name: ChannelSettings(row.name, row.kind, dict(row.options)) for row in rows}


def _active(session: Session, email: str) -> Subscriber:
    subscriber = subscriber_row(session, email)
    if subscriber is None or subscriber.status != "active":
        raise InputError(f"no active subscriber with the address {email.strip()!r}")
    return subscriber


def _info(row: Channel, owner: Subscriber, routes: Iterable[Route] = ()) -> ChannelInfo:
    from bot.channels.registry import make_channel

    try:
        description = make_channel(row.kind, row.options).describe()
    except ConfigError:  # an option this version refuses: say so, never show the options
        description = f"{row.kind} channel with settings this version cannot read"
    return ChannelInfo(
        row.name, row.kind, None if is_lab(owner) else owner.email, description,
        row.name in owner.channels, tuple(routes),
    )  # fmt: skip
