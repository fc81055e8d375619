"""What the bare servers share: the fixed messages and the uvloop runner. No third-party
imports here (the websockets and aiohttp servers may run in the PyView venv, without picows)."""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Callable, Coroutine
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


def stop_on_signals() -> asyncio.Future[None]:
    """A future that SIGTERM or SIGINT completes: the server's cue to stop."""
    loop = asyncio.get_running_loop()
    stop: asyncio.Future[None] = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    return stop


def serve_main(
    doc: str | None,
    default_port: int,
    serve: Callable[[str, int], Coroutine[Any, Any, None]],
    argv: list[str] | None = None,
) -> int:
    """``--host`` / ``--port`` command line for a one-process bare server."""
    p = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=default_port)
    args = p.parse_args(argv)
    run(serve(args.host, args.port))
    return 0
