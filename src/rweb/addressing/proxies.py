"""The client's address: the socket's peer, or, behind proxies the app trusts, what they say it is.

Behind a reverse proxy (nginx, a load balancer) every connection comes from
the proxy: per-address limits would put every client in one bucket.  The
proxy says who its client was in a header, ``X-Forwarded-For: client,
proxy1, ...`` (each proxy appends the address it got the request from) or the
standard ``Forwarded: for=client, for=proxy1``.  Anyone can send those headers
too, so they are read only when the peer is a proxy the app trusts
(``App(trusted_proxies=["10.0.0.0/8", "127.0.0.1"])``; none by default), and
only the one header those proxies set (``App(proxy_header=...)``):

- walking the header from its end (the entry the nearest proxy appended),
  entries that are themselves trusted proxies are skipped; the first other
  address is the client's;
- an entry that is not an address (``unknown``, an obfuscated ``_name``,
  garbage) stops the walk: the address of the trusted proxy that passed it on
  is used (a client cannot choose its address that way);
- every entry trusted: the leftmost.

:func:`bucket` groups addresses for per-address limits: an IPv4 address on
its own, an IPv6 address by its /64 network (what one subscriber usually
gets: counting each address alone would let one client make up millions).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

__all__ = ["HEADERS", "TrustedProxies", "bucket"]

# The headers a proxy may give the client's address in (App(proxy_header=...)).
HEADERS = ("x-forwarded-for", "forwarded")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class TrustedProxies:
    """The proxies (CIDR networks or addresses) whose ``header`` says who the client is."""

    __slots__ = ("header", "networks")

    def __init__(self, networks: Iterable[str], header: str = "x-forwarded-for") -> None:
        if isinstance(networks, str):
            raise TypeError("trusted_proxies is a list of networks (CIDR) or addresses, not one string")
        header = header.lower()
        if header not in HEADERS:
            raise ValueError(f"proxy_header must be one of {', '.join(HEADERS)}, not {header!r}")
        self.header = header
        self.networks: tuple[Network, ...] = tuple(ipaddress.ip_network(n.strip(), strict=False) for n in networks)

    def trusted(self, address: Address) -> bool:
        return any(address in net for net in self.networks)

    def client(self, peer: str | None, value: str | None) -> str | None:
        """The client's address: ``peer``, or, when ``peer`` is trusted, what ``value`` (the
        header's occurrences, joined with commas, in order) says."""
        hop = _address(peer)
        if hop is None or not value or not self.trusted(hop):
            return peer
        entries = value.split(",")
        for entry in reversed(entries):
            address = _address(_forwarded_for(entry) if self.header == "forwarded" else entry)
            if address is None:  # not an address: the proxy that passed it on is all we know
                break
            hop = address
            if not self.trusted(address):
                break
        return str(hop)


def _forwarded_for(element: str) -> str | None:
    """The ``for=`` of one element of a ``Forwarded`` header (RFC 7239), without quotes or port."""
    for pair in element.split(";"):
        name, _, value = pair.strip().partition("=")
        if name.strip().lower() == "for":
            value = value.strip().strip('"')
            if value.startswith("["):  # "[2001:db8::1]:4711"
                return value[1 : value.find("]")] if "]" in value else None
            if value.count(":") == 1:  # "192.0.2.1:4711"
                return value.partition(":")[0]
            return value
    return None


def _address(text: str | None) -> Address | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def bucket(address: str | None) -> str | None:
    """What a per-address limit counts ``address`` under (None: no address known, not counted)."""
    parsed = _address(address)
    if parsed is None:
        return address
    if parsed.version == 6:
        mapped = parsed.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)
