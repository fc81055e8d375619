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
import socket
import struct
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from picows import (
    WSAutoPingStrategy,
    WSCloseCode,
    WSMsgType,
    WSUpgradeRequest,
    WSUpgradeResponse,
    WSUpgradeResponseWithListener,
)
from picows.picows import (  # type: ignore[attr-defined]  # WSProtocol: there at runtime, not in picows.pyi
    WSFrame,  # WSFrame, WSListener, WSTransport: from where the .pxd cimports them
    WSListener,
    WSProtocol,
    WSTransport,
)

from ..live.connection import Connection
from ..live.transport import admit
from ..sessions.session import ConnectionInfo
from ..words.protocol import CloseCode
from .http1 import HTTPFront, split_target
from .limits import LOG_LIMIT, TCP_INFO_AVAILABLE, recv_age

try:  # True in the compiled build (setup.py), False when this file runs as plain Python
    import cython

    _COMPILED: bool = cython.compiled
except ImportError:
    _COMPILED = False

__all__ = ["Server"]

log = logging.getLogger("rweb.server")

_TEXT = WSMsgType.TEXT
# Compiled, a C enum global (picows_transport.pxd): each frame's type is compared with it, and
# each send is given it, in C (no module-dictionary read, no conversion from the IntEnum).
_TEXT_CODE: WSMsgType = _TEXT
_BINARY = WSMsgType.BINARY
_CONT = WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE
# The one WebSocket version served (RFC 6455); an upgrade asking for another gets 426.
WS_VERSION = "13"

# Frames larger than this are cut off by picows itself (the connection is
# dropped); below it, messages over the app's limit get a "too_large" reply.
_HARD_FRAME_LIMIT_FACTOR = 16
_HARD_FRAME_LIMIT_MIN = 1024 * 1024

# The heartbeat looks at this many sockets per event-loop turn (a few ms at most).
_SWEEP_SLICE = 256
# SO_LINGER on, 0 s: closing resets the connection and drops what the kernel still buffers.
_LINGER_RESET = struct.pack("ii", 1, 0)


class _Paused:
    """A connection whose socket stopped draining: since when, and the work held back meanwhile."""

    __slots__ = ("deferred", "since")

    def __init__(self, since: float) -> None:
        self.since = since
        # Functions the session scheduled while paused (its push): run on resume.
        self.deferred: list[Callable[[], Any]] | None = None


