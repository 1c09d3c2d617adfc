"""The manage page's chat channel forms: a reader adds their own Slack or Discord webhook, or removes one.

    POST /manage/<token>  action=channel-add: kind (slack, discord), name, url,
                          per_topic=on (Slack: one message per topic)
                          action=channel-remove: name (one of the reader's own)

Only Slack's and Discord's own webhook addresses are taken here: the server
POSTs to whatever address a channel holds, so an address a visitor chooses
freely would let anyone with a manage link make it send requests into the
network it runs in. Matrix rooms and generic webhooks, which live on any host,
are added by the operator (`paperbot channel add`). A webhook address is a
secret: it is never shown back, not even in an error.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy.engine import Engine

from bot.db import write_session
from bot.errors import InputError
from bot.subscriptions.channels import add_channel, list_channels, remove_channel
from bot.subscriptions.spec import CHANNEL_NAME
from bot.tokens import LinkSubject
from bot.web.link_owners import link_owner

CHANNEL_ACTIONS = ("channel-add", "channel-remove")

MAX_URL = 500
"""The longest webhook address taken: Slack's and Discord's are about 120 characters."""


@dataclass(frozen=True)
class WebHookKind:
    """A chat service whose webhooks a reader may add: its label, hosts and path."""

    label: str
    hosts: tuple[str, ...]
    path: str  # every webhook address of the service starts with it


WEB_KINDS = {
    "slack": WebHookKind("Slack", ("hooks.slack.com",), "/services/"),
    "discord": WebHookKind(
        "Discord",
        ("discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"),
        "/api/webhooks/",
    ),
}
"""The kinds the manage page offers, by the name `bot.channels.registry` knows them by."""


def check_web_hook(kind: str, url: str) -> str:
    """`url` when it is one of `kind`'s own webhook addresses; else `InputError` (the address unsaid).

    HTTPS on the service's host and default port, with its webhook path and no
    user name, password or fragment.
    """
    service = WEB_KINDS.get(kind)
    if service is None:
        raise InputError("choose Slack or Discord")
    address = url.strip()
    wrong = InputError(
        f"that is not a {service.label} webhook address: it starts with"
        f" https://{service.hosts[0]}{service.path}"
    )
    if not address or len(address) > MAX_URL or not address.isprintable() or " " in address:
        raise wrong
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError:
        raise wrong from None
    if (
        parts.scheme != "https"
        or parts.hostname not in service.hosts
        or port not in (None, 443)
        or parts.username is not None
        or parts.password is not None
        or parts.fragment
        or not parts.path.startswith(service.path)
        or len(parts.path) <= len(service.path)
    ):
        raise wrong
    return address


def change_channel(
    engine: Engine, subject: LinkSubject, fields: Mapping[str, str], *, now: datetime
) -> bool:
    """Add or remove one of the link owner's chat channels in one transaction; False if they are gone.

    A channel added joins the channels their digests go to. Raises `InputError`
    (nothing changed) for a bad kind, name or address, a name taken, a channel
    that is not theirs, or the removal of their only channel.
    """
    with write_session(engine) as session:
        owner = link_owner(session, subject)
        if owner is None:
            return False
        name = fields.get("name", "").strip().lower()
        if not CHANNEL_NAME.fullmatch(name):
            raise InputError("a channel's name is 1 to 40 lowercase letters, digits, - and _")
        if fields.get("action") == "channel-remove":
            if name not in {c.name for c in list_channels(session, owner.email)}:
                raise InputError(f"you have no channel named {name!r}")
            if owner.channels == [name]:
                raise InputError(
                    f"{name!r} is the only place your digests go: choose another under"
                    " “Delivery” first"
                )
            remove_channel(session, name, now=now)
            return True
        kind = fields.get("kind", "")
        options: dict[str, object] = {"webhook_url": check_web_hook(kind, fields.get("url", ""))}
        if kind == "slack" and fields.get("per_topic") == "on":
            options["per_topic"] = True
        add_channel(session, name, kind, options, owner=owner.email, now=now)
    return True
