"""Shared fixtures for the core test suite.

Integration tests run the real server (``rweb.testing.serve``: picows on a free
127.0.0.1 port, in a background thread) and talk to it with the real
``websockets`` client.  Every receive is bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from examples_loader import load_example

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# Bound on any single wait for a server message.
RECV_TIMEOUT = 10.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: a multi-process load test (still bounded to well under 30 s)"
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    # In CI every tool the suite drives must be here: a missing one fails the run
    # instead of skipping its tests (tests/tools.py).
    import tools

    if tools.required():
        absent = tools.missing()
        if absent:
            pytest.exit(
                f"{tools.REQUIRE_ENV} is set and these are missing: {', '.join(absent)}",
                returncode=3,
            )
    # A compiled module older than its source would be tested instead of the edit.
    import rweb

    stale = rweb.core._build.stale_extensions()
    if stale:
        pytest.exit(
            f"compiled rweb modules older than their source: {', '.join(stale)}; run `make build`",
            returncode=2,
        )




@pytest.fixture
def redis_server() -> Iterator[Any]:
    """A private redis-server on a free 127.0.0.1 port (tests/redis_server.py), stopped afterwards.

    Skips, saying why, without redis-server or redis-py.
    """
    from redis_server import RedisServer, redis_py_missing

    reason = redis_py_missing()
    if reason is not None:
        pytest.skip(reason)
    server = RedisServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def counter_example() -> ModuleType:
    """examples/rweb_counter.py, imported as a module (its ``__main__`` block does not run)."""
    return load_example("rweb_counter")


class Wire:
    """Small helpers around the real WebSocket client; every wait is bounded."""

    timeout = RECV_TIMEOUT

    @staticmethod
    def run(coro: Any, timeout: float = 45.0) -> Any:
        """Run ``coro`` to completion in a fresh event loop, with an overall deadline."""
        return asyncio.run(asyncio.wait_for(coro, timeout))

    @staticmethod
    def connect(url: str, **kw: Any) -> Any:
        from websockets.asyncio.client import connect

        kw.setdefault("proxy", None)
        kw.setdefault("compression", None)
        kw.setdefault("open_timeout", RECV_TIMEOUT)
        kw.setdefault("close_timeout", 5)
        kw.setdefault("ping_interval", None)
        return connect(url, **kw)

    @staticmethod
    async def recv(ws: Any, timeout: float = RECV_TIMEOUT) -> dict[str, Any]:
        data = await asyncio.wait_for(ws.recv(), timeout)
        assert isinstance(data, str), f"the server sent a binary frame: {data!r}"
        return json.loads(data)

    @classmethod
    async def ask(cls, ws: Any, msg: Any) -> dict[str, Any]:
        """Send one message (a dict is JSON-encoded) and return the next server message."""
        await ws.send(msg if isinstance(msg, str | bytes | list) else json.dumps(msg))
        return await cls.recv(ws)

    @classmethod
    async def reply(cls, ws: Any, max_pushes: int = 1000) -> dict[str, Any]:
        """The next reply, skipping (at most ``max_pushes``) pushes sent meanwhile."""
        for _ in range(max_pushes + 1):
            msg = await cls.recv(ws)
            if msg["t"] != "p":
                return msg
        raise AssertionError(f"no reply among {max_pushes} pushes")

    @classmethod
    async def click(cls, ws: Any, action: str = "inc", **extra: Any) -> dict[str, Any]:
        reply = await cls.ask(ws, {"action": action, "params": {}, **extra})
        assert reply["t"] == "r", reply
        return reply


@pytest.fixture
def wire() -> type[Wire]:
    return Wire


def display_count(reply: dict[str, Any]) -> str:
    """The counter's number from a reply patch of the ``display`` component."""
    return reply["d"]["display"]["0"]


@pytest.fixture
def elements_as_written(monkeypatch: pytest.MonkeyPatch) -> None:
    """Component functions run as written, not compiled to templates (rweb.core.element_templates):
    for tests of the element walker itself (its plans, its slots)."""
    from rweb.core import element_templates

    monkeypatch.setattr(element_templates, "ENABLED", False)


@pytest.fixture
def count_of() -> Any:
    return display_count