class _Listener(WSListener):
    __slots__ = ("close_code", "conn", "frag_kind", "fragments", "fragments_size", "server", "transport", "whole")

    def __init__(self, server: Server, info: ConnectionInfo) -> None:
        self.server = server
        self.transport: WSTransport | None = None
        self.close_code: int | None = None  # the close frame's code, once the peer sent one
        # Text frames taken as whole messages on the fast path: False while a
        # fragmented message is open or after a protocol error (then every frame
        # takes the checked path, at no cost to the fast one).
        self.whole = True
        self.frag_kind: WSMsgType | None = None
        self.fragments: list[bytes] | None = None
        self.fragments_size = 0
        # The listener itself is the session's scheduler (see __call__): pushes
        # wait while the socket does not drain.
        send = self._send if server.app.meter is None else self._send_metered
        self.conn = Connection(server.app, server.next_writer_id(), info, send, self, self._hangup)

    def __call__(self, fn: Callable[[], Any]) -> None:
        """Schedule ``fn`` (a session's push, an effect) soon; held back while the socket is paused.

        A held-back push is not lost: the session stays "push pending" and
        further writes only mark its components dirty, so on resume one push
        carries the current diff (pushes to a slow reader are coalesced).
        """
        srv = self.server
        if srv.paused:
            p = srv.paused.get(self)
            if p is not None:
                if p.deferred is None:
                    p.deferred = [fn]
                else:
                    p.deferred.append(fn)
                return
        if threading.get_ident() == srv.loop_thread:
            srv.call_soon(fn)
        else:  # a reactive write made on another thread: wake the loop
            srv.loop.call_soon_threadsafe(self, fn)  # type: ignore[union-attr]  # set while serving

    def holds_pushes(self) -> bool:
        """Are this socket's pushes held back (paused: it does not drain)?  Asked before a render
        shared with other sessions is pushed to it directly (rweb.session): then it waits too."""
        paused = self.server.paused
        return bool(paused) and self in paused

    def _send(self, data: bytes) -> None:
        t = self.transport
        if t is not None and not t.is_disconnected:
            t.send(_TEXT_CODE, data)
            srv = self.server
            if srv.paused and self in srv.paused:
                self._check_buffer(t)

    def _send_metered(self, data: bytes) -> None:
        """``_send`` with metrics on (app.metrics()): a push or a late reply, counted."""
        self.server.app.meter.sent(data)
        self._send(data)

    def _hangup(self, code: int) -> None:
        """The first message said the session failed or redirects: close with ``code`` (rweb.transport)."""
        t = self.transport
        if t is not None and not t.is_disconnected:
            t.send_close(WSCloseCode(code), b"redirected" if code == CloseCode.NORMAL else b"session setup failed")
            t.disconnect()

    def _check_buffer(self, t: WSTransport) -> None:
        """Close a paused connection whose unsent data passed ``max_write_buffer`` (soon: not inside a write)."""
        size = t.underlying_transport.get_write_buffer_size()
        if size > self.server.max_write_buffer and not t.is_close_frame_sent:
            self.server.call_soon(
                self.server.drop,
                self,
                WSCloseCode.POLICY_VIOLATION,
                "client too slow: too much unread data",
                f"{size} bytes unsent (limit {self.server.max_write_buffer}): the client does not read",
            )

    def pause_writing(self) -> None:
        """picows: the socket's write buffer passed the high-water mark.

        Stop reading this socket (no new messages, so no new replies) and hold
        its pushes back until the buffer drains below the low-water mark.
        """
        t = self.transport
        srv = self.server
        if t is None or t.is_disconnected or self in srv.paused:
            return
        srv.paused[self] = _Paused(time.monotonic())
        if srv.app.meter is not None:
            srv.app.meter.pauses += 1
        with contextlib.suppress(Exception):
            t.underlying_transport.pause_reading()
        # Again after this turn: the HTTP front end resumes reading once it
        # has handed a socket over, which may be after its first page was sent.
        srv.call_soon(self._repause)
        self._check_buffer(t)

    def _repause(self) -> None:
        t = self.transport
        if t is not None and not t.is_disconnected and self in self.server.paused:
            with contextlib.suppress(Exception):
                t.underlying_transport.pause_reading()

    def resume_writing(self) -> None:
        """picows: the write buffer drained below the low-water mark: read again, push what waited."""
        self.server.resume(self)

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        _drop_handshake(transport)
        srv = self.server
        ut = transport.underlying_transport
        with contextlib.suppress(Exception):
            ut.set_write_buffer_limits(high=srv.write_high_water, low=srv.write_low_water)
        if srv.recv_buffer:
            # picows doubles its read buffer whenever a read fills it, so what one
            # read takes (and one batch of answers holds) would only be bounded by
            # the kernel's receive buffer, megabytes: a flood must meet a small one.
            with contextlib.suppress(Exception):
                ut.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, srv.recv_buffer)
        srv.live.add(self)
        if srv.app.meter is not None:
            srv.app.meter.joins += 1
        first, close = self.conn.start()
        if first is not None:  # None: a session restored, or an async guard awaited: it comes through _send
            transport.send(_TEXT_CODE, first)
        if close is not None:
            self._hangup(close)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        mt = frame.msg_type
        try:
            # picows.pyi says Enum: at runtime an IntEnum, compiled a C enum (an int either way).
            if self.whole and mt == _TEXT_CODE and frame.fin and not (frame.rsv1 or frame.rsv2 or frame.rsv3):
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
            if transport.is_close_frame_sent:  # failed (or closing): nothing more is taken
                return
            if frame.rsv1 or frame.rsv2 or frame.rsv3:  # no extension is ever negotiated
                self._protocol_error("a reserved bit (RSV) set without an extension")
            elif mt is _CLOSE:
                code = frame.get_close_code()
                # Once disconnected, Connection.ended(code) tells a browser that left from one
                # that comes back for its session (rweb.transport.is_lost).
                # picows.pyi says Enum; at runtime WSCloseCode is an IntEnum (any code, 4000 too)
                self.close_code = int(code)  # type: ignore[call-overload]
                transport.send_close(code if code != WSCloseCode.NO_INFO else WSCloseCode.OK)
                transport.disconnect()
            elif mt is _TEXT or mt is _CONT or mt is _BINARY:
                self._fragment(transport, frame, mt)
        except BaseException:  # nothing may escape into the event loop (a SystemExit would stop the worker)
            log.exception("session %s: internal error", self.conn.writer_id)

    def _protocol_error(self, why: str) -> None:
        """Fail the connection (RFC 6455 7.1.7): 1002, and no frame after this one is taken."""
        self.whole = False
        self.server.drop(self, WSCloseCode.PROTOCOL_ERROR, "protocol error", why, reset=False)

    def _fragment(self, transport: WSTransport, frame: WSFrame, mt: WSMsgType) -> None:
        """Binary messages (uploads' chunks), and text messages split into several frames.

        RFC 6455 5.4: a message's frames come in a row (control frames may
        come between them); a data frame that starts a message while one is
        open, and a continuation with no message open, fail the connection.
        """
        if mt is not _CONT:  # the first frame of a message
            if self.fragments is not None:
                self._protocol_error("a new message inside a fragmented one")
                return
            self.frag_kind, self.fragments, self.fragments_size = mt, [], 0
            if not frame.fin:
                self.whole = False  # until the last frame: text frames take this path
        elif self.fragments is None:
            self._protocol_error("a continuation frame with no message to continue")
            return
        self.fragments_size += frame.payload_size
        if self.fragments_size <= self.conn.max_size:  # beyond it, only the size is kept
            self.fragments.append(frame.get_payload_as_bytes())
        if not frame.fin:
            return
        kind, size, parts = self.frag_kind, self.fragments_size, self.fragments
        self.frag_kind, self.fragments, self.fragments_size = None, None, 0
        self.whole = True
        if size > self.conn.max_size:
            reply = self.conn.too_large(size)
        elif kind is _BINARY:  # an upload's chunk (no reply), or refused
            reply = self.conn.receive_binary(parts[0] if len(parts) == 1 else b"".join(parts))
        else:
            reply = self.conn.receive(b"".join(parts))
        if reply is not None:  # None: an async handler runs; the reply comes through _send
            transport.send(_TEXT_CODE, reply)

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self.transport = None
        srv = self.server
        srv.live.discard(self)
        srv.forget(self)
        if srv.closing:  # the server stops: its sessions end (or were saved for another server)
            self.conn.close()
        else:
            self.conn.ended(self.close_code)


