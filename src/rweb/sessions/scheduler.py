"""The event loop that runs a process's sessions, and how work reaches it from any thread.

One :class:`Scheduler` per app (``app.scheduler``), bound by the transport
that serves the app in this process (:meth:`rweb.App.bind`).  The app's
services (snapshots, shared records, pub/sub) read the loop here rather than
in the app.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["Scheduler"]


class Scheduler:
    """``loop``: the sessions' event loop (None until bound); ``thread``: the thread it runs on;
    ``boot``: this process life's id (a new one at every bind: after a fork, each worker its own),
    which resume tokens carry so that a token never matches another life's session."""

    __slots__ = ("boot", "loop", "thread")

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: int | None = None
        self.boot = secrets.token_hex(8)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The process serves on ``loop``, run by the calling thread."""
        self.boot = secrets.token_hex(8)
        self.loop = loop
        self.thread = threading.get_ident()

    def running(self) -> asyncio.AbstractEventLoop:
        """The bound loop (RuntimeError before a transport bound one)."""
        if self.loop is None:
            raise RuntimeError("the app is not being served yet")
        return self.loop

    def on_loop_thread(self) -> bool:
        """Is the caller on the loop's own thread (where the loop's methods may be called directly)?"""
        return threading.get_ident() == self.thread

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the loop soon, from any thread."""
        loop = self.loop
        if loop is None:
            raise RuntimeError("the app is not being served yet")
        if threading.get_ident() == self.thread:
            loop.call_soon(fn, *args)
        else:
            loop.call_soon_threadsafe(fn, *args)
