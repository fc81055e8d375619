"""What the bare servers share: the fixed messages and the uvloop runner. No third-party
imports here (the websockets and aiohttp servers may run in the PyView venv, without picows)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

# Sent on connect, so that the bench client (which waits for a "full page") works.
PAGE = b'{"type":"page","html":"<div><h1>Counter</h1><span>Count: 0</span></div>"}'
# The fixed ~60-byte reply to every message.
REPLY = b'{"type":"diff","patches":[["c1","<span>Count: 1</span>"]]}'
assert 55 <= len(REPLY) <= 65, len(REPLY)


def run(coro: Coroutine[Any, Any, None]) -> None:
    """Run ``coro`` on uvloop when it is installed."""
    try:
        import uvloop

        factory: Any = uvloop.new_event_loop
    except ImportError:  # pragma: no cover
        factory = None
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(coro)
