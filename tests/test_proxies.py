"""The client's address behind trusted proxies (rweb.proxies), and what per-address limits count.

Through the real server with real sockets: tests/test_resume.py (the cap on
dropped sessions per client address, spoofed headers from an untrusted peer).
"""

from __future__ import annotations

import pytest

from rweb import App
from rweb.addressing.proxies import TrustedProxies, bucket
from rweb.http import Request


def test_the_forwarded_address_is_read_only_from_a_trusted_peer() -> None:
    proxies = TrustedProxies(["10.0.0.0/8", "::1"])
    assert proxies.client("203.0.113.9", "198.51.100.1") == "203.0.113.9"  # the client itself says so
    assert proxies.client("10.1.2.3", "198.51.100.1") == "198.51.100.1"
    assert proxies.client("::1", "198.51.100.1") == "198.51.100.1"
    assert proxies.client("10.1.2.3", None) == "10.1.2.3"
    # From the right: our proxies are skipped; what the client wrote before them is not believed.
    assert proxies.client("10.1.2.3", "6.6.6.6, 198.51.100.1, 10.9.9.9") == "198.51.100.1"
    # Not an address: the proxy that passed it on is all that is known.
    assert proxies.client("10.1.2.3", "198.51.100.1, unknown, 10.9.9.9") == "10.9.9.9"
    assert proxies.client("10.1.2.3", "10.5.5.5, 10.9.9.9") == "10.5.5.5"  # all ours: the leftmost
    assert proxies.client(None, "198.51.100.1") is None


def test_the_standard_forwarded_header() -> None:
    proxies = TrustedProxies(["127.0.0.1"], header="Forwarded")
    value = 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, for=127.0.0.1'
    assert proxies.client("127.0.0.1", value) == "2001:db8:cafe::17"
    assert proxies.client("127.0.0.1", "for=192.0.2.60:8080;by=203.0.113.43") == "192.0.2.60"
    assert proxies.client("127.0.0.1", "for=_hidden") == "127.0.0.1"
    with pytest.raises(ValueError):
        TrustedProxies(["127.0.0.1"], header="x-real-ip")
    with pytest.raises(TypeError):
        TrustedProxies("127.0.0.1")  # type: ignore[arg-type]


def test_per_address_limits_count_ipv6_clients_by_their_64() -> None:
    assert bucket("192.0.2.1") == "192.0.2.1"
    assert bucket("2001:db8:1:2:aaaa::1") == bucket("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert bucket("::ffff:192.0.2.1") == "192.0.2.1"
    assert bucket(None) is None


def test_requests_and_sockets_get_the_same_client_address() -> None:
    app = App("x", trusted_proxies=["127.0.0.1"])
    app.get("/")(lambda request: request.client)
    request = Request("GET", "/", headers=[("X-Forwarded-For", "198.51.100.1"), ("x-forwarded-for", "127.0.0.1")],
                      client="127.0.0.1")
    app.respond(request)
    assert request.client == "198.51.100.1"
    assert App("y").client_address("127.0.0.1", {"x-forwarded-for": "198.51.100.1"}) == "127.0.0.1"
