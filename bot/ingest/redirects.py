"""Which redirects a feed fetch may follow: never from the internet into a private network.

Feed URLs are the admin's, and may point at internal addresses on purpose. A
public feed server, though, is not to send paperbot into the network it runs
in (`http://169.254.169.254/`, `http://localhost:6379/`): a redirect that
leaves a public address for a loopback, private, link-local, unique-local or
unspecified one, or for a host name resolving to one, is refused. Redirects
between internal addresses (127.0.0.1 to 127.0.0.1) and between public ones are
followed.

The rule is pure: resolving a host name is I/O, and the caller passes a
resolver in (`bot.ingest.fetch.resolve_host`, or a stand-in in tests).
"""

from collections.abc import Callable, Sequence
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address
from urllib.parse import urlsplit

Address = IPv4Address | IPv6Address

Resolver = Callable[[str], Sequence[str]]
"""A host name's addresses, as text; none when the name does not resolve."""

_UNIQUE_LOCAL = IPv6Network("fc00::/7")


def internal_kind(address: Address) -> str | None:
    """What kind of internal address `address` is ("loopback", "private"...); None if public."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return "loopback"
    if address.is_unspecified:
        return "unspecified"
    if address.is_link_local:
        return "link-local"
    if isinstance(address, IPv6Address) and address in _UNIQUE_LOCAL:
        return "unique-local"
    if address.is_private:
        return "private"
    if not address.is_global:
        # Shared (carrier-grade NAT), reserved, documentation ranges: no public server.
        return "non-public"
    return None


def host_addresses(host: str, resolve: Resolver) -> list[Address]:
    """The addresses of `host`: itself when it is an IP address, else what `resolve` says."""
    if _is_address(host):
        return [ip_address(host)]
    found: list[Address] = []
    for text in resolve(host):
        try:
            # A scoped IPv6 address ("fe80::1%eth0") is read without its zone.
            found.append(ip_address(text.partition("%")[0]))
        except ValueError:
            continue
    return found


def redirect_refusal(leaving: str, target: str, resolve: Resolver) -> str | None:
    """Why a redirect from URL `leaving` to URL `target` must not be followed; None if it may.

    Refused: `leaving`'s host has a public address and `target`'s host is, or
    resolves to, any internal one. A target that does not resolve is let
    through: connecting to it fails on its own.
    """
    leaving_host = urlsplit(leaving).hostname or ""
    target_host = urlsplit(target).hostname or ""
    if not any(internal_kind(a) is None for a in host_addresses(leaving_host, resolve)):
        return None
    literal = _is_address(target_host)
    for address in host_addresses(target_host, resolve):
        kind = internal_kind(address)
        if kind is not None:
            shown = target_host if literal else f"{target_host} ({address})"
            return f"refused a redirect from a public address to {shown}: {kind} address"
    return None


def _is_address(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True