def _answer(listener: _Listener, data: bytes) -> bytes | None:
    """One queued message's reply (None: none to send now)."""
    if listener.transport is None:  # disconnected meanwhile
        return None
    try:
        return listener.conn.receive(data)
    except BaseException:
        log.exception("session %s: internal error", listener.conn.writer_id)
        return None


def _send_reply(listener: _Listener, reply: bytes) -> None:
    """One queued message's reply sent, if its socket is still open."""
    t = listener.transport
    if t is not None and not t.is_disconnected:
        try:
            t.send(_TEXT_CODE, reply)
        except BaseException:  # one socket's failure must not cost the others their replies
            log.exception("session %s: send failed", listener.conn.writer_id)


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
                msg.headers = None  # type: ignore[assignment]  # a memory release picows's types do not foresee


class Server:
    """The rweb server of one process.

    HTTP timeouts, in seconds (read when used, so they may be changed on a
    running server): ``header_timeout`` for a request's headers (from the
    connection or the request's first byte), ``body_timeout`` for a whole
    body (from the end of its headers: a body trickled in is cut off, 408),
    ``keepalive_timeout`` for an idle keep-alive connection,
    ``linger_timeout`` for draining what a client still sends after the
    response that closes its connection; ``shutdown_timeout`` bounds
    :meth:`close`.

    WebSocket limits (read when used, too; docs/security.md, "Limits"):

    - back-pressure: when a socket has more than ``write_high_water`` bytes
      unsent, the server stops reading it and holds its pushes back (they are
      coalesced into one), until less than ``write_low_water`` is left;
    - a paused socket with more than ``max_write_buffer`` bytes unsent, or
      paused for more than ``max_paused`` seconds, is closed (1008);
    - heartbeat: a socket that received nothing for ``ping_interval`` seconds
      is pinged, and closed (1001) when nothing comes back within
      ``ping_timeout`` (``ping_interval=None``: no heartbeat).  One timer
      serves every connection (it reads the kernel's "last data received"
      per socket), so an idle session costs no memory for it.

    Draining (docs/operations.md): :meth:`start_drain` makes readiness
    (``/_rweb/ready``) answer 503 while the open sockets are still served;
    with ``drain_refuse`` new ``GET`` / ``HEAD`` requests and new sockets get
    503 too, for a proxy that retries them elsewhere.  ``drain`` is how long
    :func:`rweb.server.start_rweb`'s workers drain on SIGTERM before
    :meth:`close`.

    ``sock``: an already bound listening socket to serve (the worker
    processes of :func:`rweb.server.start_rweb` share their parent's).
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
        ping_interval: float | None = 20.0,
        ping_timeout: float = 20.0,
        write_high_water: int = 64 * 1024,
        write_low_water: int = 16 * 1024,
        max_write_buffer: int = 4 * 1024 * 1024,
        max_paused: float = 60.0,
        recv_buffer: int | None = 64 * 1024,
        drain: float = 0.0,
        drain_refuse: bool = True,
        sock: socket.socket | None = None,
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
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.write_high_water = write_high_water
        self.write_low_water = write_low_water
        self.max_write_buffer = max_write_buffer
        self.max_paused = max_paused
        self.recv_buffer = recv_buffer
        self.drain = drain
        self.drain_refuse = drain_refuse
        self.refusing = False  # draining with drain_refuse: new GET / HEAD requests and sockets get 503
        self.sock = sock
        # Connections whose socket stopped draining (reading paused, pushes held back).
        self.paused: dict[_Listener, _Paused] = {}
        # Connections pinged by the heartbeat, not yet answered -> the heartbeat
        # pass that pinged them (one int object per pass, shared by its entries).
        self.pinged: dict[_Listener, int] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._sweep_todo: list[_Listener] | None = None
        self._next_sweep = 0.0
        self._pass: int = 0  # the current heartbeat pass
        self._pass_times: dict[int, float] = {}  # heartbeat pass -> when it began
        self._log_limit_installed = False
        self._server: asyncio.Server | None = None
        self._front: HTTPFront | None = None
        self._ws_logger: Any = None
        self._hard_limit = _HARD_FRAME_LIMIT_MIN
        self.call_soon: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread: int | None = None  # the thread that runs the loop
        self.closing = False  # close() under way: sessions end, none waits to be resumed
        self.live: set[_Listener] = set()  # open WebSocket connections
        # Text messages read but not yet answered: listener, payload, listener, ...
        self.inbox: list[Any] = []

    def answer(self) -> None:
        """Answer every queued message: all of them first, then all the sends.

        Each message is answered on its own: whatever one raises (user code
        cannot: the session turns it into an error reply) costs the others
        nothing.  A message whose async handler runs has no reply yet (None):
        it goes out through the connection's ``send`` when the handler is done.
        """
        inbox = self.inbox
        if not inbox:
            return
        self.inbox = []
        # In place: each message's slot becomes its reply (None: nothing to send now).
        for i in range(0, len(inbox), 2):
            inbox[i + 1] = _answer(inbox[i], inbox[i + 1])
        self._send_replies(inbox)

    def _send_replies(self, inbox: list[Any]) -> None:
        """The second pass of :meth:`answer`: every reply sent, in order."""
        for i in range(0, len(inbox), 2):
            reply = inbox[i + 1]
            if reply is not None:
                _send_reply(inbox[i], reply)

    def next_writer_id(self) -> int:
        writer_id: int = self.app.next_writer_id()
        return writer_id

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self.call_soon = loop.call_soon
        self.loop = loop
        self.loop_thread = threading.get_ident()
        self.app.bind(loop, self.worker_index, self.workers)
        await self.app.startup()  # the broker, in this worker (after the fork)
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
        if self.sock is not None:
            # A socket bound (and listened on) by the parent process: it keeps
            # queueing connections while this worker restarts.
            self._server = await create_server(*args, sock=self.sock, backlog=4096)
            self.port = self.sock.getsockname()[1]
        else:
            self._server = await create_server(
                *args,
                host=self.host,
                port=self.port,
                reuse_port=self.reuse_port or None,
                backlog=4096,  # a thousand browsers connecting at once must not meet SYN retries
            )
        if self.port == 0:
            self.port = self._server.sockets[0].getsockname()[1]
        if not self._log_limit_installed:
            LOG_LIMIT.install()
            self._log_limit_installed = True
        self._timer = loop.call_later(self._tick_period(), self._tick)

    def _ws_protocol(self, peer: str | None) -> WSProtocol:
        """A picows protocol for a WebSocket upgrade from ``peer``, built as ``picows.ws_create_server`` builds it."""
        return WSProtocol(
            None,  # host+port
            None,  # ws_path
            False,  # is_client_side
            lambda request: self._route(request, peer),
            self._ws_logger,
            False,  # disconnect_on_exception
            10,  # websocket_handshake_timeout
            # picows' own heartbeat runs a task per connection (1.8 KiB per idle
            # session, measured); the server's timer does it where the kernel
            # says when a socket last received data (Linux), picows elsewhere.
            self.ping_interval is not None and not TCP_INFO_AVAILABLE,  # enable_auto_ping
            self.ping_interval or 20,  # auto_ping_idle_timeout
            min(self.ping_timeout, self.ping_interval or 20),  # auto_ping_reply_timeout
            WSAutoPingStrategy.PING_WHEN_IDLE,
            True,  # enable_auto_pong
            self._hard_limit,  # max_frame_size
            None,  # extra_headers
            self.read_buffer_size,  # read_buffer_init_size: picows 2.3 never allocates less than 2 KiB
        )

    def start_drain(self) -> None:
        """Readiness says 503 from now on; the sockets open are still served (and, with ``drain_refuse``, new
        ``GET`` / ``HEAD`` requests and sockets get 503).  :meth:`close` ends the drain."""
        if self.app.draining:
            return
        self.app.draining = True
        self.refusing = self.drain_refuse
        log.info(
            "draining: readiness answers 503%s; %d sockets still served",
            ", and so do new requests and sockets" if self.refusing else "",
            len(self.live),
        )

    async def close(self) -> None:
        """Stop accepting, answer what was read, save the sessions, tell every socket 1012 "service restart", and close.

        1012 rather than 1001: the process stops, but the service is
        expected back (a deploy, a restart under a supervisor); the browser
        client then retries within a few hundred ms and shows its banner only
        if the server is not back within ``rwebConfig.restartBanner`` (2 s).

        With a snapshot store (see rweb.snapshot) the sessions' state is saved
        first, so that their browsers, which come back at once on 1012, resume
        them on another worker or on the next server.  Idle HTTP connections
        close at once, busy ones after the responses they owe; whatever is
        still open after ``shutdown_timeout`` is aborted.
        """
        if self._server is None:
            return
        self.closing = True
        self.app.draining = True  # until the listener closes, readiness says 503
        self._server.close()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._sweep_todo = None
        if self._log_limit_installed:
            self._log_limit_installed = False
            LOG_LIMIT.uninstall()
        listeners = list(self.live)
        if self.app.snapshots is not None:
            # Nothing more is read: what the snapshots hold is what the browsers saw acknowledged.
            for listener in listeners:
                t = listener.transport
                if t is not None and not t.is_disconnected:
                    with contextlib.suppress(Exception):
                        t.underlying_transport.pause_reading()
            self.answer()
            if not await self.app.save_sessions(min(5.0, self.shutdown_timeout)):
                log.warning("sessions' snapshots were not all written before the server stopped")
        self.answer()
        for listener in listeners:
            t = listener.transport
            if t is not None and not t.is_disconnected:
                t.send_close(WSCloseCode.SERVICE_RESTART, b"server restarting")
                # A socket that does not drain would hold the shutdown up: abort it.
                t.disconnect(listener not in self.paused)
        self.live.clear()
        self.paused.clear()
        self.pinged.clear()
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
        try:
            await self.app.shutdown()
        except Exception:
            log.exception("the app's services failed to stop cleanly")

    # -- back-pressure and heartbeat -------------------------------------------

    def resume(self, listener: _Listener) -> None:
        """``listener``'s socket drained: read it again and run what waited (its push)."""
        p = self.paused.pop(listener, None)
        if p is None:
            return
        t = listener.transport
        if t is not None and not t.is_disconnected:
            with contextlib.suppress(Exception):
                t.underlying_transport.resume_reading()
        if p.deferred:
            call_soon = self.call_soon
            for fn in p.deferred:
                call_soon(fn)

    def forget(self, listener: _Listener) -> None:
        """``listener`` disconnected: drop its limit state (what it held back runs, and finds it closed)."""
        self.pinged.pop(listener, None)
        p = self.paused.pop(listener, None)
        if p is not None and p.deferred:
            call_soon = self.call_soon
            for fn in p.deferred:
                call_soon(fn)

    def drop(
        self,
        listener: _Listener,
        code: WSCloseCode,
        reason: str,
        why: str,
        level: int = logging.WARNING,
        *,
        reset: bool = True,
    ) -> None:
        """Close ``listener``'s socket at once (``code``, ``reason``) and log ``why``.

        ``reset=False``: the close frame is flushed before the socket closes
        (a client that reads gets it); otherwise the socket is reset.
        """
        t = listener.transport
        if t is None or t.is_disconnected or t.is_close_frame_sent:
            return
        log.log(level, "session %s: %s; closed (%d %s)", listener.conn.writer_id, why, int(code), reason)  # type: ignore[call-overload]  # an IntEnum at runtime
        if self.app.meter is not None:
            self.app.meter.closed(reason)
        t.send_close(code, reason.encode())
        if not reset:
            t.disconnect()
            return
        # The peer does not read (or is gone): flushing could wait forever, and
        # a plain close would leave the kernel holding what it buffered (up to
        # megabytes) until its own timeouts.  A reset frees both at once.
        ut = t.underlying_transport
        with contextlib.suppress(Exception):
            ut.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        ut.abort()

    def _tick_period(self) -> float:
        """Seconds between two ticks: a quarter of the shortest limit they enforce (at most 5)."""
        limits = [x for x in (self.ping_interval, self.ping_timeout, self.max_paused) if x]
        return max(0.05, min(min(limits) / 4 if limits else 5.0, 5.0))

    def _sweep_period(self) -> float:
        """Seconds between two heartbeat passes over every socket: half the shorter ping setting."""
        interval = self.ping_interval or 20.0
        return max(0.05, min(interval, self.ping_timeout) / 2)

    def _tick(self) -> None:
        """The server's one timer: paused sockets' limits, the log limit, the heartbeat."""
        self._timer = None
        if self._server is None:
            return
        loop = asyncio.get_running_loop()
        try:
            now = time.monotonic()
            if self.paused:
                self._check_paused(now)
            LOG_LIMIT.flush(now)
            if (
                self.ping_interval is not None
                and TCP_INFO_AVAILABLE
                and self._sweep_todo is None
                and now >= self._next_sweep
                and self.live
            ):
                self._next_sweep = now + self._sweep_period() - 0.01
                self._pass += 1
                times = self._pass_times
                times[self._pass] = now
                horizon = now - 2 * (self.ping_timeout + self._sweep_period())
                for old in [g for g, t in times.items() if t < horizon]:
                    del times[old]
                self._sweep_todo = list(self.live)
                self._sweep()
        except Exception:
            log.exception("the server's limit timer failed")
        self._timer = loop.call_later(min(self._tick_period(), self._sweep_period()), self._tick)

    def _check_paused(self, now: float) -> None:
        limit = self.max_write_buffer
        for listener, p in list(self.paused.items()):
            t = listener.transport
            if t is None or t.is_disconnected:
                self.forget(listener)
                continue
            size = t.underlying_transport.get_write_buffer_size()
            if size > limit:
                self.drop(
                    listener,
                    WSCloseCode.POLICY_VIOLATION,
                    "client too slow: too much unread data",
                    f"{size} bytes unsent (limit {limit}): the client does not read",
                )
            elif now - p.since > self.max_paused:
                self.drop(
                    listener,
                    WSCloseCode.POLICY_VIOLATION,
                    "client too slow: no reading",
                    f"the client read too little for {now - p.since:.0f} s ({size} bytes unsent)",
                )
            else:
                with contextlib.suppress(Exception):
                    t.underlying_transport.pause_reading()

    def _sweep(self) -> None:
        """The heartbeat over every connection, ``_SWEEP_SLICE`` of them per event-loop turn."""
        todo = self._sweep_todo
        if todo is None or self._server is None:
            self._sweep_todo = None
            return
        interval = self.ping_interval
        if interval is None:
            self._sweep_todo = None
            return
        timeout = self.ping_timeout
        gen = self._pass
        times = self._pass_times
        now = time.monotonic()
        pinged = self.pinged
        paused = self.paused
        for _ in range(min(_SWEEP_SLICE, len(todo))):
            listener = todo.pop()
            t = listener.transport
            if t is None or t.is_disconnected or t.is_close_frame_sent or listener in paused:
                pinged.pop(listener, None)
                continue
            age = recv_age(t.underlying_transport.get_extra_info("socket"))
            if age is None:
                continue
            pinged_in = pinged.get(listener)
            if pinged_in is not None:
                # Pinged when the pass began (or a few ms later), after at least
                # ``interval`` s without data: an answer is data received after
                # that, so "last data" moved past (ping time - interval / 2).
                ping_time = times.get(pinged_in, 0.0)
                if age < now - ping_time + interval / 2:  # something came back
                    del pinged[listener]
                elif now - ping_time >= timeout:
                    del pinged[listener]
                    self.drop(
                        listener,
                        WSCloseCode.GOING_AWAY,
                        "no answer to ping",
                        f"nothing received for {age:.0f} s, no answer to a ping within {timeout:g} s",
                        logging.INFO,
                    )
                continue
            if age >= interval:
                try:
                    t.send_ping()
                except Exception:
                    log.exception("session %s: ping failed", listener.conn.writer_id)
                    continue
                pinged[listener] = gen
        if todo:
            self.call_soon(self._sweep)
        else:
            self._sweep_todo = None

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    # -- WebSocket routing ---------------------------------------------------

    def _route(self, request: WSUpgradeRequest, peer: str | None = None) -> Any:
        """picows' listener factory: the socket path gets a session, anything else 404.

        Only upgrade requests for ``ws_path`` reach picows (the HTTP front end
        answers everything else); this is the last check.
        """
        path, qs = split_target(request.path)
        if path == self.ws_path:
            if request.headers.get("sec-websocket-version") != WS_VERSION:
                # RFC 6455 4.2.2: the versions the server speaks, for the client to retry with
                # (picows itself would also take the drafts' 7 and 8).
                response = WSUpgradeResponse.create_error_response(
                    HTTPStatus.UPGRADE_REQUIRED,
                    b"426 Upgrade Required: WebSocket version 13 only",
                    {"Sec-WebSocket-Version": WS_VERSION},
                )
                return WSUpgradeResponseWithListener(response, None)
            info = admit(self.app, ConnectionInfo.from_request(f"{path}?{qs}" if qs else path, request.headers.items(), peer))
            if info is None:
                response = WSUpgradeResponse.create_error_response(
                    HTTPStatus.FORBIDDEN, b"403 Forbidden: this site's socket cannot be opened from another origin"
                )
                return WSUpgradeResponseWithListener(response, None)
            return _Listener(self, info)
        return None

