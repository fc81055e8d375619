"""Testing helpers: a real server on a free loopback port, and an in-process client.

``serve(session_setup)`` starts the real picows server in a background thread
(its own event loop) on 127.0.0.1 and a free port::

    with serve(session_setup) as srv:
        ...  # srv.url == "http://127.0.0.1:PORT/", srv.ws_url == "ws://127.0.0.1:PORT/ws"

``Client(session_setup)`` drives one session in-process through the same wire
protocol (JSON in, JSON out) with no socket at all, and keeps the browser's
view of the page (each component's statics and dynamics) so that ``html()``
is what the browser would show.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson

from .app import App
from .connection import Connection
from .session import ConnectionInfo

__all__ = ["Client", "Served", "serve"]


@dataclass
class Served:
    """A running test server."""

    host: str
    port: int
    app: App
    loop: asyncio.AbstractEventLoop
    server: Any = None  # the rweb.server.picows_transport.Server (touch it only via call())

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/ws"

    def call(self, fn: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Run ``fn`` on the server's event loop thread and return its result."""

        async def run() -> Any:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(timeout)


@contextmanager
def serve(
    session_setup: Callable[..., Any] | App,
    title: str = "rweb test",
    *,
    host: str = "127.0.0.1",
    **app_options: Any,
) -> Iterator[Served]:
    """Run the real server in a background thread for the duration of the block."""
    from .server.picows_transport import Server

    app = session_setup if isinstance(session_setup, App) else App(session_setup, title, **app_options)
    started = threading.Event()
    state: dict[str, Any] = {}

    async def main() -> None:
        server = Server(app, host, 0)
        try:
            await server.start()
        except BaseException as exc:
            state["error"] = exc
            started.set()
            raise
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        state.update(server=server, loop=loop, stop=stop)
        started.set()
        try:
            await stop
        finally:
            await server.close()

    def run() -> None:
        try:
            import uvloop

            uvloop.run(main())
        except BaseException as exc:  # reported to the caller through state
            state.setdefault("error", exc)
            started.set()

    thread = threading.Thread(target=run, name="rweb-test-server", daemon=True)
    thread.start()
    if not started.wait(10):
        raise RuntimeError("the test server did not start within 10 s")
    if "error" in state:
        raise RuntimeError("the test server failed to start") from state["error"]
    loop: asyncio.AbstractEventLoop = state["loop"]
    try:
        yield Served(host, state["server"].port, app, loop, state["server"])
    finally:
        loop.call_soon_threadsafe(lambda: state["stop"].done() or state["stop"].set_result(None))
        thread.join(10)


class Client:
    """Drive one session in-process, through the wire protocol.

    ``send(action, params)`` returns the decoded reply; ``pushes`` collects
    messages the server sent on its own; ``html(name)`` rebuilds a component's
    HTML (the whole page by default) from what the server sent, exactly as the
    browser client does.
    """

    def __init__(
        self,
        session_setup: Callable[..., Any] | App,
        *,
        writer_id: Any = 1,
        info: ConnectionInfo | None = None,
        **app_options: Any,
    ) -> None:
        app = session_setup if isinstance(session_setup, App) else App(session_setup, **app_options)
        self.pushes: list[dict[str, Any]] = []
        self._scheduled: list[Callable[[], None]] = []
        self.components: dict[str, dict[str, Any]] = {}
        self._ref = 0
        self.conn = Connection(app, writer_id, info or ConnectionInfo(), self._on_push, self._scheduled.append)
        raw, ok = self.conn.open()
        self.init = orjson.loads(raw)
        if not ok:
            raise RuntimeError(f"the session did not open: {self.init.get('e')}")
        self._apply(self.init["c"])

    def send(self, action: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self._ref += 1
        msg = {"action": action, "params": params or {}, "ref": self._ref}
        return self.send_raw(orjson.dumps(msg))

    def send_raw(self, data: bytes | str) -> dict[str, Any]:
        reply = orjson.loads(self.conn.receive(data))
        self._apply(reply.get("d") or {})
        return reply

    def run_pending(self) -> None:
        """Run the pushes the session scheduled (what the event loop would do)."""
        while self._scheduled:
            self._scheduled.pop(0)()

    def _on_push(self, data: bytes) -> None:
        msg = orjson.loads(data)
        self.pushes.append(msg)
        self._apply(msg.get("d") or {})

    def _apply(self, patches: dict[str, Any]) -> None:
        comps = self.components
        for name, patch in patches.items():
            if patch is None:
                comps.pop(name, None)
            elif "s" in patch:
                comps[name] = {"s": list(patch["s"]), "d": list(patch["d"])}
            else:
                d = comps[name]["d"]
                for k, v in patch.items():
                    d[int(k)] = v

    def html(self, name: str = "root") -> str:
        c = self.components[name]
        s, d = c["s"], c["d"]
        out = [s[0]]
        for i, v in enumerate(d):
            out.append(self.html(v["c"]) if isinstance(v, dict) else v)
            out.append(s[i + 1])
        return "".join(out)

    def close(self) -> None:
        self.conn.close()
