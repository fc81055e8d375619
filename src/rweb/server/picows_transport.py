"""The built-in transport: an HTTP/1.1 front end, and picows for the WebSocket, on uvloop.

One :class:`Server` serves one process.  Every connection starts in the
HTTP/1.1 front end (:mod:`rweb.server.http1`), which answers plain requests
with :meth:`rweb.App.handle_http` (pages, handlers, static files, the client
script).  A ``GET`` of ``ws_path`` (``/ws``) asking for a WebSocket is handed
to picows, and each WebSocket gets a :class:`~rweb.connection.Connection`.

Messages are answered in batches: a text frame is only queued when it arrives,
and once the event loop has read every socket that was ready, one callback
handles the whole queue in two passes, first every message (decode, dispatch,
render, diff, encode), then every send.  Reading, Python work and the kernel's
send path each run back to back instead of interleaved per message, which keeps
their code and data warm: under load this measured less server CPU per click
and a shorter latency tail than answering each frame as it is read.  Each
connection's replies keep the order of its messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from http import HTTPStatus
from typing import Any

from picows import (
    WSAutoPingStrategy,
    WSCloseCode,
    WSFrame,
    WSListener,
    WSMsgType,
    WSTransport,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
)
from picows.picows import WSProtocol

from ..connection import Connection
from ..session import ConnectionInfo
from .http1 import HTTPFront, split_target

__all__ = ["Server"]

log = logging.getLogger("rweb.server")

_TEXT = WSMsgType.TEXT
_BINARY = WSMsgType.BINARY
_CONT = WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE

# Frames larger than this are cut off by picows itself (the connection is
# dropped); below it, messages over the app's limit get a "too_large" reply.
_HARD_FRAME_LIMIT_FACTOR = 16
_HARD_FRAME_LIMIT_MIN = 1024 * 1024


class _Listener(WSListener):  # type: ignore[misc]
    __slots__ = ("conn", "frag_kind", "fragments", "fragments_size", "server", "transport")

    def __init__(self, server: Server, info: ConnectionInfo) -> None:
        self.server = server
        self.transport: WSTransport | None = None
        self.frag_kind: WSMsgType | None = None
        self.fragments: list[bytes] | None = None
        self.fragments_size = 0
        self.conn = Connection(server.app, server.next_writer_id(), info, self._send, server.call_soon)

    def _send(self, data: bytes) -> None:
        t = self.transport
        if t is not None and not t.is_disconnected:
            t.send(_TEXT, data)

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        _drop_handshake(transport)
        self.server.live.add(self)
        redirecting = self.conn.redirecting()
        msg, ok = self.conn.open()
        transport.send(_TEXT, msg)
        if not ok:
            if redirecting:  # the page sent the browser elsewhere: a normal close
                transport.send_close(WSCloseCode.OK, b"redirected")
            else:
                transport.send_close(WSCloseCode.INTERNAL_ERROR, b"session setup failed")
            transport.disconnect()

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        mt = frame.msg_type
        try:
            if mt is _TEXT and frame.fin:
                # Answered by Server.answer; Connection.receive refuses what is
                # over the size limit.
                srv = self.server
                inbox = srv.inbox
                inbox.append(self)
                inbox.append(frame.get_payload_as_bytes())
                if len(inbox) == 2:
                    srv.call_soon(srv.answer)
                return
            # Anything else may answer or close: first answer what came before it.
            self.server.answer()
            if mt is _CLOSE:
                code = frame.get_close_code()
                transport.send_close(code if code != WSCloseCode.NO_INFO else WSCloseCode.OK)
                transport.disconnect()
            elif mt is _TEXT or mt is _CONT or mt is _BINARY:
                self._fragment(transport, frame, mt)
        except Exception:
            log.exception("session %s: internal error", self.conn.writer_id)

    def _fragment(self, transport: WSTransport, frame: WSFrame, mt: WSMsgType) -> None:
        """Binary messages, and text messages split into several frames."""
        if mt is not _CONT:  # the first frame of a message
            self.frag_kind, self.fragments, self.fragments_size = mt, [], 0
        elif self.fragments is None:  # a continuation of nothing
            return
        if self.frag_kind is _TEXT:
            self.fragments_size += frame.payload_size
            if self.fragments_size <= self.conn.max_size:
                self.fragments.append(frame.get_payload_as_bytes())
        if not frame.fin:
            return
        kind, size, parts = self.frag_kind, self.fragments_size, self.fragments
        self.frag_kind, self.fragments, self.fragments_size = None, None, 0
        if kind is _BINARY:
            transport.send(_TEXT, self.conn.receive_binary())
        elif size > self.conn.max_size:
            transport.send(_TEXT, self.conn.too_large(size))
        else:
            transport.send(_TEXT, self.conn.receive(b"".join(parts)))

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.transport = None
        self.server.live.discard(self)
        self.conn.close()


def _drop_handshake(transport: WSTransport) -> None:
    """Let go of the upgrade request's and response's headers once connected.

    picows keeps both objects for the life of the connection; the session was
    already built from the request (ConnectionInfo), so their header tables
    are dead weight per idle session (about 2.5 KiB). Only memory is at stake:
    should a picows release make these read-only, the session goes on as is.
    """
    for msg in (transport.request, transport.response):
        if msg is not None:
            with contextlib.suppress(AttributeError, TypeError):
                msg.headers = None


class Server:
    """The rweb server of one process.

    HTTP timeouts, in seconds (read when used, so they may be changed on a
    running server): ``header_timeout`` for a request's headers (from the
    connection or the request's first byte), ``body_timeout`` between two
    reads of a body, ``keepalive_timeout`` for an idle keep-alive connection,
    ``linger_timeout`` for draining what a client still sends after the
    response that closes its connection; ``shutdown_timeout`` bounds
    :meth:`close`.
    """

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 8080,
        *,
        ws_path: str = "/ws",
        worker_index: int = 0,
        workers: int = 1,
        reuse_port: bool = False,
        read_buffer_size: int = 2048,
        use_aiofastnet: bool = False,
        header_timeout: float = 10.0,
        body_timeout: float = 30.0,
        keepalive_timeout: float = 10.0,
        linger_timeout: float = 2.0,
        shutdown_timeout: float = 10.0,
    ) -> None:
        self.use_aiofastnet = use_aiofastnet
        self.app = app
        self.host = host
        self.port = port
        self.ws_path = ws_path
        self.reuse_port = reuse_port
        self.read_buffer_size = read_buffer_size
        self.worker_index = worker_index
        self.workers = workers
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        self.keepalive_timeout = keepalive_timeout
        self.linger_timeout = linger_timeout
        self.shutdown_timeout = shutdown_timeout
        self._server: asyncio.Server | None = None
        self._front: HTTPFront | None = None
        self._ws_logger: Any = None
        self._hard_limit = _HARD_FRAME_LIMIT_MIN
        self.call_soon: Any = None
        self.live: set[_Listener] = set()  # open WebSocket connections
        # Text messages read but not yet answered: listener, payload, listener, ...
        self.inbox: list[Any] = []

    def answer(self) -> None:
        """Answer every queued message: all of them first, then all the sends."""
        inbox = self.inbox
        if not inbox:
            return
        self.inbox = []
        # In place: each message's slot becomes its reply (None: nothing to send).
        for i in range(0, len(inbox), 2):
            listener = inbox[i]
            reply = None
            if listener.transport is not None:  # still connected
                try:
                    reply = listener.conn.receive(inbox[i + 1])
                except Exception:
                    log.exception("session %s: internal error", listener.conn.writer_id)
            inbox[i + 1] = reply
        for i in range(0, len(inbox), 2):
            reply = inbox[i + 1]
            if reply is not None:
                t = inbox[i].transport
                if t is not None and not t.is_disconnected:
                    try:
                        t.send(_TEXT, reply)
                    except Exception:  # one socket's failure must not cost the others their replies
                        log.exception("session %s: send failed", inbox[i].conn.writer_id)

    def next_writer_id(self) -> int:
        return self.app.next_writer_id()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.call_soon = loop.call_soon
        self.app.bind(loop, self.worker_index, self.workers)
        self._hard_limit = max(self.app.max_message_size * _HARD_FRAME_LIMIT_FACTOR, _HARD_FRAME_LIMIT_MIN)
        # A logger adapter, not a Logger: picows then skips building a child
        # Logger for every connection (about 1 KiB each).
        self._ws_logger = logging.LoggerAdapter(logging.getLogger("picows.server"), {})
        self._front = HTTPFront(self, self._ws_protocol)
        if self.use_aiofastnet:
            import aiofastnet

            create_server: Any = aiofastnet.create_server
            args: tuple[Any, ...] = (loop, self._front)
        else:
            # Plain uvloop transports: about 5 KiB less per idle connection
            # than aiofastnet's (measured: bare server 8.1 vs 13.5 KiB/session).
            create_server = loop.create_server
            args = (self._front,)
        self._server = await create_server(
            *args,
            host=self.host,
            port=self.port,
            reuse_port=self.reuse_port or None,
            backlog=4096,  # a thousand browsers connecting at once must not meet SYN retries
        )
        if self.port == 0:
            self.port = self._server.sockets[0].getsockname()[1]

    def _ws_protocol(self) -> WSProtocol:
        """A picows protocol for a WebSocket upgrade, built as ``picows.ws_create_server`` builds it."""
        return WSProtocol(
            None,  # host+port
            None,  # ws_path
            False,  # is_client_side
            self._route,
            self._ws_logger,
            False,  # disconnect_on_exception
            10,  # websocket_handshake_timeout
            False,  # enable_auto_ping
            20,  # auto_ping_idle_timeout
            20,  # auto_ping_reply_timeout
            WSAutoPingStrategy.PING_WHEN_IDLE,
            True,  # enable_auto_pong
            self._hard_limit,  # max_frame_size
            None,  # extra_headers
            self.read_buffer_size,  # read_buffer_init_size: picows 2.3 never allocates less than 2 KiB
        )

    async def close(self) -> None:
        """Stop accepting, answer what was read, tell every open session 1001 "going away", and close.

        Idle HTTP connections close at once, busy ones after the responses
        they owe; whatever is still open after ``shutdown_timeout`` is aborted.
        """
        if self._server is None:
            return
        self._server.close()
        self.answer()
        listeners = list(self.live)
        for listener in listeners:
            t = listener.transport
            if t is not None and not t.is_disconnected:
                t.send_close(WSCloseCode.GOING_AWAY, b"server shutting down")
                t.disconnect()
        self.live.clear()
        if self._front is not None:
            self._front.shutdown()
        try:
            await asyncio.wait_for(self._server.wait_closed(), self.shutdown_timeout)
        except TimeoutError:
            log.warning("connections still open %.1f s after the server closed: aborted", self.shutdown_timeout)
            if self._front is not None:
                self._front.abort()
            for listener in listeners:
                t = listener.transport
                if t is not None:
                    t.underlying_transport.abort()
        self._server = None

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    # -- WebSocket routing ---------------------------------------------------

    def _route(self, request: WSUpgradeRequest) -> Any:
        """picows' listener factory: the socket path gets a session, anything else 404.

        Only upgrade requests for ``ws_path`` reach picows (the HTTP front end
        answers everything else); this is the last check.
        """
        path, qs = split_target(request.path)
        if path == self.ws_path:
            info = self._info(request, f"{path}?{qs}" if qs else path)
            if not self.app.origin_allowed(info.headers):
                response = WSUpgradeResponse.create_error_response(
                    HTTPStatus.FORBIDDEN, b"403 Forbidden: this site's socket cannot be opened from another origin"
                )
                return WSUpgradeResponseWithListener(response, None)
            return _Listener(self, info)
        return None

    def _info(self, request: WSUpgradeRequest, target: str) -> ConnectionInfo:
        return ConnectionInfo.from_request(target, request.headers.items())

