"""`paperbot channel`: chat channels (Slack, Discord, Matrix, a webhook) of subscribers and labs.

A channel is added for one subscriber (`--for`) and, unless `--unused`, joins the
channels their digests go to; `paperbot subscribe --channel` chooses among them
later. A channel added for no one is a lab channel: it gets the matches of the
topics routed to it (`paperbot channel route`), whoever's they are. Every kind is
reached by `--kind KIND -o SETTING=VALUE`; the common ones have flags of their own
(`--slack URL`). Webhook addresses and tokens are secrets: give `-` to read one
from the standard input instead of the command line (and the shell's history);
they are shown masked everywhere.
"""

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from sqlmodel import Session

from bot.cli.app import app, as_usage_error, open_store, out, print_rows
from bot.clock import utc_now
from bot.db import write_session
from bot.errors import InputError

if TYPE_CHECKING:
    from bot.subscriptions.channels import ChannelInfo

channel_app = typer.Typer(
    help="Chat channels of subscribers and labs: add, route topics, list, remove.",
    no_args_is_help=True,
)
app.add_typer(channel_app, name="channel")

_READ_STDIN = "-"


def _secret(value: str | None) -> str | None:
    """`value`, or the next line of the standard input when it is `-`."""
    if value != _READ_STDIN:
        return value
    line = sys.stdin.readline().strip()
    if not line:
        raise InputError("expected the secret on the standard input, found nothing")
    return line


def typed_options(kind: str, pairs: list[str]) -> tuple[str, dict[str, Any]]:
    """`--kind KIND --option NAME=VALUE...`: any kind of channel, its options as typed.

    A value `-` is read from the standard input (a secret); the channel's own
    settings check the rest when it is added.
    """
    options: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--option {name!r}: give it as NAME=VALUE")
        options[name.strip()] = _secret(value)
    return kind.strip().lower(), options


def channel_options(
    slack: str | None,
    discord: str | None,
    matrix_room: str | None,
    matrix_homeserver: str | None,
    matrix_token: str | None,
    webhook: str | None,
    webhook_secret: str | None,
    per_topic: bool = False,
) -> tuple[str, dict[str, Any]]:
    """The kind and options the command's flags describe; `InputError` unless exactly one kind."""
    kinds = {
        "slack": slack is not None,
        "discord": discord is not None,
        "matrix": matrix_room is not None,
        "webhook": webhook is not None,
    }
    chosen = [kind for kind, given in kinds.items() if given]
    if len(chosen) != 1:
        raise InputError(
            "give exactly one of --slack, --discord, --matrix-room, --webhook and --kind"
        )
    kind = chosen[0]
    if per_topic and kind != "slack":
        raise InputError("--per-topic is a Slack channel's")
    if kind == "slack":
        return kind, {"webhook_url": _secret(slack), **({"per_topic": True} if per_topic else {})}
    if kind == "discord":
        return kind, {"webhook_url": _secret(discord)}
    if kind == "matrix":
        return kind, {
            "room_id": matrix_room,
            "homeserver": matrix_homeserver,
            "access_token": _secret(matrix_token),
        }
    return kind, {"url": _secret(webhook), "secret": _secret(webhook_secret)}


