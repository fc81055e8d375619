"""Testing helpers: a real server on a free port, in-process live and HTTP clients, and a page driver.

- :mod:`rweb.testing.client`: ``serve`` (the real server in a thread),
  ``Client`` (a live session in-process, over the wire protocol),
  ``TestClient`` (plain HTTP in-process, with a cookie jar), ``VirtualClock``;
- :mod:`rweb.testing.page`: ``Page``, which drives a ``Client`` by CSS
  selectors and user steps as the browser client would.

Every name is importable from ``rweb.testing``; see docs/testing.md.
"""

from __future__ import annotations

from .client import (
    Client,
    CookieJar,
    Served,
    SetCookie,
    TestClient,
    TestResponse,
    VirtualClock,
    serve,
)
from .page import Page, PageError

__all__ = [
    "Client",
    "CookieJar",
    "Page",
    "PageError",
    "Served",
    "SetCookie",
    "TestClient",
    "TestResponse",
    "VirtualClock",
    "serve",
]
