"""rweb as an ASGI 3 application: uvicorn, granian, or mounted in Starlette / FastAPI.

``rweb.asgi(app)`` wraps an :class:`~rweb.app.App`; the result serves what the
built-in server serves:

- ``http``: pages, plain handlers, static files and the client script, through
  :meth:`App.handle_http`;
- ``websocket`` at the app's socket path (``/ws`` within the app): one
  :class:`~rweb.connection.Connection` per socket; its replies and pushes go
  out, in order, through one writer task per socket;
- ``lifespan``: binds the app to the server's event loop and starts it (the
  broker, then the ``app.on_startup`` hooks; a failing hook answers
  ``lifespan.startup.failed``) at startup; at shutdown closes the live sockets
  with 1012 ("service restart"), as uvicorn does, then stops the app (its
  ``app.spawn`` tasks cancelled, the ``app.on_shutdown`` hooks run).  Servers
  that send no lifespan, and Starlette's ``Mount`` (which does not forward
  it), get the binding and the start on the first request.

Under a mount (``Mount("/app", app=rweb.asgi(app))``) or ``--root-path``, paths
are matched within the app and the page's script, socket and redirect URLs
carry the prefix.  The picows server stays the fast default; this is the
transport for sharing a process, a port or a middleware stack with other ASGI
apps.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from ..app.app import App
from ..hosting.http_dispatch import sendable
from ..live.connection import Connection
from ..live.transport import admit
from ..sessions.session import ConnectionInfo
from ..web.client_script import client_encoded
from ..web.http import PlainTextResponse, Request, Response, error_response
from ..words.protocol import CloseCode

__all__ = ["ASGIApp", "route_path"]

log = logging.getLogger("rweb.asgi")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SHUTDOWN_TIMEOUT = 5.0  # bound on waiting for sockets to close at shutdown
# A server without WebSocket support (plain `pip install uvicorn`, or `--ws none`) passes
# the handshake on as HTTP: answered 426 and logged at most this often (seconds).
NO_UPGRADE_LOG_INTERVAL = 60.0
NO_UPGRADE_FIX = (
    "Install the server with WebSocket support: pip install 'uvicorn[standard]' "
    "(or pip install websockets), and do not run it with --ws none."
)


class ASGIApp:
    """The ASGI 3 application serving one rweb :class:`~rweb.app.App` (``rweb.asgi(app)``)."""

    def __init__(self, app: App) -> None:
        if not isinstance(app, App):
            raise TypeError(f"rweb.asgi() takes an rweb.App, not {type(app).__name__}")
        self.app = app
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sockets: set[_Socket] = set()  # live WebSockets
        self._stopping = False  # sessions saved for the next server: nothing more is answered
        self._no_upgrade_logged: float | None = None  # when a handshake without upgrade was last logged

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            self._bind(scope)
            if not self.app.started:  # no lifespan (a Mount): the app starts with its first request
                await self.app.startup()
            await self._http(scope, receive, send)
        elif kind == "websocket":
            self._bind(scope)
            if not self.app.started:
                await self.app.startup()
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    def _bind(self, scope: Scope | None = None) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self.app.bind(loop)
        # Under a mount the app learns its prefix, for app.url_for (the URLs
        # a live session sends are within the app: the browser adds its root).
        if scope is not None and not self.app.root_path:
            root = scope.get("root_path", "").rstrip("/")
            if root:
                self.app.root_path = root

    # -- lifespan --------------------------------------------------------------

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:  # an on_startup hook failed (logged): the server does not serve
                    await send({"type": "lifespan.startup.failed", "message": repr(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def startup(self) -> None:
        """Bind the app to the running loop and start it (its broker, then its ``on_startup`` hooks).

        Run at lifespan startup; a parent app that does not forward lifespan
        (Starlette's ``Mount``) can await it from its own (else the app starts
        with its first request).
        """
        self._bind()
        client_encoded()  # compressed now rather than on the first request for it
        for asset in self.app.assets:
            asset.encoded()
        await self.app.startup()

    async def shutdown(self, timeout: float = SHUTDOWN_TIMEOUT) -> None:
        """Save the sessions, close every live socket with 1012 and wait (at most ``timeout`` s) for them to end.

        With a snapshot store (see rweb.snapshot) the sessions are saved first
        and messages are no longer answered, so that browsers, which come back
        at once on 1012 (service restart), resume them elsewhere.  Run at
        lifespan shutdown; a parent app that does not forward lifespan
        (Starlette's ``Mount``) can await it from its own.
        """
        self.app.draining = True  # readiness (/_rweb/ready) answers 503 from here on
        sockets = list(self._sockets)
        if self.app.snapshots is not None:
            self._stopping = True
            if not await self.app.save_sessions(min(5.0, timeout)):
                log.warning("sessions' snapshots were not all written before the server stopped")
        for socket in sockets:
            socket.close(CloseCode.SERVICE_RESTART)
        tasks = [s.handler for s in sockets if s.handler is not None and not s.handler.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=timeout)
        await self.app.shutdown()

    # -- http -------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        head = scope["method"] == "HEAD"
        if scope["method"] == "GET" and route_path(scope) == self.app.socket_path and _asks_websocket(headers):
            await _respond(send, self._cannot_upgrade(), head)
            return
        try:
            body = await _read_body(receive, headers, self.app.max_body_size)
        except _Disconnected:
            return
        if body is None:  # too large: refused without reading the rest
            await _respond(send, error_response(413, headers={"Connection": "close"}), head)
            return
        request = Request(
            scope["method"],
            route_path(scope),
            query_string=scope.get("query_string", b"").decode("latin-1"),
            headers=headers,
            body=body,
            client=_client(scope),
            scheme=scope.get("scheme", "http"),
            root_path=scope.get("root_path", "").rstrip("/"),
        )
        response = await self.app.handle_http(request)
        await _respond(send, response, head)

    def _cannot_upgrade(self) -> Response:
        """A WebSocket handshake that arrived as plain HTTP: the server cannot upgrade (426, logged)."""
        now = time.monotonic()
        if self._no_upgrade_logged is None or now - self._no_upgrade_logged >= NO_UPGRADE_LOG_INTERVAL:
            self._no_upgrade_logged = now
            log.error(
                "a WebSocket handshake at %s reached rweb as a plain HTTP request: this ASGI server "
                "cannot upgrade connections to WebSocket, so pages paint but never go live. %s",
                self.app.socket_path, NO_UPGRADE_FIX,
            )
        return PlainTextResponse(
            "426 Upgrade Required: this server cannot upgrade the connection to a WebSocket. " + NO_UPGRADE_FIX,
            426, {"Upgrade": "websocket", "Connection": "close"},
        )

    # -- websocket ----------------------------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        app = self.app
        path = route_path(scope)
        if path != app.socket_path:
            await _refuse(scope, send)
            return
        qs = scope.get("query_string", b"").decode("latin-1")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        info = admit(app, ConnectionInfo.from_request(path + ("?" + qs if qs else ""), headers, _client(scope)))
        if info is None:
            await send({"type": "websocket.close", "code": CloseCode.POLICY_VIOLATION})  # 403 before accept
            return
        socket = _Socket(send)
        loop = asyncio.get_running_loop()
        meter = app.meter
        push = socket.push if meter is None else socket.metered(meter)
        connection = Connection(app, app.next_writer_id(), info, push, loop.call_soon, socket.close)
        await send({"type": "websocket.accept"})
        if meter is not None:
            meter.joins += 1
        socket.handler = asyncio.current_task()
        writer = loop.create_task(socket.run())
        self._sockets.add(socket)
        code: int | None = CloseCode.NORMAL  # the server's own end (cancelled, shutting down): closed
        try:
            first, close = connection.start()
            if first is not None:  # None: a session restored, or an async guard awaited: it comes through push
                socket.push(first)
            if close is not None:
                socket.close(close)
            limit = app.max_message_size
            while True:
                message = await receive()
                kind = message["type"]
                if kind == "websocket.receive":
                    if self._stopping:  # saved already: the browser sends it again after resuming
                        continue
                    reply = _answer(connection, message, limit)
                    if reply is not None:
                        socket.push(reply)
                elif kind == "websocket.disconnect":
                    # The peer's close code (1005: a close frame without one; 1006: none at all),
                    # or 1012 when the server (uvicorn) restarts and closed it first.
                    code = message.get("code", CloseCode.NO_STATUS)
                    break
        finally:
            self._sockets.discard(socket)
            socket.closed = True
            writer.cancel()
            connection.ended(code)


class _Socket:
    """One WebSocket's outgoing side: replies and pushes in one queue, sent in order."""

    __slots__ = ("closed", "handler", "queue", "send")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.queue: asyncio.Queue[bytes | int] = asyncio.Queue()
        self.closed = False  # a close was queued or the socket is gone: drop what follows
        self.handler: asyncio.Task[Any] | None = None  # the task serving this socket

    def push(self, data: bytes) -> None:
        if not self.closed:
            self.queue.put_nowait(data)

    def metered(self, meter: Any) -> Callable[[bytes], None]:
        """``push`` with metrics on (app.metrics()): what the session sends on its own, counted."""

        def push(data: bytes) -> None:
            meter.sent(data)
            self.push(data)

        return push

    def close(self, code: int) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(code)

    async def run(self) -> None:
        send, queue = self.send, self.queue
        try:
            while True:
                item = await queue.get()
                if isinstance(item, int):
                    await send({"type": "websocket.close", "code": item})
                    return
                await send({"type": "websocket.send", "text": item.decode()})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the client is gone; the receive side sees the disconnect
            self.closed = True
            log.debug("websocket send failed: %r", exc)


def _answer(connection: Connection, message: Message, limit: int) -> bytes | None:
    """One ``websocket.receive`` -> its reply, or None: nothing to send now.

    None while an async handler runs (its reply, then the replies to what
    arrived meanwhile, go out through the socket's ``push`` in order), or after
    an internal error (logged).  Synchronous: nothing can cancel it half-way, so
    whatever it meets (a ``SystemExit`` included) is an error of this message only.
    """
    try:
        text = message.get("text")
        if text is None:
            data = message.get("bytes") or b""
            if len(data) > limit:
                return connection.too_large(len(data))
            return connection.receive_binary(data)  # an upload's chunk (rweb.upload), or refused
        size = len(text) if text.isascii() else len(text.encode())
        if size > limit:
            return connection.too_large(size)
        return connection.receive(text)
    except BaseException:
        log.exception("session %s: internal error", connection.writer_id)
        return None


async def _refuse(scope: Scope, send: Send) -> None:
    """A socket at another path: 404 where the server can say so, else a plain close (403)."""
    if "websocket.http.response" in scope.get("extensions", {}):
        response = error_response(404)
        await send(
            {"type": "websocket.http.response.start", "status": 404, "headers": _headers(response)}
        )
        await send({"type": "websocket.http.response.body", "body": response.body})
    else:
        await send({"type": "websocket.close", "code": CloseCode.NORMAL})


# -- helpers ------------------------------------------------------------------------


def route_path(scope: Scope) -> str:
    """The request's path within the app (after ``root_path``), as Starlette's ``get_route_path``.

    Servers and Starlette versions differ on whether ``scope["path"]`` still
    holds the ``root_path`` prefix; both forms give the same answer.
    """
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        if len(path) == len(root):
            return "/"
        if path[len(root)] == "/":
            return path[len(root) :]
    return path or "/"


def _asks_websocket(headers: list[tuple[str, str]]) -> bool:
    """A WebSocket handshake's ``Upgrade: websocket`` (the header's tokens, any case)."""
    return any(
        name.lower() == "upgrade" and "websocket" in (t.strip().lower() for t in value.split(","))
        for name, value in headers
    )


class _Disconnected(Exception):
    """The client left before its request's body was read."""


async def _read_body(receive: Receive, headers: list[tuple[str, str]], limit: int) -> bytes | None:
    """The whole request body, or None when it exceeds ``limit`` (then not read further)."""
    for name, value in headers:
        if name.lower() == "content-length":
            if value.strip().isdigit() and int(value) > limit:
                return None
            break
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _headers(response: Response) -> list[tuple[bytes, bytes]]:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    status = response.status
    if status >= 200 and status not in (204, 304) and not response.has_header("content-length"):
        headers.append((b"content-length", str(len(response.body)).encode()))
    return headers


async def _respond(send: Send, response: Response, head: bool) -> None:
    response = sendable(response)
    await send({"type": "http.response.start", "status": response.status, "headers": _headers(response)})
    await send({"type": "http.response.body", "body": b"" if head else response.body})


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None