@channel_app.command("add")
def add_command(
    name: Annotated[str, typer.Argument(help="The channel's name: lowercase, digits, - and _.")],
    owner: Annotated[
        str | None,
        typer.Option(
            "--for",
            help="The subscriber whose digests go to it; without it, a lab channel"
            " (paperbot channel route sends topics to it).",
        ),
    ] = None,
    slack: Annotated[
        str | None, typer.Option("--slack", help="A Slack incoming webhook's address (or -).")
    ] = None,
    discord: Annotated[
        str | None, typer.Option("--discord", help="A Discord webhook's address (or -).")
    ] = None,
    matrix_room: Annotated[
        str | None, typer.Option("--matrix-room", help="A Matrix room id: !abc:example.org.")
    ] = None,
    matrix_homeserver: Annotated[
        str | None,
        typer.Option("--matrix-homeserver", help="The Matrix homeserver: https://matrix.org."),
    ] = None,
    matrix_token: Annotated[
        str | None,
        typer.Option("--matrix-token", help="The Matrix account's access token (or -)."),
    ] = None,
    webhook: Annotated[
        str | None,
        typer.Option("--webhook", help="A JSON webhook's address (docs/webhook.md) (or -)."),
    ] = None,
    webhook_secret: Annotated[
        str | None,
        typer.Option("--secret", help="The webhook's signing secret (or -)."),
    ] = None,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind", help="Any kind of channel, by name (slack, matrix...); its settings as -o."
        ),
    ] = None,
    typed: Annotated[
        list[str] | None,
        typer.Option(
            "--option",
            "-o",
            metavar="<name=value>",
            help="With --kind: one of its settings (a value - is read from the standard"
            " input); repeat for each.",
        ),
    ] = None,
    per_topic: Annotated[
        bool, typer.Option("--per-topic", help="Slack: one message per topic, not per digest.")
    ] = False,
    unused: Annotated[
        bool, typer.Option("--unused", help="Store it without sending digests to it yet.")
    ] = False,
    cadence: Annotated[
        str | None,
        typer.Option("--cadence", help="A lab channel's: daily (the default), weekly or paused."),
    ] = None,
) -> None:
    """Add a chat channel for a subscriber (their digests go to it too, unless --unused), or a lab's."""
    from bot.subscriptions.channels import add_channel

    with as_usage_error():
        flags = (slack, discord, matrix_room, matrix_homeserver, matrix_token, webhook,
                 webhook_secret)  # fmt: skip
        if kind is not None:
            if any(flag is not None for flag in flags) or per_topic:
                raise InputError("give --kind with --option, or one kind's own flags, not both")
            kind, options = typed_options(kind, typed or [])
        elif typed:
            raise InputError("--option goes with --kind")
        else:
            kind, options = channel_options(*flags, per_topic)
        if owner is not None and cadence is not None:
            raise InputError("--cadence is a lab channel's: a subscriber's digests keep theirs")
    _, engine = open_store()
    with write_session(engine) as session:
        info = add_channel(
            session, name, kind, options, owner=owner, now=utc_now(), use=not unused,
            cadence=(cadence or "daily").strip().lower(),
        )  # fmt: skip
    if info.owner is None:
        whom = f"lab channel {info.name}"
        then = f"; route topics to it with paperbot channel route {info.name} TOPIC"
    else:
        whom = f"channel {info.name} for {info.owner}"
        then = "" if unused else "; their digests go to it"
    out.print(
        f"added {whom}: {info.description}{then}", markup=False, highlight=False, soft_wrap=True
    )


_LabName = Annotated[str, typer.Argument(help="The lab channel's name.")]
_TopicName = Annotated[str, typer.Argument(help="The topic's name.")]
_TopicOwner = Annotated[
    str | None,
    typer.Option("--of", help="The topic's subscriber, when several have a topic of that name."),
]


@channel_app.command("route")
def route_command(name: _LabName, topic: _TopicName, owner: _TopicOwner = None) -> None:
    """Send the matches of a topic to a lab channel too, each paper once."""
    from bot.subscriptions.lab_channels import route_topic

    _, engine = open_store()
    with write_session(engine) as session:
        route, new = route_topic(session, name, topic, owner=owner, now=utc_now())
    done = "routed" if new else "already routed"
    out.print(
        f"{done} topic {route.topic!r} of {route.owner} to {route.channel}",
        markup=False,
        highlight=False,
    )


@channel_app.command("unroute")
def unroute_command(name: _LabName, topic: _TopicName, owner: _TopicOwner = None) -> None:
    """Stop sending the matches of a topic to a lab channel."""
    from bot.subscriptions.lab_channels import unroute_topic

    _, engine = open_store()
    with write_session(engine) as session:
        route = unroute_topic(session, name, topic, owner=owner)
    out.print(
        f"topic {route.topic!r} of {route.owner} no longer goes to {route.channel}",
        markup=False,
        highlight=False,
    )


@channel_app.command("list")
def list_command(
    owner: Annotated[
        str | None, typer.Option("--for", help="Only this subscriber's channels.")
    ] = None,
) -> None:
    """List the chat channels, their owners and where they post (secrets masked)."""
    from bot.subscriptions.channels import list_channels

    _, engine = open_store()
    with Session(engine) as session:
        channels = list_channels(session, owner)
    print_rows(
        ("name", "kind", "for", "where", "used"),
        ((c.name, c.kind, _for(c), c.description, "yes" if c.active else "no") for c in channels),
        empty="no channels (paperbot channel add adds one)",
    )


def _for(channel: "ChannelInfo") -> str:
    """Whom a channel serves: its owner, or a lab channel's routed topics."""
    if channel.owner is not None:
        return channel.owner
    topics = ", ".join(f"{r.topic} ({r.owner})" for r in channel.routes)
    return f"lab: {topics or 'no topics routed yet'}"


@channel_app.command("remove")
def remove_command(
    name: Annotated[str, typer.Argument(help="The channel's name.")],
) -> None:
    """Remove a chat channel; its owner's digests stop going to it."""
    from bot.subscriptions.channels import remove_channel

    _, engine = open_store()
    with write_session(engine) as session:
        info = remove_channel(session, name, now=utc_now())
    what = (
        f"lab channel {info.name}" if info.owner is None else f"channel {info.name} of {info.owner}"
    )
    out.print(f"removed {what}", markup=False, highlight=False)
